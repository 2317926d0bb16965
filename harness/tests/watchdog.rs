//! Stuck runs end and leave a checkable history: a client call that never returns
//! becomes `info` at the op timeout (and its worker takes a fresh process), and a
//! setup that never finishes is cut off by the setup timeout.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use harness::runtime::control::Stats;
use harness::runtime::nemesis_hook::NoNemesis;
use harness::runtime::progress::RunLog;
use harness::runtime::recorder::Recorder;
use harness::runtime::{RunOptions, RunReport, execute};
use harness::system::{System, SystemError};
use harness::systems::memory::{Memory, MemoryClient};
use history::{OpKind, Process, Value};
use workloads::api::{BoxFuture, CallError, Client, Kv};
use workloads::register::Register;

/// Writes never return; setup never finishes when `stuck_setup`.
struct Stuck {
    inner: Memory,
    stuck_setup: bool,
}

struct StuckClient(MemoryClient);

impl Client for StuckClient {
    fn node(&self) -> &str {
        self.0.node()
    }
    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }
}

impl Kv for StuckClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        self.0.get(key)
    }
    fn put<'a>(&'a mut self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(std::future::pending())
    }
    fn cas<'a>(
        &'a mut self,
        key: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        self.0.cas(key, from, to)
    }
}

impl System for Stuck {
    fn version(&self) -> Result<String, SystemError> {
        Ok("stuck".into())
    }
    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        let stuck = self.stuck_setup;
        Box::pin(async move {
            if stuck {
                std::future::pending::<()>().await;
            }
            Ok(())
        })
    }
    fn teardown(&self) -> Result<(), SystemError> {
        Ok(())
    }
    fn client(&self, n: usize) -> Result<Box<dyn Client>, SystemError> {
        Ok(Box::new(StuckClient(self.inner.memory_client(n))))
    }
}

fn run(stuck_setup: bool) -> (RunReport, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.jsonl");
    let recorder = Recorder::create(&path).unwrap();
    let options = RunOptions {
        nodes: 1,
        concurrency: 4,
        rate: Some(400.0),
        time_limit: Duration::from_millis(1500),
        op_limit: None,
        op_timeout: Duration::from_millis(200),
        setup_timeout: Duration::from_millis(500),
        heal_timeout: Duration::from_secs(5),
        recovery: Duration::ZERO,
        final_ops: true,
        watchdog_slack: Duration::from_millis(500),
        seed: 3,
    };
    let report = Arc::new(Mutex::new(RunReport::default()));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(execute(
        Arc::new(Stuck { inner: Memory::new(1), stuck_setup }),
        Arc::new(Register::new(3, 4, Default::default()).unwrap()),
        &mut NoNemesis,
        recorder.clone(),
        Arc::new(Stats::default()),
        &options,
        &RunLog::open(None, false).unwrap(),
        report.clone(),
    ));
    recorder.close().unwrap();
    let report = report.lock().unwrap().clone();
    (report, path, dir)
}

#[test]
fn calls_that_never_return_become_info_and_retire_their_process() {
    let (report, path, _dir) = run(false);
    assert!(report.setup_error.is_none() && report.worker_panics.is_empty());
    let read = history::read_path(&path, None).unwrap();
    let ops = &read.history.ops;
    let timed_out: Vec<_> = ops
        .iter()
        .filter(|o| o.kind == OpKind::Info && o.error == Some(Value::kw("timeout")))
        .collect();
    assert!(!timed_out.is_empty(), "stuck writes end as info :timeout");
    assert!(timed_out.iter().all(|o| o.f == "write"));
    // After an info the worker goes on as a new process (p + concurrency).
    let processes: std::collections::BTreeSet<u64> = ops
        .iter()
        .filter_map(|o| match o.process {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        })
        .collect();
    assert!(processes.iter().any(|p| *p >= 4), "fresh processes: {processes:?}");
    let linted = read.history.lint().expect("Jepsen's rules hold, no process reused");
    assert!(linted.client_pairs().any(|p| linted.outcome(p) == OpKind::Ok));
}

#[test]
fn a_setup_that_never_finishes_is_cut_off() {
    let (report, path, _dir) = run(true);
    let why = report.setup_error.expect("the setup watchdog fired");
    assert!(why.contains("setup did not finish"), "{why}");
    assert_eq!(report.phases.iter().map(|p| p.phase.as_str()).collect::<Vec<_>>(), ["setup"]);
    assert_eq!(history::read_path(&path, None).unwrap().history.len(), 0);
}
