//! `partition`: cuts the network between nodes by one of Jepsen's shapes
//! (`isolate-one`, `random-halves`, `majorities-ring`, `bridge`, `primaries`, ...;
//! see [`crate::partition`]), as Jepsen's `partition-random-halves` and friends.
//!
//! - **draw**: a shape uniformly from the configured shapes; its grudge (the set
//!   of cut directed links) is computed at once, except for `primaries`, which
//!   waits for apply time to learn who leads.
//! - **apply**: [`Network::set_partition`](crate::control::Network::set_partition)
//!   (one atomic nftables transaction), then **verified** by probing every directed
//!   link: a node is `installed` when its cut links drop packets and its open ones
//!   carry them, `indeterminate` when a probe disagrees, `skipped` when none of its
//!   links is cut.
//! - **heal**: the network-wide heal that heal-all runs first.
//! - **history**: `start-partition`, value `{:shape "bridge", :blocked [["n1" "n2"] ...]}`.

use history::Value;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::control::Needs;
use crate::error::{NemesisError, Result};
use crate::families::common::{grudge_value, kv, node_name};
use crate::families::{Applied, ApplyCtx, DrawRng, Family};
use crate::inject::Outcome;
use crate::partition::{Grudge, PartitionShape, PartitionSpec};
use crate::schedule::{Fault, FaultParams, ScheduleConfig};

pub struct PartitionFamily;

pub static PARTITION: PartitionFamily = PartitionFamily;

/// A partition fault: its shape, and its grudge once known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Partition {
    pub spec: PartitionSpec,
    pub grudge: Option<Grudge>,
}

impl FaultParams for Partition {
    const KIND: &'static str = "partition";
}

/// The shapes drawn when none are asked for: Jepsen's usual mix; a majorities
/// ring only exists from 4 nodes on.
pub fn default_shapes(nodes: usize) -> Vec<PartitionShape> {
    let mut shapes = vec![
        PartitionShape::IsolateOne { node: None },
        PartitionShape::RandomHalves,
        PartitionShape::Bridge,
    ];
    if nodes >= 4 {
        shapes.push(PartitionShape::MajoritiesRing);
    }
    shapes
}

/// The shapes `names` asks for (`--partitions`), or the defaults when empty.
pub fn shapes_from_names(
    names: &[String],
    nodes: usize,
) -> std::result::Result<Vec<PartitionShape>, String> {
    if names.is_empty() {
        return Ok(default_shapes(nodes));
    }
    names
        .iter()
        .map(|name| {
            let shape = PartitionShape::by_name(name)?;
            if shape.is_drawable() {
                Ok(shape)
            } else {
                Err(format!("the partition shape {name:?} needs explicit links: it cannot be drawn"))
            }
        })
        .collect()
}

impl Family for PartitionFamily {
    fn name(&self) -> &'static str {
        "partition"
    }

    fn summary(&self) -> &'static str {
        "cut the network by a Jepsen shape (isolate-one, random-halves, majorities-ring, \
         bridge, primaries), verified by probes"
    }

    fn needs(&self) -> Needs {
        Needs::NETWORK
    }

    fn op_name(&self) -> &'static str {
        "start-partition"
    }

    fn check(&self, config: &ScheduleConfig) -> Result<()> {
        if config.shapes.is_empty() {
            return Err(NemesisError::Invalid("partitions requested but no shapes".into()));
        }
        Ok(())
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        let shape = config.shapes[rng.random_range(0..config.shapes.len())].clone();
        let spec = PartitionSpec::new(shape);
        let grudge = if spec.needs_primaries() {
            None
        } else {
            Some(spec.grudge(config.nodes, rng, &[])?)
        };
        Ok(Partition { spec, grudge }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let p = Partition::of(fault)?;
        let mut m = vec![kv("shape", Value::Str(p.spec.name()))];
        if let Some(g) = &p.grudge {
            m.push(kv("blocked", grudge_value(g)));
        }
        Ok(Value::Map(m))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let Partition { spec, grudge } = Partition::of(fault)?;
        let n = ctx.nodes;
        let grudge = match grudge {
            Some(g) => g,
            None => spec.grudge(n, ctx.rng, ctx.primaries)?,
        };
        let network = ctx.controls.network()?;
        network.set_partition(&grudge)?;
        let v = network.verify_partition()?;
        let nodes = (0..n)
            .map(|node| {
                let bad: Vec<String> = v
                    .leaked
                    .iter()
                    .map(|l| ("open", l))
                    .chain(v.broken.iter().map(|l| ("cut", l)))
                    .filter(|(_, (s, d))| *s == node || *d == node)
                    .map(|(what, (s, d))| {
                        format!("{} -> {} measured {what}", node_name(*s), node_name(*d))
                    })
                    .collect();
                let touched = grudge.blocked.iter().any(|(s, d)| *s == node || *d == node);
                let outcome = if !bad.is_empty() {
                    Outcome::Indeterminate(bad.join(", "))
                } else if touched {
                    Outcome::Installed
                } else {
                    Outcome::Skipped("no link of this node is cut".into())
                };
                (node, outcome)
            })
            .collect();
        let fault = Partition { spec, grudge: Some(grudge) }.fault();
        Ok(Applied { fault, nodes, verification: Some(v) })
    }
}
