//! `discovery`: are the answers of service discovery true, and how stale are they?
//!
//! The history is the `discovery` workload's (see the `catalog` model for its shapes:
//! `register`, `deregister`, `set-health`, and `read`s that record the consistency
//! the node answered with and each instance's own health, plus `:node-critical`, the
//! instances whose node's checks failed, e.g. Consul's `serfHealth` after gossip
//! declared the node dead).
//!
//! - **Consistent reads** (`?consistent`) are judged for linearizability against the
//!   `catalog` model (instances and their health) with every write.
//! - **Every read** is also timed against the writes, as a staleness report: an
//!   instance's answered state is *fresh* if some write that produced it (or the
//!   empty start) was not certainly overwritten before the read began; otherwise the
//!   answer missed a write: the acknowledged write that certainly came after every
//!   write that could explain it, and the read is stale by the time from that write's
//!   completion to the read's invocation.
//! - **Bound**: a non-consistent read (Consul's `default` or `stale`) that still
//!   *serves* an instance (its own check and its node's pass) which a missed write
//!   had deregistered or made critical more than the bound before is invalid: a
//!   client was sent to an instance known to be gone or failing for longer than it
//!   accepts. The bound is the checker option `stale-bound-ms` (`faultline check
//!   --model discovery --option stale-bound-ms=N`; default [`DEFAULT_BOUND_MS`];
//!   the older `--initial {:stale-bound-ms N}` still works). Consul lets clients set
//!   that bound per read (`?max_stale`); this is the same contract judged from
//!   outside.
//!
//! # Node-level health (Consul's `serfHealth`)
//! Consul's `/v1/health/service/S?passing` drops an instance when *any* of its checks
//! is not passing, its node's included: a node gossip declared dead (`serfHealth`
//! critical) has all its instances filtered out, whatever their own checks say. That
//! is the server working, not a lost instance, so the checker must never mistake it
//! for one. The workload's reads therefore ask without `?passing`: the server returns
//! every instance with its own check, and the read records the instances whose node
//! checks fail in `:node-critical` (the node-critical state is seen, read by read,
//! not guessed). Then:
//! - the instance's own state (absent / passing / critical) is judged as always, for
//!   linearizability and staleness: a node's health changes no instance's own check;
//! - an instance listed in `:node-critical` is not *served* (a client filtering on
//!   `passing` would not be sent to it), so it never breaks the bound, however stale
//!   its own state; it is still reported as stale.
//!
//! A read that says it was filtered (`:filter "passing"` in its completion, as a
//! client of `?passing` would record it) lists only instances that were served; an
//! instance it leaves out may be absent, critical, or passing on a failed node, so
//! the checker takes nothing from its absence: the listed instances are judged
//! (passing, and served), the missing ones not at all (the `catalog` model does the
//! same for consistent ones).

use std::collections::BTreeMap;

use history::{Linted, OpKind, Value};
use serde::Serialize;

use crate::linearizability::{Linearizable, Options};
use crate::models::catalog::Catalog;
use crate::ops::{ClientOp, client_ops, field, text_field, uint_field};
use crate::registry::{CheckerDef, CheckerOptions};
use crate::section::{Block, Highlight, Operations, Role, Section, Table};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats, Verdict};

/// How stale a non-consistent read may serve a gone or failing instance, by default.
pub const DEFAULT_BOUND_MS: u64 = 2000;

/// `discovery` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "discovery",
    summary: "service discovery: consistent reads linearizable against the catalog; every read's \
              staleness reported; gone or critical instances not served past a bound (option \
              stale-bound-ms, default 2000); instances on a node-critical node are not served",
    make,
};

