//! The transactional workloads (`list-append`, `rw-register`) through the whole
//! harness, run as `faultline test` subprocesses: the serializable memory store is
//! valid under strict-serializable, its `stale-snapshot` bug is invalid with the
//! anomaly named; the stored histories check the same with `faultline check
//! --model list-append` and `faultline analyze`; on builtin (faultline's node through
//! Consul's `/v1/txn`) list-append is valid under partition + kill + pause and the
//! node's `txn-unchecked-reads` bug is invalid with write skew named (list-append,
//! and rw-register with `--checker-option linearizable-keys`); on etcd
//! (through its `txn` with `mod_revision` compares) list-append under partition +
//! kill + pause is valid.
//!
//! The builtin runs need `target/<profile>/faultline-node` (`cargo build -p node`);
//! the faulted ones root with iproute2 and nftables (the lab); the etcd one the
//! `etcd` binary. They are real runs: how many of the bug runs come out invalid is
//! what the assertion counts, not a fixed verdict.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use harness::store;
use serde_json::Value as Json;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// The node runs each use both cores: one at a time.
static LAB: Mutex<()> = Mutex::new(());

fn run(store: &Path, seed: u64, extra: &[&str]) -> (i32, PathBuf) {
    let out = Command::new(FAULTLINE)
        .args(["test", "--quiet", "--store"])
        .arg(store)
        .args(["--seed", &seed.to_string()])
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
    (code, std::fs::canonicalize(store.join("latest")).expect("store/latest exists"))
}

fn results(run_dir: &Path) -> Json {
    let text = std::fs::read_to_string(run_dir.join(store::RESULTS_JSON)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn faultline(args: &[&str], path: &Path) -> i32 {
    let out = Command::new(FAULTLINE).args(args).arg(path).output().unwrap();
    out.status.code().unwrap_or(-1)
}

#[test]
fn memory_list_append_and_rw_register_are_valid_and_check_the_same_stored() {
    let dir = tempfile::tempdir().unwrap();
    for workload in ["list-append", "rw-register"] {
        for seed in [1, 2] {
            let (code, run_dir) = run(
                dir.path(),
                seed,
                &["--system", "memory", "--workload", workload, "--time-limit", "1"],
            );
            let r = results(&run_dir);
            assert_eq!(code, 0, "{workload} seed {seed}: {}", r["explanation"]);
            assert!(r["analysis"]["totals"]["ok"].as_u64().unwrap() > 100, "{}", r["analysis"]);
            let why = r["explanation"].as_str().unwrap();
            assert!(why.contains("strict-serializable"), "{why}");
            let history = run_dir.join("history.jsonl");
            assert_eq!(faultline(&["check", "--model", workload], &history), 0, "{workload}");
            assert_eq!(faultline(&["analyze"], &run_dir), 0, "{workload}");
        }
    }
}

#[test]
fn memory_stale_snapshot_is_invalid_with_the_anomaly_named_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let seeds = [1, 2, 3, 4, 5];
    let mut caught = Vec::new();
    for seed in seeds {
        let (code, run_dir) = run(
            dir.path(),
            seed,
            &[
                "--system",
                "memory",
                "--node-bug",
                "stale-snapshot",
                "--workload",
                "list-append",
                "--time-limit",
                "1",
            ],
        );
        let why = results(&run_dir)["explanation"].as_str().unwrap().to_string();
        if code == 1 {
            assert!(why.contains("G2-item") || why.contains("G-single"), "{why}");
            assert!(why.contains("history.jsonl:"), "the explanation names lines: {why}");
            let history = run_dir.join("history.jsonl");
            assert_eq!(faultline(&["check", "--model", "list-append"], &history), 1);
        }
        caught.push((seed, code, why));
    }
    let n = caught.iter().filter(|c| c.1 == 1).count();
    assert_eq!(n, seeds.len(), "stale-snapshot caught in {n} of {}: {caught:?}", seeds.len());
}

/// `--checker-option` reaches the workload's checker, is recorded in `test.json` and
/// is used again by `analyze` and `replay`; a name the checker does not take is
/// refused (254, naming it) before any run directory exists. The stale-snapshot
/// store's anomalies (G2-item, G-single: see the test above) are all allowed under
/// read-committed, which forbids only G0 and G1, so the same seed that is invalid
/// under the default strict-serializable is valid under
/// `consistency-models=read-committed`.
#[test]
fn checker_options_reach_the_checker_are_recorded_and_bad_ones_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(FAULTLINE)
        .args(["test", "--quiet", "--system", "memory", "--workload", "rw-register"])
        .args(["--time-limit", "1", "--checker-option", "linearizable-key", "--store"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "{stderr}");
    assert!(
        stderr.contains("--checker-option") && stderr.contains("\"linearizable-key\""),
        "{stderr}"
    );
    assert!(!dir.path().join("latest").exists(), "refused before the run started");
    let out = Command::new(FAULTLINE)
        .args(["test", "--quiet", "--system", "memory", "--workload", "register"])
        .args(["--time-limit", "1", "--checker-option", "wfr-keys", "--store"])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(254), "a linearizability checker takes none: {stderr}");
    assert!(stderr.contains("\"wfr-keys\""), "{stderr}");

    let bug = ["--system", "memory", "--node-bug", "stale-snapshot", "--workload", "list-append"];
    let mut weak = bug.to_vec();
    weak.extend(["--time-limit", "1", "--checker-option", "consistency-models=read-committed"]);
    let (code, run_dir) = run(dir.path(), 1, &weak);
    let r = results(&run_dir);
    let why = r["explanation"].as_str().unwrap();
    assert_eq!(code, 0, "{why}");
    assert!(why.contains("read-committed") && !why.contains("strict-serializable"), "{why}");
    let test_json = run_dir.join(store::TEST_JSON);
    let test: Json = serde_json::from_str(&std::fs::read_to_string(&test_json).unwrap()).unwrap();
    assert_eq!(
        test["args"]["checker_option"],
        serde_json::json!(["consistency-models=read-committed"])
    );
    assert_eq!(faultline(&["analyze"], &run_dir), 0, "analyze uses the recorded option");
    assert_eq!(faultline(&["replay"], &run_dir), 0, "replay repeats it");
    // The same history under the default model: invalid. A test.json without the
    // field (written before it existed) still loads, with no checker options.
    let (code, _) = run(dir.path(), 1, &[&bug[..], &["--time-limit", "1"]].concat());
    assert_eq!(code, 1, "the same seed under strict-serializable");
    let mut old = test.clone();
    old["args"].as_object_mut().unwrap().remove("checker_option");
    std::fs::write(&test_json, serde_json::to_string(&old).unwrap()).unwrap();
    assert_eq!(faultline(&["analyze"], &run_dir), 1, "without the option: strict-serializable");
}

