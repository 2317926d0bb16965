//! A run whose harness is killed with SIGKILL mid-run: its `history.jsonl` is
//! readable, `faultline analyze` judges what was recorded, and the next run sweeps
//! the etcd processes the dead harness left behind. Spawns the real `faultline`
//! binary. Needs `/usr/bin/etcd` (`apt-get install etcd-server`).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use harness::store;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

#[test]
fn killed_run_is_analysable_and_swept_by_the_next_run() {
    common::require_etcd();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let store_arg = dir.path().to_str().unwrap();
    let mut harness = Command::new(FAULTLINE)
        .args(["test", "--system", "etcd", "--time-limit", "120", "--rate", "200"])
        .args(["--seed", "3", "--loopback-net", "102", "--quiet", "--store", store_arg])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let history = dir.path().join("latest").join(store::HISTORY);
    let lines = || std::fs::read_to_string(&history).map(|t| t.lines().count()).unwrap_or(0);
    let started = common::wait_for(Duration::from_secs(60), || lines() >= 200);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(harness.id() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let status = harness.wait().unwrap();
    assert!(started, "the run recorded 200 history lines within 60 s");
    assert!(!status.success());

    let run = std::fs::canonicalize(dir.path().join("latest")).unwrap();
    let leftovers = common::processes_under(&run);
    assert_eq!(leftovers.len(), 3, "the killed harness left its 3 etcd members running");

    // The history as the dead harness left it: readable, and it follows the rules.
    let read = history::read_path(&run.join(store::HISTORY), None).expect("readable history");
    assert!(read.history.len() >= 200);
    read.history.lint().expect("a cut history still follows Jepsen's rules");

    let analyze = Command::new(FAULTLINE).arg("analyze").arg(&run).output().unwrap();
    let code = analyze.status.code();
    // No faults: what was recorded is linearizable (operations cut open count as info).
    assert_eq!(code, Some(0), "analyze gives a verdict: {analyze:?}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap())
            .unwrap();
    assert!(results["analysis"]["client_operations"].as_u64().unwrap() >= 100);
    assert!(results["note"].as_str().unwrap().contains("did not finish"));
    assert_eq!(results["exit_code"].as_i64(), code.map(i64::from));

    // The next run (in-process system: quick) sweeps the dead run's members.
    let next = Command::new(FAULTLINE)
        .args([
            "test",
            "--system",
            "memory",
            "--time-limit",
            "0.5",
            "--quiet",
            "--store",
            store_arg,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&next.stderr);
    assert!(stderr.contains("swept leftovers"), "{stderr}");
    assert!(common::wait_for(Duration::from_secs(5), || common::processes_under(&run).is_empty()));
    assert!(!run.join(store::HARNESS_PID).exists());
    assert!(!run.join("n1").join("data").exists());
}
