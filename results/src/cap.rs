//! CAP figures: for each partition window, what each side of the cut could still
//! do. A partition splits the nodes into sides (groups that still reach each
//! other both ways, as a TCP connection needs); the **majority side** is the one
//! holding more than half of the nodes, the **minority side** every other node.
//! Per side: availability (operations that succeeded of all invoked there during
//! the window) and the latency of the ones that succeeded; where the leader was
//! when the cut was made and when it was healed (the `primaries` the nemesis
//! asked the system for); and the **time to recover**, from the cut until the
//! first operation invoked after it on the majority side succeeded. A linearizable
//! system gives up the minority side (C over A); one that keeps serving there is
//! choosing A, and the checkers say whether it kept C too.
//!
//! Shapes with no clean sides (a majorities ring, a bridge: every node still
//! reaches a majority through others) get the figures for all nodes only.
//!
//! Built in one pass over the operations ([`CapBuilder::push`]), holding only the
//! operations in flight, so it runs on a history of any length (the harness
//! streams `history.jsonl` into it for `results.json`; the report feeds it the
//! loaded history).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use history::{Op, OpKind, Process, Value};
use serde::{Deserialize, Serialize};

use crate::html::esc;

/// The nemesis `f` that starts a partition.
const START_PARTITION: &str = "start-partition";
/// The nemesis `f` that heals every fault.
const HEAL_ALL: &str = "heal-all";
/// The completion's `extra` key naming the leaders at that moment.
const PRIMARIES: &str = "primaries";

/// One side's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SideFigures {
    /// Its nodes (empty for "all nodes").
    pub nodes: Vec<String>,
    pub ok: u64,
    pub total: u64,
    /// `ok / total`; `None` when nothing was invoked there.
    pub availability: Option<f64>,
    /// Latency of the successful operations, nearest-rank quantiles.
    pub ok_latency_p50_ms: Option<f64>,
    pub ok_latency_p99_ms: Option<f64>,
}

/// The figures of one partition window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapWindow {
    /// The partition's shape as the nemesis named it (`primaries`, `bridge`).
    pub shape: String,
    /// Seconds since the run started: the cut in force, and the heal starting.
    pub start_s: f64,
    pub end_s: f64,
    /// The side with more than half of the nodes (`None`: no clean sides).
    pub majority: Option<SideFigures>,
    pub minority: Option<SideFigures>,
    pub all: SideFigures,
    /// The leader(s) when the cut was made, and on which side.
    pub leader_at_start: Vec<String>,
    pub leader_side_at_start: Option<String>,
    /// The leader(s) just before the heal, and on which side.
    pub leader_at_end: Vec<String>,
    pub leader_side_at_end: Option<String>,
    /// From the cut to the completion of the first successful operation invoked
    /// after it on the majority side; `None`: it never served during the window.
    pub majority_recovery_ms: Option<f64>,
}

/// What is kept per side while the window's operations complete.
#[derive(Default)]
struct Tally {
    ok: u64,
    total: u64,
    latencies_ns: Vec<u64>,
}

