//! `stop`: stops node processes gracefully (SIGTERM, then SIGKILL after a grace
//! period), as Jepsen's `db/stop!`; heal-all starts them again.
//!
//! - **draw**: a target uniformly among one node, a minority, a majority and all
//!   nodes, resolved to nodes at once; the grace period is `stop_grace_ms`.
//! - **apply**: [`Processes::stop`](crate::control::Processes::stop) on each node
//!   (a paused process is resumed first, so it can handle the SIGTERM):
//!   `installed`, `skipped` (nothing running there) or `indeterminate`.
//! - **heal**: [`Processes::restart`](crate::control::Processes::restart).
//! - **history**: `stop`, value `{:target "all", :nodes ["n1" "n2" "n3"]}`.

use std::collections::BTreeMap;
use std::time::Duration;

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

pub struct StopFamily;

pub static STOP: StopFamily = StopFamily;

/// A stop fault: `target`, its nodes once resolved, and the grace period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    pub target: Target,
    pub nodes: Option<Vec<usize>>,
    pub grace_ms: u64,
}

impl FaultParams for Stop {
    const KIND: &'static str = "stop";
}

impl Family for StopFamily {
    fn name(&self) -> &'static str {
        "stop"
    }

    fn summary(&self) -> &'static str {
        "stop (SIGTERM, SIGKILL after stop_grace_ms) one node, a minority, a majority or \
         all; heal restarts them"
    }

    fn needs(&self) -> Needs {
        Needs::PROCESSES
    }

    fn op_name(&self) -> &'static str {
        "stop"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        let (target, nodes) = draw_process_target(config, rng);
        Ok(Stop { target, nodes, grace_ms: config.stop_grace_ms }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let s = Stop::of(fault)?;
        Ok(target_value(&s.target, &s.nodes))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let s = Stop::of(fault)?;
        let processes = ctx.controls.processes()?;
        let nodes = resolve_nodes(&s.target, &s.nodes, ctx)?;
        let grace = Duration::from_millis(s.grace_ms);
        let outcomes = act_on_nodes(&nodes, |node| processes.stop(node, grace));
        let fault = Stop { target: s.target, nodes: Some(nodes), grace_ms: s.grace_ms }.fault();
        Ok(Applied { fault, nodes: outcomes, verification: None })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        undo_nodes(applied, controls, "restart", |c, node| c.processes()?.restart(node))
    }
}
