//! `membership`: does every node's gossip view follow what really happened to the
//! nodes, and how fast do the views converge after each fault heals?
//!
//! The history is the `membership` workload's: `members` operations whose completion
//! maps each member to `alive`, `suspect` or `dead`, from the node the completion
//! names; and the nemesis's operations, which say what happened: `kill`, `stop` and
//! `pause` take their `:nodes` down, `start-partition` cuts its `:blocked` links,
//! `heal-all` undoes everything; any other fault (loss, delay, clock, families this
//! checker does not know) suspends the rules below until the next heal.
//!
//! From those, for every observer and member at every moment: the member should be
//! *alive* in the observer's view when it is up and reachable from the observer (a
//! path of links open both ways between live nodes: SWIM's indirect probes and
//! gossip carry it), *dead* when it is down or cut off from the observer. The rules
//! (SWIM's promises; Serf's, so Consul's):
//!
//! - **no live reachable node stays dead**: once a member should be alive, a view
//!   taken more than the convergence bound later must not say `dead` (`suspect` is
//!   allowed: it is how SWIM doubts before it decides);
//! - **no dead node stays alive**: once a member should be dead, a view taken more
//!   than the failure-detection bound later must not say `alive`;
//! - **convergence after each heal**: the time from the heal until every node's view
//!   shows every member alive, and keeps showing it until the next fault: reported
//!   per event (and plotted); longer than the convergence bound is invalid.
//!
//! Bounds: `--initial {:detect-ms N, :converge-ms N}`, defaults
//! [`DEFAULT_DETECT_MS`] and [`DEFAULT_CONVERGE_MS`].

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use history::{Linted, Value};
use serde::Serialize;

use crate::ops::{client_ops, field, nemesis_ops, secs, text_field, uint_field};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Plot, Role, Section, Series, Table};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats, Verdict};

/// The failure-detection bound, by default: a member down (or cut off) this long
/// must no longer be `alive` in any view.
pub const DEFAULT_DETECT_MS: u64 = 10_000;
/// The convergence bound, by default: a member up and reachable this long must not be
/// `dead` in any view, and every view must show every member alive this long after a
/// heal.
pub const DEFAULT_CONVERGE_MS: u64 = 10_000;

/// `membership` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "membership",
    summary: "gossip views: live reachable members not left dead, dead ones detected, views \
              converge after each heal (times per event)",
    make: |o| {
        let bad = |v: &Value| {
            CheckError::BadModel(format!(
                "the membership checker takes {{:detect-ms N, :converge-ms N}}, got {v}"
            ))
        };
        let (detect_ms, converge_ms) = match &o.initial {
            None | Some(Value::Nil) => (DEFAULT_DETECT_MS, DEFAULT_CONVERGE_MS),
            Some(v @ Value::Map(entries)) => {
                if entries.iter().any(|(k, _)| !matches!(k, Value::Keyword(k) | Value::Str(k) if k == "detect-ms" || k == "converge-ms")) {
                    return Err(bad(v));
                }
                let get = |name, default| match field(v, name) {
                    None => Ok(default),
                    Some(_) => uint_field(v, name).ok_or_else(|| bad(v)),
                };
                (get("detect-ms", DEFAULT_DETECT_MS)?, get("converge-ms", DEFAULT_CONVERGE_MS)?)
            }
            Some(v) => return Err(bad(v)),
        };
        o.refuse_extension("membership")?;
        Ok(Box::new(MembershipChecker { detect_ms, converge_ms }))
    },
};

pub struct MembershipChecker {
    pub detect_ms: u64,
    pub converge_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Seen {
    Alive,
    Suspect,
    Dead,
}

/// One rule broken.
#[derive(Debug, Clone, Serialize)]
pub struct MembershipAnomaly {
    /// `live-marked-dead`, `dead-still-alive`, `not-converged`, `slow-convergence`.
    pub kind: &'static str,
    pub positions: Vec<usize>,
    pub message: String,
}

/// One fault event and how the views converged after it healed.
#[derive(Debug, Clone, Serialize)]
pub struct MembershipEvent {
    pub faults: Vec<String>,
    pub started_s: f64,
    pub healed_s: f64,
    /// Seconds from the heal until every view showed every member alive for good;
    /// `None`: not before the next fault (or the end).
    pub convergence_s: Option<f64>,
    /// How much of `convergence_s` is sampling: the views converged no earlier than
    /// this (the last view still not converged, or the heal); far below
    /// `convergence_s` when no view was asked for in between (e.g. the recovery
    /// after the final heal).
    pub at_least_s: f64,
    /// Per observer.
    pub per_node_s: BTreeMap<String, Option<f64>>,
}

/// The membership checker's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct MembershipEvidence {
    pub detect_ms: u64,
    pub converge_ms: u64,
    pub events: Vec<MembershipEvent>,
    pub anomalies: Vec<MembershipAnomaly>,
    pub samples: usize,
}

