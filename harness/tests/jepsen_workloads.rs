//! Jepsen's other workloads (set, set-full, counter, bank, unique-ids) through the
//! whole harness:
//! - on the memory system, each is valid, and invalid with the memory bug switch it
//!   must catch (`lost-writes`: set, set-full, counter, unique-ids;
//!   `partial-commits`: bank), explained in words, with its report section drawn;
//! - on etcd under partitions, kills and pauses, bank and counter stay valid (needs
//!   root, nftables and etcd: `apt-get install nftables iptables etcd-server`);
//! - on the builtin node, `no-fsync` with whole-cluster crashes (`kill-all`) loses
//!   acknowledged set elements, and the same faults without the bug lose none
//!   (needs `target/<profile>/faultline-node`, built by `cargo build -p node`).
//!
//! Measured by hand (debug build, this 2-core machine, 30 s runs, the default
//! nemesis interval of 5 s): builtin `set` with `--node-bug no-fsync --nemesis
//! kill-all` was invalid in 7 of 7 runs (seeds 1-7; each lost every element it
//! acknowledged, 1496 to 1971 of them: without fsync a crash of every node loses
//! all since the last durable commit, and adds stop before the last restart); the
//! control without the bug was valid in 5 of 5 (seeds 1-5; 1005 to 1547 elements
//! acknowledged, every one read back). etcd `bank` and `counter` under
//! `partition,kill,pause` were valid in 3 of 3 runs each (seeds 1-3; 800 to 1200
//! acknowledged transfers or adds and 860 to 1700 reads per run; the three seeds
//! between them applied kills, pauses and partitions).
//! The tests here use shorter runs to keep CI fast.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::thread;

use harness::commands::test::{TestArgs, run_test};
use harness::exit::Exit;
use harness::store;
use history::{OpKind, Process};

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// Faulted runs build labs and use both cores: one test at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn results(run: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap()).unwrap()
}

fn memory(store: &Path, workload: &str, bug: Option<&str>) -> TestArgs {
    let mut args = common::args("memory", store, 0);
    args.workload = workload.into();
    args.time_limit = 2.0;
    args.rate = 300.0;
    args.node_bug = bug.map(|b| vec![b.to_string()]).unwrap_or_default();
    args
}

#[test]
fn memory_bug_variants_are_invalid_and_the_bug_free_store_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    for (workload, bug, says, section) in [
        ("set", "lost-writes", "absent from the final read", "Set"),
        ("set-full", "lost-writes", "is absent from all", "Set (full)"),
        ("counter", "lost-writes", "acknowledged increment is missing", "Counter"),
        ("unique-ids", "lost-writes", "was returned by 2 acknowledged generates", "Unique ids"),
        ("bank", "partial-commits", "does not sum to the total", "Bank"),
    ] {
        let (exit, run) =
            run_test(memory(dir.path(), workload, None)).map_err(|f| f.message).unwrap();
        let r = results(&run);
        assert_eq!(exit, Exit::Valid, "{workload} without a bug: {}", r["explanation"]);
        assert!(
            r["analysis"]["totals"]["ok"].as_u64().unwrap() > 100,
            "{workload}: {}",
            r["analysis"]
        );
        let report = std::fs::read_to_string(run.join(results::run_dir::REPORT_HTML)).unwrap();
        assert!(
            report.contains(&format!(">{section}</h2>")),
            "{workload}: the report has its section"
        );
        let (exit, run) =
            run_test(memory(dir.path(), workload, Some(bug))).map_err(|f| f.message).unwrap();
        let r = results(&run);
        let why = r["explanation"].as_str().unwrap_or_default().to_string();
        assert_eq!(exit, Exit::Invalid, "{workload} with {bug}: {why}");
        assert!(why.contains(says), "{workload} with {bug}: {why}");
        assert!(why.contains("history.jsonl:"), "{workload}: the explanation names lines: {why}");
    }
}

/// Runs every `args` in parallel; the exit and run directory of each, in order.
fn run_all(all: Vec<TestArgs>) -> Vec<(Exit, PathBuf)> {
    let handles: Vec<_> = all
        .into_iter()
        .map(|args| thread::spawn(move || run_test(args).map_err(|f| f.message)))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a run panicked").expect("the run completes"))
        .collect()
}

