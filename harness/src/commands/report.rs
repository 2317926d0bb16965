//! `faultline report RUN_DIR`: regenerates `report.html` and `junit.xml` of a
//! stored run, also one an older harness recorded (missing files become notes in
//! the report). Exits with the run's verdict, like `analyze`.

use std::path::Path;

use crate::exit::{CmdResult, Exit, Failure};

pub fn report(dir: &Path) -> CmdResult {
    let (run, report, junit) = results::regenerate(dir).map_err(|e| match e {
        results::RunDirError::NotADirectory(_) => Failure::bad_input(e),
        other => Failure::crash(other),
    })?;
    for n in &run.notes {
        eprintln!("note: {n}");
    }
    let verdict = results::verdict_of(&run.view.checks);
    println!("{}", report.display());
    println!("{}", junit.display());
    eprintln!(
        "{}: {} ({} checks, {} history entries)",
        dir.display(),
        verdict,
        run.view.checks.len(),
        run.view.history.len()
    );
    Ok(Exit::of(verdict))
}
