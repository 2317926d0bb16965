//! `membership`: removes members from the cluster and adds them back, as Jepsen's
//! membership nemesis (`jepsen.etcd`'s shrink / grow): the cluster reconfigures
//! itself, through the system's own API ([`crate::control::Membership`]: etcd's
//! `member remove` / `member add` with a wiped data dir, the builtin node's
//! `DELETE /v1/operator/raft/peer` and `PUT /v1/faultline/join`). A system that
//! offers no such hook is refused before the run, with the reason.
//!
//! - **draw**: a target from the configured ones that keep a majority of the
//!   cluster (one node, a minority, primaries; default one node or the leader),
//!   resolved now unless it is primaries (resolved at apply time: removing the
//!   leader is the change that makes a Raft cluster elect under load).
//! - **apply**: [`Membership::remove`](crate::control::Membership::remove) on each
//!   node (the system stops it and wipes its data), then **verified** by asking
//!   the system for its members: a removed node still listed is `indeterminate`.
//! - **heal**: [`Membership::add`](crate::control::Membership::add) on every node
//!   it removed (or may have), as a fresh member, then the members are read again.
//! - **history**: `remove-member`, value `{:target "one", :nodes ["n2"]}`; the
//!   completion's fault adds `:members [...]`, the members after the change.

use std::collections::BTreeMap;

use history::Value;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::control::{Acted, Controls, Needs};
use crate::error::{NemesisError, Result};
use crate::families::common::{kv, node_name, nodes_value, resolve_nodes, target_value};
use crate::families::{Applied, ApplyCtx, DrawRng, Family};
use crate::inject::{FaultReport, Outcome};
use crate::schedule::{Fault, FaultParams, ScheduleConfig, Target};

pub struct MembershipFamily;

pub static MEMBERSHIP: MembershipFamily = MembershipFamily;

/// A membership fault: remove `target`'s nodes (once resolved).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoveMembers {
    pub target: Target,
    pub nodes: Option<Vec<usize>>,
    /// After applying: the members the system reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<usize>>,
}

impl FaultParams for RemoveMembers {
    const KIND: &'static str = "membership";
}

/// The smallest cluster a member can leave while the rest keep a majority of it.
const MIN_NODES: usize = 3;

/// Whether removing `target`'s nodes leaves a majority of `nodes` members.
fn keeps_quorum(target: &Target, nodes: usize) -> bool {
    target.fits(nodes) && target.max_size(nodes) * 2 < nodes
}

fn targets(config: &ScheduleConfig) -> Vec<Target> {
    config.targets_or(&[Target::One, Target::Primaries], |t| keeps_quorum(t, config.nodes))
}

