//! The nemesis proper: applies [`Fault`]s to a [`Lab`], heals them all, and says
//! per node what it really did, as Jepsen's nemesis outcomes: `installed`,
//! `skipped` (certainly not applied, with why) or `indeterminate` (may or may not
//! be in effect). Partitions are verified by probing every directed link, and the
//! verdict goes into the record.
//!
//! Every fault becomes two history operations of process `nemesis`: an `invoke`
//! naming the fault, then an `info` completion whose value maps each node to its
//! outcome ([`invoke_op`], [`completion_op`]).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

use history::{Op, OpKind, Process, Value};
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::clock::ClockSupport;
use crate::error::{NemesisError, Result};
use crate::lab::{Lab, ProcHandle};
use crate::latency::LinkDelay;
use crate::partition::Grudge;
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

/// Applies faults to one lab and remembers what to undo.
pub struct Nemesis {
    lab: Lab,
    clock: ClockSupport,
    undo: Mutex<Undo>,
    seed: u64,
    /// Draws made at apply time (targets left unresolved, primaries shapes): one
    /// stream per nemesis, so the same calls in the same order draw the same.
    rng: Mutex<ChaCha8Rng>,
}

#[derive(Default)]
struct Undo {
    killed: BTreeSet<ProcHandle>,
    paused: BTreeSet<ProcHandle>,
    skewed: BTreeSet<usize>,
}

impl PartialOrd for ProcHandle {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for ProcHandle {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.id, self.node).cmp(&(other.id, other.node))
    }
}

fn node_name(i: usize) -> String {
    format!("n{}", i + 1)
}

