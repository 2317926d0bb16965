//! The timeline: every client operation as a bar from invocation to completion,
//! one lane per worker, coloured by outcome, with the nemesis' faults as a lane of
//! their own and as translucent bands across all lanes. Hand-written SVG.
//!
//! Decimation: an `ok` bar is drawn only when it reaches at least a pixel past what
//! its lane already shows, so a lane holds at most about one ok bar per pixel
//! column however long the run. Every `fail` / `info` bar and every operation a
//! check names as a culprit (the one that broke linearizability, say) are drawn,
//! each with a tooltip, up to [`DETAIL_BUDGET`] of them.
//!
//! Beyond that budget (a long run whose `cas` fails by the million: 1.4 M tooltips
//! made a 300 MB report) the timeline aggregates: each lane's `ok` operations, and
//! its `fail` and `info` operations apart, become runs of adjacent bars merged
//! into one untitled bar per stretch, so the SVG is bounded by lanes × pixel
//! columns, whatever the length of the history. Full detail (one bar with its
//! tooltip per operation) stays for the culprits, for the operations around the
//! first culprit and around the start and end of every fault (within
//! [`DETAIL_WINDOW`] of the run's span), as far as the budget allows, culprits
//! first. A line under the axis says how many operations were aggregated and
//! links to `faultline serve`'s pages of every operation
//! ([`crate::timeline_pages`]), which sit beside `report.html`.

use std::fmt::Write;

use history::History;

use crate::html::{esc, px, time_label};
use crate::intervals::{Intervals, Outcome, short};

/// Width of the drawing area, and where it starts (room for lane labels).
pub const PLOT_WIDTH: f64 = 1100.0;
pub const LEFT: f64 = 110.0;
const NEMESIS_LANE: f64 = 22.0;
const TOP: f64 = 18.0;

/// Bars drawn one by one, with their tooltips, at most (about 250 bytes each).
pub const DETAIL_BUDGET: usize = 10_000;
/// Around the anomaly and each fault edge, the share of the run's span kept in full
/// detail when the timeline aggregates.
pub const DETAIL_WINDOW: f64 = 0.005;

/// Groups processes into lanes: a process joins the first lane whose last
/// operation ended before the process' first one began. Jepsen gives a worker a new
/// process id after every `info`, so this gives back about one lane per worker.
pub fn lanes(iv: &Intervals) -> (Vec<usize>, Vec<Vec<u64>>) {
    use std::collections::BTreeMap;
    let mut span: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for op in &iv.ops {
        let e = span.entry(op.process).or_insert((op.start, op.end));
        e.0 = e.0.min(op.start);
        e.1 = e.1.max(op.end);
    }
    let mut order: Vec<(u64, (f64, f64))> = span.into_iter().collect();
    order.sort_by(|a, b| a.1.0.total_cmp(&b.1.0).then(a.0.cmp(&b.0)));
    let mut lane_end: Vec<f64> = Vec::new();
    let mut members: Vec<Vec<u64>> = Vec::new();
    let mut lane_of: BTreeMap<u64, usize> = BTreeMap::new();
    for (p, (s, e)) in order {
        let lane = match lane_end.iter().position(|&end| end < s) {
            Some(l) => l,
            None => {
                lane_end.push(f64::NEG_INFINITY);
                members.push(Vec::new());
                lane_end.len() - 1
            }
        };
        lane_end[lane] = e;
        members[lane].push(p);
        lane_of.insert(p, lane);
    }
    let per_op = iv.ops.iter().map(|o| lane_of.get(&o.process).copied().unwrap_or(0)).collect();
    (per_op, members)
}

fn lane_label(procs: &[u64]) -> String {
    let mut s =
        format!("p {}", procs.iter().take(3).map(u64::to_string).collect::<Vec<_>>().join(","));
    if procs.len() > 3 {
        let _ = write!(s, " +{}", procs.len() - 3);
    }
    s
}