impl Tally {
    fn figures(&mut self, nodes: &[String]) -> SideFigures {
        self.latencies_ns.sort_unstable();
        let q = |p: f64| {
            let n = self.latencies_ns.len();
            (n > 0).then(|| {
                let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
                self.latencies_ns[rank - 1] as f64 / 1e6
            })
        };
        SideFigures {
            nodes: nodes.to_vec(),
            ok: self.ok,
            total: self.total,
            availability: (self.total > 0).then(|| self.ok as f64 / self.total as f64),
            ok_latency_p50_ms: q(0.50),
            ok_latency_p99_ms: q(0.99),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Majority,
    Minority,
    /// Not a node of the partition (or not recorded): counts for all only.
    Neither,
}

struct Window {
    shape: String,
    start_ns: u64,
    end_ns: Option<u64>,
    /// node name -> side; empty when there are no clean sides.
    sides: BTreeMap<String, Side>,
    majority_nodes: Vec<String>,
    minority_nodes: Vec<String>,
    majority: Tally,
    minority: Tally,
    all: Tally,
    leader_at_start: Vec<String>,
    leader_at_end: Option<Vec<String>>,
    first_majority_ok_ns: Option<u64>,
}

impl Window {
    fn side_of(&self, node: Option<&str>) -> Side {
        node.and_then(|n| self.sides.get(n)).copied().unwrap_or(Side::Neither)
    }

    fn side_name(&self, leaders: &[String]) -> Option<String> {
        let sides: BTreeSet<&str> = leaders
            .iter()
            .map(|l| match self.side_of(Some(l)) {
                Side::Majority => "majority",
                Side::Minority => "minority",
                Side::Neither => "neither",
            })
            .collect();
        (!sides.is_empty() && !self.sides.is_empty())
            .then(|| sides.into_iter().collect::<Vec<_>>().join("+"))
    }
}

/// An operation in flight: invoke time, node, and the window it was invoked in.
struct InFlight {
    start_ns: u64,
    node: Option<String>,
    window: Option<usize>,
}

/// Builds the figures one operation at a time, in history order.
#[derive(Default)]
pub struct CapBuilder {
    windows: Vec<Window>,
    /// The window in force (cut, not yet healed).
    current: Option<usize>,
    /// The last window closed whose leader at heal is not known yet.
    awaiting_heal: Option<usize>,
    in_flight: HashMap<u64, InFlight>,
    last_ns: u64,
}

fn names(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_list)
        .map(|l| l.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

/// The sides of a cut: groups of nodes that reach each other both ways
/// (transitively). Returns (majority, minority) when one group holds more than
/// half of the nodes and there is more than one group.
fn sides(
    nodes: &[String],
    blocked: &BTreeSet<(String, String)>,
) -> Option<(Vec<String>, Vec<String>)> {
    let n = nodes.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for a in 0..n {
        for b in (a + 1)..n {
            let cut = blocked.contains(&(nodes[a].clone(), nodes[b].clone()))
                || blocked.contains(&(nodes[b].clone(), nodes[a].clone()));
            if !cut {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                parent[ra] = rb;
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for (i, node) in nodes.iter().enumerate() {
        let root = find(&mut parent, i);
        groups.entry(root).or_default().push(node.clone());
    }
    if groups.len() < 2 {
        return None;
    }
    let majority = groups.values().find(|g| g.len() * 2 > n)?.clone();
    let minority = nodes.iter().filter(|x| !majority.contains(x)).cloned().collect();
    Some((majority, minority))
}

/// Node names sorted as n1, n2, ..., n10.
fn sort_nodes(nodes: &mut [String]) {
    nodes
        .sort_by_key(|n| (n.trim_start_matches('n').parse::<u64>().unwrap_or(u64::MAX), n.clone()));
}

impl CapBuilder {
    pub fn new() -> CapBuilder {
        CapBuilder::default()
    }

    /// Takes the next operation of the history.
    pub fn push(&mut self, op: &Op) {
        self.last_ns = self.last_ns.max(op.time_ns);
        match op.process {
            Process::Nemesis => self.nemesis(op),
            Process::Client(p) => self.client(p, op),
        }
    }

    fn nemesis(&mut self, op: &Op) {
        if op.f == HEAL_ALL && op.kind == OpKind::Invoke {
            if let Some(w) = self.current.take() {
                self.windows[w].end_ns = Some(op.time_ns);
                self.awaiting_heal = Some(w);
            }
            return;
        }
        if op.f == HEAL_ALL {
            if let Some(w) = self.awaiting_heal.take()
                && self.windows[w].leader_at_end.is_none()
                && let Some(p) = op.extra.get(PRIMARIES)
            {
                self.windows[w].leader_at_end = Some(names(Some(p)));
            }
            return;
        }
        if op.f != START_PARTITION || op.kind == OpKind::Invoke || op.error.is_some() {
            return;
        }
        // The completion: its value maps every node to what was done there, and
        // its `fault` holds the resolved cut.
        let mut nodes: Vec<String> = match &op.value {
            Value::Map(m) => m.iter().filter_map(|(k, _)| k.as_str().map(str::to_string)).collect(),
            _ => Vec::new(),
        };
        sort_nodes(&mut nodes);
        let fault = op.extra.get("fault");
        let shape = fault
            .and_then(|f| f.get(&Value::kw("shape")))
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string();
        let blocked: BTreeSet<(String, String)> = fault
            .and_then(|f| f.get(&Value::kw("blocked")))
            .and_then(Value::as_list)
            .into_iter()
            .flatten()
            .filter_map(|link| {
                let l = link.as_list()?;
                Some((l.first()?.as_str()?.to_string(), l.get(1)?.as_str()?.to_string()))
            })
            .collect();
        if blocked.is_empty() {
            return; // nothing was cut (a refused partition)
        }
        let (mut majority_nodes, mut minority_nodes) = sides(&nodes, &blocked).unwrap_or_default();
        sort_nodes(&mut majority_nodes);
        sort_nodes(&mut minority_nodes);
        let mut side_map = BTreeMap::new();
        for n in &majority_nodes {
            side_map.insert(n.clone(), Side::Majority);
        }
        for n in &minority_nodes {
            side_map.insert(n.clone(), Side::Minority);
        }
        if let Some(w) = self.current.take() {
            self.windows[w].end_ns = Some(op.time_ns);
        }
        self.windows.push(Window {
            shape,
            start_ns: op.time_ns,
            end_ns: None,
            sides: side_map,
            majority_nodes,
            minority_nodes,
            majority: Tally::default(),
            minority: Tally::default(),
            all: Tally::default(),
            leader_at_start: names(op.extra.get(PRIMARIES)),
            leader_at_end: None,
            first_majority_ok_ns: None,
        });
        self.current = Some(self.windows.len() - 1);
    }

    fn client(&mut self, process: u64, op: &Op) {
        if op.kind == OpKind::Invoke {
            let flight =
                InFlight { start_ns: op.time_ns, node: op.node.clone(), window: self.current };
            if let Some(old) = self.in_flight.insert(process, flight) {
                self.finish(old, None); // a second invoke: the first never completed
            }
            return;
        }
        if let Some(mut flight) = self.in_flight.remove(&process) {
            if flight.node.is_none() {
                flight.node = op.node.clone();
            }
            let ok = (op.kind == OpKind::Ok).then_some(op.time_ns);
            self.finish(flight, ok);
        }
    }

    /// Counts an operation for its window; `ok` is its completion time when it
    /// succeeded.
    fn finish(&mut self, flight: InFlight, ok: Option<u64>) {
        let Some(w) = flight.window else { return };
        let window = &mut self.windows[w];
        let side = window.side_of(flight.node.as_deref());
        let latency = ok.map(|t| t.saturating_sub(flight.start_ns));
        for tally in [
            Some(&mut window.all),
            (side == Side::Majority).then_some(&mut window.majority),
            (side == Side::Minority).then_some(&mut window.minority),
        ]
        .into_iter()
        .flatten()
        {
            tally.total += 1;
            if let Some(l) = latency {
                tally.ok += 1;
                tally.latencies_ns.push(l);
            }
        }
        if side == Side::Majority
            && let Some(t) = ok
        {
            window.first_majority_ok_ns = Some(window.first_majority_ok_ns.map_or(t, |f| f.min(t)));
        }
    }

    /// The figures of every partition window, in order.
    pub fn finish_all(mut self) -> Vec<CapWindow> {
        let open: Vec<InFlight> = self.in_flight.drain().map(|(_, f)| f).collect();
        for flight in open {
            self.finish(flight, None); // never completed: counted, not ok
        }
        let end = self.last_ns;
        self.windows
            .into_iter()
            .map(|mut w| {
                let clean = !w.sides.is_empty();
                let majority_nodes = w.majority_nodes.clone();
                let minority_nodes = w.minority_nodes.clone();
                let leader_side_at_start = w.side_name(&w.leader_at_start);
                let leader_at_end = w.leader_at_end.clone().unwrap_or_default();
                let leader_side_at_end = w.side_name(&leader_at_end);
                CapWindow {
                    shape: w.shape.clone(),
                    start_s: w.start_ns as f64 / 1e9,
                    end_s: w.end_ns.unwrap_or(end) as f64 / 1e9,
                    majority: clean.then(|| w.majority.figures(&majority_nodes)),
                    minority: clean.then(|| w.minority.figures(&minority_nodes)),
                    all: w.all.figures(&[]),
                    leader_at_start: w.leader_at_start.clone(),
                    leader_side_at_start,
                    leader_at_end,
                    leader_side_at_end,
                    majority_recovery_ms: w
                        .first_majority_ok_ns
                        .map(|t| t.saturating_sub(w.start_ns) as f64 / 1e6),
                }
            })
            .collect()
    }
}

/// The figures of a whole history.
pub fn compute<'a>(ops: impl IntoIterator<Item = &'a Op>) -> Vec<CapWindow> {
    let mut b = CapBuilder::new();
    for op in ops {
        b.push(op);
    }
    b.finish_all()
}

fn percent(f: &SideFigures) -> String {
    match f.availability {
        Some(a) => format!("{:.0}% ({}/{})", a * 100.0, f.ok, f.total),
        None => "– (0 invoked)".into(),
    }
}

fn latency(f: &SideFigures) -> String {
    match (f.ok_latency_p50_ms, f.ok_latency_p99_ms) {
        (Some(p50), Some(p99)) => format!("p50 {p50:.0} ms, p99 {p99:.0} ms"),
        _ => "–".into(),
    }
}

fn leader(names: &[String], side: &Option<String>) -> String {
    if names.is_empty() {
        return "none known".into();
    }
    match side {
        Some(s) => format!("{} ({s})", names.join(",")),
        None => names.join(","),
    }
}

fn recovery(w: &CapWindow) -> String {
    match (&w.majority, w.majority_recovery_ms) {
        (None, _) => "– (no clean sides)".into(),
        (Some(_), Some(ms)) => format!("{ms:.0} ms"),
        (Some(_), None) => "never during the window".into(),
    }
}

/// One line per window, for the terminal summary.
pub fn summary_lines(windows: &[CapWindow]) -> Vec<(String, String)> {
    windows
        .iter()
        .map(|w| {
            let label = format!("{} {:.1}–{:.1} s", w.shape, w.start_s, w.end_s);
            let text = match (&w.majority, &w.minority) {
                (Some(maj), Some(min)) => format!(
                    "majority {} ok {}, minority {} ok {}; leader {} → {}; majority served again after {}",
                    maj.nodes.join(","),
                    percent(maj),
                    min.nodes.join(","),
                    percent(min),
                    leader(&w.leader_at_start, &w.leader_side_at_start),
                    leader(&w.leader_at_end, &w.leader_side_at_end),
                    recovery(w)
                ),
                _ => format!(
                    "no clean sides; all nodes ok {}; leader {} → {}",
                    percent(&w.all),
                    leader(&w.leader_at_start, &w.leader_side_at_start),
                    leader(&w.leader_at_end, &w.leader_side_at_end)
                ),
            };
            (label, text)
        })
        .collect()
}

/// The report's table.
pub fn table(windows: &[CapWindow]) -> String {
    let mut s = String::from(
        r#"<table id="cap-table" class="grid"><tr><th>partition</th><th>majority side</th><th>availability</th><th>ok latency</th><th>minority side</th><th>availability</th><th>ok latency</th><th>leader at cut → at heal</th><th>majority served again after</th></tr>"#,
    );
    for w in windows {
        let _ = write!(s, "<tr><td>{} ({:.1} – {:.1} s)</td>", esc(&w.shape), w.start_s, w.end_s);
        match (&w.majority, &w.minority) {
            (Some(maj), Some(min)) => {
                for side in [maj, min] {
                    let _ = write!(
                        s,
                        "<td>{}</td><td>{}</td><td>{}</td>",
                        esc(&side.nodes.join(", ")),
                        esc(&percent(side)),
                        esc(&latency(side))
                    );
                }
            }
            _ => {
                let _ = write!(
                    s,
                    r#"<td colspan="6">no clean sides (every node still reaches a majority through others): all nodes {}, {}</td>"#,
                    esc(&percent(&w.all)),
                    esc(&latency(&w.all))
                );
            }
        }
        let _ = write!(
            s,
            "<td>{} → {}</td><td>{}</td></tr>",
            esc(&leader(&w.leader_at_start, &w.leader_side_at_start)),
            esc(&leader(&w.leader_at_end, &w.leader_side_at_end)),
            esc(&recovery(w))
        );
    }
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::History;

    fn at(mut op: Op, ns: u64) -> Op {
        op.time_ns = ns;
        op
    }

    fn on(mut op: Op, node: &str, ns: u64) -> Op {
        op.node = Some(node.into());
        op.time_ns = ns;
        op
    }

    fn list(items: &[&str]) -> Value {
        Value::List(items.iter().map(|s| Value::Str(s.to_string())).collect())
    }

    /// A primaries cut of n1 (the leader) from n2, n3: n1 fails, the majority
    /// serves again 400 ms after the cut, n2 leads at the heal.
    fn history() -> History {
        let nodes = ["n1", "n2", "n3"];
        let mut cut = Op::new(
            Process::Nemesis,
            OpKind::Info,
            START_PARTITION,
            Value::Map(
                nodes.iter().map(|n| (Value::Str(n.to_string()), Value::kw("installed"))).collect(),
            ),
        );
        let blocked = Value::List(
            [("n1", "n2"), ("n2", "n1"), ("n1", "n3"), ("n3", "n1")]
                .iter()
                .map(|(a, b)| list(&[a, b]))
                .collect(),
        );
        cut.extra.insert(
            "fault".into(),
            Value::Map(vec![
                (Value::kw("shape"), Value::Str("primaries".into())),
                (Value::kw("blocked"), blocked),
            ]),
        );
        cut.extra.insert(PRIMARIES.into(), list(&["n1"]));
        let mut healed = Op::new(Process::Nemesis, OpKind::Info, HEAL_ALL, Value::Nil);
        healed.extra.insert(PRIMARIES.into(), list(&["n2"]));
        History::from_ops(vec![
            on(Op::invoke(0, "write", Value::Int(1)), "n1", 0),
            on(Op::ok(0, "write", Value::Int(1)), "n1", 10),
            at(Op::new(Process::Nemesis, OpKind::Invoke, START_PARTITION, Value::Nil), 1_000),
            at(cut, 1_000_000_000),
            on(Op::invoke(0, "write", Value::Int(2)), "n1", 1_100_000_000),
            on(Op::invoke(1, "write", Value::Int(3)), "n2", 1_100_000_000),
            on(Op::ok(1, "write", Value::Int(3)), "n2", 1_400_000_000),
            on(Op::invoke(2, "read", Value::Nil), "n3", 1_500_000_000),
            on(Op::ok(2, "read", Value::Int(3)), "n3", 1_520_000_000),
            at(Op::new(Process::Nemesis, OpKind::Invoke, HEAL_ALL, Value::Nil), 3_000_000_000),
            on(Op::info(0, "write", Value::Int(2)), "n1", 3_100_000_000),
            at(healed, 3_200_000_000),
        ])
    }

    #[test]
    fn sides_availability_leaders_and_recovery() {
        let h = history();
        let w = compute(&h.ops);
        assert_eq!(w.len(), 1);
        let w = &w[0];
        assert_eq!(w.shape, "primaries");
        let (maj, min) = (w.majority.as_ref().expect("maj"), w.minority.as_ref().expect("min"));
        assert_eq!(maj.nodes, ["n2", "n3"]);
        assert_eq!(min.nodes, ["n1"]);
        assert_eq!((maj.ok, maj.total, min.ok, min.total), (2, 2, 0, 1));
        assert_eq!(min.availability, Some(0.0));
        assert_eq!(maj.ok_latency_p99_ms, Some(300.0));
        assert_eq!(w.leader_at_start, ["n1"]);
        assert_eq!(w.leader_side_at_start.as_deref(), Some("minority"));
        assert_eq!(w.leader_at_end, ["n2"]);
        assert_eq!(w.leader_side_at_end.as_deref(), Some("majority"));
        assert_eq!(w.majority_recovery_ms, Some(400.0));
        assert_eq!((w.start_s, w.end_s), (1.0, 3.0));
        let lines = summary_lines(std::slice::from_ref(w));
        assert!(lines[0].1.contains("leader n1 (minority) → n2 (majority)"), "{lines:?}");
        assert!(table(std::slice::from_ref(w)).contains("400 ms"));
        // Streaming gives what the whole history gives.
        let mut b = CapBuilder::new();
        h.ops.iter().for_each(|op| b.push(op));
        assert_eq!(b.finish_all(), vec![w.clone()]);
    }

    #[test]
    fn a_ring_has_no_clean_sides_and_other_faults_are_not_windows() {
        let nodes: Vec<String> = (1..=5).map(|i| format!("n{i}")).collect();
        // Ring 1-2-3-4-5-1: each node hears its neighbours only.
        let mut blocked = BTreeSet::new();
        for (a, b) in [(1, 3), (1, 4), (2, 4), (2, 5), (3, 5)] {
            blocked.insert((format!("n{a}"), format!("n{b}")));
            blocked.insert((format!("n{b}"), format!("n{a}")));
        }
        assert_eq!(sides(&nodes, &blocked), None);
        let mut isolated = BTreeSet::new();
        for o in 2..=5 {
            isolated.insert(("n1".to_string(), format!("n{o}")));
        }
        let (maj, min) = sides(&nodes, &isolated).expect("sides");
        assert_eq!((maj.len(), min), (4, vec!["n1".to_string()]));
        let kill = Op::new(Process::Nemesis, OpKind::Info, "kill", Value::Nil);
        assert!(compute(&[kill]).is_empty());
    }
}