fn make(o: &CheckerOptions) -> Result<Box<dyn Checker + Send + Sync>, CheckError> {
    let takes = |v: &Value| {
        CheckError::BadModel(format!(
            "the discovery checker takes --option stale-bound-ms=N (or --initial {{:stale-bound-ms N}}), got {v}"
        ))
    };
    // The older spelling, an initial map.
    let legacy = match &o.initial {
        None | Some(Value::Nil) => None,
        Some(v @ Value::Map(_)) => Some(uint_field(v, "stale-bound-ms").ok_or_else(|| takes(v))?),
        Some(v) => return Err(takes(v)),
    };
    let without_initial = CheckerOptions { initial: None, ..o.clone() };
    let opts = crate::jepsen::options(&without_initial, "discovery", &["stale-bound-ms"])?;
    let option = match opts.int("stale-bound-ms")? {
        None => None,
        Some(n) => Some(u64::try_from(n).map_err(|_| {
            CheckError::BadModel(format!(
                "the discovery checker's option \"stale-bound-ms\" must be at least 0, got {n}"
            ))
        })?),
    };
    let bound_ms = match (option, legacy) {
        (Some(a), Some(b)) if a != b => {
            return Err(CheckError::BadModel(format!(
                "the discovery checker got two bounds: --option stale-bound-ms={a} and --initial {{:stale-bound-ms {b}}}"
            )));
        }
        (a, b) => a.or(b).unwrap_or(DEFAULT_BOUND_MS),
    };
    // `jepsen::options` above refused every other option name.
    let lin = Linearizable::new(Catalog, Options::from(o));
    Ok(Box::new(Discovery { bound_ms, lin }))
}

pub struct Discovery {
    pub bound_ms: u64,
    lin: Linearizable<Catalog>,
}

/// One stale answer about one instance.
#[derive(Debug, Clone, Serialize)]
pub struct StaleAnswer {
    pub read: usize,
    pub consistency: String,
    pub instance: String,
    pub answered: String,
    /// Whether the answer sent clients to the instance (its checks all passing).
    pub served: bool,
    /// The acknowledged write it missed.
    pub missed: usize,
    pub missed_write: String,
    pub stale_ms: f64,
    /// Past the bound, served, and the missed write made it gone or critical.
    pub breaks_bound: bool,
}

/// The discovery checker's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct DiscoveryEvidence {
    pub bound_ms: u64,
    /// Reads per consistency.
    pub reads: BTreeMap<String, usize>,
    pub stale: Vec<StaleAnswer>,
    /// The largest staleness per consistency, in ms.
    pub max_stale_ms: BTreeMap<String, f64>,
    /// The linearizability check of the consistent reads (its own JSON).
    pub linearizability: serde_json::Value,
}

/// What a write leaves an instance in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Absent,
    Passing,
    Critical,
}

impl State {
    fn name(self) -> &'static str {
        match self {
            State::Absent => "absent",
            State::Passing => "passing",
            State::Critical => "critical",
        }
    }

    fn of(text: Option<&str>) -> Option<State> {
        match text {
            Some("passing") => Some(State::Passing),
            Some("critical") => Some(State::Critical),
            _ => None,
        }
    }
}

struct Write<'a> {
    op: &'a ClientOp<'a>,
    to: State,
}