/// What the nodes were like from some time on.
#[derive(Debug, Clone, Default, PartialEq)]
struct World {
    down: BTreeSet<String>,
    blocked: BTreeSet<(String, String)>,
    /// A fault whose effect on gossip this checker does not model.
    disturbed: bool,
}

impl World {
    fn reachable(&self, nodes: &BTreeSet<String>, from: &str, to: &str) -> bool {
        let up = |n: &String| !self.down.contains(n);
        let open = |a: &String, b: &String| {
            !self.blocked.contains(&(a.clone(), b.clone()))
                && !self.blocked.contains(&(b.clone(), a.clone()))
        };
        let mut seen: BTreeSet<&String> = BTreeSet::new();
        let mut queue: VecDeque<&String> = nodes.iter().filter(|n| *n == from && up(n)).collect();
        while let Some(n) = queue.pop_front() {
            if n == to {
                return true;
            }
            if !seen.insert(n) {
                continue;
            }
            queue.extend(nodes.iter().filter(|m| up(m) && !seen.contains(m) && open(n, m)));
        }
        false
    }

    /// What `observer` should see `member` as: `None` when not judged.
    fn expect(&self, nodes: &BTreeSet<String>, observer: &str, member: &str) -> Option<Seen> {
        if self.disturbed || self.down.contains(observer) {
            return None;
        }
        if observer == member {
            return Some(Seen::Alive);
        }
        if self.down.contains(member) || !self.reachable(nodes, observer, member) {
            return Some(Seen::Dead);
        }
        Some(Seen::Alive)
    }
}

struct Sample {
    pos: usize,
    invoked: u64,
    at: u64,
    observer: String,
    view: BTreeMap<String, Seen>,
}

fn names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| {
            l.iter().map(|n| n.as_str().map_or_else(|| n.to_string(), str::to_string)).collect()
        })
        .unwrap_or_default()
}

