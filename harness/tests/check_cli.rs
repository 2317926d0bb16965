//! `faultline check` end to end: verdicts, merged exit codes over several files,
//! time limits, JSON output, and 254 for unusable input.

use std::path::PathBuf;
use std::process::{Command, Output};

fn histories() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/histories/porcupine")
}

fn faultline(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).output().expect("faultline runs")
}

fn path(rel: &str) -> String {
    histories().join(rel).display().to_string()
}

#[test]
fn valid_file_exits_0() {
    let out = faultline(&["check", &path("jepsen/etcd_002.log"), "--model", "cas-register"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("valid") && text.contains("etcd_002.log"), "{text}");
}

#[test]
fn one_invalid_file_among_many_exits_1_and_is_explained() {
    let out = faultline(&[
        "check",
        &path("jepsen/etcd_002.log"),
        &path("jepsen/etcd_000.log"),
        &path("jepsen/etcd_095.log"),
        "--model",
        "cas-register",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cannot be linearized"), "{text}");
    assert!(text.contains("etcd_000.log:85"), "{text}");
}

#[test]
fn time_limit_exits_2() {
    let out = faultline(&[
        "check",
        &path("kv/c50-ok.txt"),
        "--model",
        "kv",
        "--no-partition",
        "--timeout",
        "0.1",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("time limit"));
}

#[test]
fn json_output_carries_verdict_and_anomaly() {
    let out = faultline(&["check", &path("kv/c10-bad.txt"), "--model", "kv", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let first = &json[0];
    assert_eq!(first["verdict"], "invalid");
    assert_eq!(first["anomaly"]["kind"], "not-linearizable");
    assert_eq!(first["anomaly"]["key"], "\"2\"");
    assert!(first["anomaly"]["prefix"].as_array().is_some_and(|p| !p.is_empty()));
    assert_eq!(first["stats"]["partitions"], 10);
}

#[test]
fn unusable_input_exits_254() {
    let out = faultline(&["check", "/nonexistent/history.jsonl", "--model", "register"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/history.jsonl"));
    let out = faultline(&["check", &path("jepsen/etcd_002.log"), "--model", "no-such-model"]);
    assert_eq!(out.status.code(), Some(254));
    // a kv history is not a register history: the op is named with its line
    let out = faultline(&["check", &path("kv/c01-ok.txt"), "--model", "cas-register"]);
    assert_eq!(out.status.code(), Some(254));
    assert!(String::from_utf8_lossy(&out.stderr).contains("c01-ok.txt:1"));
}

#[test]
fn invalid_outranks_unusable_input() {
    let out = faultline(&[
        "check",
        &path("jepsen/etcd_000.log"),
        "/nonexistent/history.jsonl",
        "--model",
        "cas-register",
    ]);
    assert_eq!(out.status.code(), Some(1));
}
