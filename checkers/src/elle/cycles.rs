//! Cycle search inside one strongly connected component, Elle's way
//! (`elle.txn/cycle-cases-in-scc`):
//!
//! 1. *Cycle existence* first: for each model, the subgraph whose cycles it forbids
//!    (read uncommitted: `ww`; read committed: `ww ∪ wr`; snapshot isolation:
//!    `(ww ∪ wr) ∪ ((ww ∪ wr) ; rw)`, the extension by one anti-dependency;
//!    serializable: `ww ∪ wr ∪ rw`; the strong-session and strong variants add
//!    `process` or `realtime` edges). A nontrivial component in such a subgraph
//!    proves the model is violated (`PL-2-cycle-exists`, ...), exactly, without
//!    naming a cycle; models it rules out need not be checked again, and cycle
//!    anomalies that only models it cannot rule out forbid are not searched for.
//! 2. Then each cycle anomaly, most severe first (Elle's anomaly depth order): G0
//!    (only `ww`), G1c (`ww`, `wr`, at least one `wr`), G-single-item (exactly one
//!    `rw`), G-nonadjacent-item (several `rw`, never two in a row), G2-item (several
//!    `rw`, two in a row), each also with `-process` and `-realtime` variants that
//!    may use (and must use) those edges. Once one is found, the anomalies it
//!    implies are not searched for.
//!
//! A search is a breadth-first search over (transaction, automaton state) from a
//! start transaction back to itself, the state counting what the rules count (how
//! many `rw` edges, whether the last and first were `rw`, which required relations
//! were seen). Starts are the heads of the edges the anomaly must contain (every
//! cycle with an `rw` edge passes through the head of one), so a search that
//! finishes without a cycle proves there is none. The first cycle found from a
//! start is a shortest one through it. Each component has a time budget (elle-cli's
//! `--cycle-search-timeout`, default 1 s); when it runs out the component reports
//! `cycle-search-timeout` (unknown) and some cycle found by depth-first search
//! (Elle's fallback), and the cycle-existence results still stand.

use std::collections::BTreeSet;
use std::time::Instant;

use super::consistency;
use super::graph::{self, Edges, Graph, PROCESS, REALTIME, RW, WR, WW};
use super::txn::FxMap;

/// An endpoint value in a step's explanation: the initial state or a value id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Val {
    Init,
    Id(u32),
}

/// Why `from` precedes `to`: the relation and, for data edges, the key, the
/// values and the micro-operations involved (indices into each transaction).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub from: u32,
    pub to: u32,
    pub rel: u8,
    pub key: u32,
    pub value: Val,
    pub value2: Val,
    pub a_mop: Option<u32>,
    pub b_mop: Option<u32>,
}

impl Step {
    pub fn bare(from: u32, to: u32, rel: u8) -> Step {
        Step {
            from,
            to,
            rel,
            key: 0,
            value: Val::Init,
            value2: Val::Init,
            a_mop: None,
            b_mop: None,
        }
    }
}

/// Explains an edge of the graph by looking at the two transactions.
pub trait Explainer {
    /// Why `a` precedes `b` by `rel` (one of `ww`, `wr`, `rw`); `None` if it does not.
    fn explain(&self, a: u32, b: u32, rel: u8) -> Option<Step>;
}

/// A cycle: its transactions in order (the first is not repeated) and the steps
/// between them (step `i` goes from `txns[i]` to `txns[i + 1]`, the last back to
/// `txns[0]`), with Elle's name for it.
#[derive(Debug, Clone)]
pub struct Cycle {
    pub txns: Vec<u32>,
    pub steps: Vec<Step>,
    pub kind: String,
}

/// A model whose forbidden subgraph has a cycle in this component.
#[derive(Debug, Clone)]
pub struct Exists {
    /// `PL-2-cycle-exists`, ...
    pub kind: String,
    /// The model ruled out (friendly name).
    pub not: &'static str,
    /// Elle's description of the subgraph (`["union", "ww", "wr"]`).
    pub subgraph: serde_json::Value,
    /// The smallest such component, as transactions.
    pub scc: Vec<u32>,
}

/// The search of a component ran out of time.
#[derive(Debug, Clone)]
pub struct Timeout {
    pub spec: String,
    pub does_not_contain: Vec<String>,
    pub scc_size: usize,
}

