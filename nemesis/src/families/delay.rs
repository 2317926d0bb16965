//! `delay`: slows every link of one node, both ways, by a delay plus or minus a
//! jitter, as Jepsen's `packet` nemesis with `:delay`. This kernel has no netem:
//! an NFQUEUE rule hands the packets to a delayer thread ([`crate::latency`]).
//!
//! - **draw**: one node uniformly; delay and jitter are the schedule's `delay`.
//! - **apply**: [`Network::set_delays`](crate::control::Network::set_delays), the
//!   jitter drawn from the nemesis's seed. Not verified: a node is `installed`
//!   when one of its links is affected, else `skipped`.
//! - **heal**: the network-wide heal that heal-all runs first (it stops the
//!   delayers, which release every packet they hold).
//! - **history**: `start-delay`, value `{:links [...], :delay-ms 50, :jitter-ms 10}`.

use std::collections::BTreeMap;

use history::Value;
use serde::{Deserialize, Serialize};

use crate::control::Needs;
use crate::error::Result;
use crate::families::common::{kv, link_outcomes, links_value, random_links};
use crate::families::{Applied, ApplyCtx, DrawRng, Family};
use crate::latency::LinkDelay;
use crate::schedule::{Fault, FaultParams, ScheduleConfig};

pub struct DelayFamily;

pub static DELAY: DelayFamily = DelayFamily;

/// A delay fault: these directed links get `delay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delay {
    pub links: Vec<(usize, usize)>,
    pub delay: LinkDelay,
}

impl FaultParams for Delay {
    const KIND: &'static str = "delay";
}

impl Family for DelayFamily {
    fn name(&self) -> &'static str {
        "delay"
    }

    fn summary(&self) -> &'static str {
        "delay the packets on every link of one node, both ways, by a delay +- jitter \
         (NFQUEUE, no netem)"
    }

    fn needs(&self) -> Needs {
        Needs::NETWORK
    }

    fn op_name(&self) -> &'static str {
        "start-delay"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        Ok(Delay { links: random_links(config.nodes, rng), delay: config.delay }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let d = Delay::of(fault)?;
        Ok(Value::Map(vec![
            kv("links", links_value(&d.links)),
            kv("delay-ms", Value::Int(i64::from(d.delay.delay_ms))),
            kv("jitter-ms", Value::Int(i64::from(d.delay.jitter_ms))),
        ]))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let d = Delay::of(fault)?;
        let delays: BTreeMap<(usize, usize), LinkDelay> =
            d.links.iter().map(|&k| (k, d.delay)).collect();
        ctx.controls.network()?.set_delays(&delays, ctx.seed)?;
        Ok(Applied {
            fault: fault.clone(),
            nodes: link_outcomes(ctx.nodes, &d.links),
            verification: None,
        })
    }
}