impl Nemesis {
    /// A nemesis for `lab`; `clock` says how (or whether) clocks can be skewed;
    /// `seed` drives the few draws made at apply time (jitter).
    pub fn new(lab: Lab, clock: ClockSupport, seed: u64) -> Nemesis {
        let rng = Mutex::new(ChaCha8Rng::seed_from_u64(seed));
        Nemesis { lab, clock, undo: Mutex::new(Undo::default()), seed, rng }
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    /// Refuses a schedule holding a fault this system cannot receive, before the
    /// run starts (clock skew on etcd, for instance).
    pub fn check_schedule(&self, schedule: &Schedule) -> Result<()> {
        for step in &schedule.steps {
            if let Action::Start { fault } = &step.action {
                self.check_supported(fault)?;
            }
        }
        Ok(())
    }

    /// Refuses a fault this system cannot receive.
    pub fn check_supported(&self, fault: &Fault) -> Result<()> {
        if let (Fault::ClockSkew { .. }, ClockSupport::Unsupported { reason }) =
            (fault, &self.clock)
        {
            return Err(NemesisError::Unsupported(format!("clock skew: {reason}")));
        }
        Ok(())
    }

    fn undo(&self) -> std::sync::MutexGuard<'_, Undo> {
        self.undo.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies one fault. `primaries` are the nodes the system currently reports
    /// as leaders (only read by primaries targets). Errors mean the fault was
    /// refused or the lab is broken; partial effects are reported per node.
    pub fn apply(&self, fault: &Fault, primaries: &[usize]) -> Result<FaultReport> {
        self.check_supported(fault)?;
        let n = self.lab.node_count();
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        let rng = &mut *rng;
        let mut report = FaultReport {
            f: fault.name().to_string(),
            fault: Some(fault.clone()),
            nodes: BTreeMap::new(),
            verification: None,
        };
        match fault {
            Fault::Partition { spec, grudge } => {
                let grudge = match grudge {
                    Some(g) => g.clone(),
                    None => spec.grudge(n, rng, primaries)?,
                };
                report.fault =
                    Some(Fault::Partition { spec: spec.clone(), grudge: Some(grudge.clone()) });
                self.lab.set_partition(&grudge)?;
                let v = self.lab.verify_partition()?;
                for node in 0..n {
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
                    report.nodes.insert(node, outcome);
                }
                report.verification = Some(v);
            }
            Fault::Loss { links, percent } => {
                let loss: BTreeMap<(usize, usize), u8> =
                    links.iter().map(|&l| (l, *percent)).collect();
                self.lab.set_loss(&loss)?;
                link_outcomes(&mut report, n, links);
            }
            Fault::Delay { links, delay } => {
                let delays: BTreeMap<(usize, usize), LinkDelay> =
                    links.iter().map(|&l| (l, *delay)).collect();
                self.lab.set_delays(&delays, self.seed)?;
                link_outcomes(&mut report, n, links);
            }
            Fault::Kill { target, nodes }
            | Fault::Pause { target, nodes }
            | Fault::Stop { target, nodes, .. } => {
                let nodes = match nodes {
                    Some(list) => list.clone(),
                    None => target.resolve(n, rng, primaries)?,
                };
                report.fault = Some(with_nodes(fault, nodes.clone()));
                for node in nodes {
                    let outcome = self.process_fault(fault, node);
                    report.nodes.insert(node, outcome);
                }
            }
            Fault::ClockSkew { nodes, offset_ms } => {
                for &node in nodes {
                    let outcome = match self.set_clock(node, *offset_ms) {
                        Ok(()) => {
                            self.undo().skewed.insert(node);
                            Outcome::Installed
                        }
                        // Certainly not applied (e.g. not started under libfaketime).
                        Err(e @ NemesisError::Unsupported(_)) => Outcome::Skipped(e.to_string()),
                        Err(e) => Outcome::Indeterminate(e.to_string()),
                    };
                    report.nodes.insert(node, outcome);
                }
            }
        }
        Ok(report)
    }

    fn set_clock(&self, node: usize, offset_ms: i64) -> Result<()> {
        match &self.clock {
            ClockSupport::Libfaketime => self.lab.set_faketime_offset(node, offset_ms),
            ClockSupport::Hook(hook) => hook.set_offset(node, offset_ms),
            ClockSupport::Unsupported { reason } => Err(NemesisError::Unsupported(reason.clone())),
        }
    }

    fn process_fault(&self, fault: &Fault, node: usize) -> Outcome {
        let handles = self.lab.processes_on(node);
        if handles.is_empty() {
            return Outcome::Skipped("no process was started on this node".into());
        }
        let mut done = Vec::new();
        for h in handles {
            let result = match fault {
                Fault::Kill { .. } => self.lab.kill(h),
                Fault::Pause { .. } => self.lab.pause(h),
                Fault::Stop { grace_ms, .. } => self.lab.stop(h, Duration::from_millis(*grace_ms)),
                _ => Ok(false),
            };
            match result {
                Ok(true) => {
                    let mut undo = self.undo();
                    match fault {
                        Fault::Pause { .. } => undo.paused.insert(h),
                        _ => undo.killed.insert(h),
                    };
                    done.push(h);
                }
                Ok(false) => {}
                // A signal may or may not have landed.
                Err(e) => return Outcome::Indeterminate(e.to_string()),
            }
        }
        if done.is_empty() {
            Outcome::Skipped("its process(es) were not running".into())
        } else {
            Outcome::Installed
        }
    }

    /// Removes every fault: network (partition, loss, delays), clocks back to real
    /// time, paused processes resumed, killed or stopped ones restarted. Then
    /// verifies that every link is open.
    pub fn heal_all(&self) -> Result<FaultReport> {
        let n = self.lab.node_count();
        let mut report = FaultReport {
            f: "heal-all".into(),
            fault: None,
            nodes: BTreeMap::new(),
            verification: None,
        };
        let mut problems: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let net = self.lab.heal_network();
        let (paused, killed, skewed) = {
            let mut undo = self.undo();
            (
                std::mem::take(&mut undo.paused),
                std::mem::take(&mut undo.killed),
                std::mem::take(&mut undo.skewed),
            )
        };
        for h in paused {
            if let Err(e) = self.lab.resume(h) {
                problems.entry(h.node).or_default().push(format!("resume: {e}"));
            }
        }
        for h in killed {
            if let Err(e) = self.lab.restart(h) {
                problems.entry(h.node).or_default().push(format!("restart: {e}"));
            }
        }
        for node in skewed {
            if let Err(e) = self.set_clock(node, 0) {
                problems.entry(node).or_default().push(format!("clock: {e}"));
            }
        }
        let verification = match &net {
            Ok(()) => match self.lab.verify_partition() {
                Ok(v) => Some(v),
                Err(e) => {
                    for node in 0..n {
                        problems.entry(node).or_default().push(format!("probe failed: {e}"));
                    }
                    None
                }
            },
            Err(_) => None,
        };
        for node in 0..n {
            let mut why = problems.remove(&node).unwrap_or_default();
            if let Err(e) = &net {
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
}

fn with_nodes(fault: &Fault, nodes: Vec<usize>) -> Fault {
    let mut f = fault.clone();
    match &mut f {
        Fault::Kill { nodes: n, .. }
        | Fault::Pause { nodes: n, .. }
        | Fault::Stop { nodes: n, .. } => *n = Some(nodes),
        _ => {}
    }
    f
}

fn link_outcomes(report: &mut FaultReport, n: usize, links: &[(usize, usize)]) {
    for node in 0..n {
        let touched = links.iter().any(|(s, d)| *s == node || *d == node);
        let outcome = if touched {
            Outcome::Installed
        } else {
            Outcome::Skipped("no link of this node is affected".into())
        };
        report.nodes.insert(node, outcome);
    }
}

fn grudge_value(g: &Grudge) -> Value {
    Value::List(
        g.blocked
            .iter()
            .map(|&(s, d)| Value::List(vec![Value::Str(node_name(s)), Value::Str(node_name(d))]))
            .collect(),
    )
}

fn links_value(links: &[(usize, usize)]) -> Value {
    grudge_value(&Grudge { blocked: links.iter().copied().collect() })
}

fn nodes_value(nodes: &[usize]) -> Value {
    Value::List(nodes.iter().map(|&n| Value::Str(node_name(n))).collect())
}

/// The value an invoke carries: what the fault intends.
pub fn fault_value(fault: &Fault) -> Value {
    let kv = |k: &str, v: Value| (Value::kw(k), v);
    Value::Map(match fault {
        Fault::Partition { spec, grudge } => {
            let mut m = vec![kv("shape", Value::Str(spec.name()))];
            if let Some(g) = grudge {
                m.push(kv("blocked", grudge_value(g)));
            }
            m
        }
        Fault::Loss { links, percent } => {
            vec![kv("links", links_value(links)), kv("percent", Value::Int(i64::from(*percent)))]
        }
        Fault::Delay { links, delay } => vec![
            kv("links", links_value(links)),
            kv("delay-ms", Value::Int(i64::from(delay.delay_ms))),
            kv("jitter-ms", Value::Int(i64::from(delay.jitter_ms))),
        ],
        Fault::Kill { target, nodes }
        | Fault::Pause { target, nodes }
        | Fault::Stop { target, nodes, .. } => {
            // The target as its JSON form says it: "majority", {"nodes": [0, 2]}.
            let target = serde_json::to_value(target)
                .ok()
                .and_then(|j| Value::from_json(&j).ok())
                .unwrap_or(Value::Nil);
            let mut m = vec![kv("target", target)];
            if let Some(nodes) = nodes {
                m.push(kv("nodes", nodes_value(nodes)));
            }
            m
        }
        Fault::ClockSkew { nodes, offset_ms } => {
            vec![kv("nodes", nodes_value(nodes)), kv("offset-ms", Value::Int(*offset_ms))]
        }
    })
}

/// The nemesis `invoke` for a fault (`time_ns` from the run's monotonic clock;
/// the history writer assigns the index).
pub fn invoke_op(fault: Option<&Fault>, time_ns: u64) -> Op {
    let (f, value) = match fault {
        Some(fault) => (fault.name(), fault_value(fault)),
        None => ("heal-all", Value::Nil),
    };
    let mut op = Op::new(Process::Nemesis, OpKind::Invoke, f, value);
    op.time_ns = time_ns;
    op
}

/// The nemesis completion (`info`): per node, what was really done; the resolved
/// fault and the probe verdict go into `extra`.
pub fn completion_op(report: &FaultReport, time_ns: u64) -> Op {
    let value = Value::Map(
        report.nodes.iter().map(|(&n, o)| (Value::Str(node_name(n)), o.to_value())).collect(),
    );
    let mut op = Op::new(Process::Nemesis, OpKind::Info, &report.f, value);
    op.time_ns = time_ns;
    if let Some(fault) = &report.fault {
        op.extra.insert("fault".into(), fault_value(fault));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::{PartitionShape, PartitionSpec};

    #[test]
    fn nemesis_ops_form_a_valid_history_pair() {
        let fault = Fault::Partition {
            spec: PartitionSpec::new(PartitionShape::IsolateOne { node: Some(0) }),
            grudge: Some(Grudge { blocked: BTreeSet::from([(0, 1), (1, 0)]) }),
        };
        let report = FaultReport {
            f: fault.name().into(),
            fault: Some(fault.clone()),
            nodes: BTreeMap::from([
                (0, Outcome::Installed),
                (1, Outcome::Installed),
                (2, Outcome::Skipped("no link of this node is cut".into())),
            ]),
            verification: Some(Verification { leaked: vec![], broken: vec![] }),
        };
        let mut inv = invoke_op(Some(&fault), 10);
        let mut done = completion_op(&report, 20);
        inv.index = 0;
        done.index = 1;
        assert_eq!(inv.f, "start-partition");
        assert_eq!(done.value.get(&Value::Str("n1".into())), Some(&Value::kw("installed")));
        let h = history::History { ops: vec![inv, done], lines: vec![1, 2], source: None };
        let linted = h.lint().expect("a nemesis invoke/info pair is a valid history");
        assert_eq!(linted.client_pairs().count(), 0);
    }
}
