//! `partition`: cuts the network between nodes by one of Jepsen's shapes
//! (`isolate-one`, `random-halves`, `majorities-ring`, `bridge`, `primaries`, ...;
//! see [`crate::partition`]), as Jepsen's `partition-random-halves` and friends.
//!
//! - **draw**: a shape uniformly from the configured shapes (two-way, then the
//!   one-way ones: `--partitions one-way-primaries`); its grudge (the set of cut
//!   directed links) is computed at once, except for `primaries`, which waits for
//!   apply time to learn who leads (so does `leader-minority`). The leading fault
//!   of a leader-aware schedule cuts the current leader off from the majority:
//!   `leader-minority` (the leader with as many followers as a minority holds)
//!   when the shapes have it, else `primaries` (the leader alone); these are the
//!   shapes that expose stale reads and lost writes of a deposed leader. A
//!   leader-aware schedule's default shapes add both (leader-minority from 5
//!   nodes on, where it differs from primaries).
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
    Ok(Shapes::from_names(names, nodes, false)?.two_way)
}

/// What `one-way-` before a shape name means: only one direction is cut.
pub const ONE_WAY_PREFIX: &str = "one-way-";

/// The shapes a schedule draws from: cut both ways, and cut one way.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Shapes {
    pub two_way: Vec<PartitionShape>,
    pub one_way: Vec<PartitionShape>,
}

impl Shapes {
    /// The shapes `names` asks for (`--partitions`; `one-way-NAME` for the one-way
    /// form), or when empty the defaults, plus `primaries` for a leader-aware
    /// schedule.
    pub fn from_names(
        names: &[String],
        nodes: usize,
        leader_aware: bool,
    ) -> std::result::Result<Shapes, String> {
        let mut shapes = Shapes::default();
        let names: Vec<&str> = names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()).collect();
        if names.is_empty() {
            shapes.two_way = default_shapes(nodes);
            if leader_aware {
                shapes.two_way.push(PartitionShape::Primaries);
                if nodes >= 5 {
                    shapes.two_way.push(PartitionShape::LeaderMinority);
                }
            }
            return Ok(shapes);
        }
        for name in names {
            let (one_way, base) = match name.strip_prefix(ONE_WAY_PREFIX) {
                Some(base) => (true, base),
                None => (false, name),
            };
            let shape = PartitionShape::by_name(base)?;
            if !shape.is_drawable() {
                return Err(format!(
                    "the partition shape {name:?} needs explicit links: it cannot be drawn"
                ));
            }
            let list = if one_way { &mut shapes.one_way } else { &mut shapes.two_way };
            if !list.contains(&shape) {
                list.push(shape);
            }
        }
        Ok(shapes)
    }
}

/// The fault of `spec`, its grudge computed now unless it waits for primaries.
fn drawn(spec: PartitionSpec, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
    let grudge =
        if spec.needs_primaries() { None } else { Some(spec.grudge(config.nodes, rng, &[])?) };
    Ok(Partition { spec, grudge }.fault())
}

impl Family for PartitionFamily {
    fn name(&self) -> &'static str {
        "partition"
    }

    fn summary(&self) -> &'static str {
        "cut the network by a Jepsen shape (isolate-one, random-halves, majorities-ring, \
         bridge, primaries: the leader alone, leader-minority: the leader with a minority; \
         one-way-SHAPE cuts one direction), verified by probes"
    }

    fn needs(&self) -> Needs {
        Needs::NETWORK
    }

    fn op_name(&self) -> &'static str {
        "start-partition"
    }

    fn check(&self, config: &ScheduleConfig) -> Result<()> {
        if config.shapes.is_empty() && config.one_way_shapes.is_empty() {
            return Err(NemesisError::Invalid("partitions requested but no shapes".into()));
        }
        Ok(())
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        let spec = if config.one_way_shapes.is_empty() {
            PartitionSpec::new(config.shapes[rng.random_range(0..config.shapes.len())].clone())
        } else {
            let both = config.shapes.len();
            let i = rng.random_range(0..both + config.one_way_shapes.len());
            match config.shapes.get(i) {
                Some(shape) => PartitionSpec::new(shape.clone()),
                None => PartitionSpec::one_way(config.one_way_shapes[i - both].clone()),
            }
        };
        drawn(spec, config, rng)
    }

    fn draw_leading(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Option<Result<Fault>> {
        // The leader cut off with the most followers it can keep (more of its
        // clients see what a deposed leader does), else alone.
        for shape in [PartitionShape::LeaderMinority, PartitionShape::Primaries] {
            if config.shapes.contains(&shape) {
                return Some(drawn(PartitionSpec::new(shape), config, rng));
            }
            if config.one_way_shapes.contains(&shape) {
                return Some(drawn(PartitionSpec::one_way(shape), config, rng));
            }
        }
        None
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
