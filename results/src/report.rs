//! The self-contained `report.html`: one file with inline CSS, JS and SVG that
//! opens offline. Sections: summary and verdicts, timeline with fault bands (and
//! the operations the checks blame), latency and throughput, availability, and
//! each check's own section ([`crate::sections`]; for an invalid linearizability
//! check, the Porcupine-style view).

use std::fmt::Write;
use std::path::PathBuf;

use crate::availability;
use crate::html::{esc, row};
use crate::intervals::Intervals;
use crate::plots;
use crate::sections;
use crate::summary::TestSummary;
use crate::timeline;
use crate::view::RunView;

/// What the report needs beyond the run itself.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// The run directory, for the replay command.
    pub run_dir: Option<PathBuf>,
    /// Problems met while loading the run (missing or unreadable files), shown at
    /// the top of the report.
    pub notes: Vec<String>,
}

const CSS: &str = r#"
body{font-family:system-ui,sans-serif;margin:0 24px 40px;color:#222;max-width:1400px}
h1{margin:16px 0 4px} h2{margin-top:28px;border-bottom:1px solid #ddd}
.badge{display:inline-block;padding:2px 10px;border-radius:10px;color:#fff;font-weight:bold}
.v-valid{background:#2e8b57}.v-invalid{background:#c9302c}.v-unknown{background:#d08a00}
table.kv th{text-align:left;padding:2px 12px 2px 0;vertical-align:top}
table.grid{border-collapse:collapse} table.grid td,table.grid th{border:1px solid #ccc;padding:3px 8px;text-align:right}
table.grid td:first-child{text-align:left}
code,pre{background:#f5f5f5;padding:1px 4px}
pre.explanation{white-space:pre-wrap;background:#fafafa;border-left:4px solid #ccc;padding:8px}
.check{margin:10px 0;padding:6px 10px;border:1px solid #ddd;border-radius:6px}
.warning{background:#fff3cd;padding:6px 10px;border:1px solid #e0c36c}
svg .ok{fill:#3a9e5c}svg .fail{fill:#d9534f}svg .info{fill:#e69628}
svg .breaking{fill:#b00020;stroke:#000;stroke-width:1.5}
svg .fault-band{fill:#6e6ec8;fill-opacity:.14}
svg .fault-bar{fill:#6e6ec8;fill-opacity:.55}
svg .fault-label{fill:#223;font-size:10px}
svg .lane-label{fill:#555}
svg .axis{stroke:#888}
svg .lin-ok{fill:#8fd19e;stroke:#2e7d32}
svg .lin-other{fill:#ddd;stroke:#aaa}
svg .lin-order{font-size:10px;fill:#123}
svg .lin-path{fill:none;stroke:#1565c0;stroke-width:1.5}
.hide-ok svg .ok{display:none}
.legend span{display:inline-block;margin-right:14px}
.legend i{display:inline-block;width:12px;height:10px;margin-right:4px;vertical-align:middle}
.breaking-op{font-weight:bold;color:#b00020}
ul.highlighted-ops li{margin:2px 0} .role{display:inline-block;padding:0 6px;border-radius:8px;background:#ddd;font-size:85%}
.role-culprit .role{background:#b00020;color:#fff} .role-related .role{background:#e69628;color:#fff}
p.table-caption{font-weight:bold;margin:10px 0 4px}
.scroll{overflow-x:auto}
"#;

/// Runs first in the page: any script error is recorded on the root element, so a
/// headless browser's dumped DOM shows it (the report's tests look there).
const ERROR_HOOK: &str = r#"window.addEventListener('error',function(e){var d=document.documentElement;d.setAttribute('data-js-errors',(d.getAttribute('data-js-errors')||'')+(e.message||'error')+';');});"#;

const SCRIPT: &str = r#"
(function(){
  var box=document.getElementById('hide-ok');
  if(box){box.addEventListener('change',function(){document.getElementById('timeline').classList.toggle('hide-ok',box.checked);});}
  document.documentElement.setAttribute('data-report-ready','1');
})();
"#;

/// Renders the whole page.
pub fn render_html(run: &RunView, options: &ReportOptions) -> String {
    let iv = Intervals::from_history(&run.history);
    let summary = TestSummary::from_test(&run.test, options.run_dir.as_deref());
    let verdict = crate::view::verdict_of(&run.checks);
    let title = summary.name.clone().unwrap_or_else(|| "faultline run".into());
    let culprits: Vec<usize> = run.checks.iter().flat_map(|c| c.section.culprits()).collect();

    let mut s = String::with_capacity(1 << 20);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} — {}</title><script>{ERROR_HOOK}</script><style>{CSS}</style></head><body>",
        esc(&title),
        verdict
    );
    let _ = write!(
        s,
        r#"<h1>{} <span id="verdict" class="badge v-{v}" data-verdict="{v}">{v}</span></h1>"#,
        esc(&title),
        v = verdict
    );
    for n in &options.notes {
        let _ = write!(s, r#"<p class="warning note">{}</p>"#, esc(n));
    }
    summary_section(&mut s, run, &summary, &iv);
    checks_section(&mut s, run);

    s.push_str(r#"<h2>Timeline</h2><section id="timeline">"#);
    s.push_str(
        r#"<p class="legend"><span><i style="background:#3a9e5c"></i>ok</span><span><i style="background:#d9534f"></i>fail</span><span><i style="background:#e69628"></i>info (outcome unknown)</span><span><i style="background:#b00020"></i>blamed by a check (e.g. cannot be linearized)</span><span><i style="background:#6e6ec8;opacity:.5"></i>fault in force</span> <label><input type="checkbox" id="hide-ok"> hide ok operations</label></p>"#,
    );
    let _ = write!(
        s,
        r#"<div class="scroll">{}</div><p><small>{} client operations in {} lanes (one per worker), {} faults. Hover a fail/info bar or a fault for details.</small></p></section>"#,
        timeline::render(&run.history, &iv, &culprits),
        iv.ops.len(),
        timeline::lanes(&iv).1.len(),
        iv.faults.len()
    );

    s.push_str(r#"<h2>Latency</h2><section id="latency">"#);
    plot_or_note(&mut s, plots::latency_svg(&iv));
    s.push_str(&plots::quantile_table(&run.history, &iv));
    s.push_str(r#"</section><h2>Throughput</h2><section id="throughput">"#);
    plot_or_note(&mut s, plots::throughput_svg(&iv));
    s.push_str("</section>");

    s.push_str(r#"<h2>Availability</h2><section id="availability"><p>The fraction of client operations that succeeded, by the node they went to, outside faults and during each fault window (by invocation time).</p><div class="scroll">"#);
    s.push_str(&availability::table(&availability::compute(&iv)));
    s.push_str("</div></section>");
    cap_section(&mut s, run);

    s.push_str(&sections::render(run, &iv));
    let _ = write!(
        s,
        "<footer><p><small>faultline {} · {} history entries</small></p></footer><script>{SCRIPT}</script></body></html>",
        env!("CARGO_PKG_VERSION"),
        run.history.len()
    );
    s
}

/// Partitions as CAP figures: each side's availability and latency, the leader,
/// the majority side's time to recover ([`crate::cap`]).
fn cap_section(s: &mut String, run: &RunView) {
    let windows = crate::cap::compute(&run.history.ops);
    if windows.is_empty() {
        return;
    }
    s.push_str(r#"<h2>Partitions: each side</h2><section id="cap"><p>For each partition: the operations that succeeded of those invoked on each side of the cut (the majority side holds more than half of the nodes), their latency, where the leader was when the cut was made and just before the heal, and how long the majority side took to serve a new operation.</p><div class="scroll">"#);
    s.push_str(&crate::cap::table(&windows));
    s.push_str("</div></section>");
}

fn plot_or_note(s: &mut String, plot: Result<String, String>) {
    match plot {
        Ok(svg) => {
            s.push_str(r#"<div class="scroll plot">"#);
            // plotters writes an XML declaration-free <svg>; inline it as is.
            s.push_str(&svg);
            s.push_str("</div>");
        }
        Err(e) => {
            let _ = write!(s, r#"<p class="warning">The plot could not be drawn: {}</p>"#, esc(&e));
        }
    }
}

fn summary_section(s: &mut String, run: &RunView, t: &TestSummary, iv: &Intervals) {
    s.push_str(r#"<h2>Summary</h2><table class="kv" id="summary">"#);
    for (k, v) in [
        ("system", &t.system),
        ("workload", &t.workload),
        ("nemesis", &t.nemesis),
        ("seed", &t.seed),
        ("started", &t.started_at),
    ] {
        row(s, k, v.as_deref().unwrap_or("(not recorded)"));
    }
    let clients = iv.ops.len();
    let anomalies = iv.ops.iter().filter(|o| o.outcome.is_anomaly()).count();
    row(
        s,
        "operations",
        &format!(
            "{clients} client operations ({anomalies} fail or info), {} faults, {} history entries{}",
            iv.faults.len(),
            run.history.len(),
            if iv.timed { String::new() } else { "; this history records order, not times".into() }
        ),
    );
    if iv.stray_completions > 0 {
        row(s, "skipped", &format!("{} completions without an invocation", iv.stray_completions));
    }
    s.push_str("<tr><th>replay</th><td>");
    if t.replay.is_empty() {
        s.push_str("(test.json not recorded: no replay command)");
    }
    for cmd in &t.replay {
        let _ = write!(s, r#"<div><code class="replay">{}</code></div>"#, esc(cmd));
    }
    s.push_str("</td></tr></table>");
}

fn checks_section(s: &mut String, run: &RunView) {
    s.push_str(r#"<h2>Checks</h2><section id="checks">"#);
    if run.checks.is_empty() {
        s.push_str(r#"<p class="warning">No checker results were recorded for this run: its verdict is unknown.</p>"#);
    }
    for c in &run.checks {
        let _ = write!(
            s,
            r#"<div class="check" data-verdict="{v}"><b>{}</b> <span class="badge v-{v}">{v}</span><pre class="explanation">{}</pre></div>"#,
            esc(&c.name),
            esc(if c.explanation.is_empty() { "(no explanation given)" } else { &c.explanation }),
            v = c.verdict
        );
    }
    s.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op, OpKind, Process, Value};

    fn render(history: History) -> String {
        let run = RunView { test: serde_json::Value::Null, history, checks: Vec::new() };
        render_html(&run, &ReportOptions::default())
    }

    /// Degenerate runs still render: nothing recorded, only faults, one instant.
    #[test]
    fn empty_and_degenerate_histories_render() {
        let empty = render(History::new());
        assert!(empty.contains(r#"data-verdict="unknown""#), "no checks is never green");
        assert!(empty.contains("No checker results"));
        let nem = |k| Op::new(Process::Nemesis, k, "kill", Value::Nil);
        let faults_only = render(History::from_ops(vec![nem(OpKind::Invoke), nem(OpKind::Info)]));
        assert!(faults_only.contains(r#"data-fault="kill""#));
        let mut a = Op::invoke(0, "read", Value::Nil);
        let mut b = Op::ok(0, "read", Value::Int(1));
        (a.index, a.time_ns, b.index, b.time_ns) = (0, 5, 1, 5);
        let instant = render(History::from_ops(vec![a, b]));
        assert!(instant.contains(r#"<rect class="ok""#));
        assert!(!instant.contains("could not be drawn"), "plots drew");
    }
}