/// What one component yielded.
#[derive(Debug, Default)]
pub struct Found {
    pub exists: Vec<Exists>,
    pub cycles: Vec<Cycle>,
    pub timeout: Option<Timeout>,
}

/// How the search may run.
pub struct Search<'a> {
    pub explainer: &'a dyn Explainer,
    /// Cycle anomaly names worth searching for (the reportable ones).
    pub wanted: &'a BTreeSet<&'static str>,
    /// Which of `process`/`realtime` edges the graph has.
    pub extra: u8,
    /// The order in which an edge's relations explain it (Elle's combined
    /// explainer tries its explainers in this order): a cycle is searched and named
    /// with the first relation of each edge only.
    pub prefer: [u8; 5],
}

/// list-append's explainers: ww, wr, rw, then realtime and process.
pub const LIST_APPEND_ORDER: [u8; 5] = [WW, WR, RW, REALTIME, PROCESS];
/// rw-register's: wr, then ww and rw (from the version order), realtime, process.
pub const RW_REGISTER_ORDER: [u8; 5] = [WR, WW, RW, REALTIME, PROCESS];

/// A subgraph for cycle existence.
#[derive(Clone, Copy)]
enum Sub {
    Union(u8),
    /// `a ∪ (a ; b)`.
    Extension(u8, u8),
}

/// Elle's `cycle-exists-specs` (canonical model names).
const EXISTS: &[(&str, Sub)] = &[
    ("PL-1", Sub::Union(WW)),
    ("PL-2", Sub::Union(WW | WR)),
    ("PL-SI", Sub::Extension(WW | WR, RW)),
    ("PL-3", Sub::Union(WW | WR | RW)),
    ("strong-session-PL-1", Sub::Union(WW | PROCESS)),
    ("strong-session-PL-2", Sub::Union(WW | WR | PROCESS)),
    ("strong-session-snapshot-isolation", Sub::Extension(WW | WR | PROCESS, RW)),
    ("strong-session-serializable", Sub::Union(WW | WR | RW | PROCESS)),
    ("strong-PL-1", Sub::Union(WW | REALTIME)),
    ("strong-PL-2", Sub::Union(WW | WR | REALTIME)),
    ("strong-snapshot-isolation", Sub::Extension(WW | WR | REALTIME, RW)),
    ("PL-SS", Sub::Union(WW | WR | RW | REALTIME)),
];

fn sub_json(sub: Sub) -> serde_json::Value {
    let union = |rels: u8| {
        let names: Vec<&str> = graph::rels_of(rels).map(graph::rel_name).collect();
        if names.len() == 1 {
            serde_json::json!(names[0])
        } else {
            let mut v = vec![serde_json::json!("union")];
            v.extend(names.into_iter().map(|n| serde_json::json!(n)));
            serde_json::Value::Array(v)
        }
    };
    match sub {
        Sub::Union(r) => union(r),
        Sub::Extension(a, b) => serde_json::json!(["extension", union(a), union(b)]),
    }
}

/// The rules of one cycle anomaly.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    /// Relations ordinary edges may use.
    rels: u8,
    /// The relation counted (`rw`), or 0.
    special: u8,
    /// Exactly one special edge.
    single: bool,
    /// At least two special edges.
    multiple: bool,
    /// No two special edges in a row (cyclically).
    nonadjacent: bool,
    /// At least one pair of special edges in a row (G2-item rather than
    /// G-nonadjacent).
    adjacent: bool,
    /// Relation groups of which at least one edge each must appear.
    required: Vec<u8>,
}