/// Nemesis operations that completed, by `f`.
fn faults_applied(run: &Path) -> Vec<String> {
    let read = history::read_path(&run.join(store::HISTORY), None).unwrap();
    read.history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.kind != OpKind::Invoke)
        .map(|o| o.f.clone())
        .collect()
}

#[test]
fn etcd_bank_and_counter_stay_valid_under_partitions_kills_and_pauses() {
    common::require_etcd();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let runs = run_all(
        [("bank", 1), ("counter", 2)]
            .into_iter()
            .map(|(workload, seed)| {
                let mut args = common::args("etcd", dir.path(), 0);
                args.workload = workload.into();
                args.nemesis = vec!["partition".into(), "kill".into(), "pause".into()];
                args.seed = Some(seed);
                args.time_limit = 20.0;
                args.nemesis_interval = 3.0;
                args
            })
            .collect(),
    );
    for ((exit, run), workload) in runs.iter().zip(["bank", "counter"]) {
        let r = results(run);
        assert_eq!(*exit, Exit::Valid, "{workload}: {}: {}", run.display(), r["explanation"]);
        let applied = faults_applied(run);
        assert!(
            applied.iter().filter(|f| *f != "heal-all").count() >= 2,
            "{workload}: {applied:?}"
        );
        assert_eq!(r["run"]["teardown_errors"], serde_json::json!([]));
        let by_f = &r["analysis"]["by_f"];
        assert!(by_f["read"]["ok"].as_u64().unwrap() > 100, "{workload}: {by_f}");
        let writes = if workload == "bank" { "transfer" } else { "add" };
        assert!(by_f[writes]["ok"].as_u64().unwrap() > 50, "{workload}: {by_f}");
        // The faults cost something: some operations were not acknowledged.
        assert!(
            r["analysis"]["totals"]["info"].as_u64().unwrap()
                + r["analysis"]["totals"]["fail"].as_u64().unwrap()
                > 0
        );
        let report = std::fs::read_to_string(run.join(results::run_dir::REPORT_HTML)).unwrap();
        let plot =
            if workload == "bank" { "total of all accounts" } else { "reads against their bounds" };
        assert!(report.contains(plot), "{workload}: the report draws {plot:?}");
    }
}

fn node_binary() -> PathBuf {
    Path::new(FAULTLINE).with_file_name("faultline-node")
}

/// One `faultline test` of the builtin set workload with whole-cluster crashes.
fn builtin_set(store: &Path, seed: u64, bug: bool) -> (i32, serde_json::Value) {
    let mut cmd = Command::new(FAULTLINE);
    cmd.args(["test", "--quiet", "--store"]).arg(store);
    cmd.args(["--seed", &seed.to_string(), "--workload", "set", "--nemesis", "kill-all"]);
    cmd.args(["--time-limit", "12", "--nemesis-interval", "2"]);
    if bug {
        cmd.args(["--node-bug", "no-fsync"]);
    }
    let out = cmd.output().expect("faultline runs");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        [0, 1].contains(&code),
        "seed {seed} bug {bug}: exit {code}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let latest = std::fs::canonicalize(store.join("latest")).unwrap();
    (code, results(&latest))
}

#[test]
fn builtin_no_fsync_loses_acknowledged_set_elements_in_whole_cluster_crashes() {
    assert!(
        node_binary().exists(),
        "this test needs {}: run `cargo build -p node` first (scripts/test does)",
        node_binary().display()
    );
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let (code, r) = builtin_set(dir.path(), 1, false);
    assert_eq!(code, 0, "the control (no bug) lost something: {}", r["explanation"]);
    assert!(r["analysis"]["by_f"]["add"]["ok"].as_u64().unwrap() > 100, "{}", r["analysis"]);
    let mut seen = Vec::new();
    for seed in [1, 2, 3] {
        let (code, r) = builtin_set(dir.path(), seed, true);
        let why = r["explanation"].as_str().unwrap_or_default().to_string();
        seen.push(format!("seed {seed}: {} {why:.200}", r["verdict"]));
        if code == 1 {
            assert!(why.contains("absent from the final read"), "{why}");
            assert!(common::processes_under(dir.path()).is_empty(), "no node left running");
            return;
        }
    }
    panic!("no-fsync never lost an acknowledged element: {seen:?}");
}
