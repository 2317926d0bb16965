//! `nap`: a fault family in one file. Pauses one node (SIGSTOP) through the run's
//! process control; heal-all resumes it.

use std::collections::BTreeMap;

use history::Value;
use nemesis::control::{Controls, Needs};
use nemesis::error::Result;
use nemesis::families::common::{kv, node_name, undo_nodes};
use nemesis::families::{Applied, ApplyCtx, DrawRng, Family};
use nemesis::inject::{FaultReport, Outcome};
use nemesis::rand::RngExt;
use nemesis::schedule::{Fault, FaultParams, ScheduleConfig};
use serde::{Deserialize, Serialize};

pub struct NapFamily;

pub static NAP: NapFamily = NapFamily;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Nap {
    node: usize,
}

impl FaultParams for Nap {
    const KIND: &'static str = "nap";
}

impl Family for NapFamily {
    fn name(&self) -> &'static str {
        "nap"
    }

    fn summary(&self) -> &'static str {
        "test-only: pause one node until the heal"
    }

    fn needs(&self) -> Needs {
        Needs::PROCESSES
    }

    fn op_name(&self) -> &'static str {
        "start-nap"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        Ok(Nap { node: rng.random_range(0..config.nodes) }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        Ok(Value::Map(vec![kv("node", Value::Str(node_name(Nap::of(fault)?.node)))]))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let node = Nap::of(fault)?.node;
        let outcome = match ctx.controls.processes()?.pause(node) {
            Ok(_) => Outcome::Installed,
            Err(e) => Outcome::Indeterminate(e.to_string()),
        };
        Ok(Applied {
            fault: fault.clone(),
            nodes: BTreeMap::from([(node, outcome)]),
            verification: None,
        })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        undo_nodes(applied, controls, "resume", |c, node| c.processes()?.resume(node))
    }
}