fn specs(extra: u8) -> Vec<Spec> {
    let base = [
        Spec {
            name: "G0".into(),
            rels: WW,
            special: 0,
            single: false,
            multiple: false,
            nonadjacent: false,
            adjacent: false,
            required: vec![],
        },
        Spec {
            name: "G1c".into(),
            rels: WW | WR,
            special: 0,
            single: false,
            multiple: false,
            nonadjacent: false,
            adjacent: false,
            required: vec![WR],
        },
        Spec {
            name: "G-single-item".into(),
            rels: WW | WR,
            special: RW,
            single: true,
            multiple: false,
            nonadjacent: false,
            adjacent: false,
            required: vec![],
        },
        Spec {
            name: "G-nonadjacent-item".into(),
            rels: WW | WR,
            special: RW,
            single: false,
            multiple: true,
            nonadjacent: true,
            adjacent: false,
            required: vec![],
        },
        Spec {
            name: "G2-item".into(),
            rels: WW | WR,
            special: RW,
            single: false,
            multiple: true,
            nonadjacent: false,
            adjacent: true,
            required: vec![],
        },
    ];
    let mut out = Vec::new();
    for s in base {
        for (variant, suffix) in [(0, ""), (PROCESS, "-process"), (REALTIME, "-realtime")] {
            if variant != 0 && extra & variant == 0 {
                continue;
            }
            let mut v = s.clone();
            v.name = format!("{}{suffix}", s.name);
            v.rels |= variant;
            if variant != 0 {
                v.required.push(variant);
            }
            out.push(v);
        }
    }
    out.sort_by(|a, b| consistency::depth_order(&a.name, &b.name));
    out
}

/// Elle's name for a cycle from the relations of its steps.
pub fn classify(steps: &[Step]) -> String {
    let count = |r: u8| steps.iter().filter(|s| s.rel == r).count();
    let rw = count(RW);
    let n = steps.len();
    let adjacent = (0..n).any(|i| steps[i].rel == RW && steps[(i + 1) % n].rel == RW);
    let data = if rw == 1 {
        "G-single-item"
    } else if rw > 1 {
        if adjacent { "G2-item" } else { "G-nonadjacent-item" }
    } else if count(WR) > 0 {
        "G1c"
    } else {
        "G0"
    };
    let suffix = if count(REALTIME) > 0 {
        "-realtime"
    } else if count(PROCESS) > 0 {
        "-process"
    } else {
        ""
    };
    format!("{data}{suffix}")
}

/// One component, as its own small graph (local vertex numbers, one edge per
/// pair with the union of its relations), and the same graph with each edge
/// labelled by its first relation only (for the searches).
struct Local {
    global: Vec<u32>,
    g: Graph,
    first: Graph,
}

fn local_graph(g: &Graph, scc: &[u32], slot: &mut [u32], prefer: [u8; 5]) -> Local {
    for (i, v) in scc.iter().enumerate() {
        slot[*v as usize] = i as u32;
    }
    let mut pairs: Vec<(u32, u32, u8)> = Vec::new();
    for (i, v) in scc.iter().enumerate() {
        let (ts, rs) = g.out(*v);
        for (t, r) in ts.iter().zip(rs) {
            let j = slot[*t as usize];
            if j != u32::MAX && scc.get(j as usize) == Some(t) {
                pairs.push((i as u32, j, *r));
            }
        }
    }
    for v in scc {
        slot[*v as usize] = u32::MAX;
    }
    pairs.sort_unstable_by_key(|&(a, b, _)| (a, b));
    let mut edges = Edges::default();
    for (a, b, r) in pairs {
        match (edges.from.last(), edges.to.last()) {
            (Some(&la), Some(&lb)) if la == a && lb == b => {
                if let Some(last) = edges.rels.last_mut() {
                    *last |= r;
                }
            }
            _ => edges.push(a, b, r),
        }
    }
    let g = Graph::new(scc.len(), edges);
    let first = Graph {
        offsets: g.offsets.clone(),
        targets: g.targets.clone(),
        rels: g.rels.iter().map(|r| prefer.into_iter().find(|p| r & p != 0).unwrap_or(0)).collect(),
    };
    Local { global: scc.to_vec(), g, first }
}

/// `a ∪ (a ; b)` of a local graph, as a graph whose every edge is labelled `WW`.
fn extension(l: &Graph, a: u8, b: u8, deadline: Instant) -> Option<Graph> {
    let n = l.vertices();
    let mut into: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut edges = Edges::default();
    for v in 0..n as u32 {
        let (ts, rs) = l.out(v);
        for (t, r) in ts.iter().zip(rs) {
            if r & a != 0 {
                into[*t as usize].push(v);
                edges.push_any(v, *t, WW);
            }
        }
    }
    for y in 0..n as u32 {
        if y % 256 == 0 && Instant::now() > deadline {
            return None;
        }
        let (ts, rs) = l.out(y);
        for (z, r) in ts.iter().zip(rs) {
            if r & b != 0 {
                for x in &into[y as usize] {
                    edges.push_any(*x, *z, WW);
                }
            }
        }
    }
    Some(Graph::new(n, edges))
}

