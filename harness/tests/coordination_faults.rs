//! The coordination store's own promises under faults, through the whole harness
//! (needs root, nftables and etcd: scripts/install-deps installs them; builtin runs
//! need `target/<profile>/faultline-node`, which scripts/test builds):
//! - watch on builtin and etcd under partition + kill, 30 s: valid; the builtin
//!   `watch-stale-wake` bug is caught;
//! - election on builtin and etcd under partition + kill, 30 s: valid;
//! - discovery on builtin with consistent reads under partitions: valid; the
//!   `health-leader-only` bug with the leader cut off is caught;
//! - membership on builtin under kill + partition converges, with a time per event.
//!
//! Measured by hand (debug build, 2 loaded cores): builtin and etcd watch under
//! partition + kill, seed 1: valid; `watch-stale-wake`, 10 s, no faults: invalid
//! (11 stale-at-index answers); election under partition + kill: builtin valid on
//! seeds 1 and 2, etcd valid on seed 1; discovery with consistent reads under the
//! default partition shapes and under `primaries`: valid; `health-leader-only` with
//! `primaries` at 20 ops/s: invalid on 3 seeds of 3 (a new leader serves the health
//! of the last registration, not the acknowledged check updates); membership, 40 s:
//! converged 0.13 s, 0.26 s and 0.23 s after three heals; 6 of 7 membership runs
//! (seeds 1-5) valid, one (seed 1, in this test) invalid: n1 still showed n3 dead
//! 13.9 s after n3 had restarted and was reachable (live-marked-dead, over the
//! 10 s bound). Likely cause, since fixed in the node: a restarted node announced
//! itself once, and a lost announce left it to others' periodic announces; it now
//! re-announces every second to each peer it does not see alive (5 of 5 runs valid
//! after the fix; not proven, the failure was rare).
//!
//! The runs of one test go in parallel (each in its own lab); the tests take turns.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::thread;

use harness::commands::test::run_test;
use harness::exit::Exit;
use harness::options::TestArgs;
use harness::store;
use history::{OpKind, Process};
use serde_json::Value as Json;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn require_node() {
    let node = Path::new(env!("CARGO_BIN_EXE_faultline")).with_file_name("faultline-node");
    assert!(
        node.exists(),
        "these tests need {}: run `cargo build -p node` first (scripts/test does)",
        node.display()
    );
}

/// A 30-second run of `workload` on `system` under `nemesis`.
fn faulty(system: &str, workload: &str, nemesis: &[&str], store: &Path, seed: u64) -> TestArgs {
    let mut args = common::args(system, store, 0);
    args.workload = workload.into();
    args.nemesis = nemesis.iter().map(|n| n.to_string()).collect();
    args.seed = Some(seed);
    args.time_limit = 30.0;
    args
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

fn results(run: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap()).unwrap()
}