/// The SVG of the timeline. `culprits` are history positions (invocations or
/// completions) of the operations the checks blame, drawn highlighted; the first
/// one's bar has the id `breaking-op-bar`.
pub fn render(history: &History, iv: &Intervals, culprits: &[usize]) -> String {
    let blamed: std::collections::HashSet<usize> = culprits.iter().copied().collect();
    let is_blamed = |o: &crate::intervals::ClientOp| {
        blamed.contains(&o.invoke) || o.completion.is_some_and(|c| blamed.contains(&c))
    };
    let first = culprits
        .first()
        .and_then(|&p| iv.ops.iter().position(|o| o.invoke == p || o.completion == Some(p)));
    let (lane_of, members) = lanes(iv);
    let n_lanes = members.len().max(1);
    let lane_h = if n_lanes <= 40 { 14.0 } else { (560.0 / n_lanes as f64).max(2.0) };
    let lanes_top = TOP + NEMESIS_LANE + 6.0;
    let not_ok = iv.ops.iter().filter(|o| o.outcome != Outcome::Ok).count();
    let aggregate = not_ok + blamed.len() > DETAIL_BUDGET;
    let height = lanes_top + lane_h * n_lanes as f64 + if aggregate { 46.0 } else { 30.0 };
    let width = LEFT + PLOT_WIDTH + 20.0;
    let x = |t: f64| LEFT + (t - iv.t0) / iv.span() * PLOT_WIDTH;
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<svg id="timeline-svg" xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" viewBox="0 0 {} {}" font-family="sans-serif" font-size="11">"#,
        px(width),
        px(height),
        px(width),
        px(height)
    );
    // Fault bands first, so bars draw over them.
    for (k, w) in iv.faults.iter().enumerate() {
        let (x0, x1) = (x(w.start), x(w.end).max(x(w.start) + 1.0));
        let _ = write!(
            s,
            r#"<rect class="fault-band" data-fault="{}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
            esc(&w.f),
            px(x0),
            px(TOP),
            px(x1 - x0),
            px(height - TOP - 24.0),
            esc(&fault_title(w, iv.timed))
        );
        // The nemesis lane: the fault as a labelled bar, staggered when faults overlap.
        let y = TOP + (k % 2) as f64 * (NEMESIS_LANE / 2.0);
        let _ = write!(
            s,
            r#"<rect class="fault-bar" x="{}" y="{}" width="{}" height="{}"/><text class="fault-label" x="{}" y="{}">{}</text>"#,
            px(x0),
            px(y),
            px(x1 - x0),
            px(NEMESIS_LANE / 2.0 - 1.0),
            px(x0 + 2.0),
            px(y + 9.0),
            esc(&short(&w.f, ((x1 - x0) / 6.0).max(1.0) as usize))
        );
    }
    let _ = write!(s, r#"<text x="4" y="{}" class="lane-label">nemesis</text>"#, px(TOP + 14.0));
    for (l, procs) in members.iter().enumerate() {
        let y = lanes_top + l as f64 * lane_h;
        if lane_h >= 9.0 {
            let _ = write!(
                s,
                r#"<text x="4" y="{}" class="lane-label">{}</text>"#,
                px(y + lane_h - 4.0),
                esc(&lane_label(procs))
            );
        }
    }
    let aggregated = if aggregate {
        draw_aggregated(
            &mut s, history, iv, &lane_of, n_lanes, lanes_top, lane_h, &is_blamed, first,
        )
    } else {
        draw_every_bar(
            &mut s, history, iv, &lane_of, n_lanes, lanes_top, lane_h, &is_blamed, first,
        );
        0
    };
    // Time axis.
    let axis_y = lanes_top + lane_h * n_lanes as f64 + 4.0;
    let _ = write!(
        s,
        r#"<line class="axis" x1="{}" y1="{}" x2="{}" y2="{}"/>"#,
        px(LEFT),
        px(axis_y),
        px(LEFT + PLOT_WIDTH),
        px(axis_y)
    );
    for i in 0..=10 {
        let t = iv.t0 + iv.span() * i as f64 / 10.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(x(t)),
            px(axis_y + 14.0),
            esc(&axis_number(t, iv.timed, iv.span() / 10.0))
        );
    }
    if aggregated > 0 {
        let _ = write!(
            s,
            r#"<text class="lane-label aggregated" x="{}" y="{}">{aggregated} operations drawn aggregated (merged bars without tooltips); full detail around the anomaly and every fault; every operation: <a class="timeline-pages" href="timeline"><tspan text-decoration="underline">timeline pages</tspan></a> (faultline serve)</text>"#,
            px(LEFT),
            px(axis_y + 30.0)
        );
    }
    s.push_str("</svg>");
    s
}

