//! `loss`: drops a share of the packets on every link of one node, both ways (a
//! node with a bad network card), as Jepsen's `packet` nemesis with `:loss`.
//!
//! - **draw**: one node uniformly; the share is the schedule's `loss_percent`.
//! - **apply**: [`Network::set_loss`](crate::control::Network::set_loss): one
//!   nftables `numgen random mod 100 < P drop` rule per directed link, in one
//!   transaction. Not verified (a probe would only sample the loss): a node is
//!   `installed` when one of its links is affected, else `skipped`.
//! - **heal**: the network-wide heal that heal-all runs first.
//! - **history**: `start-loss`, value `{:links [["n1" "n2"] ...], :percent 20}`.

use std::collections::BTreeMap;

use history::Value;
use serde::{Deserialize, Serialize};

use crate::control::Needs;
use crate::error::Result;
use crate::families::common::{kv, link_outcomes, links_value, random_links};
use crate::families::{Applied, ApplyCtx, DrawRng, Family};
use crate::schedule::{Fault, FaultParams, ScheduleConfig};

pub struct LossFamily;

pub static LOSS: LossFamily = LossFamily;

/// A loss fault: these directed links drop `percent` % of their packets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Loss {
    pub links: Vec<(usize, usize)>,
    pub percent: u8,
}

impl FaultParams for Loss {
    const KIND: &'static str = "loss";
}

impl Family for LossFamily {
    fn name(&self) -> &'static str {
        "loss"
    }

    fn summary(&self) -> &'static str {
        "drop a share of the packets (loss_percent) on every link of one node, both ways"
    }

    fn needs(&self) -> Needs {
        Needs::NETWORK
    }

    fn op_name(&self) -> &'static str {
        "start-loss"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        Ok(Loss { links: random_links(config.nodes, rng), percent: config.loss_percent }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let l = Loss::of(fault)?;
        Ok(Value::Map(vec![
            kv("links", links_value(&l.links)),
            kv("percent", Value::Int(i64::from(l.percent))),
        ]))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let l = Loss::of(fault)?;
        let loss: BTreeMap<(usize, usize), u8> = l.links.iter().map(|&k| (k, l.percent)).collect();
        ctx.controls.network()?.set_loss(&loss)?;
        Ok(Applied {
            fault: fault.clone(),
            nodes: link_outcomes(ctx.nodes, &l.links),
            verification: None,
        })
    }
}