fn explanation(run: &Path) -> String {
    results(run)["explanation"].as_str().unwrap_or_default().to_string()
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

/// The run was valid, a fault other than heal was applied, and `f` had ok operations.
fn assert_valid_under_faults(exit: &Exit, run: &Path, f: &str, min_ok: u64) {
    let r = results(run);
    assert_eq!(*exit, Exit::Valid, "{}: {}", run.display(), r["explanation"]);
    let applied = faults_applied(run);
    assert!(applied.iter().any(|f| f != "heal-all"), "{}: no fault applied", run.display());
    let ok = r["analysis"]["by_f"][f]["ok"].as_u64().unwrap_or(0);
    assert!(ok >= min_ok, "{}: only {ok} ok {f}", run.display());
    assert_eq!(r["run"]["teardown_errors"], serde_json::json!([]));
}

#[test]
fn watch_under_partition_and_kill_is_valid_and_watch_stale_wake_is_caught() {
    require_node();
    common::require_etcd();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let mut bug = common::args("builtin", dir.path(), 141);
    bug.workload = "watch".into();
    bug.node_bug = vec!["watch-stale-wake".into()];
    // 20 s (beside the two 30 s runs, so no longer in all): alone, 10 s showed 5 to 14
    // stale-at-index answers on seeds 141-143, but one CI run beside the other two
    // showed none in 10 s.
    bug.time_limit = 20.0;
    let runs = run_all(vec![
        faulty("builtin", "watch", &["partition", "kill"], dir.path(), 1),
        faulty("etcd", "watch", &["partition", "kill"], dir.path(), 1),
        bug,
    ]);
    assert_valid_under_faults(&runs[0].0, &runs[0].1, "watch", 100);
    assert_valid_under_faults(&runs[1].0, &runs[1].1, "watch", 100);
    for (_, run) in &runs[..2] {
        assert!(explanation(run).contains("converged"), "{}", explanation(run));
    }
    let (exit, run) = &runs[2];
    assert_eq!(*exit, Exit::Invalid, "watch-stale-wake not caught: {}", explanation(run));
    assert!(explanation(run).contains("stale-at-index"), "{}", explanation(run));
    assert!(common::processes_under(dir.path()).is_empty(), "no node left running");
}

#[test]
fn election_under_partition_and_kill_is_valid_on_builtin_and_etcd() {
    require_node();
    common::require_etcd();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let runs = run_all(vec![
        faulty("builtin", "election", &["partition", "kill"], dir.path(), 1),
        faulty("etcd", "election", &["partition", "kill"], dir.path(), 1),
    ]);
    for (exit, run) in &runs {
        assert_valid_under_faults(exit, run, "campaign", 5);
        assert_valid_under_faults(exit, run, "leader", 100);
        assert!(explanation(run).contains("one leader at a time"), "{}", explanation(run));
    }
}

#[test]
fn discovery_with_consistent_reads_under_partitions_is_valid_and_health_leader_only_is_caught() {
    require_node();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    // The leader cut off makes another node leader: with the bug it never had the
    // check updates the old leader acknowledged. A low rate leaves an instance's
    // health as its last update long enough for a read to see the difference.
    let mut bug = faulty("builtin", "discovery", &["partition"], dir.path(), 1);
    bug.node_bug = vec!["health-leader-only".into()];
    bug.partitions = vec!["primaries".into()];
    bug.rate = 20.0;
    let runs = run_all(vec![faulty("builtin", "discovery", &["partition"], dir.path(), 1), bug]);
    let (exit, run) = &runs[0];
    assert_valid_under_faults(exit, run, "read", 100);
    assert!(explanation(run).contains("consistent reads linearizable"), "{}", explanation(run));
    let (exit, run) = &runs[1];
    assert_eq!(*exit, Exit::Invalid, "health-leader-only not caught: {}", explanation(run));
    assert!(
        explanation(run).contains("consistent reads: not linearizable"),
        "{}",
        explanation(run)
    );
}

#[test]
fn membership_converges_after_kills_and_partitions_with_a_time_per_event() {
    require_node();
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let mut args = faulty("builtin", "membership", &["partition", "kill"], dir.path(), 1);
    args.time_limit = 40.0;
    args.rate = 20.0;
    let (exit, run) = run_test(args).map_err(|f| f.message).unwrap();
    assert_valid_under_faults(&exit, &run, "members", 100);
    let why = explanation(&run);
    assert!(why.contains("convergence after each heal"), "{why}");
    // The per-event table: a row per healed fault, each with a convergence time.
    let r = results(&run);
    let table = r["checks"][0]["section"]["blocks"]
        .as_array()
        .and_then(|b| b.iter().find(|b| b["caption"] == "each fault event"))
        .cloned()
        .unwrap_or_else(|| panic!("no per-event table: {r}"));
    let rows = table["rows"].as_array().unwrap();
    assert!(rows.len() >= 3, "{rows:?}");
    for row in rows {
        let converged = row[3].as_str().unwrap();
        assert!(
            converged.trim_end_matches(" s").parse::<f64>().is_ok()
                || converged.contains("between views"),
            "{row}"
        );
    }
    eprintln!("membership convergence per event: {why}");
}
