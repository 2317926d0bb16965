//! etcd (real, 3 nodes on loopback, started by the harness) with the register
//! workload for a few seconds, no faults: the history is recorded, every operation is
//! paired, counts are plausible, logs are kept, and nothing is left running.
//! Needs `/usr/bin/etcd` (`apt-get install etcd-server`).

mod common;

use std::time::Duration;

use std::sync::Arc;

use harness::exit::Exit;
use harness::node_host::{LoopbackHost, NodeHost};
use harness::store;
use harness::system::{NodeEnv, System};
use harness::systems::etcd::{Etcd, EtcdOptions};
use history::{OpKind, Value};

#[test]
fn etcd_register_without_faults_records_a_complete_history() {
    common::require_etcd();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let args = common::args("etcd", dir.path(), 101);
    let (exit, run) = harness::commands::test::run_test(args).expect("the run completes");
    // No faults, linearizable reads: etcd must pass.
    assert_eq!(exit, Exit::Valid);

    let read = history::read_path(&run.join(store::HISTORY), None).unwrap();
    assert!(read.warnings.is_empty(), "{:?}", read.warnings);
    let linted = read.history.lint().expect("the recorded history follows Jepsen's rules");
    let pairs: Vec<_> = linted.client_pairs().copied().collect();
    assert!(pairs.iter().all(|p| p.completion.is_some()), "every operation completed");
    // 100 ops/s for 3 s plus final reads; allow a slow, loaded machine.
    assert!((100..=400).contains(&pairs.len()), "{} operations", pairs.len());
    let count = |f: &str, kind: OpKind| {
        pairs.iter().filter(|p| linted.ops()[p.invoke].f == f && linted.outcome(p) == kind).count()
    };
    assert!(count("read", OpKind::Ok) > 10 && count("write", OpKind::Ok) > 10);
    // cas both succeeds and is refused (the register holds other values).
    assert!(count("cas", OpKind::Ok) > 0 && count("cas", OpKind::Fail) > 0);
    // Without faults almost nothing is indeterminate (a call slower than the 2 s op
    // timeout on a loaded machine would be, legitimately).
    let infos = pairs.iter().filter(|p| linted.outcome(p) == OpKind::Info).count();
    assert!(infos * 50 <= pairs.len(), "{infos} info of {}", pairs.len());
    // Reads see written values; completions name the node.
    let reads_with_values = pairs
        .iter()
        .filter_map(|p| p.completion)
        .filter(|c| linted.ops()[*c].f == "read" && matches!(linted.ops()[*c].value, Value::Int(_)))
        .count();
    assert!(reads_with_values > 0);
    assert!(pairs.iter().all(|p| linted.ops()[p.completion.unwrap()].node.is_some()));

    for n in ["n1", "n2", "n3"] {
        let log = run.join(n).join("etcd.log");
        assert!(std::fs::metadata(&log).map(|m| m.len() > 0).unwrap_or(false), "{}", log.display());
        assert!(!run.join(n).join("data").exists(), "data dirs are removed at teardown");
    }
    let test_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(store::TEST_JSON)).unwrap())
            .unwrap();
    assert_eq!(test_json["seed"], 1);
    assert!(test_json["versions"]["etcd"].as_str().unwrap().starts_with("etcd 3."));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap())
            .unwrap();
    assert_eq!(results["run"]["teardown_errors"], serde_json::json!([]));
    assert!(!run.join(store::HARNESS_PID).exists());
    assert!(common::processes_under(dir.path()).is_empty(), "no etcd left running");
}

#[test]
fn missing_etcd_says_what_to_install() {
    let dir = tempfile::tempdir().unwrap();
    let host = Arc::new(LoopbackHost::new(1, 105));
    let options = EtcdOptions { binary: "/nonexistent/etcd".into(), ..EtcdOptions::default() };
    let env = NodeEnv { host, run_dir: dir.path().to_path_buf() };
    let etcd = Etcd::new(options, env).unwrap();
    let err = etcd.version().unwrap_err().to_string();
    assert!(err.contains("apt-get install etcd-server"), "{err}");
}

#[test]
fn leader_is_found_and_kill_pause_restart_through_the_host_work() {
    common::require_etcd();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let host = Arc::new(LoopbackHost::new(3, 106));
    let env = NodeEnv { host: host.clone(), run_dir: dir.path().to_path_buf() };
    let etcd = Etcd::new(EtcdOptions::default(), env).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        etcd.setup().await.expect("cluster up");
        let leader = etcd.leader().await.expect("a leader");
        assert!(host.pause(leader).unwrap());
        // The others elect a new leader (election timeout 500 ms).
        let mut other = None;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            other = etcd.leader().await.filter(|l| *l != leader);
            if other.is_some() {
                break;
            }
        }
        assert!(other.is_some(), "a new leader while n{} is paused", leader + 1);
        assert!(host.resume(leader).unwrap());
        assert!(host.kill(leader).unwrap());
        assert_eq!(host.pid(leader), None);
        assert!(host.restart(leader).unwrap());
        // The restarted member serves linearizable reads again.
        let mut client = etcd.client(leader).unwrap();
        let kv = client.kv().expect("etcd offers kv");
        let mut ok = false;
        for _ in 0..100 {
            if kv.get("k1").await.is_ok() {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "the restarted member serves reads");
    });
    etcd.teardown().unwrap();
    assert!(common::processes_under(dir.path()).is_empty());
}
