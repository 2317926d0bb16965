//! `faultline report RUN_DIR` as a user runs it: it regenerates report.html and
//! junit.xml, exits with the run's verdict, tolerates a run an older harness
//! recorded (no results.json, a cut history line), and refuses a missing directory
//! with 254.

use std::path::Path;
use std::process::Command;

fn faultline(args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).output().expect("run faultline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line(index: u64, process: &str, kind: &str, f: &str, value: &str, time: u64) -> String {
    format!(
        "{{\"index\":{index},\"time\":{time},\"type\":\"{kind}\",\"process\":{process},\"f\":\"{f}\",\"value\":{value},\"node\":\"n1\"}}\n"
    )
}

fn history(dir: &Path, cut: bool) {
    let mut text = String::new();
    text += &line(0, "0", "invoke", "write", "1", 1_000_000);
    text += &line(1, "\"nemesis\"", "invoke", "kill", "\"n1\"", 2_000_000);
    text += &line(2, "\"nemesis\"", "info", "kill", "\"n1\"", 3_000_000);
    text += &line(3, "0", "ok", "write", "1", 4_000_000);
    text += &line(4, "1", "invoke", "read", "null", 5_000_000);
    text += &line(5, "1", "info", "read", "null", 9_000_000);
    if cut {
        text += "{\"index\":6,\"ty";
    }
    std::fs::write(dir.join("history.jsonl"), text).expect("history");
}

#[test]
fn report_regenerates_and_exits_with_the_verdict() {
    let tmp = tempfile::tempdir().expect("tmp");
    let run = tmp.path().join("etcd-register/20261126T160000.000Z");
    std::fs::create_dir_all(&run).expect("dir");
    history(&run, false);
    std::fs::write(run.join("test.json"), r#"{"name":"etcd-register","args":{"system":"etcd","workload":"register","nemesis":["kill"]},"seed":3}"#).expect("test.json");
    std::fs::write(
        run.join("results.json"),
        r#"{"checks":[{"name":"linearizable register","verdict":"invalid","explanation":"the read cannot be linearized"}]}"#,
    )
    .expect("results.json");
    let dir = run.to_str().expect("utf8");
    let (code, out, err) = faultline(&["report", dir]);
    assert_eq!(code, 1, "invalid run exits 1; stderr: {err}");
    assert!(out.contains("report.html") && out.contains("junit.xml"));
    let html = std::fs::read_to_string(run.join("report.html")).expect("report.html");
    assert!(html.contains(r#"data-verdict="invalid""#));
    assert!(html.contains(r#"data-fault="kill""#));
    assert!(html.contains("faultline replay"));
    assert!(std::fs::read_to_string(run.join("junit.xml")).expect("junit").contains("<failure"));
}

#[test]
fn report_tolerates_an_old_run_and_refuses_a_missing_dir() {
    let tmp = tempfile::tempdir().expect("tmp");
    history(tmp.path(), true);
    let dir = tmp.path().to_str().expect("utf8");
    let (code, _, err) = faultline(&["report", dir]);
    assert_eq!(code, 2, "no results recorded: unknown, never green; stderr: {err}");
    assert!(err.contains("results.json"), "the missing file is named: {err}");
    let html = std::fs::read_to_string(tmp.path().join("report.html")).expect("report.html");
    assert!(html.contains(r#"data-verdict="unknown""#));
    assert!(html.contains("class=\"warning note\""));

    let missing = tmp.path().join("no-such-run");
    let (code, _, err) = faultline(&["report", missing.to_str().expect("utf8")]);
    assert_eq!(code, 254);
    assert!(err.contains("no-such-run"), "{err}");
}
