//! `clock`: moves the wall clock of a minority of nodes by up to `max_skew_ms`
//! either way, as Jepsen's `clock` nemesis (`bump`). How a clock moves is the
//! system's business ([`crate::clock`]): libfaketime for programs that read time
//! through libc, an injected-clock hook for systems that take an offset, and for
//! Go programs (etcd, which reads time through the vDSO) no way at all: such a
//! run is refused before it starts, never pretended.
//!
//! - **draw**: a random minority of nodes and one offset uniform in
//!   `[-max_skew_ms, max_skew_ms]`.
//! - **apply**: the clock hook on each node: `installed`, `skipped` when the node
//!   certainly did not move (not started under libfaketime), else `indeterminate`.
//! - **heal**: the offset back to 0 on every node it moved (or may have).
//! - **history**: `clock-skew`, value `{:nodes ["n2" "n4"], :offset-ms -1500}`.

use std::collections::BTreeMap;

use history::Value;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::control::{Acted, Controls, Needs};
use crate::error::{NemesisError, Result};
use crate::families::common::{kv, nodes_value, undo_nodes};
use crate::families::{Applied, ApplyCtx, DrawRng, Family};
use crate::inject::{FaultReport, Outcome};
use crate::schedule::{Fault, FaultParams, ScheduleConfig, Target};

pub struct ClockFamily;

pub static CLOCK: ClockFamily = ClockFamily;

/// A clock fault: these nodes' clocks move to real time plus `offset_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSkew {
    pub nodes: Vec<usize>,
    pub offset_ms: i64,
}

impl FaultParams for ClockSkew {
    const KIND: &'static str = "clock-skew";
}

impl Family for ClockFamily {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn summary(&self) -> &'static str {
        "move the wall clock of a minority of nodes by up to max_skew_ms either way \
         (libfaketime or an injected clock); heal resets it"
    }

    fn needs(&self) -> Needs {
        Needs::CLOCK
    }

    fn kind(&self) -> &'static str {
        ClockSkew::KIND
    }

    fn op_name(&self) -> &'static str {
        "clock-skew"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        let nodes = Target::Minority.resolve(config.nodes, rng, &[])?;
        let offset_ms = rng.random_range(-config.max_skew_ms..=config.max_skew_ms);
        Ok(ClockSkew { nodes, offset_ms }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let c = ClockSkew::of(fault)?;
        Ok(Value::Map(vec![
            kv("nodes", nodes_value(&c.nodes)),
            kv("offset-ms", Value::Int(c.offset_ms)),
        ]))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let c = ClockSkew::of(fault)?;
        let clock = ctx.controls.clock()?;
        if let Some(&bad) = c.nodes.iter().find(|&&n| n >= ctx.nodes) {
            return Err(NemesisError::UnknownNode(format!("n{} of {}", bad + 1, ctx.nodes)));
        }
        let nodes = c
            .nodes
            .iter()
            .map(|&node| {
                let outcome = match clock.set_offset(node, c.offset_ms) {
                    Ok(()) => Outcome::Installed,
                    // Certainly not applied (e.g. not started under libfaketime).
                    Err(e @ NemesisError::Unsupported(_)) => Outcome::Skipped(e.to_string()),
                    Err(e) => Outcome::Indeterminate(e.to_string()),
                };
                (node, outcome)
            })
            .collect();
        Ok(Applied { fault: fault.clone(), nodes, verification: None })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        undo_nodes(applied, controls, "clock", |c, node| {
            c.clock()?.set_offset(node, 0).map(|()| Acted::Done)
        })
    }
}
