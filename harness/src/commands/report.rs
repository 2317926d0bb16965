//! `faultline report RUN_DIR`: regenerates `report.html` and `junit.xml` of a
//! stored run, also one an older harness recorded (missing files become notes in
//! the report). Exits with the run's verdict, like `analyze`.

use std::path::Path;

use results::Verdict;

use crate::exit::{CmdResult, Exit, Failure};

pub fn verdict_exit(v: Verdict) -> Exit {
    match v {
        Verdict::Valid => Exit::Valid,
        Verdict::Invalid => Exit::Invalid,
        Verdict::Unknown => Exit::Unknown,
    }
}

pub fn report(dir: &Path) -> CmdResult {
    let (run, report, junit) = results::regenerate(dir).map_err(|e| match e {
        results::RunDirError::NotADirectory(_) => Failure::bad_input(e),
        other => Failure::crash(other),
    })?;
    for n in &run.notes {
        eprintln!("note: {n}");
    }
    let verdict = Verdict::of_all(&run.view.checks);
    println!("{}", report.display());
    println!("{}", junit.display());
    eprintln!(
        "{}: {} ({} checks, {} history entries)",
        dir.display(),
        verdict,
        run.view.checks.len(),
        run.view.history.len()
    );
    Ok(verdict_exit(verdict))
}
