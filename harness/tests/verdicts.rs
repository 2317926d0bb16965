//! The verdict end to end, on the in-process systems (no etcd needed): a correct
//! store is `valid` (exit 0), the same store with a stale-read bug is `invalid`
//! (exit 1) with the stale read named, both from `faultline test` and from
//! `faultline analyze` of the stored run.

mod common;

use std::process::Command;

use harness::exit::Exit;
use harness::store;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

#[test]
fn a_correct_store_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = common::args("memory", dir.path(), 0);
    args.time_limit = 1.0;
    args.rate = 300.0;
    let (exit, run) = harness::commands::test::run_test(args).unwrap();
    assert_eq!(exit, Exit::Valid);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap())
            .unwrap();
    assert_eq!(results["verdict"], "valid");
    assert!(results["analysis"]["checked"].as_u64().unwrap() >= 2, "several keys were checked");
}

#[test]
fn a_store_with_stale_reads_is_invalid_and_the_read_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let store_arg = dir.path().to_str().unwrap();
    let out = Command::new(FAULTLINE)
        .args(["test", "--system", "memory-stale", "--time-limit", "1", "--rate", "300"])
        .args(["--seed", "5", "--quiet", "--store", store_arg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let run = std::fs::canonicalize(dir.path().join("latest")).unwrap();
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap())
            .unwrap();
    assert_eq!(results["verdict"], "invalid");
    let why = results["explanation"].as_str().unwrap();
    assert!(why.contains("not linearizable") && why.contains("read returning"), "{why}");
    assert!(why.contains("history.jsonl:"), "the explanation points at the line: {why}");
    let not_valid = results["analysis"]["not_valid"].as_array().unwrap();
    assert!(!not_valid.is_empty() && not_valid[0]["outcome"]["verdict"] == "invalid");

    // Analysing the stored run again gives the same verdict.
    let again = Command::new(FAULTLINE).arg("analyze").arg(&run).output().unwrap();
    assert_eq!(again.status.code(), Some(1), "{again:?}");
}