impl Checker for MembershipChecker {
    fn name(&self) -> String {
        "membership".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let place = |p: usize| history.history().place(p);
        let ops = client_ops(history);
        let mut samples = Vec::new();
        for op in ops.iter().filter(|o| o.ok()) {
            if op.f != "members" {
                return Err(CheckError::BadOperation {
                    place: place(op.invoke),
                    message: format!("the membership checker knows members, not {:?}", op.f),
                });
            }
            let Value::Map(entries) = op.output else {
                return Err(CheckError::BadOperation {
                    place: place(op.invoke),
                    message: format!(
                        "a members view is a map of member to state, found {}",
                        op.output
                    ),
                });
            };
            let mut view = BTreeMap::new();
            for (k, v) in entries {
                let state = match v.as_str() {
                    Some("alive") => Seen::Alive,
                    Some("suspect") => Seen::Suspect,
                    Some("dead") => Seen::Dead,
                    _ => {
                        return Err(CheckError::BadOperation {
                            place: place(op.invoke),
                            message: format!(
                                "a member's state is alive, suspect or dead, found {v}"
                            ),
                        });
                    }
                };
                view.insert(k.as_str().map_or_else(|| k.to_string(), str::to_string), state);
            }
            let observer = op.node.ok_or_else(|| CheckError::BadOperation {
                place: place(op.invoke),
                message: "a members view must say whose it is (the completion's node)".into(),
            })?;
            samples.push(Sample {
                pos: op.invoke,
                invoked: op.invoked_ns,
                at: op.completed_ns,
                observer: observer.to_string(),
                view,
            });
        }
        // The world over time, and the fault events between heals.
        let mut timeline: Vec<(u64, World)> = vec![(0, World::default())];
        let mut events: Vec<(u64, Vec<String>, Option<u64>)> = Vec::new();
        let mut nodes: BTreeSet<String> = BTreeSet::new();
        for n in nemesis_ops(history) {
            let mut world = timeline.last().map(|(_, w)| w.clone()).unwrap_or_default();
            let what = match n.f {
                "kill" | "stop" | "pause" => {
                    let down = names(field(n.fault, "nodes"));
                    nodes.extend(down.iter().cloned());
                    world.down.extend(down.iter().cloned());
                    format!("{} {}", n.f, down.join(" "))
                }
                "start-partition" => {
                    let mut cut = Vec::new();
                    for link in
                        field(n.fault, "blocked").and_then(Value::as_list).into_iter().flatten()
                    {
                        if let [a, b] = names(Some(link)).as_slice() {
                            world.blocked.insert((a.clone(), b.clone()));
                            nodes.extend([a.clone(), b.clone()]);
                            cut.push(format!("{a}→{b}"));
                        }
                    }
                    format!(
                        "partition {} ({})",
                        text_field(n.fault, "shape").unwrap_or("?"),
                        cut.join(" ")
                    )
                }
                "heal-all" => {
                    if let Some(open) = events.last_mut().filter(|e| e.2.is_none()) {
                        open.2 = Some(n.completed_ns);
                    }
                    timeline.push((n.completed_ns, World::default()));
                    continue;
                }
                other => {
                    world.disturbed = true;
                    other.to_string()
                }
            };
            timeline.push((n.completed_ns, world));
            match events.last_mut() {
                Some(open) if open.2.is_none() => open.1.push(what),
                _ => events.push((n.invoked_ns, vec![what], None)),
            }
        }
        for s in &samples {
            nodes.insert(s.observer.clone());
            nodes.extend(s.view.keys().cloned());
        }
        let world_at = |t: u64| -> (usize, &World) {
            let i = timeline.partition_point(|(from, _)| *from <= t).saturating_sub(1);
            (i, &timeline[i].1)
        };
        // Since when the expectation has held (the earliest start of the run of
        // timeline entries, ending at `t`'s, that all expect the same).
        let since = |t: u64, o: &str, x: &str| -> (Option<Seen>, u64) {
            let (mut i, w) = world_at(t);
            let e = w.expect(&nodes, o, x);
            while i > 0 && timeline[i - 1].1.expect(&nodes, o, x) == e {
                i -= 1;
            }
            (e, timeline[i].0)
        };
        let mut anomalies: Vec<MembershipAnomaly> = Vec::new();
        let mut reported: BTreeSet<(String, String, u64)> = BTreeSet::new();
        for s in &samples {
            if s.at == u64::MAX {
                continue;
            }
            for x in &nodes {
                let (e1, from) = since(s.at, &s.observer, x);
                // The expectation must also have held when the view was asked for.
                let (e0, _) = since(s.invoked, &s.observer, x);
                let Some(expected) = e1.filter(|_| e0 == e1) else { continue };
                let seen = s.view.get(x).copied().unwrap_or(Seen::Dead);
                let (bound, broken, kind) = match expected {
                    Seen::Alive => (self.converge_ms, seen == Seen::Dead, "live-marked-dead"),
                    _ => (self.detect_ms, seen == Seen::Alive, "dead-still-alive"),
                };
                let waited = s.invoked.saturating_sub(from);
                if broken
                    && waited > bound * 1_000_000
                    && reported.insert((s.observer.clone(), x.clone(), from))
                {
                    let how = if s.view.contains_key(x) {
                        format!("{seen:?}").to_lowercase()
                    } else {
                        "missing".into()
                    };
                    let should = match expected {
                        Seen::Alive => "up and reachable from it",
                        _ => "down or cut off from it",
                    };
                    anomalies.push(MembershipAnomaly {
                        kind,
                        positions: vec![s.pos],
                        message: format!(
                            "{}'s view at {} ({}) shows {x} {how}, though {x} had been {should} since {} ({:.1} s, over the {} ms bound)",
                            s.observer, secs(s.at), place(s.pos), secs(from), waited as f64 / 1e9, bound
                        ),
                    });
                }
            }
        }
        // Convergence after each heal.
        let end = samples.iter().map(|s| s.at).filter(|t| *t != u64::MAX).max().unwrap_or(0);
        let mut out_events = Vec::new();
        for (i, (started_ns, faults, healed)) in events.iter().enumerate() {
            let Some(h) = *healed else { continue };
            let next = events.get(i + 1).map_or(u64::MAX, |e| e.0);
            let mut per_node = BTreeMap::new();
            let mut at_least_s: f64 = 0.0;
            for o in &nodes {
                let window: Vec<&Sample> = samples
                    .iter()
                    .filter(|s| s.observer == *o && s.invoked >= h && s.at < next)
                    .collect();
                if window.is_empty() {
                    continue;
                }
                let all_alive =
                    |s: &Sample| nodes.iter().all(|x| s.view.get(x) == Some(&Seen::Alive));
                let k = window.iter().rposition(|s| !all_alive(s)).map_or(0, |k| k + 1);
                if k > 0 {
                    at_least_s = at_least_s.max((window[k - 1].at - h) as f64 / 1e9);
                }
                per_node.insert(o.clone(), window.get(k).map(|s| (s.at - h) as f64 / 1e9));
            }
            let convergence_s = if per_node.is_empty() || per_node.values().any(Option::is_none) {
                None
            } else {
                per_node.values().flatten().copied().reduce(f64::max)
            };
            let window_s = (next.min(end).saturating_sub(h)) as f64 / 1e9;
            let bound_s = self.converge_ms as f64 / 1e3;
            match convergence_s {
                Some(c) if c > bound_s => anomalies.push(MembershipAnomaly {
                    kind: "slow-convergence",
                    positions: vec![],
                    message: format!("after the heal at {} ({}) the views took {c:.2} s to converge, over the {} ms bound", secs(h), faults.join(", "), self.converge_ms),
                }),
                None if window_s > bound_s && !per_node.is_empty() => anomalies.push(MembershipAnomaly {
                    kind: "not-converged",
                    positions: vec![],
                    message: format!(
                        "after the heal at {} ({}) the views had not all shown every member alive {window_s:.1} s later (nodes not converged: {})",
                        secs(h), faults.join(", "),
                        per_node.iter().filter(|(_, c)| c.is_none()).map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
                    ),
                }),
                _ => {}
            }
            out_events.push(MembershipEvent {
                faults: faults.clone(),
                started_s: *started_ns as f64 / 1e9,
                healed_s: h as f64 / 1e9,
                convergence_s,
                at_least_s,
                per_node_s: per_node,
            });
        }
        let mut outcome = match anomalies.first() {
            Some(a) => Outcome::new(
                Verdict::Invalid,
                format!(
                    "{} membership anomal{} ({})",
                    anomalies.len(),
                    if anomalies.len() == 1 { "y" } else { "ies" },
                    a.kind
                ),
                a.message.clone(),
            ),
            None if samples.is_empty() => {
                Outcome::new(Verdict::Unknown, "no view was read: nothing to judge", "")
            }
            None => {
                let times: Vec<String> = out_events
                    .iter()
                    .map(|e| e.convergence_s.map_or("not judged".into(), |c| span(e.at_least_s, c)))
                    .collect();
                Outcome::new(
                    Verdict::Valid,
                    format!(
                        "{} views of {} nodes followed the faults; convergence after each heal: {}",
                        samples.len(),
                        nodes.len(),
                        if times.is_empty() { "no faults".into() } else { times.join(", ") }
                    ),
                    "",
                )
            }
        };
        outcome.section = section(&out_events, &anomalies, self);
        outcome.evidence = Evidence::new(MembershipEvidence {
            detect_ms: self.detect_ms,
            converge_ms: self.converge_ms,
            events: out_events,
            anomalies,
            samples: samples.len(),
        });
        outcome.stats =
            Stats { ops: ops.len(), partitions: 1, elapsed: started.elapsed(), ..Stats::default() };
        Ok(outcome)
    }
}

