//! A teardown that fails does not cost the verdict: the history is still analysed,
//! and the teardown error is written into `results.json`. Runs any `System` through
//! the whole of `faultline test` with `run_with`.

mod common;

use std::path::PathBuf;

use harness::client::{Client, Completion};
use harness::commands::test::run_with;
use harness::exit::Exit;
use harness::store;
use harness::system::{System, SystemError};
use harness::systems::memory::{Memory, MemoryClient};
use workloads::Invocation;

struct BadTeardown(Memory);

struct Passthrough(MemoryClient);

impl Client for Passthrough {
    fn node(&self) -> &str {
        self.0.node()
    }
    async fn invoke(&mut self, op: &Invocation) -> Completion {
        self.0.invoke(op).await
    }
}

impl System for BadTeardown {
    type Client = Passthrough;
    fn name(&self) -> &'static str {
        "bad-teardown"
    }
    fn node_count(&self) -> usize {
        self.0.node_count()
    }
    fn check_installed(&self) -> Result<String, SystemError> {
        Ok("bad-teardown 1".into())
    }
    async fn setup(&self) -> Result<(), SystemError> {
        Ok(())
    }
    fn start(&self, _: usize) -> Result<(), SystemError> {
        Ok(())
    }
    fn kill(&self, _: usize) -> Result<(), SystemError> {
        Ok(())
    }
    fn pause(&self, _: usize) -> Result<(), SystemError> {
        Ok(())
    }
    fn resume(&self, _: usize) -> Result<(), SystemError> {
        Ok(())
    }
    fn teardown(&self) -> Result<(), SystemError> {
        Err(SystemError::Node { node: 2, message: "pid 4242 survived SIGKILL for 5 s".into() })
    }
    fn data_dir(&self, _: usize) -> PathBuf {
        PathBuf::new()
    }
    fn log_files(&self, _: usize) -> Vec<PathBuf> {
        Vec::new()
    }
    async fn leader(&self) -> Option<usize> {
        Some(0)
    }
    fn client(&self, n: usize) -> Result<Passthrough, SystemError> {
        Ok(Passthrough(self.0.client(n)?))
    }
}

#[test]
fn a_failed_teardown_is_reported_and_the_run_still_gets_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = common::args("bad-teardown", dir.path(), 0);
    args.time_limit = 1.0;
    args.rate = 300.0;
    let (exit, run) = run_with(args, |_, _| Ok(BadTeardown(Memory::new(3)))).unwrap();
    assert_eq!(exit, Exit::Valid);
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap())
            .unwrap();
    assert_eq!(results["verdict"], "valid");
    let errors = results["run"]["teardown_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].as_str().unwrap().contains("node n2: pid 4242"), "{errors:?}");
    let log = std::fs::read_to_string(run.join(store::HARNESS_LOG)).unwrap();
    assert!(log.contains("teardown error"), "{log}");
}
