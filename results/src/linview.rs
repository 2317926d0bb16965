//! The Porcupine-style view of a linearizability failure: the longest
//! linearizable prefix as bars on per-process lanes with a path through one valid
//! choice of linearization points, the operation that breaks it highlighted, the
//! other operations on the same key that overlapped it, the model states possible
//! just before it, and the faults in force drawn across it.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use history::History;

use crate::html::{esc, px, time_label};
use crate::intervals::{ClientOp, Intervals, Outcome};
use crate::timeline::{axis_number, fault_title, op_title};
use crate::view::LinView;

/// At most this many prefix operations are drawn (the last ones, nearest the
/// failure); the list below the picture says how many were left out.
const MAX_PREFIX: usize = 120;
const MAX_OTHERS: usize = 120;
const WIDTH: f64 = 1100.0;
const LEFT: f64 = 80.0;
const LANE: f64 = 20.0;

pub fn render(history: &History, iv: &Intervals, lin: &LinView, check: &str, idx: usize) -> String {
    let by_invoke: HashMap<usize, usize> =
        iv.ops.iter().enumerate().map(|(k, o)| (o.invoke, k)).collect();
    let mut s = String::new();
    let _ = write!(s, r#"<section class="linearization" id="linearization-{idx}">"#);
    let _ = write!(s, "<h3>Why “{}” is not linearizable</h3>", esc(check));
    let mut facts = Vec::new();
    if let Some(m) = &lin.model {
        facts.push(format!("model {m}"));
    }
    if let Some(k) = lin.key.clone().or_else(|| {
        by_invoke
            .get(&lin.breaking_op)
            .and_then(|&k| history.ops[iv.ops[k].invoke].key.as_ref())
            .map(|v| v.to_string())
    }) {
        facts.push(format!("key {k}"));
    }
    if !facts.is_empty() {
        let _ = write!(s, "<p>{}</p>", esc(&facts.join(", ")));
    }
    let Some(&bk) = by_invoke.get(&lin.breaking_op) else {
        let _ = write!(
            s,
            r#"<p class="warning">The checker named position {} as the breaking operation, but no client invocation is there in this history.</p></section>"#,
            lin.breaking_op
        );
        return s;
    };
    let _ = write!(
        s,
        r#"<p>The operation that cannot be linearized: <span class="breaking-op" id="breaking-op-{idx}">{}</span></p>"#,
        esc(&op_title(history, iv, bk))
    );
    s.push_str("<p>Model states possible just before it:</p><ul class=\"states\">");
    for st in &lin.states_before {
        let _ = write!(s, "<li><code>{}</code></li>", esc(st));
    }
    if lin.states_before.is_empty() {
        s.push_str("<li>(none recorded)</li>");
    }
    if lin.more_states {
        s.push_str("<li>… and more</li>");
    }
    s.push_str("</ul>");

    let prefix: Vec<usize> = lin.prefix.iter().filter_map(|p| by_invoke.get(p).copied()).collect();
    let missing = lin.prefix.len() - prefix.len();
    let skipped = prefix.len().saturating_sub(MAX_PREFIX);
    let shown_prefix = &prefix[skipped..];
    let breaking = &iv.ops[bk];
    let lo = shown_prefix.iter().map(|&k| iv.ops[k].start).fold(breaking.start, f64::min);
    let hi = shown_prefix.iter().map(|&k| iv.ops[k].end).fold(breaking.end, f64::max);
    // Other operations on the same key that overlapped the picture's span.
    let in_prefix: std::collections::HashSet<usize> = prefix.iter().copied().collect();
    let key_of = |k: usize| history.ops[iv.ops[k].invoke].key.as_ref().map(|v| v.to_string());
    // The sub-history's key: the checker's word for it, else the breaking op's own
    // (a history checked key by key names no key in the anomaly).
    let key = lin.key.clone().or_else(|| key_of(bk));
    let mut others: Vec<usize> = (0..iv.ops.len())
        .filter(|&k| k != bk && !in_prefix.contains(&k))
        .filter(|&k| key_of(k) == key && iv.ops[k].start <= hi && iv.ops[k].end >= lo)
        .collect();
    // Keep those nearest the breaking operation.
    others.sort_by(|&a, &b| {
        (iv.ops[a].start - breaking.start)
            .abs()
            .total_cmp(&(iv.ops[b].start - breaking.start).abs())
    });
    others.truncate(MAX_OTHERS);
    s.push_str(&picture(history, iv, shown_prefix, bk, &others, lo, hi));

    let _ = write!(
        s,
        "<details><summary>The longest linearizable prefix: {} operations in linearization order{}</summary><ol class=\"prefix\" start=\"{}\">",
        prefix.len(),
        if skipped > 0 {
            format!(" (the picture shows the last {MAX_PREFIX})")
        } else {
            String::new()
        },
        1
    );
    for &k in &prefix {
        let _ = write!(s, "<li>{}</li>", esc(&op_title(history, iv, k)));
    }
    s.push_str("</ol></details>");
    if missing > 0 {
        let _ = write!(
            s,
            r#"<p class="warning">{missing} prefix positions named by the checker are not client invocations in this history and were left out.</p>"#
        );
    }
    s.push_str("</section>");
    s
}

#[allow(clippy::too_many_arguments)]
fn picture(
    history: &History,
    iv: &Intervals,
    prefix: &[usize],
    bk: usize,
    others: &[usize],
    lo: f64,
    hi: f64,
) -> String {
    let pad = ((hi - lo) * 0.03).max(if iv.timed { 1e-6 } else { 0.5 });
    let (lo, hi) = (lo - pad, hi + pad);
    let mut procs: BTreeMap<u64, usize> = BTreeMap::new();
    for &k in prefix.iter().chain(others).chain([&bk]) {
        procs.entry(iv.ops[k].process).or_insert(0);
    }
    for (i, v) in procs.values_mut().enumerate() {
        *v = i;
    }
    let height = 20.0 + LANE * procs.len() as f64 + 30.0;
    let x = |t: f64| LEFT + (t - lo) / (hi - lo) * WIDTH;
    let y = |p: u64| 20.0 + procs[&p] as f64 * LANE;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="lin-svg" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="11">"#,
        w = px(LEFT + WIDTH + 20.0),
        h = px(height)
    );
    for w in iv.faults.iter().filter(|w| w.end >= lo && w.start <= hi) {
        let (x0, x1) = (x(w.start.max(lo)), x(w.end.min(hi)));
        let _ = write!(
            s,
            r#"<rect class="fault-band" data-fault="{}" x="{}" y="4" width="{}" height="{}"><title>{}</title></rect><text class="fault-label" x="{}" y="14">{}</text>"#,
            esc(&w.f),
            px(x0),
            px((x1 - x0).max(1.0)),
            px(height - 30.0),
            esc(&fault_title(w, iv.timed)),
            px(x0 + 2.0),
            esc(&w.f)
        );
    }
    for (p, _) in procs.iter() {
        let _ = write!(
            s,
            r#"<text x="4" y="{}" class="lane-label">process {p}</text>"#,
            px(y(*p) + 13.0)
        );
    }
    let bar = |s: &mut String, o: &ClientOp, class: &str, id: &str, k: usize| {
        let (x0, x1) = (x(o.start), x(o.end));
        let _ = write!(
            s,
            r#"<rect{id} class="{class}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
            px(x0),
            px(y(o.process) + 2.0),
            px((x1 - x0).max(3.0)),
            px(LANE - 4.0),
            esc(&op_title(history, iv, k))
        );
    };
    for &k in others {
        let o = &iv.ops[k];
        let class = if o.outcome == Outcome::Ok { "lin-other" } else { o.outcome.name() };
        bar(&mut s, o, class, "", k);
    }
    // One valid choice of linearization points: each as early as its invocation
    // and the previous point allow.
    let mut path = Vec::new();
    let mut at = f64::NEG_INFINITY;
    for (n, &k) in prefix.iter().enumerate() {
        let o = &iv.ops[k];
        bar(&mut s, o, "lin-ok", "", k);
        at = at.max(o.start).min(o.end);
        path.push((x(at), y(o.process) + LANE / 2.0));
        if x(o.end) - x(o.start) > 18.0 {
            let _ = write!(
                s,
                r#"<text class="lin-order" x="{}" y="{}">{}</text>"#,
                px(x(o.start) + 2.0),
                px(y(o.process) + 14.0),
                n + 1
            );
        }
    }
    bar(&mut s, &iv.ops[bk], "breaking", r#" id="breaking-op-lin""#, bk);
    if !path.is_empty() {
        s.push_str(r#"<polyline class="lin-path" points=""#);
        for (i, (px_, py)) in path.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            let _ = write!(s, "{},{}", px(*px_), px(*py));
        }
        s.push_str(r#""/>"#);
    }
    let axis_y = height - 22.0;
    for i in 0..=6 {
        let t = lo + (hi - lo) * i as f64 / 6.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x(t)),
            px(axis_y + 14.0),
            esc(&axis_number(t, iv.timed, (hi - lo) / 6.0))
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" text-anchor="end">{} to {}</text>"#,
        px(LEFT + WIDTH),
        px(axis_y),
        esc(&time_label(lo, iv.timed)),
        esc(&time_label(hi, iv.timed))
    );
    s.push_str("</svg>");
    s
}
