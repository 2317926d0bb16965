//! `faultline analyze RUN_DIR`: judges a run's recorded history again, also for a
//! run whose harness was killed (its history is complete up to the last flush).
//! Keeps what the run itself wrote into `results.json` (teardown errors, phases).

use std::path::Path;

use crate::analysis::{self, CheckWith};
use crate::commands::run_results::{RunSummary, print_summary, write_results};
use crate::controller::{Registry, checker_options};
use crate::exit::{CmdResult, Exit, Failure};
use crate::store::{self, RunDir, TestRecord};

/// Reads `test.json` of a run directory (254 when it is not one).
pub fn read_record(dir: &Path) -> Result<TestRecord, Failure> {
    TestRecord::read(dir).map_err(Failure::bad_input)
}

pub fn analyze(dir: &Path) -> CmdResult {
    let record = read_record(dir)?;
    let workload = workloads::by_name(&record.args.workload).map_err(|e| {
        Failure::bad_input(format!("{}: {e}", dir.join(store::TEST_JSON).display()))
    })?;
    let history = dir.join(store::HISTORY);
    if !history.exists() {
        return Err(Failure::bad_input(format!(
            "{}: no {} in this run",
            dir.display(),
            store::HISTORY
        )));
    }
    let def = Registry::default().checker(workload.checker).map_err(Failure::crash)?;
    // The checker options the run was recorded with (`--checker-option`).
    let options = checker_options(&record.args, def).map_err(|f| Failure {
        message: format!("{}: {}", dir.join(store::TEST_JSON).display(), f.message),
        ..f
    })?;
    let analysis = analysis::analyze_file(&history, CheckWith { def, options })?;
    for w in &analysis.warnings {
        eprintln!("warning: {}: {w}", history.display());
    }
    // Keep the run's own section when the run finished and wrote one.
    let previous: Option<RunSummary> = std::fs::read_to_string(dir.join(store::RESULTS_JSON))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|j| j.get("run").cloned())
        .and_then(|r| serde_json::from_value(r).ok());
    let exit = Exit::of(analysis.verdict);
    let explanation = analysis.explanation.clone();
    let run = RunDir::open(dir);
    if let Some(e) = write_results(
        &run,
        exit,
        explanation.clone(),
        Some(analysis.clone()),
        None,
        previous.clone(),
    ) {
        return Err(Failure::crash(e));
    }
    print_summary(dir, &record, Some(&analysis), previous.as_ref(), exit, &explanation);
    Ok(exit)
}
