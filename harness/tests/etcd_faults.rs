//! etcd in the nemesis lab under faults (needs root, nftables and etcd: `apt-get
//! install nftables iptables etcd-server`, which scripts/install-deps does):
//! - partition + kill + pause for 30 s keeps etcd linearizable, on several seeds;
//! - serializable reads with the leader cut off are caught as stale reads;
//! - `faultline replay` of a faulty run generates the same operations and the same
//!   fault schedule.
//!
//! The runs of one test go in parallel (each in its own lab); the tests themselves
//! take turns, so that at most one test's clusters share the machine's two cores.

mod common;

use std::process::Command;
use std::sync::Mutex;
use std::thread;

use harness::commands::test::{TestArgs, run_test};
use harness::exit::Exit;
use harness::store;
use history::{OpKind, Process};

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn faulty(store: &std::path::Path, seed: u64) -> TestArgs {
    let mut args = common::args("etcd", store, 0);
    args.nemesis = vec!["partition".into(), "kill".into(), "pause".into()];
    args.partitions = Vec::new(); // every shape that fits 3 nodes
    args.seed = Some(seed);
    args.time_limit = 30.0;
    args.nemesis_interval = 4.0;
    args
}

/// Runs every `args` in parallel; the exit and run directory of each, in order.
fn run_all(all: Vec<TestArgs>) -> Vec<(Exit, std::path::PathBuf)> {
    let handles: Vec<_> = all
        .into_iter()
        .map(|args| thread::spawn(move || run_test(args).map_err(|f| f.message)))
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("a run panicked").expect("the run completes"))
        .collect()
}

fn results(run: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap()).unwrap()
}

/// Nemesis operations that completed, by `f`.
fn faults_applied(run: &std::path::Path) -> Vec<String> {
    let read = history::read_path(&run.join(store::HISTORY), None).unwrap();
    read.history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.kind != OpKind::Invoke)
        .map(|o| o.f.clone())
        .collect()
}

#[test]
fn partitions_kills_and_pauses_keep_etcd_linearizable_on_several_seeds() {
    common::require_etcd();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let runs = run_all((1..=3).map(|seed| faulty(dir.path(), seed)).collect());
    let mut kinds = std::collections::BTreeSet::new();
    for (exit, run) in &runs {
        let r = results(run);
        assert_eq!(*exit, Exit::Valid, "{}: {}", run.display(), r["explanation"]);
        let applied = faults_applied(run);
        assert!(applied.iter().any(|f| f != "heal-all"), "{}: no fault was applied", run.display());
        assert_eq!(applied.last().map(String::as_str), Some("heal-all"));
        kinds.extend(applied);
        assert_eq!(r["run"]["teardown_errors"], serde_json::json!([]));
        assert!(r["analysis"]["totals"]["ok"].as_u64().unwrap() > 500);
    }
    // Over three seeds the schedule drew more than one kind of fault.
    assert!(kinds.len() >= 3, "fault kinds applied: {kinds:?}");
}

#[test]
fn serializable_reads_with_the_leader_cut_off_are_caught_as_stale() {
    common::require_etcd();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let runs = run_all(
        (11..=14)
            .map(|seed| {
                let mut args = faulty(dir.path(), seed);
                args.nemesis = vec!["partition".into()];
                args.partitions = vec!["primaries".into()];
                args.read_mode = harness::systems::ReadMode::Serializable;
                args.time_limit = 20.0;
                args.nemesis_interval = 2.5;
                args
            })
            .collect(),
    );
    let invalid: Vec<_> = runs.iter().filter(|(exit, _)| *exit == Exit::Invalid).collect();
    eprintln!(
        "serializable reads, leader cut off: {} of {} runs invalid",
        invalid.len(),
        runs.len()
    );
    assert!(!invalid.is_empty(), "no run caught a stale read: {runs:?}");
    for (_, run) in &invalid {
        let why = results(run)["explanation"].as_str().unwrap().to_string();
        // The operation a linearizability checker names is the first one that cannot
        // be placed (Knossos, Porcupine): the stale read itself, or a cas whose `from`
        // only the majority's newer value explains once the stale read took the old one.
        assert!(
            why.contains("read returning") || why.contains("cas"),
            "the explanation names the stale read or the cas it strands: {why}"
        );
    }
    for (exit, run) in &runs {
        assert!(matches!(exit, Exit::Valid | Exit::Invalid), "{}: {exit:?}", run.display());
    }
}

#[test]
fn replay_of_a_faulty_run_has_the_same_operations_and_fault_schedule() {
    common::require_etcd();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let mut args = faulty(dir.path(), 21);
    args.time_limit = 10.0;
    args.nemesis_interval = 2.0;
    args.recovery = Some(2.0);
    let (exit, run) = run_test(args).map_err(|f| f.message).unwrap();
    assert!(matches!(exit, Exit::Valid), "{exit:?}");
    let replay = Command::new(FAULTLINE).arg("replay").arg(&run).output().unwrap();
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert_eq!(replay.status.code(), Some(0), "{replay:?}");
    assert!(
        stdout.contains("same operations") && stdout.contains("same fault schedule"),
        "{stdout}"
    );
    let again = std::fs::canonicalize(dir.path().join("latest")).unwrap();
    assert_ne!(again, run);
    let schedule = |dir: &std::path::Path| {
        let t: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(store::TEST_JSON)).unwrap())
                .unwrap();
        t["fault_schedule"].clone()
    };
    assert_eq!(schedule(&run), schedule(&again));
    assert!(schedule(&run)["steps"].as_array().unwrap().len() >= 4, "a real schedule");
}
