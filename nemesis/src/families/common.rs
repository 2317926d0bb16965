//! Pieces several families share: node and link values for the history, the
//! random links of network faults, the targets of process faults and their
//! per-node outcomes. A new family may use them; none of them knows a family.

use std::collections::BTreeMap;

use history::Value;
use rand::RngExt;

use crate::control::{Acted, Controls};
use crate::error::Result;
use crate::families::{ApplyCtx, DrawRng};
use crate::inject::{FaultReport, Outcome};
use crate::partition::Grudge;
use crate::schedule::{ScheduleConfig, Target};

/// `n1` for node 0.
pub fn node_name(i: usize) -> String {
    format!("n{}", i + 1)
}

/// `:name` keys for history maps.
pub fn kv(key: &str, value: Value) -> (Value, Value) {
    (Value::kw(key), value)
}

/// `["n1", "n3"]`.
pub fn nodes_value(nodes: &[usize]) -> Value {
    Value::List(nodes.iter().map(|&n| Value::Str(node_name(n))).collect())
}

/// `[["n1", "n2"], ...]`: directed links.
pub fn links_value(links: &[(usize, usize)]) -> Value {
    grudge_value(&Grudge { blocked: links.iter().copied().collect() })
}

/// A grudge's links, sorted, as `[["n1", "n2"], ...]`.
pub fn grudge_value(g: &Grudge) -> Value {
    Value::List(
        g.blocked
            .iter()
            .map(|&(s, d)| Value::List(vec![Value::Str(node_name(s)), Value::Str(node_name(d))]))
            .collect(),
    )
}

/// One random node's links in both directions: a node with a bad network card.
pub fn random_links(nodes: usize, rng: &mut DrawRng) -> Vec<(usize, usize)> {
    let n = rng.random_range(0..nodes);
    (0..nodes).filter(|&o| o != n).flat_map(|o| [(n, o), (o, n)]).collect()
}

/// Per node: installed when one of its links is in `links`, else skipped.
pub fn link_outcomes(nodes: usize, links: &[(usize, usize)]) -> BTreeMap<usize, Outcome> {
    (0..nodes)
        .map(|node| {
            let touched = links.iter().any(|(s, d)| *s == node || *d == node);
            let outcome = if touched {
                Outcome::Installed
            } else {
                Outcome::Skipped("no link of this node is affected".into())
            };
            (node, outcome)
        })
        .collect()
}

/// The targets process faults drew from before targets were an option.
const FIRST_TARGETS: [Target; 4] = [Target::One, Target::Minority, Target::Majority, Target::All];

/// Jepsen's node specs for a database that has primaries (`nemesis.combined`'s
/// `node-specs`): the defaults of a leader-aware schedule.
pub fn jepsen_targets(nodes: usize) -> Vec<Target> {
    [
        Target::One,
        Target::MinorityThird,
        Target::Minority,
        Target::Majority,
        Target::All,
        Target::Primaries,
    ]
    .into_iter()
    .filter(|t| t.fits(nodes))
    .collect()
}

/// A process fault's target, uniformly from the configured targets (by default
/// one, minority, majority or all; Jepsen's node specs, primaries included, in a
/// leader-aware schedule) and its nodes, resolved now; primaries wait for apply
/// time (nodes `None`).
pub fn draw_process_target(
    config: &ScheduleConfig,
    rng: &mut DrawRng,
) -> (Target, Option<Vec<usize>>) {
    let defaults =
        if config.leader_aware { jepsen_targets(config.nodes) } else { FIRST_TARGETS.to_vec() };
    let targets = config.targets_or(&defaults, |_| true);
    let target = targets[rng.random_range(0..targets.len())].clone();
    let chosen = match target {
        Target::Primaries => None,
        _ => target.resolve(config.nodes, rng, &[]).ok(),
    };
    (target, chosen)
}

/// The nodes a process fault hits: those drawn, or the target resolved now.
pub fn resolve_nodes(
    target: &Target,
    nodes: &Option<Vec<usize>>,
    ctx: &mut ApplyCtx<'_>,
) -> Result<Vec<usize>> {
    match nodes {
        Some(list) => Ok(list.clone()),
        None => target.resolve(ctx.nodes, ctx.rng, ctx.primaries),
    }
}

/// The invoke value of a process fault: its target as its JSON says it
/// (`"majority"`, `{"nodes": [0, 2]}`), then its nodes when resolved.
pub fn target_value(target: &Target, nodes: &Option<Vec<usize>>) -> Value {
    let target = serde_json::to_value(target)
        .ok()
        .and_then(|j| Value::from_json(&j).ok())
        .unwrap_or(Value::Nil);
    let mut m = vec![kv("target", target)];
    if let Some(nodes) = nodes {
        m.push(kv("nodes", nodes_value(nodes)));
    }
    Value::Map(m)
}

/// What a process verb's result means for the node.
pub fn process_outcome(result: Result<Acted>) -> Outcome {
    match result {
        Ok(Acted::Done) => Outcome::Installed,
        Ok(Acted::Unchanged) => Outcome::Skipped("its process(es) were not running".into()),
        Ok(Acted::NoProcess) => Outcome::Skipped("no process was started on this node".into()),
        // A signal may or may not have landed.
        Err(e) => Outcome::Indeterminate(e.to_string()),
    }
}

/// Runs `undo` on every node where one of `applied` took effect or may have
/// (installed or indeterminate), once per node; problems are `"{what}: {error}"`.
pub fn undo_nodes(
    applied: &[&FaultReport],
    controls: &Controls,
    what: &str,
    undo: impl Fn(&Controls, usize) -> Result<Acted>,
) -> BTreeMap<usize, Vec<String>> {
    let mut nodes: Vec<usize> = applied
        .iter()
        .flat_map(|r| r.nodes.iter())
        .filter(|(_, o)| !matches!(o, Outcome::Skipped(_)))
        .map(|(&n, _)| n)
        .collect();
    nodes.sort_unstable();
    nodes.dedup();
    let mut problems: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for node in nodes {
        if let Err(e) = undo(controls, node) {
            problems.entry(node).or_default().push(format!("{what}: {e}"));
        }
    }
    problems
}

/// Runs a process verb on each node and says what it did there.
pub fn act_on_nodes(
    nodes: &[usize],
    act: impl Fn(usize) -> Result<Acted>,
) -> BTreeMap<usize, Outcome> {
    nodes.iter().map(|&node| (node, process_outcome(act(node)))).collect()
}