/// One bar per operation: `ok` bars decimated per pixel, every other one titled.
#[allow(clippy::too_many_arguments)]
fn draw_every_bar(
    s: &mut String,
    history: &History,
    iv: &Intervals,
    lane_of: &[usize],
    n_lanes: usize,
    lanes_top: f64,
    lane_h: f64,
    is_blamed: &dyn Fn(&crate::intervals::ClientOp) -> bool,
    first: Option<usize>,
) {
    let x = |t: f64| LEFT + (t - iv.t0) / iv.span() * PLOT_WIDTH;
    let mut covered = vec![f64::NEG_INFINITY; n_lanes];
    let bar_h = (lane_h - 2.0).max(1.0);
    for (k, op) in iv.ops.iter().enumerate() {
        let lane = lane_of[k];
        let (x0, x1) = (x(op.start), x(op.end));
        let w = (x1 - x0).max(0.6);
        let y = lanes_top + lane as f64 * lane_h + 1.0;
        let is_breaking = is_blamed(op);
        if op.outcome == Outcome::Ok && !is_breaking {
            if x0 + w <= covered[lane] + 1.0 {
                continue;
            }
            covered[lane] = covered[lane].max(x0 + w);
            let _ = write!(
                s,
                r#"<rect class="ok" x="{}" y="{}" width="{}" height="{}"/>"#,
                px(x0),
                px(y),
                px(w),
                px(bar_h)
            );
            continue;
        }
        titled_bar(s, history, iv, k, first, is_breaking, x0, w, y, bar_h);
    }
}

#[allow(clippy::too_many_arguments)]
fn titled_bar(
    s: &mut String,
    history: &History,
    iv: &Intervals,
    k: usize,
    first: Option<usize>,
    is_breaking: bool,
    x0: f64,
    w: f64,
    y: f64,
    bar_h: f64,
) {
    let id = if first == Some(k) { r#" id="breaking-op-bar""# } else { "" };
    let class = if is_breaking { "breaking" } else { iv.ops[k].outcome.name() };
    let _ = write!(
        s,
        r#"<rect{id} class="{class}" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>"#,
        px(x0),
        px(y),
        px(w.max(1.5)),
        px(bar_h),
        esc(&op_title(history, iv, k))
    );
}

/// Merged runs of bars per lane and outcome, and titled bars for the culprits and
/// the operations near the anomaly and the fault edges, within the budget. Returns
/// how many operations were drawn merged.
#[allow(clippy::too_many_arguments)]
fn draw_aggregated(
    s: &mut String,
    history: &History,
    iv: &Intervals,
    lane_of: &[usize],
    n_lanes: usize,
    lanes_top: f64,
    lane_h: f64,
    is_blamed: &dyn Fn(&crate::intervals::ClientOp) -> bool,
    first: Option<usize>,
) -> usize {
    let x = |t: f64| LEFT + (t - iv.t0) / iv.span() * PLOT_WIDTH;
    let bar_h = (lane_h - 2.0).max(1.0);
    // The times kept in full detail: around the first culprit and each fault edge.
    let window = iv.span() * DETAIL_WINDOW;
    let mut centres: Vec<f64> = iv.faults.iter().flat_map(|w| [w.start, w.end]).collect();
    if let Some(k) = first {
        centres.push(iv.ops[k].start);
    }
    centres.sort_by(f64::total_cmp);
    // How far an operation lies from the nearest of them.
    let distance = |t0: f64, t1: f64| {
        let i = centres.partition_point(|&c| c < t0);
        let before = i.checked_sub(1).map(|i| t0 - centres[i]);
        let after = centres.get(i).map(|&c| (c - t1).max(0.0));
        before.into_iter().chain(after).fold(f64::INFINITY, f64::min)
    };
    let mut detailed = vec![false; iv.ops.len()];
    let mut budget = DETAIL_BUDGET;
    // Culprits first; then the fail / info operations nearest the anomaly and the
    // fault edges, nearest first (so every edge gets its closest ones).
    for (k, op) in iv.ops.iter().enumerate() {
        if budget > 0 && is_blamed(op) {
            detailed[k] = true;
            budget -= 1;
        }
    }
    let mut near: Vec<(f64, usize)> = iv
        .ops
        .iter()
        .enumerate()
        .filter(|(k, o)| !detailed[*k] && o.outcome != Outcome::Ok)
        .map(|(k, o)| (distance(o.start, o.end), k))
        .filter(|(d, _)| *d <= window)
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for (_, k) in near.into_iter().take(budget) {
        detailed[k] = true;
    }
    // Open runs per (lane, outcome): (x0, x1).
    let slot = |o: Outcome| match o {
        Outcome::Ok => 0,
        Outcome::Fail => 1,
        _ => 2,
    };
    let mut runs: Vec<[Option<(f64, f64)>; 3]> = vec![[None; 3]; n_lanes];
    let mut merged = [String::new(), String::new(), String::new()];
    let flush = |out: &mut String, lane: usize, outcome: usize, (x0, x1): (f64, f64)| {
        let class = ["ok", "fail", "info"][outcome];
        let y = lanes_top + lane as f64 * lane_h + 1.0;
        let _ = write!(
            out,
            r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}"/>"#,
            px(x0),
            px(y),
            px((x1 - x0).max(0.6)),
            px(bar_h)
        );
    };
    let mut aggregated = 0;
    let mut titled = String::new();
    for (k, op) in iv.ops.iter().enumerate() {
        let lane = lane_of[k];
        let (x0, x1) = (x(op.start), x(op.end));
        if detailed[k] {
            let y = lanes_top + lane as f64 * lane_h + 1.0;
            titled_bar(
                &mut titled,
                history,
                iv,
                k,
                first,
                is_blamed(op),
                x0,
                (x1 - x0).max(0.6),
                y,
                bar_h,
            );
            continue;
        }
        aggregated += 1;
        let o = slot(op.outcome);
        let x1 = x1.max(x0 + 0.6);
        match &mut runs[lane][o] {
            Some((_, end)) if x0 <= *end + 1.0 => *end = end.max(x1),
            run => {
                if let Some(done) = run.take() {
                    flush(&mut merged[o], lane, o, done);
                }
                *run = Some((x0, x1));
            }
        }
    }
    for (lane, open) in runs.iter().enumerate() {
        for (o, run) in open.iter().enumerate() {
            if let Some(done) = run {
                flush(&mut merged[o], lane, o, *done);
            }
        }
    }
    // ok under fail under info under the titled bars
    for m in &merged {
        s.push_str(m);
    }
    s.push_str(&titled);
    aggregated
}