impl Family for MembershipFamily {
    fn name(&self) -> &'static str {
        "membership"
    }

    fn summary(&self) -> &'static str {
        "remove a member (one node or the leader) from the cluster, wiping its data; \
         heal adds it back as a new member (the system's own reconfiguration)"
    }

    fn needs(&self) -> Needs {
        Needs::MEMBERSHIP
    }

    fn op_name(&self) -> &'static str {
        "remove-member"
    }

    fn check(&self, config: &ScheduleConfig) -> Result<()> {
        if config.nodes < MIN_NODES {
            return Err(NemesisError::Invalid(format!(
                "membership changes need at least {MIN_NODES} nodes (a majority must stay), \
                 not {}",
                config.nodes
            )));
        }
        Ok(())
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        let targets = targets(config);
        let target = targets[rng.random_range(0..targets.len())].clone();
        let nodes = match target {
            Target::Primaries => None,
            _ => Some(target.resolve(config.nodes, rng, &[])?),
        };
        Ok(RemoveMembers { target, nodes, members: None }.fault())
    }

    fn slow(&self) -> bool {
        true // a reconfiguration, then a re-added member catching up: seconds each
    }

    fn draw_leading(&self, config: &ScheduleConfig, _rng: &mut DrawRng) -> Option<Result<Fault>> {
        targets(config).contains(&Target::Primaries).then(|| {
            Ok(RemoveMembers { target: Target::Primaries, nodes: None, members: None }.fault())
        })
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let r = RemoveMembers::of(fault)?;
        let mut value = target_value(&r.target, &r.nodes);
        if let (Value::Map(m), Some(members)) = (&mut value, &r.members) {
            m.push(kv("members", nodes_value(members)));
        }
        Ok(value)
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let r = RemoveMembers::of(fault)?;
        let membership = ctx.controls.membership()?;
        let nodes = resolve_nodes(&r.target, &r.nodes, ctx)?;
        if nodes.len() * 2 >= ctx.nodes {
            return Err(NemesisError::Invalid(format!(
                "removing {} of {} members would leave no majority",
                nodes.len(),
                ctx.nodes
            )));
        }
        let mut outcomes: BTreeMap<usize, Outcome> = nodes
            .iter()
            .map(|&node| {
                let outcome = match membership.remove(node) {
                    Ok(Acted::Done) => Outcome::Installed,
                    Ok(Acted::Unchanged) => Outcome::Skipped("it was not a member".into()),
                    Ok(Acted::NoProcess) => {
                        Outcome::Skipped("no process was started on this node".into())
                    }
                    // Refused before anything changed (no leader to ask, say).
                    Err(e @ (NemesisError::Invalid(_) | NemesisError::Unsupported(_))) => {
                        Outcome::Skipped(e.to_string())
                    }
                    Err(e) => Outcome::Indeterminate(e.to_string()),
                };
                (node, outcome)
            })
            .collect();
        let members = membership.members().ok();
        if let Some(members) = &members {
            for (node, outcome) in outcomes.iter_mut() {
                if *outcome == Outcome::Installed && members.contains(node) {
                    *outcome = Outcome::Indeterminate(format!(
                        "{} is still listed as a member",
                        node_name(*node)
                    ));
                }
            }
        }
        let fault = RemoveMembers { target: r.target, nodes: Some(nodes), members }.fault();
        Ok(Applied { fault, nodes: outcomes, verification: None })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        let mut problems: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let membership = match controls.membership() {
            Ok(m) => m,
            Err(e) => {
                for r in applied {
                    for &node in r.nodes.keys() {
                        problems.entry(node).or_default().push(format!("add back: {e}"));
                    }
                }
                return problems;
            }
        };
        let mut removed: Vec<usize> = applied
            .iter()
            .flat_map(|r| r.nodes.iter())
            .filter(|(_, o)| !matches!(o, Outcome::Skipped(_)))
            .map(|(&n, _)| n)
            .collect();
        removed.sort_unstable();
        removed.dedup();
        for &node in &removed {
            match membership.add(node) {
                Ok(Acted::Done | Acted::Unchanged) => {}
                Ok(Acted::NoProcess) => problems
                    .entry(node)
                    .or_default()
                    .push("add back: no process was ever started on this node".into()),
                Err(e) => problems.entry(node).or_default().push(format!("add back: {e}")),
            }
        }
        match membership.members() {
            Ok(members) => {
                for node in removed.into_iter().filter(|n| !members.contains(n)) {
                    problems
                        .entry(node)
                        .or_default()
                        .push(format!("{} is not a member again", node_name(node)));
                }
            }
            Err(e) => {
                for node in removed {
                    problems.entry(node).or_default().push(format!("members unknown: {e}"));
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Membership;
    use crate::fakes::{FakeMembership, FakeRun};
    use crate::families::DrawRng;
    use rand::SeedableRng;

    #[test]
    fn only_targets_that_keep_a_majority_are_drawn() {
        let mut config = ScheduleConfig::new(1, 5, 1000, 10_000);
        config.targets = vec![Target::Majority, Target::All, Target::Minority];
        for seed in 0..20 {
            let fault = MEMBERSHIP.draw(&config, &mut DrawRng::seed_from_u64(seed)).expect("draw");
            let r = RemoveMembers::of(&fault).expect("params");
            assert_eq!(r.target, Target::Minority);
            assert_eq!(r.nodes.as_ref().map(Vec::len), Some(2));
        }
        config.targets.clear();
        config.leader_aware = true;
        let leading = MEMBERSHIP.draw_leading(&config, &mut DrawRng::seed_from_u64(0));
        let leading = RemoveMembers::of(&leading.expect("aimed at the leader").expect("draw"))
            .expect("params");
        assert_eq!(leading.target, Target::Primaries);
        assert!(MEMBERSHIP.check(&ScheduleConfig::new(1, 2, 1000, 10_000)).is_err());
    }

    #[test]
    fn removes_verifies_and_adds_back() {
        let run = FakeRun::new(5);
        let members = std::sync::Arc::new(FakeMembership::full(5));
        let controls = Controls::none(5).with_membership(members.clone());
        let fault = RemoveMembers { target: Target::Primaries, nodes: None, members: None }.fault();
        let mut rng = DrawRng::seed_from_u64(0);
        let mut ctx =
            ApplyCtx { nodes: 5, controls: &controls, primaries: &[3], rng: &mut rng, seed: 0 };
        let applied = MEMBERSHIP.apply(&fault, &mut ctx).expect("applied");
        assert_eq!(applied.nodes, BTreeMap::from([(3, Outcome::Installed)]));
        assert_eq!(members.members().expect("members"), vec![0, 1, 2, 4]);
        let value = MEMBERSHIP.value(&applied.fault).expect("value").to_string();
        assert!(value.contains("members") && value.contains("n4"), "{value}");
        let report = FaultReport {
            f: "remove-member".into(),
            fault: Some(applied.fault),
            nodes: applied.nodes,
            verification: None,
        };
        assert!(MEMBERSHIP.heal(&[&report], &controls).is_empty());
        assert_eq!(members.members().expect("members"), vec![0, 1, 2, 3, 4]);
        // Without the hook: refused, naming what is missing.
        let bare = Controls::none(5).with_processes(run.processes.clone());
        let mut ctx =
            ApplyCtx { nodes: 5, controls: &bare, primaries: &[3], rng: &mut rng, seed: 0 };
        let err = MEMBERSHIP.apply(&fault, &mut ctx).expect_err("no hook");
        assert!(err.to_string().contains("membership"), "{err}");
    }
}