/// The search of one component; `slot` is scratch space of one `u32::MAX` per
/// vertex of the whole graph.
pub fn search_scc(
    g: &Graph,
    scc: &[u32],
    slot: &mut [u32],
    search: &Search<'_>,
    deadline: Instant,
) -> Found {
    let local = local_graph(g, scc, slot, search.prefer);
    let mut found = Found::default();
    let mut searched: Vec<String> = Vec::new();
    let timed_out = |found: &mut Found, spec: &str, searched: &[String]| {
        let names: BTreeSet<&str> = found.cycles.iter().map(|c| c.kind.as_str()).collect();
        found.timeout = Some(Timeout {
            spec: spec.to_string(),
            does_not_contain: searched
                .iter()
                .filter(|s| !names.contains(s.as_str()))
                .cloned()
                .collect(),
            scc_size: scc.len(),
        });
        if let Some(c) = fallback_cycle(&local, search.explainer) {
            found.cycles.push(c);
        }
    };
    // 1. Cycle existence.
    let mut redundant: BTreeSet<&'static str> = BTreeSet::new();
    for &(model, sub) in EXISTS {
        let needs = match sub {
            Sub::Union(r) | Sub::Extension(r, _) => r & (PROCESS | REALTIME),
        };
        if redundant.contains(model) || (needs != 0 && search.extra & needs == 0) {
            continue;
        }
        let components = match sub {
            Sub::Union(mask) => graph::sccs_masked(&local.g, mask),
            Sub::Extension(a, b) => match extension(&local.g, a, b, deadline) {
                Some(ext) => graph::sccs_masked(&ext, WW),
                None => {
                    timed_out(&mut found, &format!("{model}-cycle-exists"), &searched);
                    return found;
                }
            },
        };
        if let Some(smallest) = components.iter().min_by_key(|c| c.len()) {
            found.exists.push(Exists {
                kind: format!("{model}-cycle-exists"),
                not: consistency::friendly(model),
                subgraph: sub_json(sub),
                scc: smallest.iter().map(|v| local.global[*v as usize]).collect(),
            });
            redundant.extend(consistency::impossible_models([model]));
        }
    }
    // Cycle anomalies only models with no cycle here forbid cannot be here.
    let ruled_out = consistency::impossible_models(found.exists.iter().map(|e| e.not));
    let possible: Vec<&str> =
        EXISTS.iter().map(|(m, _)| *m).filter(|m| !ruled_out.contains(m)).collect();
    let impossible = consistency::prohibited_by(possible);
    // 2. Cycle anomalies.
    let mut skip: BTreeSet<String> = impossible.iter().map(|s| s.to_string()).collect();
    let mut scratch = Scratch::default();
    for spec in specs(search.extra) {
        if skip.contains(&spec.name) || !search.wanted.contains(spec.name.as_str()) {
            continue;
        }
        searched.push(spec.name.clone());
        match find(&local, &spec, search.explainer, deadline, &mut scratch) {
            Outcome::Found(c) => {
                skip.extend(
                    consistency::implied_anomalies([spec.name.as_str()])
                        .iter()
                        .map(|s| s.to_string()),
                );
                found.cycles.push(c);
            }
            Outcome::None => {}
            Outcome::Timeout => {
                searched.pop();
                timed_out(&mut found, &spec.name, &searched);
                return found;
            }
        }
    }
    found
}

enum Outcome {
    Found(Cycle),
    None,
    Timeout,
}

/// Reused search memory.
#[derive(Default)]
struct Scratch {
    /// Dense visited marks, parents and labels per (vertex, state), when small.
    stamp: Vec<u32>,
    parent: Vec<u32>,
    label: Vec<u8>,
    generation: u32,
    /// Sparse ones otherwise: key -> (parent key, label).
    sparse: FxMap<u64, (u64, u8)>,
}

const DENSE_LIMIT: usize = 8 << 20;

