//! `faultline history lint|convert` as a user runs them: exit codes and messages
//! that name the file and line of each defect.

use std::path::{Path, PathBuf};
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

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn line(process: u64, kind: &str, f: &str, index: u64) -> String {
    format!(
        "{{\"index\":{index},\"type\":\"{kind}\",\"process\":{process},\"f\":\"{f}\",\"value\":null}}\n"
    )
}

/// Lints `lines` and returns stderr, asserting exit 254 and that `file:line` is named.
fn lint_rejects(lines: &[String], bad_line: usize, needle: &str) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "h.jsonl", &lines.concat());
    let (code, _, err) = faultline(&["history", "lint", p.to_str().unwrap()]);
    assert_eq!(code, 254, "{err}");
    let place = format!("{}:{bad_line}", p.display());
    assert!(err.contains(&place), "expected {place} in: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

#[test]
fn completion_without_invocation() {
    lint_rejects(&[line(0, "invoke", "read", 0), line(1, "ok", "read", 1)], 2, "no open operation");
}

#[test]
fn second_invocation_while_open() {
    lint_rejects(
        &[
            line(0, "invoke", "read", 0),
            line(1, "invoke", "read", 1),
            line(0, "invoke", "write", 2),
        ],
        3,
        "still open",
    );
}

#[test]
fn completion_of_another_f() {
    lint_rejects(&[line(0, "invoke", "read", 0), line(0, "ok", "write", 1)], 2, "invoked read");
}

#[test]
fn non_monotone_index() {
    lint_rejects(
        &[line(0, "invoke", "read", 5), line(0, "ok", "read", 6), line(1, "invoke", "read", 6)],
        3,
        "does not increase",
    );
}

#[test]
fn reuse_after_info() {
    lint_rejects(
        &[line(0, "invoke", "write", 0), line(0, "info", "write", 1), line(0, "invoke", "read", 2)],
        3,
        "after its info",
    );
}

#[test]
fn unknown_type() {
    lint_rejects(
        &[line(0, "invoke", "read", 0), line(0, "done", "read", 1)],
        2,
        "unknown type \"done\"",
    );
}

#[test]
fn unknown_type_in_edn() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "h.edn",
        "{:process 0, :type :invoke, :f :read, :value nil}\n\n{:process 0, :type :finished, :f :read}\n",
    );
    let (code, _, err) = faultline(&["history", "lint", p.to_str().unwrap()]);
    assert_eq!(code, 254);
    assert!(err.contains(&format!("{}:3: unknown :type :finished", p.display())), "{err}");
}

#[test]
fn every_defect_is_reported_not_just_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let lines = [line(0, "ok", "read", 0), line(1, "invoke", "read", 1), line(1, "ok", "cas", 2)];
    let p = write(dir.path(), "h.jsonl", &lines.concat());
    let (code, _, err) = faultline(&["history", "lint", p.to_str().unwrap()]);
    assert_eq!(code, 254);
    assert!(err.contains("2 defect(s)"), "{err}");
    assert!(err.contains(":1:") && err.contains(":3:"), "{err}");
}

#[test]
fn good_history_lints_clean() {
    let dir = tempfile::tempdir().unwrap();
    let lines =
        [line(0, "invoke", "read", 0), line(1, "invoke", "read", 1), line(1, "ok", "read", 2)];
    let p = write(dir.path(), "h.jsonl", &lines.concat());
    let (code, out, err) = faultline(&["history", "lint", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 operations (2 pairs), no defects"), "{out}");
}

#[test]
fn truncated_file_warns_and_lints() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = [line(0, "invoke", "read", 0), line(0, "ok", "read", 1)].concat();
    text.push_str("{\"index\":2,\"type\":\"inv");
    let p = write(dir.path(), "h.jsonl", &text);
    let (code, out, err) = faultline(&["history", "lint", p.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("line 3: the last line is cut short"), "{err}");
    assert!(out.contains("2 operations"), "{out}");
}

#[test]
fn convert_round_trips_a_shared_history() {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/histories/porcupine/jepsen/etcd_001.log");
    let edn = dir.path().join("h.edn");
    let jsonl = dir.path().join("h.jsonl");
    let (code, _, err) =
        faultline(&["history", "convert", src.to_str().unwrap(), edn.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("(porcupine-log)") && err.contains("(edn): 172 operations"), "{err}");
    let (code, _, err) =
        faultline(&["history", "convert", edn.to_str().unwrap(), jsonl.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let a = history::read_path(&src, None).unwrap().history.ops;
    let b = history::read_path(&jsonl, None).unwrap().history.ops;
    assert_eq!(a, b);
}

#[test]
fn bad_arguments_exit_254() {
    let (code, _, err) = faultline(&["history", "lint", "--no-such-option", "x"]);
    assert_eq!(code, 254, "{err}");
    let (code, _, err) = faultline(&["history", "lint", "/nonexistent/h.jsonl"]);
    assert_eq!(code, 254);
    assert!(err.contains("/nonexistent/h.jsonl: cannot read"), "{err}");
    let (code, _, err) = faultline(&["history", "lint", "--format", "yaml", "x"]);
    assert_eq!(code, 254);
    assert!(err.contains("unknown format \"yaml\""), "{err}");
    let (code, out, _) = faultline(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("history"));
}
