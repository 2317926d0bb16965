//! A `faultline test` ended by SIGINT or SIGTERM keeps its results: it ends the
//! run, tears down, analyses what was recorded, writes `results.json` (verdict
//! `interrupted`, `run.report.interrupted` naming the signal), `report.html` and
//! `junit.xml`, removes `harness.pid`, and exits 130 or 143. A second SIGINT during
//! the analysis skips it and says so. Spawns the real `faultline` binary on the
//! in-process system (no namespace, no node process).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use harness::store;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

fn start(store_dir: &Path, rate: &str) -> Child {
    Command::new(FAULTLINE)
        .args(["test", "--system", "memory", "--time-limit", "120", "--rate", rate])
        .args(["--concurrency", "4", "--seed", "5", "--quiet", "--store"])
        .arg(store_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn faultline")
}

fn lines(run: &Path) -> usize {
    std::fs::read(run.join(store::HISTORY))
        .map(|t| t.iter().filter(|&&b| b == b'\n').count())
        .unwrap_or(0)
}

fn signal(child: &Child, sig: Signal) {
    kill(Pid::from_raw(child.id() as i32), sig).expect("signal faultline");
}

/// Waits for the child to exit; kills it (and fails) after `limit`.
fn wait(child: &mut Child, limit: Duration) -> i32 {
    let exited = common::wait_for(limit, || child.try_wait().ok().flatten().is_some());
    if !exited {
        let _ = child.kill();
        let _ = child.wait();
        panic!("faultline did not exit within {limit:?} of the signal");
    }
    child.wait().expect("wait").code().expect("an exit code, not a signal death")
}

fn results(run: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run.join(store::RESULTS_JSON)).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

fn latest(store_dir: &Path) -> PathBuf {
    store_dir.join("latest")
}

#[test]
fn sigint_and_sigterm_keep_the_results() {
    for (sig, code, name) in [(Signal::SIGINT, 130, "SIGINT"), (Signal::SIGTERM, 143, "SIGTERM")] {
        let dir = tempfile::tempdir().expect("tmp");
        let mut child = start(dir.path(), "500");
        let run = latest(dir.path());
        let recorded = common::wait_for(Duration::from_secs(60), || lines(&run) >= 200);
        signal(&child, sig);
        let exit = wait(&mut child, Duration::from_secs(60));
        assert!(recorded, "{name}: 200 history lines within 60 s");
        assert_eq!(exit, code, "{name}");
        let r = results(&run);
        assert_eq!(r["verdict"], "interrupted", "{name}: {r}");
        assert_eq!(r["exit_code"], code, "{name}");
        assert_eq!(r["run"]["report"]["interrupted"], name, "{name}");
        // What was recorded was analysed: the in-process register is linearizable.
        assert_eq!(r["analysis"]["verdict"], "valid", "{name}: {r}");
        assert!(r["analysis"]["client_operations"].as_u64().unwrap_or(0) >= 100, "{name}");
        assert!(
            r["explanation"].as_str().unwrap_or("").starts_with(&format!("interrupted by {name}"))
        );
        for file in ["report.html", "junit.xml"] {
            assert!(run.join(file).is_file(), "{name}: {file} written");
        }
        assert!(!run.join(store::HARNESS_PID).exists(), "{name}: harness.pid removed");
    }
}

#[test]
fn a_second_sigint_skips_the_analysis() {
    let dir = tempfile::tempdir().expect("tmp");
    // Unthrottled: a history long enough that its analysis takes seconds.
    let mut child = start(dir.path(), "0");
    let run = latest(dir.path());
    let recorded = common::wait_for(Duration::from_secs(60), || lines(&run) >= 600_000);
    signal(&child, Signal::SIGINT);
    let log = run.join(store::HARNESS_LOG);
    let analysing = common::wait_for(Duration::from_secs(60), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("again skips the analysis"))
    });
    signal(&child, Signal::SIGINT);
    let exit = wait(&mut child, Duration::from_secs(120));
    assert!(recorded && analysing, "recorded {recorded}, analysis started {analysing}");
    assert_eq!(exit, 130);
    let r = results(&run);
    assert_eq!(r["verdict"], "interrupted");
    assert!(r["analysis"].is_null(), "skipped: {}", r["analysis"]);
    let why = r["explanation"].as_str().unwrap_or("");
    assert!(why.contains("the analysis was skipped: SIGINT came again"), "{why}");
    assert!(!run.join(store::HARNESS_PID).exists());
}