/// The automaton state: `count` of special edges (0, 1, 2 = two or more), whether
/// the last and the first edge were special, whether two special edges were
/// adjacent, and which required groups were seen.
#[derive(Clone, Copy, PartialEq, Eq)]
struct State {
    count: u8,
    last: bool,
    first: bool,
    adjacent: bool,
    required: u8,
}

impl State {
    fn pack(self, spec: &Spec) -> u32 {
        let mut s = self.count as u32;
        let mut radix = 3u32;
        if spec.nonadjacent || spec.adjacent {
            s += radix * self.last as u32;
            radix *= 2;
            s += radix * self.first as u32;
            radix *= 2;
        }
        if spec.adjacent {
            s += radix * self.adjacent as u32;
            radix *= 2;
        }
        s + radix * self.required as u32
    }

    fn states(spec: &Spec) -> u32 {
        let mut n = 3;
        if spec.nonadjacent || spec.adjacent {
            n *= 4;
        }
        if spec.adjacent {
            n *= 2;
        }
        n << spec.required.len()
    }

    fn unpack(mut s: u32, spec: &Spec) -> State {
        let count = (s % 3) as u8;
        s /= 3;
        let (mut last, mut first, mut adjacent) = (false, false, false);
        if spec.nonadjacent || spec.adjacent {
            last = s % 2 == 1;
            s /= 2;
            first = s % 2 == 1;
            s /= 2;
        }
        if spec.adjacent {
            adjacent = s % 2 == 1;
            s /= 2;
        }
        State { count, last, first, adjacent, required: s as u8 }
    }

    /// The state after taking an edge as `rel`, or `None` if the rules forbid it.
    fn step(self, spec: &Spec, rel: u8, is_first: bool) -> Option<State> {
        let special = spec.special != 0 && rel == spec.special;
        let mut next = self;
        if special {
            if spec.single && self.count >= 1 {
                return None;
            }
            if spec.nonadjacent && self.last && !is_first {
                return None;
            }
            if self.last && !is_first {
                next.adjacent = true;
            }
            next.count = (self.count + 1).min(2);
        }
        next.last = special;
        if is_first {
            next.first = special;
        }
        for (i, group) in spec.required.iter().enumerate() {
            if rel & group != 0 {
                next.required |= 1 << i;
            }
        }
        Some(next)
    }

    /// Whether a walk ending in this state, closed back at the start, qualifies.
    fn accepts(self, spec: &Spec) -> bool {
        let wrap = self.last && self.first;
        (!spec.single || self.count == 1)
            && (!spec.multiple || self.count >= 2)
            && (!spec.nonadjacent || !wrap)
            && (!spec.adjacent || self.adjacent || wrap)
            && self.required == (1u8 << spec.required.len()) - 1
    }
}

/// Relations usable on an edge with relations `rels` under `spec`.
fn usable(spec: &Spec, rels: u8) -> u8 {
    rels & (spec.rels | spec.special)
}

