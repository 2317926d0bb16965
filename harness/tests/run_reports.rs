//! Runs write what people read: `faultline test` leaves report.html and junit.xml
//! in the run directory (with the Porcupine-style view of a stale read), and
//! `faultline test-all` runs a matrix with one summary table and one JUnit file,
//! exiting 255 when any cell crashed. On the in-process `memory` systems: no etcd,
//! no root.

use std::path::Path;
use std::process::Command;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn an_invalid_run_writes_a_report_with_the_failing_read() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = Command::new(FAULTLINE)
        .args(["test", "--system", "memory-stale", "--time-limit", "1", "--rate", "300"])
        .args(["--seed", "5", "--quiet", "--store"])
        .arg(dir.path())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let run = std::fs::canonicalize(dir.path().join("latest")).expect("latest");
    let results: serde_json::Value =
        serde_json::from_str(&read(&run.join("results.json"))).expect("json");
    let check = &results["checks"][0];
    assert_eq!(check["verdict"], "invalid");
    let breaking =
        check["linearization"]["breaking_op"].as_u64().expect("a linearization view") as usize;
    let history = history::read_path(&run.join("history.jsonl"), None).expect("history").history;
    let op = &history.ops[breaking];
    assert_eq!((op.kind, op.f.as_str()), (history::OpKind::Invoke, "read"), "{op}");

    let html = read(&run.join("report.html"));
    assert!(html.contains(r#"data-verdict="invalid""#));
    assert!(html.contains(r#"id="breaking-op-bar""#) && html.contains(r#"id="breaking-op-lin""#));
    let junit = read(&run.join("junit.xml"));
    assert!(junit.contains("<failure"), "{junit}");

    // `analyze` writes it again.
    std::fs::remove_file(run.join("report.html")).expect("rm");
    let again = Command::new(FAULTLINE).arg("analyze").arg(&run).output().expect("analyze");
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    assert!(read(&run.join("report.html")).contains(r#"id="breaking-op-lin""#));

    // A run recorded before `checks` existed (only the per-key analysis): `report`
    // still finds the failing read, moved from its key's sub-history positions.
    let mut old = results.clone();
    old.as_object_mut().expect("object").remove("checks");
    std::fs::write(run.join("results.json"), old.to_string()).expect("write");
    std::fs::remove_file(run.join("report.html")).expect("rm");
    let again = Command::new(FAULTLINE).arg("report").arg(&run).output().expect("report");
    assert_eq!(again.status.code(), Some(1), "{again:?}");
    let loaded = results::run_dir::load(&run).expect("load");
    let lin = loaded.view.checks[0].linearization.as_ref().expect("view from the old shape");
    assert_eq!(lin.breaking_op, breaking);
    assert!(read(&run.join("report.html")).contains(r#"id="breaking-op-lin""#));
}

fn test_all(store: &Path, system: &str, count: &str) -> (i32, String, String) {
    let out = Command::new(FAULTLINE)
        .args(["test-all", "--system", system, "--workloads", "register", "--nemeses", "none"])
        .args(["--count", count, "--store"])
        .arg(store)
        .args(["--", "--time-limit", "1", "--rate", "300"])
        .output()
        .expect("test-all");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn test_all_tables_a_matrix_and_a_crash_makes_it_255() {
    let dir = tempfile::tempdir().expect("tmp");
    let (code, out, err) = test_all(dir.path(), "memory", "2");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(out.matches("│ valid").count(), 2, "one row per run:\n{out}");
    let junit = read(&dir.path().join("test-all.junit.xml"));
    assert_eq!(junit.matches("<testsuite ").count(), 2);
    assert!(!junit.contains("<failure") && !junit.contains("<error"), "{junit}");

    let stale = tempfile::tempdir().expect("tmp");
    let (code, out, err) = test_all(stale.path(), "memory-stale", "1");
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(read(&stale.path().join("test-all.junit.xml")).contains("<failure"));

    // A cell that cannot even create its run directory crashes (255): so does the matrix.
    let broken = tempfile::tempdir().expect("tmp");
    std::fs::write(broken.path().join("memory-register-none"), "not a directory").expect("file");
    let (code, out, err) = test_all(broken.path(), "memory", "1");
    assert_eq!(code, 255, "{out}\n{err}");
    assert!(out.contains("CRASHED"), "{out}");
    let junit = read(&broken.path().join("test-all.junit.xml"));
    assert!(junit.contains("<error") && junit.contains("crash"), "{junit}");
}
