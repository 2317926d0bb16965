//! `pause`: freezes node processes (SIGSTOP) with their sockets open, as Jepsen's
//! `pause` nemesis (a long GC pause, a VM migration); heal-all resumes them.
//!
//! - **draw**: a target uniformly among one node, a minority, a majority and all
//!   nodes, resolved to nodes at once.
//! - **apply**: [`Processes::pause`](crate::control::Processes::pause) on each node,
//!   waiting until the kernel reports it stopped: `installed`, `skipped` (nothing
//!   running there) or `indeterminate`.
//! - **heal**: [`Processes::resume`](crate::control::Processes::resume) (SIGCONT).
//! - **history**: `pause`, value `{:target "one", :nodes ["n2"]}`.

use std::collections::BTreeMap;

use history::Value;
use serde::{Deserialize, Serialize};

use crate::control::{Controls, Needs};
use crate::error::Result;
use crate::families::common::{
    act_on_nodes, draw_process_target, resolve_nodes, target_value, undo_nodes,
};
use crate::families::{Applied, ApplyCtx, DrawRng, Family};
use crate::inject::FaultReport;
use crate::schedule::{Fault, FaultParams, ScheduleConfig, Target};

pub struct PauseFamily;

pub static PAUSE: PauseFamily = PauseFamily;

/// A pause fault: `target`, and its nodes once resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pause {
    pub target: Target,
    pub nodes: Option<Vec<usize>>,
}

impl FaultParams for Pause {
    const KIND: &'static str = "pause";
}

impl Family for PauseFamily {
    fn name(&self) -> &'static str {
        "pause"
    }

    fn summary(&self) -> &'static str {
        "freeze (SIGSTOP) one node, a minority, a majority or all; heal resumes them"
    }

    fn needs(&self) -> Needs {
        Needs::PROCESSES
    }

    fn op_name(&self) -> &'static str {
        "pause"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        let (target, nodes) = draw_process_target(config, rng);
        Ok(Pause { target, nodes }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let p = Pause::of(fault)?;
        Ok(target_value(&p.target, &p.nodes))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let p = Pause::of(fault)?;
        let processes = ctx.controls.processes()?;
        let nodes = resolve_nodes(&p.target, &p.nodes, ctx)?;
        let outcomes = act_on_nodes(&nodes, |node| processes.pause(node));
        let fault = Pause { target: p.target, nodes: Some(nodes) }.fault();
        Ok(Applied { fault, nodes: outcomes, verification: None })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        undo_nodes(applied, controls, "resume", |c, node| c.processes()?.resume(node))
    }
}