/// Searches one anomaly in a component.
fn find(
    local: &Local,
    spec: &Spec,
    explainer: &dyn Explainer,
    deadline: Instant,
    scratch: &mut Scratch,
) -> Outcome {
    let g = &local.first;
    let n = g.vertices();
    // Starts: heads of edges with the relation the cycle must contain.
    let anchor =
        if spec.special != 0 { spec.special } else { spec.required.first().copied().unwrap_or(0) };
    let mut starts: Vec<u32> = Vec::new();
    if anchor == 0 {
        if let Some(c) = graph::sccs_masked(g, spec.rels).first() {
            starts.push(c[0]);
        }
    } else {
        let allowed = graph::sccs_masked(g, spec.rels | spec.special);
        let mut inside = vec![u32::MAX; n];
        for (i, c) in allowed.iter().enumerate() {
            for v in c {
                inside[*v as usize] = i as u32;
            }
        }
        let mut seen = vec![false; n];
        for v in 0..n as u32 {
            let (ts, rs) = g.out(v);
            for (t, r) in ts.iter().zip(rs) {
                let same =
                    inside[v as usize] != u32::MAX && inside[v as usize] == inside[*t as usize];
                if r & anchor != 0 && same && !seen[*t as usize] {
                    seen[*t as usize] = true;
                    starts.push(*t);
                }
            }
        }
        starts.sort_unstable();
    }
    let states = State::states(spec) as usize;
    let dense = n * states <= DENSE_LIMIT;
    if dense && scratch.stamp.len() < n * states {
        scratch.stamp = vec![0; n * states];
        scratch.parent = vec![0; n * states];
        scratch.label = vec![0; n * states];
        scratch.generation = 0;
    }
    let mut work = 0u64;
    let mut queue: std::collections::VecDeque<u64> = Default::default();
    for start in starts {
        scratch.generation = scratch.generation.wrapping_add(1);
        if scratch.generation == 0 {
            scratch.stamp.iter_mut().for_each(|s| *s = 0);
            scratch.generation = 1;
        }
        scratch.sparse.clear();
        queue.clear();
        let initial = State { count: 0, last: false, first: false, adjacent: false, required: 0 };
        let key = |v: u32, s: State| (v as u64) * states as u64 + s.pack(spec) as u64;
        let origin = key(start, initial);
        // The origin is never marked: the walk may come back to it.
        queue.push_back(origin);
        while let Some(k) = queue.pop_front() {
            work += 1;
            if work.is_multiple_of(1024) && Instant::now() > deadline {
                return Outcome::Timeout;
            }
            let v = (k / states as u64) as u32;
            let state = State::unpack((k % states as u64) as u32, spec);
            let is_first = k == origin;
            let (ts, rs) = g.out(v);
            for (t, r) in ts.iter().zip(rs) {
                for rel in graph::rels_of(usable(spec, *r)) {
                    let Some(next) = state.step(spec, rel, is_first) else { continue };
                    if *t == start {
                        if next.accepts(spec) {
                            let mut path = vec![(v, rel)];
                            let mut cur = k;
                            while cur != origin {
                                let (p, l) = if dense {
                                    (
                                        scratch.parent[cur as usize] as u64,
                                        scratch.label[cur as usize],
                                    )
                                } else {
                                    scratch.sparse[&cur]
                                };
                                let pv = (p / states as u64) as u32;
                                path.push((pv, l));
                                cur = p;
                            }
                            path.reverse();
                            return Outcome::Found(cycle_from(local, &path, explainer));
                        }
                        continue;
                    }
                    let nk = key(*t, next);
                    if dense {
                        let i = nk as usize;
                        if scratch.stamp[i] == scratch.generation {
                            continue;
                        }
                        scratch.stamp[i] = scratch.generation;
                        scratch.parent[i] = k as u32;
                        scratch.label[i] = rel;
                    } else {
                        if scratch.sparse.contains_key(&nk) {
                            continue;
                        }
                        scratch.sparse.insert(nk, (k, rel));
                    }
                    queue.push_back(nk);
                }
            }
        }
    }
    Outcome::None
}

/// `path[i] = (vertex, relation of the edge leaving it)`; the last edge returns to
/// `path[0]`'s vertex.
fn cycle_from(local: &Local, path: &[(u32, u8)], explainer: &dyn Explainer) -> Cycle {
    let txns: Vec<u32> = path.iter().map(|(v, _)| local.global[*v as usize]).collect();
    let steps: Vec<Step> = (0..txns.len())
        .map(|i| {
            let (a, b) = (txns[i], txns[(i + 1) % txns.len()]);
            let rel = path[i].1;
            explain_step(explainer, a, b, rel)
        })
        .collect();
    let kind = classify(&steps);
    Cycle { txns, steps, kind }
}

fn explain_step(explainer: &dyn Explainer, a: u32, b: u32, rel: u8) -> Step {
    match rel {
        WW | WR | RW => explainer.explain(a, b, rel).unwrap_or_else(|| Step::bare(a, b, rel)),
        _ => Step::bare(a, b, rel),
    }
}