impl Checker for Discovery {
    fn name(&self) -> String {
        "discovery (consistent reads: linearizable catalog)".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let place = |p: usize| history.history().place(p);
        let ops = client_ops(history);
        let mut writes: BTreeMap<String, Vec<Write<'_>>> = BTreeMap::new();
        let mut reads = Vec::new();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for op in &ops {
            let instance = || {
                field(op.input, "instance")
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .ok_or_else(|| CheckError::BadOperation {
                        place: place(op.invoke),
                        message: format!("a {} needs {{:instance i}}", op.f),
                    })
            };
            let to = match op.f {
                "register" | "set-health" => State::of(text_field(op.input, "health")),
                "deregister" => Some(State::Absent),
                "read" => {
                    if op.ok() {
                        let c =
                            text_field(op.output, "consistency").unwrap_or("unknown").to_string();
                        *counts.entry(c.clone()).or_default() += 1;
                        reads.push((op, c));
                    }
                    continue;
                }
                other => {
                    return Err(CheckError::BadOperation {
                        place: place(op.invoke),
                        message: format!(
                            "the discovery checker knows register, deregister, set-health and read, not {other:?}"
                        ),
                    });
                }
            };
            let to = to.ok_or_else(|| CheckError::BadOperation {
                place: place(op.invoke),
                message: "a health is \"passing\" or \"critical\"".into(),
            })?;
            if op.kind != OpKind::Fail {
                writes.entry(instance()?).or_default().push(Write { op, to });
            }
        }
        // Staleness of every read, per instance.
        let mut stale = Vec::new();
        for (read, consistency) in &reads {
            let answered = answers(read.output);
            let node_critical: Vec<String> = field(read.output, "node-critical")
                .and_then(Value::as_list)
                .map(|l| {
                    l.iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            // A read filtered on passing says nothing of the instances it leaves out.
            let filtered = text_field(read.output, "filter") == Some("passing");
            let mut names: Vec<&String> =
                if filtered { Vec::new() } else { writes.keys().collect() };
            for n in answered.keys() {
                if filtered || !writes.contains_key(n) {
                    names.push(n);
                }
            }
            for name in names {
                let got = answered.get(name).copied().unwrap_or(State::Absent);
                let ws: &[Write<'_>] = writes.get(name).map_or(&[], Vec::as_slice);
                if let Some((missed, stale_ns)) = staleness(ws, got, read) {
                    let served = got == State::Passing && !node_critical.contains(name);
                    let stale_ms = stale_ns as f64 / 1e6;
                    let breaks_bound = consistency != "consistent"
                        && served
                        && missed.to != State::Passing
                        && stale_ms > self.bound_ms as f64;
                    stale.push(StaleAnswer {
                        read: read.invoke,
                        consistency: consistency.clone(),
                        instance: name.clone(),
                        answered: got.name().into(),
                        served,
                        missed: missed.op.invoke,
                        missed_write: format!(
                            "{} → {} at {}",
                            missed.op.f,
                            missed.to.name(),
                            place(missed.op.invoke)
                        ),
                        stale_ms,
                        breaks_bound,
                    });
                } else if got != State::Absent
                    && !ws.iter().any(|w| w.to == got && w.op.invoked_ns < read.completed_ns)
                {
                    // Nothing ever put it in that state.
                    stale.push(StaleAnswer {
                        read: read.invoke,
                        consistency: consistency.clone(),
                        instance: name.clone(),
                        answered: got.name().into(),
                        served: got == State::Passing,
                        missed: read.invoke,
                        missed_write: "no write ever made it so".into(),
                        stale_ms: f64::INFINITY,
                        breaks_bound: consistency != "consistent",
                    });
                }
            }
        }
        let mut max_stale_ms: BTreeMap<String, f64> = BTreeMap::new();
        for s in &stale {
            let m = max_stale_ms.entry(s.consistency.clone()).or_insert(0.0);
            *m = m.max(s.stale_ms);
        }
        let lin = self.lin.check(history)?;
        let breaks: Vec<&StaleAnswer> = stale.iter().filter(|s| s.breaks_bound).collect();
        let stale_verdict = if breaks.is_empty() { Verdict::Valid } else { Verdict::Invalid };
        let consistent_reads = counts.get("consistent").copied().unwrap_or(0);
        let lin_verdict = if consistent_reads == 0 { Verdict::Valid } else { lin.verdict };
        let verdict =
            if reads.is_empty() { Verdict::Unknown } else { lin_verdict.merge(stale_verdict) };
        let (reason, explanation) = match (lin_verdict, breaks.first()) {
            (Verdict::Invalid, _) => {
                (format!("consistent reads: {}", lin.reason), lin.explanation.clone())
            }
            (_, Some(b)) => (
                format!(
                    "{} stale answer(s) served a gone or critical instance past the {} ms bound",
                    breaks.len(),
                    self.bound_ms
                ),
                format!(
                    "The {} read at {} served {} as passing {:.0} ms after the acknowledged write it missed ({}).",
                    b.consistency,
                    place(b.read),
                    b.instance,
                    b.stale_ms,
                    b.missed_write
                ),
            ),
            (Verdict::Unknown, None) => {
                (format!("consistent reads: {}", lin.reason), String::new())
            }
            _ if reads.is_empty() => ("no read completed: nothing to judge".into(), String::new()),
            _ => (
                format!(
                    "{consistent_reads} consistent reads linearizable; {} stale answers, none past the {} ms bound",
                    stale.len(),
                    self.bound_ms
                ),
                String::new(),
            ),
        };
        let mut outcome = Outcome::new(verdict, reason, explanation);
        let mut section = Section::new("Service discovery").with(Block::paragraph(format!(
            "Reads by consistency: {}. Consistent reads are checked for linearizability against the \
             catalog model; every read's staleness is measured against the writes (bound for \
             serving a gone or critical instance: {} ms).",
            counts.iter().map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", "),
            self.bound_ms
        )));
        if consistent_reads > 0 {
            section.blocks.extend(lin.section.blocks.iter().cloned());
        }
        section.blocks.push(Block::Table(Table {
            caption: Some("stale answers (the worst 50)".into()),
            columns: [
                "read",
                "consistency",
                "instance",
                "answered",
                "served",
                "missed",
                "stale (ms)",
                "past bound",
            ]
            .map(String::from)
            .to_vec(),
            rows: worst(&stale)
                .iter()
                .map(|s| {
                    vec![
                        place(s.read),
                        s.consistency.clone(),
                        s.instance.clone(),
                        s.answered.clone(),
                        s.served.to_string(),
                        s.missed_write.clone(),
                        format!("{:.0}", s.stale_ms),
                        s.breaks_bound.to_string(),
                    ]
                })
                .collect(),
        }));
        if !breaks.is_empty() {
            section.blocks.push(Block::Operations(Operations {
                caption: Some(
                    "reads that served a gone or critical instance past the bound".into(),
                ),
                ops: breaks
                    .iter()
                    .take(25)
                    .flat_map(|b| {
                        [
                            Highlight {
                                position: b.read,
                                role: Role::Culprit,
                                label: format!("served {}", b.instance),
                            },
                            Highlight {
                                position: b.missed,
                                role: Role::Related,
                                label: "the write it missed".into(),
                            },
                        ]
                    })
                    .collect(),
            }));
        }
        outcome.section = section;
        outcome.parts = if consistent_reads > 0 { lin.parts.clone() } else { vec![] };
        outcome.evidence = Evidence::new(DiscoveryEvidence {
            bound_ms: self.bound_ms,
            reads: counts,
            stale,
            max_stale_ms,
            linearizability: serde_json::to_value(&lin).unwrap_or(serde_json::Value::Null),
        });
        let mut stats = lin.stats.clone();
        stats.ops = ops.len();
        stats.elapsed = started.elapsed();
        outcome.stats = Stats { partitions: 1, ..stats };
        Ok(outcome)
    }
}

fn worst(stale: &[StaleAnswer]) -> Vec<&StaleAnswer> {
    let mut all: Vec<&StaleAnswer> = stale.iter().collect();
    all.sort_by(|a, b| b.breaks_bound.cmp(&a.breaks_bound).then(b.stale_ms.total_cmp(&a.stale_ms)));
    all.truncate(50);
    all
}

/// A read's `:instances` map as states.
fn answers(output: &Value) -> BTreeMap<String, State> {
    let mut out = BTreeMap::new();
    if let Some(Value::Map(entries)) = field(output, "instances") {
        for (k, v) in entries {
            let name = k.as_str().map_or_else(|| k.to_string(), str::to_string);
            let h = match v {
                Value::Str(s) | Value::Keyword(s) => State::of(Some(s)),
                _ => None,
            };
            if let Some(h) = h {
                out.insert(name, h);
            }
        }
    }
    out
}

/// `None` when the answer `got` is fresh; else the acknowledged write it missed and by
/// how long (ns from that write's completion to the read's invocation).
fn staleness<'a, 'w>(
    ws: &'w [Write<'a>],
    got: State,
    read: &ClientOp<'_>,
) -> Option<(&'w Write<'a>, u64)> {
    // The first ok write certainly after `after_ns` and certainly before the read.
    let overwriter = |after_ns: Option<u64>| {
        ws.iter()
            .filter(|w| {
                w.op.ok()
                    && w.op.completed_ns < read.invoked_ns
                    && after_ns.is_none_or(|a| w.op.invoked_ns > a)
            })
            .min_by_key(|w| w.op.completed_ns)
    };
    let mut best: Option<(&Write<'a>, u64)> = None;
    let mut candidates: Vec<Option<u64>> = Vec::new();
    if got == State::Absent {
        candidates.push(None); // the empty start
    }
    candidates.extend(
        ws.iter()
            .filter(|w| w.to == got && w.op.invoked_ns < read.completed_ns)
            .map(|w| Some(w.op.completed_ns)),
    );
    if candidates.is_empty() {
        return None; // nothing explains it: reported by the caller
    }
    for c in candidates {
        match overwriter(c) {
            None => return None, // fresh
            Some(o) => {
                let stale = read.invoked_ns.saturating_sub(o.op.completed_ns);
                if best.is_none_or(|(_, b)| stale < b) {
                    best = Some((o, stale));
                }
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn inst(i: &str, h: Option<&str>) -> Value {
        let mut m = vec![(Value::kw("instance"), Value::Str(i.into()))];
        if let Some(h) = h {
            m.push((Value::kw("health"), Value::Str(h.into())));
        }
        Value::Map(m)
    }

    fn read(c: &str, instances: &[(&str, &str)]) -> Value {
        Value::Map(vec![
            (Value::kw("consistency"), Value::Str(c.into())),
            (
                Value::kw("instances"),
                Value::Map(
                    instances
                        .iter()
                        .map(|(i, h)| (Value::Str((*i).into()), Value::Str((*h).into())))
                        .collect(),
                ),
            ),
        ])
    }

    /// (process, f, input, output, invoke ms, complete ms)
    fn check(ops: &[(u64, &str, Value, Value, u64, u64)], initial: Option<Value>) -> Outcome {
        check_with(ops, &CheckerOptions { initial, ..Default::default() })
    }

    fn ev(o: &Outcome) -> &DiscoveryEvidence {
        o.evidence.get::<DiscoveryEvidence>().unwrap()
    }

    #[test]
    fn consistent_reads_are_linearizable_or_not() {
        let base = vec![
            (0, "register", inst("a", Some("passing")), inst("a", Some("passing")), 0, 10),
            (1, "read", Value::Nil, read("consistent", &[("a", "passing")]), 20, 30),
            (0, "set-health", inst("a", Some("critical")), inst("a", Some("critical")), 40, 50),
            (1, "read", Value::Nil, read("consistent", &[("a", "critical")]), 60, 70),
        ];
        let o = check(&base, None);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        // The flip is lost (a new leader that never had it): not linearizable.
        let mut lost = base.clone();
        lost.push((1, "read", Value::Nil, read("consistent", &[("a", "passing")]), 80, 90));
        let o = check(&lost, None);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
        assert!(o.reason.contains("consistent reads"), "{}", o.reason);
    }

    #[test]
    fn stale_reads_are_timed_and_bounded() {
        let ops = vec![
            (0, "register", inst("a", Some("passing")), inst("a", Some("passing")), 0, 10),
            (0, "deregister", inst("a", None), inst("a", None), 100, 110),
            // Served 2.89 s after the deregister completed: past the default 2 s.
            (1, "read", Value::Nil, read("stale", &[("a", "passing")]), 3000, 3010),
            // A fresh one.
            (1, "read", Value::Nil, read("stale", &[]), 3100, 3110),
        ];
        let o = check(&ops, None);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
        let e = ev(&o);
        assert_eq!(e.stale.len(), 1);
        assert!((e.stale[0].stale_ms - 2890.0).abs() < 1.0, "{:?}", e.stale[0]);
        assert!(e.stale[0].missed_write.starts_with("deregister"), "{:?}", e.stale[0]);
        // A larger bound: reported, not failed.
        let o =
            check(&ops, Some(Value::Map(vec![(Value::kw("stale-bound-ms"), Value::Int(5000))])));
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!(ev(&o).stale.len(), 1);
        // Concurrent with the write: fresh.
        let racing = vec![
            (0, "register", inst("a", Some("passing")), inst("a", Some("passing")), 0, 10),
            (0, "deregister", inst("a", None), inst("a", None), 100, 5000),
            (1, "read", Value::Nil, read("stale", &[("a", "passing")]), 3000, 3010),
        ];
        assert!(ev(&check(&racing, None)).stale.is_empty());
        // A state nobody wrote is always wrong for a non-consistent read (instances
        // on a failed node: `an_instance_on_a_critical_node_is_not_served`).
        let phantom = vec![(1, "read", Value::Nil, read("stale", &[("z", "passing")]), 0, 10)];
        assert_eq!(check(&phantom, None).verdict, Verdict::Invalid);
    }

    /// `v` (a map) with one more field.
    fn plus(v: Value, name: &str, field: Value) -> Value {
        let Value::Map(m) = &v else { unreachable!("a map") };
        let mut m = m.clone();
        m.push((Value::kw(name), field));
        Value::Map(m)
    }

    fn names(xs: &[&str]) -> Value {
        Value::List(xs.iter().map(|x| Value::Str((*x).into())).collect())
    }

    fn extension(name: &str, v: Value) -> CheckerOptions {
        let mut o = CheckerOptions::default();
        o.extension.insert(name.into(), v);
        o
    }

    fn check_with(ops: &[(u64, &str, Value, Value, u64, u64)], o: &CheckerOptions) -> Outcome {
        let mut events = Vec::new();
        for (p, f, input, output, i, c) in ops {
            let mut inv = Op::invoke(*p, f, input.clone());
            inv.time_ns = i * 1_000_000;
            let mut done = Op::ok(*p, f, output.clone());
            done.time_ns = c * 1_000_000;
            events.push(inv);
            events.push(done);
        }
        events.sort_by_key(|o| o.time_ns);
        for (i, o) in events.iter_mut().enumerate() {
            o.index = i as u64;
        }
        CHECKER.checker(o).unwrap().check(&History::from_ops(events).lint().unwrap()).unwrap()
    }

    /// Consul's node-level health: an instance whose node's `serfHealth` is critical
    /// is not served (a `?passing` client would not be sent to it), so a stale answer
    /// about it breaks no bound; the same answer with the node passing does.
    #[test]
    fn an_instance_on_a_critical_node_is_not_served() {
        let flipped = |node_critical: &[&str]| {
            vec![
                (0, "register", inst("a", Some("passing")), inst("a", Some("passing")), 0, 10),
                (
                    0,
                    "set-health",
                    inst("a", Some("critical")),
                    inst("a", Some("critical")),
                    100,
                    110,
                ),
                // 2.89 s after the flip, a stale read still says a's own check passes.
                (
                    1,
                    "read",
                    Value::Nil,
                    plus(read("stale", &[("a", "passing")]), "node-critical", names(node_critical)),
                    3000,
                    3010,
                ),
            ]
        };
        // Its node is dead: stale, reported, but nobody was sent there.
        let o = check(&flipped(&["a"]), None);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let e = ev(&o);
        assert_eq!(e.stale.len(), 1, "{:?}", e.stale);
        assert!(!e.stale[0].served && !e.stale[0].breaks_bound, "{:?}", e.stale[0]);
        // Its node passes: a client was sent to a failing instance for 2.89 s.
        let o = check(&flipped(&[]), None);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
        assert!(ev(&o).stale[0].served, "{:?}", ev(&o).stale[0]);
        assert!(o.explanation.contains("served a as passing"), "{}", o.explanation);
        // A consistent read lists an instance on a dead node with its own check: the
        // node's health changes no instance's own state, so this is linearizable.
        let consistent = vec![
            (0, "register", inst("a", Some("passing")), inst("a", Some("passing")), 0, 10),
            (
                1,
                "read",
                Value::Nil,
                plus(read("consistent", &[("a", "passing")]), "node-critical", names(&["a"])),
                20,
                30,
            ),
        ];
        assert_eq!(check(&consistent, None).verdict, Verdict::Valid);
    }

    /// A read filtered on passing (`:filter "passing"`, Consul's `?passing`) may leave
    /// out an instance whose node failed: its absence proves nothing. What it lists
    /// must be passing and present; an unfiltered read that leaves one out lost it.
    #[test]
    fn a_filtered_read_says_nothing_of_what_it_leaves_out() {
        let filtered = |c: &str, listed: &[(&str, &str)]| {
            plus(read(c, listed), "filter", Value::Str("passing".into()))
        };
        let base = vec![
            (0, "register", inst("a", Some("passing")), inst("a", Some("passing")), 0, 10),
            (2, "register", inst("b", Some("passing")), inst("b", Some("passing")), 0, 10),
        ];
        // a's node is dead: a filtered consistent read lists only b.
        let mut ok = base.clone();
        ok.push((1, "read", Value::Nil, filtered("consistent", &[("b", "passing")]), 20, 30));
        ok.push((1, "read", Value::Nil, filtered("stale", &[("b", "passing")]), 40, 50));
        let o = check(&ok, None);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert!(ev(&o).stale.is_empty(), "{:?}", ev(&o).stale);
        // The same answer unfiltered: a is lost.
        let mut lost = base.clone();
        lost.push((1, "read", Value::Nil, read("consistent", &[("b", "passing")]), 20, 30));
        assert_eq!(check(&lost, None).verdict, Verdict::Invalid);
        // A filtered read that lists a deregistered instance is wrong, consistent...
        let mut gone = base.clone();
        gone.push((0, "deregister", inst("a", None), inst("a", None), 100, 110));
        let mut listed = gone.clone();
        listed.push((
            1,
            "read",
            Value::Nil,
            filtered("consistent", &[("a", "passing"), ("b", "passing")]),
            3000,
            3010,
        ));
        let o = check(&listed, None);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
        assert!(o.reason.contains("consistent reads"), "{}", o.reason);
        // ...and, stale, past the bound: it served it.
        let mut stale = gone;
        stale.push((
            1,
            "read",
            Value::Nil,
            filtered("stale", &[("a", "passing"), ("b", "passing")]),
            3000,
            3010,
        ));
        let o = check(&stale, None);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
        assert!(ev(&o).stale.iter().any(|s| s.instance == "a" && s.breaks_bound));
    }

    /// The bound is the checker option `stale-bound-ms` (`--option`); the older
    /// `--initial {:stale-bound-ms N}` agrees with it or is refused; anything else is
    /// a clear error.
    #[test]
    fn the_bound_is_an_option() {
        let ops = vec![
            (0, "register", inst("a", Some("passing")), inst("a", Some("passing")), 0, 10),
            (0, "deregister", inst("a", None), inst("a", None), 100, 110),
            (1, "read", Value::Nil, read("default", &[("a", "passing")]), 3000, 3010),
        ];
        assert_eq!(check(&ops, None).verdict, Verdict::Invalid);
        let o = check_with(&ops, &extension("stale-bound-ms", Value::Int(5000)));
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!(ev(&o).bound_ms, 5000);
        // As `--option stale-bound-ms=5000` gives it (text) too.
        let o = check_with(&ops, &extension("stale-bound-ms", Value::Str("5000".into())));
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let err = |o: CheckerOptions| match CHECKER.checker(&o) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("accepted {o:?}"),
        };
        assert!(err(extension("max-stale", Value::Int(1))).contains("no option \"max-stale\""));
        assert!(err(extension("stale-bound-ms", Value::Int(-1))).contains("at least 0"));
        assert!(err(extension("stale-bound-ms", Value::Str("soon".into()))).contains("integer"));
        let mut both = extension("stale-bound-ms", Value::Int(5000));
        both.initial = Some(Value::Map(vec![(Value::kw("stale-bound-ms"), Value::Int(10))]));
        assert!(err(both.clone()).contains("two bounds"), "{}", err(both));
        let same = CheckerOptions {
            initial: Some(Value::Map(vec![(Value::kw("stale-bound-ms"), Value::Int(5000))])),
            ..extension("stale-bound-ms", Value::Int(5000))
        };
        assert_eq!(check_with(&ops, &same).verdict, Verdict::Valid);
        assert!(
            err(CheckerOptions { initial: Some(Value::Int(3)), ..Default::default() })
                .contains("stale-bound-ms")
        );
    }
}
