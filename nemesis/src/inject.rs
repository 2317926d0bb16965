//! The nemesis proper: applies [`Fault`]s through a run's [`Controls`], each by
//! the family that owns it ([`crate::families`]), heals them all, and says per
//! node what it really did, as Jepsen's nemesis outcomes: `installed`, `skipped`
//! (certainly not applied, with why) or `indeterminate` (may or may not be in
//! effect). Partitions are verified by probing every directed link, and the
//! verdict goes into the record.
//!
//! Every fault becomes two history operations of process `nemesis`: an `invoke`
//! naming the fault, then an `info` completion whose value maps each node to its
//! outcome ([`Nemesis::invoke_op`], [`Nemesis::completion_op`]).

use std::collections::BTreeMap;
use std::sync::Mutex;

use history::{Op, OpKind, Process, Value};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use crate::clock::ClockSupport;
use crate::control::Controls;
use crate::error::{NemesisError, Result};
use crate::families::common::{links_value, node_name};
use crate::families::{ApplyCtx, DrawRng, Family, Registry};
use crate::lab::Lab;
use crate::probe::Verification;
use crate::schedule::{Action, Fault, Schedule};

/// What the nemesis did on one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "outcome", content = "why")]
pub enum Outcome {
    Installed,
    Skipped(String),
    Indeterminate(String),
}

impl Outcome {
    fn to_value(&self) -> Value {
        match self {
            Outcome::Installed => Value::kw("installed"),
            Outcome::Skipped(why) => {
                Value::Map(vec![(Value::kw("skipped"), Value::Str(why.clone()))])
            }
            Outcome::Indeterminate(why) => {
                Value::Map(vec![(Value::kw("indeterminate"), Value::Str(why.clone()))])
            }
        }
    }
}

/// What applying one fault (or heal-all) did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    /// The history's `f`.
    pub f: String,
    /// The fault with every target resolved (primaries, random subsets).
    pub fault: Option<Fault>,
    /// Per node (0-based index).
    pub nodes: BTreeMap<usize, Outcome>,
    /// For partitions (and heal-all): what the probes measured.
    pub verification: Option<Verification>,
}

/// The history's `f` of a heal-all.
pub const HEAL_ALL: &str = "heal-all";

/// Applies faults through a run's [`Controls`], each by the family that owns it,
/// and remembers what to heal.
pub struct Nemesis {
    controls: Controls,
    registry: Registry,
    seed: u64,
    /// Draws made at apply time (targets left unresolved, primaries shapes): one
    /// stream per nemesis, so the same calls in the same order draw the same.
    rng: Mutex<DrawRng>,
    /// Faults applied since the last heal-all, with the family that applied them.
    applied: Mutex<Vec<(&'static dyn Family, FaultReport)>>,
}

impl Nemesis {
    /// A nemesis for `lab` (its network and processes) with the built-in families;
    /// `clock` says how (or whether) clocks can be moved; `seed` drives the few
    /// draws made at apply time.
    pub fn new(lab: Lab, clock: ClockSupport, seed: u64) -> Nemesis {
        Nemesis::with_controls(Controls::lab(&lab, clock), Registry::builtin(), seed)
    }

    /// A nemesis acting through `controls`, applying faults of `registry`'s families.
    pub fn with_controls(controls: Controls, registry: Registry, seed: u64) -> Nemesis {
        Nemesis {
            controls,
            registry,
            seed,
            rng: Mutex::new(DrawRng::seed_from_u64(seed)),
            applied: Mutex::new(Vec::new()),
        }
    }

    pub fn controls(&self) -> &Controls {
        &self.controls
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn node_count(&self) -> usize {
        self.controls.node_count()
    }

    /// Refuses a schedule holding a fault these controls cannot apply, before the
    /// run starts (clock skew on etcd, a partition without a lab).
    pub fn check_schedule(&self, schedule: &Schedule) -> Result<()> {
        for step in &schedule.steps {
            if let Action::Start { fault } = &step.action {
                self.check_supported(fault)?;
            }
        }
        Ok(())
    }

    /// The family that applies `fault`, if these controls offer what it needs.
    pub fn check_supported(&self, fault: &Fault) -> Result<&'static dyn Family> {
        let family = self.registry.applier(fault)?;
        if let Some((control, why)) = self.controls.offers().lacks(family.needs()) {
            return Err(NemesisError::Unsupported(format!(
                "{} faults need {}: {why}",
                family.name(),
                control.describe()
            )));
        }
        Ok(family)
    }