/// Some cycle in a component, by depth-first walk (Elle's `fallback-cycle`), each
/// edge explained by its first relation.
fn fallback_cycle(local: &Local, explainer: &dyn Explainer) -> Option<Cycle> {
    let g = &local.first;
    if g.vertices() == 0 {
        return None;
    }
    let mut path: Vec<u32> = vec![0];
    let mut at = vec![u32::MAX; g.vertices()];
    at[0] = 0;
    loop {
        let tip = *path.last()?;
        let (ts, _) = g.out(tip);
        if let Some(i) = ts.iter().map(|t| at[*t as usize]).filter(|i| *i != u32::MAX).min() {
            let cycle: Vec<u32> = path[i as usize..].to_vec();
            let mut labelled = Vec::new();
            for (j, v) in cycle.iter().enumerate() {
                let next = cycle[(j + 1) % cycle.len()];
                let (ts, rs) = g.out(*v);
                let rel = ts.iter().zip(rs).find(|(t, _)| **t == next).map(|(_, r)| *r)?;
                labelled.push((*v, rel));
            }
            return Some(cycle_from(local, &labelled, explainer));
        }
        let next = *ts.first()?;
        at[next as usize] = path.len() as u32;
        path.push(next);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bare;
    impl Explainer for Bare {
        fn explain(&self, a: u32, b: u32, rel: u8) -> Option<Step> {
            Some(Step::bare(a, b, rel))
        }
    }

    fn run(n: usize, edges: &[(u32, u32, u8)], extra: u8) -> Found {
        let mut e = Edges::default();
        for (a, b, r) in edges {
            e.push(*a, *b, *r);
        }
        let g = Graph::new(n, e);
        let wanted: BTreeSet<&'static str> = consistency::prohibited_by(["strict-serializable"]);
        let search = Search { explainer: &Bare, wanted: &wanted, extra, prefer: LIST_APPEND_ORDER };
        let sccs = graph::sccs(&g);
        let mut slot = vec![u32::MAX; n];
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut all = Found::default();
        for scc in sccs {
            let f = search_scc(&g, &scc, &mut slot, &search, deadline);
            all.exists.extend(f.exists);
            all.cycles.extend(f.cycles);
        }
        all
    }

    fn kinds(f: &Found) -> Vec<String> {
        let mut k: Vec<String> = f.cycles.iter().map(|c| c.kind.clone()).collect();
        k.sort();
        k
    }

    #[test]
    fn each_cycle_shape_gets_its_name() {
        assert_eq!(kinds(&run(2, &[(0, 1, WW), (1, 0, WW)], 0)), vec!["G0"]);
        assert_eq!(kinds(&run(2, &[(0, 1, WW), (1, 0, WR)], 0)), vec!["G1c"]);
        assert_eq!(kinds(&run(2, &[(0, 1, WR), (1, 0, RW)], 0)), vec!["G-single-item"]);
        assert_eq!(kinds(&run(2, &[(0, 1, RW), (1, 0, RW)], 0)), vec!["G2-item"]);
        assert_eq!(
            kinds(&run(4, &[(0, 1, RW), (1, 2, WW), (2, 3, RW), (3, 0, WR)], 0)),
            vec!["G-nonadjacent-item"]
        );
        assert_eq!(
            kinds(&run(2, &[(0, 1, REALTIME), (1, 0, RW)], REALTIME)),
            vec!["G-single-item-realtime"]
        );
        assert_eq!(kinds(&run(2, &[(0, 1, PROCESS), (1, 0, WR)], PROCESS)), vec!["G1c-process"]);
        // An edge with two relations is named by the first (as Elle explains it).
        let both = run(2, &[(0, 1, WW | RW), (1, 0, WR)], 0);
        assert_eq!(kinds(&both), vec!["G1c"]);
    }

    #[test]
    fn cycle_existence_names_the_weakest_violated_model() {
        let f = run(2, &[(0, 1, WR), (1, 0, RW)], 0);
        let exists: Vec<&str> = f.exists.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(exists, vec!["PL-SI-cycle-exists"]);
        let f = run(2, &[(0, 1, REALTIME), (1, 0, RW)], REALTIME);
        let exists: Vec<&str> = f.exists.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(exists, vec!["strong-snapshot-isolation-cycle-exists"]);
    }

    #[test]
    fn a_single_rw_cycle_is_found_deep_in_a_large_component() {
        // A ring of 50 000 ww edges with one rw chord closing a short cycle far away.
        let n = 50_000u32;
        let mut edges: Vec<(u32, u32, u8)> = (0..n).map(|i| (i, (i + 1) % n, WW)).collect();
        edges.push((40_010, 40_000, RW));
        let f = run(n as usize, &edges, 0);
        assert!(kinds(&f).contains(&"G0".to_string()));
        let single = f.cycles.iter().find(|c| c.kind == "G-single-item").expect("found");
        assert_eq!(single.txns.len(), 11);
    }
}
