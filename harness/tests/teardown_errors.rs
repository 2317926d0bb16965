//! A teardown that fails does not cost the verdict: the history is still analysed,
//! and the teardown error is written into `results.json`. Runs any `System` through
//! the whole of `faultline test` with `run_with`.

mod common;

use harness::controller::{Plan, Registry, run};
use harness::exit::Exit;
use harness::store;
use harness::system::{System, SystemDef, SystemError};
use harness::systems::memory::Memory;
use workloads::api::{BoxFuture, Client};

/// The memory store, whose teardown fails.
struct BadTeardown(Memory);

impl System for BadTeardown {
    fn version(&self) -> Result<String, SystemError> {
        Ok("bad-teardown 1".into())
    }
    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        self.0.setup()
    }
    fn teardown(&self) -> Result<(), SystemError> {
        Err(SystemError::Node { node: 2, message: "pid 4242 survived SIGKILL for 5 s".into() })
    }
    fn client(&self, n: usize) -> Result<Box<dyn Client>, SystemError> {
        self.0.client(n)
    }
}

static BAD_TEARDOWN: SystemDef = SystemDef {
    name: "bad-teardown",
    summary: "the memory store with a failing teardown",
    caps: harness::systems::memory::SYSTEM.caps,
    make: |_, _| Ok(Box::new(BadTeardown(Memory::new(3)))),
};

#[test]
fn a_failed_teardown_is_reported_and_the_run_still_gets_its_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let mut args = common::args("bad-teardown", dir.path(), 0);
    args.time_limit = 1.0;
    args.rate = 300.0;
    let registry = Registry { systems: vec![&BAD_TEARDOWN], ..Registry::default() };
    let plan = Plan::resolve(args, &registry).unwrap();
    let (exit, run) = run(plan, Box::new(BAD_TEARDOWN.make)).unwrap();
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