/// A convergence time, as a range when sampling leaves it uncertain by more than
/// half a second.
fn span(at_least_s: f64, c: f64) -> String {
    if c - at_least_s > 0.5 {
        format!("{at_least_s:.2}-{c:.2} s (between views)")
    } else {
        format!("{c:.2} s")
    }
}

fn section(
    events: &[MembershipEvent],
    anomalies: &[MembershipAnomaly],
    c: &MembershipChecker,
) -> Section {
    let mut s = Section::new("Gossip membership").with(Block::paragraph(format!(
        "Bounds: failure detection {} ms, convergence {} ms. Convergence time: from a heal until \
         every node's view shows every member alive and keeps showing it.",
        c.detect_ms, c.converge_ms
    )));
    s.blocks.push(Block::Plot(Plot {
        title: "convergence time after each heal".into(),
        x_label: "heal (s)".into(),
        y_label: "convergence (s)".into(),
        time_axis: true,
        series: vec![Series {
            name: "all views alive".into(),
            points: events.iter().filter_map(|e| Some((e.healed_s, e.convergence_s?))).collect(),
        }],
    }));
    let nodes: BTreeSet<&String> = events.iter().flat_map(|e| e.per_node_s.keys()).collect();
    let mut columns: Vec<String> =
        ["faults", "started (s)", "healed (s)", "converged after (s)"].map(String::from).to_vec();
    columns.extend(nodes.iter().map(|n| format!("{n} (s)")));
    s.blocks.push(Block::Table(Table {
        caption: Some("each fault event".into()),
        columns,
        rows: events
            .iter()
            .map(|e| {
                let f = |x: Option<f64>| {
                    x.map_or("not before the next fault".into(), |x| format!("{x:.2}"))
                };
                let mut row = vec![
                    e.faults.join(", "),
                    format!("{:.2}", e.started_s),
                    format!("{:.2}", e.healed_s),
                    e.convergence_s.map_or_else(|| f(None), |c| span(e.at_least_s, c)),
                ];
                row.extend(
                    nodes.iter().map(|n| e.per_node_s.get(*n).map_or("-".into(), |x| f(*x))),
                );
                row
            })
            .collect(),
    }));
    if !anomalies.is_empty() {
        s.blocks.push(Block::Table(Table {
            caption: Some("anomalies".into()),
            columns: vec!["kind".into(), "what happened".into()],
            rows: anomalies
                .iter()
                .take(50)
                .map(|a| vec![a.kind.into(), a.message.clone()])
                .collect(),
        }));
        s.blocks.push(Block::Operations(Operations {
            caption: Some("views that broke a rule".into()),
            ops: anomalies
                .iter()
                .take(50)
                .flat_map(|a| {
                    a.positions.iter().map(|&p| Highlight {
                        position: p,
                        role: Role::Culprit,
                        label: a.kind.into(),
                    })
                })
                .collect(),
        }));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op, Process};

    struct H(Vec<Op>);

    fn kw_map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (Value::kw(k), v)).collect())
    }

    fn strs(l: &[&str]) -> Value {
        Value::List(l.iter().map(|s| Value::Str((*s).into())).collect())
    }

    impl H {
        fn at(&mut self, mut op: Op, ms: u64) {
            op.time_ns = ms * 1_000_000;
            op.index = self.0.len() as u64;
            self.0.push(op);
        }

        fn view(&mut self, p: u64, node: &str, states: &[(&str, &str)], ms: u64) {
            self.at(Op::invoke(p, "members", Value::Nil), ms);
            let mut done = Op::ok(
                p,
                "members",
                Value::Map(
                    states
                        .iter()
                        .map(|(n, s)| (Value::Str((*n).into()), Value::Str((*s).into())))
                        .collect(),
                ),
            );
            done.node = Some(node.into());
            self.at(done, ms + 5);
        }

        fn nemesis(&mut self, f: &str, value: Value, ms: u64) {
            self.at(Op::new(Process::Nemesis, history::OpKind::Invoke, f, value.clone()), ms);
            self.at(Op::new(Process::Nemesis, history::OpKind::Info, f, value), ms + 1);
        }

        fn check(self, initial: Option<Value>) -> Outcome {
            let def = CHECKER
                .checker(&crate::registry::CheckerOptions { initial, ..Default::default() })
                .unwrap();
            def.check(&History::from_ops(self.0).lint().unwrap()).unwrap()
        }
    }

    const ALL_ALIVE: [(&str, &str); 3] = [("n1", "alive"), ("n2", "alive"), ("n3", "alive")];
    const N3_DEAD: [(&str, &str); 3] = [("n1", "alive"), ("n2", "alive"), ("n3", "dead")];

    fn bounds() -> Option<Value> {
        Some(kw_map(vec![("detect-ms", Value::Int(3000)), ("converge-ms", Value::Int(3000))]))
    }

    #[test]
    fn a_kill_detected_and_healed_converges_with_its_time() {
        let mut h = H(vec![]);
        h.view(0, "n1", &ALL_ALIVE, 100);
        h.nemesis("kill", kw_map(vec![("nodes", strs(&["n3"]))]), 1000);
        h.view(0, "n1", &ALL_ALIVE, 1500); // not detected yet: within the bound
        h.view(1, "n2", &N3_DEAD, 4500);
        h.view(0, "n1", &N3_DEAD, 4600);
        h.nemesis("heal-all", Value::Nil, 6000);
        h.view(0, "n1", &N3_DEAD, 6500);
        h.view(1, "n2", &ALL_ALIVE, 7000);
        h.view(0, "n1", &ALL_ALIVE, 7500);
        h.view(2, "n3", &ALL_ALIVE, 7600);
        h.view(0, "n1", &ALL_ALIVE, 9500);
        let o = h.check(bounds());
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let ev = o.evidence.get::<MembershipEvidence>().unwrap();
        assert_eq!(ev.events.len(), 1);
        let c = ev.events[0].convergence_s.unwrap();
        assert!((c - 1.605).abs() < 0.01, "{c}");
        // n1 still saw n3 dead at 6.505 s: converged between 0.505 s and 1.605 s.
        assert!((ev.events[0].at_least_s - 0.505).abs() < 0.01, "{:?}", ev.events[0]);
        let shown = span(ev.events[0].at_least_s, c);
        assert!(shown.ends_with("(between views)") && o.reason.contains(&shown), "{}", o.reason);
        assert_eq!(ev.events[0].faults, vec!["kill n3".to_string()]);
    }

    #[test]
    fn undetected_deaths_lingering_deaths_and_partitions() {
        // n3 is killed, yet n1 says alive 4 s later.
        let mut h = H(vec![]);
        h.nemesis("kill", kw_map(vec![("nodes", strs(&["n3"]))]), 1000);
        h.view(0, "n1", &ALL_ALIVE, 5000);
        let o = h.check(bounds());
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
        assert!(o.reason.contains("dead-still-alive"), "{}", o.reason);

        // After the heal n1 keeps n3 dead past the convergence bound.
        let mut h = H(vec![]);
        h.nemesis("kill", kw_map(vec![("nodes", strs(&["n3"]))]), 1000);
        h.nemesis("heal-all", Value::Nil, 2000);
        h.view(0, "n1", &N3_DEAD, 6000);
        h.view(0, "n1", &N3_DEAD, 9000);
        let o = h.check(bounds());
        let kinds: Vec<_> = o
            .evidence
            .get::<MembershipEvidence>()
            .unwrap()
            .anomalies
            .iter()
            .map(|a| a.kind)
            .collect();
        assert!(
            kinds.contains(&"live-marked-dead") && kinds.contains(&"not-converged"),
            "{kinds:?}"
        );

        // A partition isolating n3: n1 must mark it dead, but n2 (same side) alive.
        let mut h = H(vec![]);
        let cut = Value::List(
            ["n1", "n2"].iter().flat_map(|o| [strs(&[o, "n3"]), strs(&["n3", o])]).collect(),
        );
        h.nemesis(
            "start-partition",
            kw_map(vec![("shape", Value::Str("isolate-one".into())), ("blocked", cut)]),
            1000,
        );
        h.view(0, "n1", &N3_DEAD, 5000);
        h.view(1, "n2", &[("n1", "dead"), ("n2", "alive"), ("n3", "dead")], 5000);
        let o = h.check(bounds());
        assert!(
            o.explanation.contains("n2's view") && o.explanation.contains("n1 dead"),
            "{}",
            o.summary()
        );

        // Unknown faults suspend the rules.
        let mut h = H(vec![]);
        h.nemesis("start-loss", kw_map(vec![]), 1000);
        h.view(0, "n1", &N3_DEAD, 5000);
        assert_eq!(h.check(bounds()).verdict, Verdict::Valid);
    }

    #[test]
    fn bounds_are_checked() {
        let err = CHECKER.checker(&crate::registry::CheckerOptions {
            initial: Some(Value::Int(3)),
            ..Default::default()
        });
        assert!(err.is_err());
        let err = CHECKER.checker(&crate::registry::CheckerOptions {
            initial: Some(kw_map(vec![("detect", Value::Int(3))])),
            ..Default::default()
        });
        assert!(err.is_err());
    }
}
