//! The lock workload on the builtin system through the whole harness, run as
//! `faultline test` subprocesses on loopback (no root, no faults): a correct node
//! refuses every acquire sent with a destroyed session and the history is valid; with
//! `--node-bug lock-no-session-check` the node grants such acquires and the
//! `session-lock` checker says invalid.
//!
//! Needs `target/<profile>/faultline-node` (`cargo build -p node`; `scripts/test`
//! builds it). Measured by hand (debug build, loaded 2-core machine, 4 s runs at 100
//! ops/s, two passes): without the bug 12/12 valid (every dead-session acquire
//! refused); with it 20/20 invalid (a run makes about 25-35 dead-session acquires; the
//! bug grants the 7-19 that find the lock free, and each grant is a violation). The
//! plain `mutex` model, split by key, calls those same buggy histories valid: the node
//! still gives a lock to one session at a time, so no two holders ever overlap.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use harness::store;
use serde_json::Value as Json;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

fn require_node() {
    let node = Path::new(FAULTLINE).with_file_name("faultline-node");
    assert!(
        node.exists(),
        "these tests need {}: run `cargo build -p node` first (scripts/test does)",
        node.display()
    );
}

/// One 4-second lock run on loopback; returns its exit code and results.json.
fn run(store: &Path, seed: u64, extra: &[&str]) -> (i32, Json, PathBuf) {
    let out = Command::new(FAULTLINE)
        .args(["test", "--quiet", "--workload", "lock", "--store"])
        .arg(store)
        .args(["--seed", &seed.to_string()])
        .args(["--time-limit", "4", "--rate", "100", "--loopback-net", "123"])
        .args(extra)
        .output()
        .expect("faultline runs");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        [0, 1].contains(&code),
        "faultline test {extra:?} seed {seed} exited {code}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::fs::canonicalize(store.join("latest")).expect("store/latest exists");
    let results = serde_json::from_str(
        &std::fs::read_to_string(dir.join(store::RESULTS_JSON)).expect("results.json"),
    )
    .expect("results.json is JSON");
    (code, results, dir)
}

/// How many `dead-session` acquires a run made and how many the node granted.
fn dead_session_acquires(run_dir: &Path) -> (usize, usize) {
    let text = std::fs::read_to_string(run_dir.join(store::HISTORY)).expect("history");
    let mut made = 0;
    let mut granted = 0;
    for line in text.lines() {
        let op: Json = serde_json::from_str(line).expect("history line is JSON");
        if op["f"] == "acquire" && op["value"] == "dead-session" {
            match op["type"].as_str() {
                Some("invoke") => made += 1,
                Some("ok") => granted += 1,
                _ => {}
            }
        }
    }
    (made, granted)
}

#[test]
fn correct_node_is_valid_and_lock_no_session_check_is_caught() {
    require_node();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());

    let (code, results, run_dir) = run(dir.path(), 1, &[]);
    assert_eq!(code, 0, "the correct node is not valid: {}", results["explanation"]);
    assert_eq!(results["analysis"]["checker"], "session-lock, split by key");
    let acquire = &results["analysis"]["by_f"]["acquire"];
    assert!(acquire["ok"].as_u64().unwrap() > 10, "too few locks taken: {acquire}");
    let (made, granted) = dead_session_acquires(&run_dir);
    assert!(made > 5, "only {made} dead-session acquires: the test exercised nothing");
    assert_eq!(granted, 0, "a correct node granted an acquire to a destroyed session");

    let mut seen = Vec::new();
    let mut caught = false;
    for seed in [1, 2, 3] {
        let (code, results, run_dir) =
            run(dir.path(), seed, &["--node-bug", "lock-no-session-check"]);
        let (made, granted) = dead_session_acquires(&run_dir);
        seen.push(format!(
            "seed {seed}: {} ({made} dead-session acquires, {granted} granted): {}",
            results["verdict"], results["explanation"]
        ));
        if code == 1 {
            caught = true;
            assert!(granted > 0, "invalid without a granted dead-session acquire: {seen:?}");
            assert!(
                results["explanation"].as_str().unwrap().contains("destroyed session"),
                "{seen:?}"
            );
            break;
        }
    }
    assert!(caught, "lock-no-session-check was never caught: {seen:?}");
    assert!(common::processes_under(dir.path()).is_empty(), "no node left running");
}

#[test]
fn lock_workload_on_other_systems_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // etcd offers locks too (lease + txn: harness/tests/etcd_lock_pause.rs).
    let system = "memory";
    let out = Command::new(FAULTLINE)
        .args(["test", "--quiet", "--workload", "lock", "--system", system, "--store"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254), "{system}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let says = format!(
        "the lock workload needs the locks API, which the {system} system's client does \
         not offer (it offers: kv, txn)"
    );
    assert!(stderr.contains(&says), "{system}: {stderr}");
}