    fn applied(&self) -> std::sync::MutexGuard<'_, Vec<(&'static dyn Family, FaultReport)>> {
        self.applied.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies one fault. `primaries` are the nodes the system currently reports
    /// as leaders (only read by primaries targets). Errors mean the fault was
    /// refused or the controls broke; partial effects are reported per node.
    pub fn apply(&self, fault: &Fault, primaries: &[usize]) -> Result<FaultReport> {
        let family = self.check_supported(fault)?;
        let applied = {
            let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
            let mut ctx = ApplyCtx {
                nodes: self.node_count(),
                controls: &self.controls,
                primaries,
                rng: &mut rng,
                seed: self.seed,
            };
            family.apply(fault, &mut ctx)?
        };
        let report = FaultReport {
            f: family.op_name().to_string(),
            fault: Some(applied.fault),
            nodes: applied.nodes,
            verification: applied.verification,
        };
        self.applied().push((family, report.clone()));
        Ok(report)
    }

    /// Removes every fault: the network-wide heal first (partition, loss, delays
    /// at once), then each family that applied a fault since the last heal undoes
    /// it, in registry order (paused processes resumed, killed or stopped ones
    /// restarted, clocks back to real time). Then verifies that every link is open.
    pub fn heal_all(&self) -> Result<FaultReport> {
        let n = self.node_count();
        let mut problems: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let network = self.controls.network().ok();
        let net = network.map(|net| net.heal());
        let applied = std::mem::take(&mut *self.applied());
        for family in self.registry.families() {
            let reports: Vec<&FaultReport> =
                applied.iter().filter(|(f, _)| f.name() == family.name()).map(|(_, r)| r).collect();
            if reports.is_empty() {
                continue;
            }
            for (node, why) in family.heal(&reports, &self.controls) {
                problems.entry(node).or_default().extend(why);
            }
        }
        let verification = match (network, &net) {
            (Some(network), Some(Ok(()))) => match network.verify_partition() {
                Ok(v) => Some(v),
                Err(e) => {
                    for node in 0..n {
                        problems.entry(node).or_default().push(format!("probe failed: {e}"));
                    }
                    None
                }
            },
            _ => None,
        };
        let mut report = FaultReport {
            f: HEAL_ALL.into(),
            fault: None,
            nodes: BTreeMap::new(),
            verification: None,
        };
        for node in 0..n {
            let mut why = problems.remove(&node).unwrap_or_default();
            if let Some(Err(e)) = &net {
                why.push(format!("network heal failed: {e}"));
            }
            if let Some(v) = &verification {
                for (s, d) in v.broken.iter().filter(|(s, d)| *s == node || *d == node) {
                    why.push(format!("{} -> {} still cut", node_name(*s), node_name(*d)));
                }
            }
            let outcome = if why.is_empty() {
                Outcome::Installed
            } else {
                Outcome::Indeterminate(why.join("; "))
            };
            report.nodes.insert(node, outcome);
        }
        report.verification = verification;
        Ok(report)
    }

    /// Applies one schedule step.
    pub fn step(&self, action: &Action, primaries: &[usize]) -> Result<FaultReport> {
        match action {
            Action::Start { fault } => self.apply(fault, primaries),
            Action::HealAll => self.heal_all(),
        }
    }

    /// The history's `f` for a fault (`None`: heal-all); a fault no family
    /// applies is written under its kind.
    pub fn op_name(&self, fault: Option<&Fault>) -> String {
        match fault {
            None => HEAL_ALL.into(),
            Some(fault) => match self.registry.applier(fault) {
                Ok(family) => family.op_name().into(),
                Err(_) => fault.kind.clone(),
            },
        }
    }

    /// The value an invoke carries: what the fault intends (its family's words;
    /// the raw parameters for a fault no family can read).
    pub fn fault_value(&self, fault: &Fault) -> Value {
        self.registry.applier(fault).and_then(|family| family.value(fault)).unwrap_or_else(|_| {
            Value::from_json(&serde_json::Value::Object(fault.params.clone())).unwrap_or(Value::Nil)
        })
    }

    /// The nemesis `invoke` for a fault, or for heal-all (`None`); `time_ns` from
    /// the run's monotonic clock (the history writer assigns the index).
    pub fn invoke_op(&self, fault: Option<&Fault>, time_ns: u64) -> Op {
        let value = fault.map_or(Value::Nil, |f| self.fault_value(f));
        let mut op = Op::new(Process::Nemesis, OpKind::Invoke, &self.op_name(fault), value);
        op.time_ns = time_ns;
        op
    }

    /// The nemesis completion (`info`): per node, what was really done; the
    /// resolved fault and the probe verdict go into `extra`.
    pub fn completion_op(&self, report: &FaultReport, time_ns: u64) -> Op {
        let value = Value::Map(
            report.nodes.iter().map(|(&n, o)| (Value::Str(node_name(n)), o.to_value())).collect(),
        );
        let mut op = Op::new(Process::Nemesis, OpKind::Info, &report.f, value);
        op.time_ns = time_ns;
        if let Some(fault) = &report.fault {
            op.extra.insert("fault".into(), self.fault_value(fault));
        }
        if let Some(v) = &report.verification {
            let verified = Value::Map(vec![
                (Value::kw("ok"), Value::Bool(v.ok())),
                (Value::kw("leaked"), links_value(&v.leaked)),
                (Value::kw("broken"), links_value(&v.broken)),
            ]);
            op.extra.insert("verified".into(), verified);
        }
        op
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::families::partition::Partition;
    use crate::partition::{Grudge, PartitionShape, PartitionSpec};
    use crate::schedule::FaultParams;

    #[test]
    fn nemesis_ops_form_a_valid_history_pair() {
        let nemesis = Nemesis::with_controls(Controls::none(3), Registry::builtin(), 0);
        let fault = Partition {
            spec: PartitionSpec::new(PartitionShape::IsolateOne { node: Some(0) }),
            grudge: Some(Grudge { blocked: BTreeSet::from([(0, 1), (1, 0)]) }),
        }
        .fault();
        let report = FaultReport {
            f: nemesis.op_name(Some(&fault)),
            fault: Some(fault.clone()),
            nodes: BTreeMap::from([
                (0, Outcome::Installed),
                (1, Outcome::Installed),
                (2, Outcome::Skipped("no link of this node is cut".into())),
            ]),
            verification: Some(Verification { leaked: vec![], broken: vec![] }),
        };
        let mut inv = nemesis.invoke_op(Some(&fault), 10);
        let mut done = nemesis.completion_op(&report, 20);
        inv.index = 0;
        done.index = 1;
        assert_eq!(inv.f, "start-partition");
        assert_eq!(done.value.get(&Value::Str("n1".into())), Some(&Value::kw("installed")));
        let h = history::History { ops: vec![inv, done], lines: vec![1, 2], source: None };
        let linted = h.lint().expect("a nemesis invoke/info pair is a valid history");
        assert_eq!(linted.client_pairs().count(), 0);
    }

    #[test]
    fn faults_are_refused_without_the_control_their_family_needs() {
        let nemesis = Nemesis::with_controls(Controls::none(3), Registry::builtin(), 0);
        let fault =
            Partition { spec: PartitionSpec::new(PartitionShape::RandomHalves), grudge: None }
                .fault();
        let err = nemesis.apply(&fault, &[]).expect_err("no network");
        assert!(matches!(err, NemesisError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("partition faults need network control"), "{err}");
        let unknown = Fault::new("flood", &serde_json::json!({}));
        assert!(nemesis.apply(&unknown, &[]).is_err());
        // Heal-all without a network heals nothing and measures nothing.
        let healed = nemesis.heal_all().expect("heal");
        assert!(healed.verification.is_none());
        assert!(healed.nodes.values().all(|o| *o == Outcome::Installed));
    }
}