/// Tick labels: seconds with as many decimals as ticks `step` apart need, or
/// whole positions.
pub fn axis_number(t: f64, timed: bool, step: f64) -> String {
    if !timed {
        return format!("{}", t.round() as i64);
    }
    let decimals = if step > 0.0 { (-step.log10()).ceil().clamp(0.0, 6.0) as usize } else { 1 };
    format!("{t:.decimals$}s")
}

pub fn fault_title(w: &crate::intervals::FaultWindow, timed: bool) -> String {
    format!(
        "{} {} from {} to {}{}",
        w.f,
        w.detail,
        time_label(w.start, timed),
        time_label(w.end, timed),
        if w.healed { "" } else { " (never healed)" }
    )
}

/// `process 3 write 4 → info (:timed-out), 1.200 s – 3.200 s, node n2`.
pub fn op_title(history: &History, iv: &Intervals, k: usize) -> String {
    let op = &iv.ops[k];
    let inv = &history.ops[op.invoke];
    let mut s = format!("process {} {}", op.process, inv.f);
    if let Some(key) = &inv.key {
        let _ = write!(s, " key {key}");
    }
    let _ = write!(s, " {}", short(&inv.value.to_string(), 60));
    match op.completion {
        Some(c) => {
            let done = &history.ops[c];
            let _ = write!(s, " → {} {}", done.kind, short(&done.value.to_string(), 60));
            if let Some(e) = &done.error {
                let _ = write!(s, " ({})", short(&e.to_string(), 60));
            }
        }
        None => s.push_str(" → never completed"),
    }
    let _ = write!(s, ", {} – {}", time_label(op.start, iv.timed), time_label(op.end, iv.timed));
    if let Some(n) = &op.node {
        let _ = write!(s, ", node {n}");
    }
    let _ = write!(s, ", {}", history.place(op.invoke));
    s
}