fn node_binary() -> PathBuf {
    Path::new(FAULTLINE).with_file_name("faultline-node")
}

fn require_node() {
    assert!(
        node_binary().exists(),
        "these tests need {}: run `cargo build -p node` first (scripts/test does)",
        node_binary().display()
    );
}

/// The fault kinds the run's schedule played.
fn faults_played(run_dir: &Path) -> std::collections::BTreeSet<String> {
    let text = std::fs::read_to_string(run_dir.join(store::TEST_JSON)).unwrap();
    let test: Json = serde_json::from_str(&text).unwrap();
    let steps = test["fault_schedule"]["steps"].as_array().cloned().unwrap_or_default();
    steps.iter().filter_map(|s| s["fault"]["fault"].as_str().map(String::from)).collect()
}

/// `workloads` (each a workload and its further options) on `system` under
/// partition + kill + pause, on seeds whose schedules together play every one of
/// the three: valid under strict-serializable each time. Each seed's runs go side
/// by side, each in a lab of its own (labs are isolated namespaces), so a second
/// workload costs little wall time.
fn valid_under_partition_kill_pause(system: &str, workloads: &[(&str, &[&str])]) {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let mut kinds = std::collections::BTreeSet::new();
    for seed in [2, 4] {
        let runs: Vec<(&str, i32, PathBuf)> = std::thread::scope(|s| {
            let runs: Vec<_> = workloads
                .iter()
                .map(|(workload, extra)| {
                    let store = dir.path().join(workload);
                    s.spawn(move || {
                        let mut args =
                            vec!["--system", system, "--workload", workload, "--time-limit", "15"];
                        args.extend(FAULTS);
                        args.extend(*extra);
                        let (code, run_dir) = run(&store, seed, &args);
                        (*workload, code, run_dir)
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().expect("a run's thread")).collect()
        });
        for (workload, code, run_dir) in runs {
            let r = results(&run_dir);
            assert_eq!(code, 0, "{system} {workload} seed {seed}: {}", r["explanation"]);
            let why = r["explanation"].as_str().unwrap();
            assert!(why.contains("strict-serializable"), "{workload}: {why}");
            assert!(r["analysis"]["totals"]["ok"].as_u64().unwrap() > 30, "{}", r["analysis"]);
            kinds.extend(faults_played(&run_dir));
        }
    }
    assert_eq!(kinds, ["kill", "partition", "pause"].map(String::from).into(), "faults played");
    assert!(common::processes_under(dir.path()).is_empty(), "no node left running");
}

/// No `--nemesis-interval`: the leader-aware schedule then shortens the interval so
/// that its first round, every family once, fits the time limit.
const FAULTS: &[&str] = &["--nemesis", "partition,kill,pause"];

#[test]
fn builtin_list_append_under_partition_kill_pause_is_valid() {
    require_node();
    let _lab = LAB.lock().unwrap_or_else(|p| p.into_inner());
    valid_under_partition_kill_pause("builtin", &[("list-append", &[])]);
}

/// The node's `txn-unchecked-reads` bug (a transaction validates only the keys it
/// writes: write skew) through both transactional workloads, each seed's
/// list-append and rw-register runs side by side (distinct loopback nets), so the
/// second workload costs almost no wall time (about 11 s a pair, 10.8 s alone).
///
/// rw-register needs `--checker-option linearizable-keys` to see it. A register
/// read names the write it saw but not where that write stands among the key's
/// others, and the default inferences (Elle's: `nil` precedes every value, and
/// the flags) order versions soundly only from what was observed. The bug's write
/// skew is T1 reads x = a and writes y, T2 reads y = b and writes x: the cycle
/// T1 -rw-> T2 -rw-> T1 needs "a precedes T2's x" and "b precedes T1's y". From
/// the initial state alone that is known only when a and b are `nil` (fresh
/// keys); `wfr-keys` orders only a version a transaction read before writing the
/// same key itself, not one another transaction wrote; `sequential-keys` and
/// `linearizable-keys` order them by process or real time. linearizable-keys is a
/// sound assumption here: the builtin's snapshot reads and commits are each one
/// Raft-applied transaction, so every key on its own stays linearizable; the bug
/// breaks only the atomicity of a transaction's reads with its writes (its reads
/// take effect at the snapshot, its writes later at the commit, unchecked).
/// Measured by hand (10 s runs, these seeds and 4 to 6, beside a list-append run):
/// linearizable-keys caught it in 6 of 6 runs (and 3 of 3 alone), sequential-keys
/// in 6 of 6, the default inferences in 0 of 6 (1 of 3 alone, where the skew was
/// on fresh keys), wfr-keys in 0 of 6. list-append (a read returns the whole list,
/// so the version order is in every read) caught it in 6 of 6.
#[test]
fn builtin_txn_unchecked_reads_is_invalid_in_most_runs() {
    require_node();
    let _lab = LAB.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let seeds = [1, 2, 3];
    let common_args = ["--node-bug", "txn-unchecked-reads", "--time-limit", "10"];
    let workloads: [(&str, &[&str]); 2] = [
        ("list-append", &["--loopback-net", "133"]),
        ("rw-register", &["--loopback-net", "134", "--checker-option", "linearizable-keys"]),
    ];
    let mut seen = Vec::new();
    for seed in seeds {
        let pair: Vec<(&str, i32, String)> = std::thread::scope(|s| {
            let runs: Vec<_> = workloads
                .iter()
                .map(|(workload, extra)| {
                    let store = dir.path().join(workload);
                    s.spawn(move || {
                        let args = [&["--workload", workload][..], &common_args, extra].concat();
                        let (code, run_dir) = run(&store, seed, &args);
                        let why = results(&run_dir)["explanation"].as_str().unwrap().to_string();
                        (*workload, code, why)
                    })
                })
                .collect();
            runs.into_iter().map(|r| r.join().expect("a run's thread")).collect()
        });
        for (workload, code, why) in pair {
            if code == 1 {
                assert!(why.contains("G2-item") || why.contains("G-single"), "{workload}: {why}");
            }
            seen.push((workload, seed, code, why));
        }
    }
    for (workload, _) in workloads {
        let n = seen.iter().filter(|s| s.0 == workload && s.2 == 1).count();
        eprintln!("txn-unchecked-reads caught by {workload} in {n} of {} runs", seeds.len());
        assert!(n * 2 > seeds.len(), "{workload}: caught in {n} of {}: {seen:?}", seeds.len());
    }
    assert!(common::processes_under(dir.path()).is_empty(), "no node left running");
}

/// etcd's `txn` under partition + kill + pause: list-append and, side by side in a
/// second lab, rw-register, both valid under strict-serializable. rw-register
/// checks with `linearizable-keys`: without it a register history orders a key's
/// versions only after `nil` (see the `txn-unchecked-reads` test: 0 of 6 write
/// skews seen), so valid would say little; etcd keeps every key linearizable, so
/// the assumption is sound. Measured by hand (seeds 2 and 4): valid in 2 of 2 with
/// it and without, as with `sequential-keys` + `wfr-keys`; the pair took 24 s
/// where list-append alone took 22 s.
#[test]
fn etcd_list_append_under_partition_kill_pause_is_valid() {
    common::require_etcd();
    let _lab = LAB.lock().unwrap_or_else(|p| p.into_inner());
    let rw: &[&str] = &["--checker-option", "linearizable-keys"];
    valid_under_partition_kill_pause("etcd", &[("list-append", &[]), ("rw-register", rw)]);
}
