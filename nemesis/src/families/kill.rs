//! `kill` and `kill-all`: crashes (SIGKILL) node processes, as Jepsen's `kill`
//! nemesis; heal-all starts them again with the same command and data.
//!
//! - **draw**: `kill` picks a target uniformly among one node, a minority, a
//!   majority and all nodes, and resolves it to nodes at once; `kill-all` draws
//!   the same way (so the random stream is the same) and then aims at every node:
//!   a whole-cluster crash, as in a power loss, which is what exposes acknowledged
//!   writes that were never made durable. Both draw `kill` faults.
//! - **apply**: [`Processes::kill`](crate::control::Processes::kill) on each node:
//!   `installed` when something was killed, `skipped` when nothing ran there,
//!   `indeterminate` when the signal may or may not have landed.
//! - **heal**: [`Processes::restart`](crate::control::Processes::restart) on every
//!   node it killed (or may have).
//! - **history**: `kill`, value `{:target "majority", :nodes ["n1" "n3" "n4"]}`.

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

pub struct KillFamily;

pub static KILL: KillFamily = KillFamily;

pub struct KillAllFamily;

pub static KILL_ALL: KillAllFamily = KillAllFamily;

/// A kill fault: `target`, and its nodes once resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kill {
    pub target: Target,
    pub nodes: Option<Vec<usize>>,
}

impl FaultParams for Kill {
    const KIND: &'static str = "kill";
}

impl Family for KillFamily {
    fn name(&self) -> &'static str {
        "kill"
    }

    fn summary(&self) -> &'static str {
        "crash (SIGKILL) one node, a minority, a majority or all; heal restarts them"
    }

    fn needs(&self) -> Needs {
        Needs::PROCESSES
    }

    fn op_name(&self) -> &'static str {
        "kill"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        let (target, nodes) = draw_process_target(config, rng);
        Ok(Kill { target, nodes }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let k = Kill::of(fault)?;
        Ok(target_value(&k.target, &k.nodes))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let k = Kill::of(fault)?;
        let processes = ctx.controls.processes()?;
        let nodes = resolve_nodes(&k.target, &k.nodes, ctx)?;
        let outcomes = act_on_nodes(&nodes, |node| processes.kill(node));
        let fault = Kill { target: k.target, nodes: Some(nodes) }.fault();
        Ok(Applied { fault, nodes: outcomes, verification: None })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        undo_nodes(applied, controls, "restart", |c, node| c.processes()?.restart(node))
    }
}

impl Family for KillAllFamily {
    fn name(&self) -> &'static str {
        "kill-all"
    }

    fn summary(&self) -> &'static str {
        "crash (SIGKILL) every node at once, as a power loss; heal restarts them"
    }

    fn needs(&self) -> Needs {
        KILL.needs()
    }

    fn kind(&self) -> &'static str {
        KILL.kind()
    }

    fn op_name(&self) -> &'static str {
        KILL.op_name()
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        // Draw as `kill` does, so the stream (and every later fault) is the same.
        let _ = draw_process_target(config, rng);
        Ok(Kill { target: Target::All, nodes: Some((0..config.nodes).collect()) }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        KILL.value(fault)
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        KILL.apply(fault, ctx)
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        KILL.heal(applied, controls)
    }
}
