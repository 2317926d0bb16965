//! What a run leaves for people and scripts: `results.json` (the verdict, its
//! explanation, the analysis, what happened during the run) and the summary table
//! printed at the end of `test` and `analyze`.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::analysis::Analysis;
use crate::exit::Exit;
use crate::store::TestRecord;
use crate::store::{self, RunDir};

/// The part of `results.json` only a live run knows.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RunSummary {
    pub report: Json,
    pub teardown_errors: Vec<String>,
    pub history_error: Option<String>,
    pub recorded_ops: u64,
    pub wall_seconds: f64,
    pub swept_leftovers: Vec<String>,
}

/// `results.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub verdict: String,
    pub exit_code: i32,
    pub explanation: String,
    pub analysis: Option<Analysis>,
    pub analysis_error: Option<String>,
    /// `None` when written by `faultline analyze` for a run that never finished.
    pub run: Option<RunSummary>,
    pub note: Option<String>,
    /// The checks as the report and JUnit show them (`results::CheckView`: verdict,
    /// explanation, the checker's report section in history positions).
    pub checks: Vec<results::CheckView>,
    /// Per partition window: each side's availability and latency, the leader,
    /// the majority side's time to recover ([`results::cap`]).
    pub cap: Vec<results::cap::CapWindow>,
}

/// The CAP figures of a run's history, streamed (empty when it cannot be read:
/// the verdict does not depend on them).
pub fn cap_figures(dir: &Path) -> Vec<results::cap::CapWindow> {
    let Ok(reader) = history::format::open_jsonl(&dir.join(store::HISTORY)) else {
        return Vec::new();
    };
    let mut builder = results::cap::CapBuilder::new();
    for (_, op) in reader.flatten() {
        builder.push(&op);
    }
    builder.finish_all()
}

pub fn verdict_name(exit: Exit) -> &'static str {
    match exit {
        Exit::Valid => "valid",
        Exit::Invalid => "invalid",
        Exit::Unknown => "unknown",
        Exit::Interrupted | Exit::Terminated => "interrupted",
        Exit::BadInput => "unusable input",
        Exit::Crash => "crashed",
    }
}

pub fn write_results(
    run: &RunDir,
    exit: Exit,
    explanation: String,
    analysis: Option<Analysis>,
    analysis_error: Option<String>,
    summary: Option<RunSummary>,
) -> Option<String> {
    let note = summary.is_none().then(|| {
        "the run did not finish (it has no results of its own): this analysis covers the \
         history recorded until it stopped"
            .to_string()
    });
    // The checks for report.html / junit.xml, with each checker's own section.
    let checks = crate::result_views::run_checks(
        exit,
        &explanation,
        analysis.as_ref(),
        analysis_error.as_deref(),
    );
    let results = Results {
        verdict: verdict_name(exit).to_string(),
        exit_code: exit.code(),
        explanation,
        analysis,
        analysis_error,
        run: summary,
        note,
        checks,
        cap: cap_figures(&run.path),
    };
    if let Err(e) = run.write_json(store::RESULTS_JSON, &results) {
        let msg = format!("cannot write results.json in {}: {e}", run.path.display());
        eprintln!("faultline: {msg}");
        return Some(msg);
    }
    // The report is for people: failing to draw it does not change the verdict.
    if let Err(e) = results::regenerate(&run.path) {
        eprintln!("faultline: cannot write the report: {e}");
    }
    None
}

/// The table at the end of a run (and of `analyze`).
pub fn print_summary(
    dir: &Path,
    record: &TestRecord,
    analysis: Option<&Analysis>,
    summary: Option<&RunSummary>,
    exit: Exit,
    explanation: &str,
) {
    let mut b = tabled::builder::Builder::default();
    b.push_record(["run", &dir.display().to_string()]);
    b.push_record(["report", &dir.join(results::run_dir::REPORT_HTML).display().to_string()]);
    let version = record.versions.get(&record.args.system).cloned().unwrap_or_default();
    b.push_record([
        "system",
        &format!("{} ({version}) on {} nodes", record.args.system, record.nodes.len()),
    ]);
    b.push_record(["workload", &format!("{} ({})", record.args.workload, record.checker)]);
    if !record.args.node_bug.is_empty() {
        b.push_record(["node bugs", &record.args.node_bug.join(",")]);
    }
    b.push_record(["nemesis", &record.args.nemesis.join(",")]);
    b.push_record(["seed", &record.seed.to_string()]);
    if let Some(s) = summary {
        b.push_record(["wall time", &format!("{:.1} s", s.wall_seconds)]);
        if !s.teardown_errors.is_empty() {
            b.push_record(["teardown errors", &s.teardown_errors.join("; ")]);
        }
    }
    if let Some(a) = analysis {
        let t = &a.totals;
        b.push_record(["operations", &a.client_operations.to_string()]);
        b.push_record([
            "ok / fail / info / open",
            &format!("{} / {} / {} / {}", t.ok, t.fail, t.info, t.open),
        ]);
        for (f, o) in &a.by_f {
            let latency = a
                .latency_ok
                .get(f)
                .map(|l| format!("; ok latency p50 {:.1} ms, p99 {:.1} ms", l.p50_ms, l.p99_ms))
                .unwrap_or_default();
            b.push_record([
                format!("  {f}"),
                format!("{} / {} / {} / {}{latency}", o.ok, o.fail, o.info, o.open),
            ]);
        }
        b.push_record(["keys", &a.keys.to_string()]);
    }
    for (label, text) in results::cap::summary_lines(&cap_figures(dir)) {
        b.push_record([label, text]);
    }
    b.push_record(["verdict", &format!("{} (exit {})", verdict_name(exit), exit.code())]);
    b.push_record(["why", explanation]);
    let mut table = b.build();
    table.with(tabled::settings::Style::rounded()).with(
        tabled::settings::Modify::new(tabled::settings::object::Columns::one(1))
            .with(tabled::settings::Width::wrap(100)),
    );
    println!("{table}");
}
