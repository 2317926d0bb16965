//! The dependency graph between transactions: vertices are transaction numbers,
//! each edge carries the set of relations that order its ends (`ww`, `wr`, `rw`,
//! `process`, `realtime`, as bits), stored compactly (CSR) because a history of a
//! million transactions has tens of millions of edges. Strongly connected
//! components are found with Tarjan's algorithm, iteratively (no recursion, so no
//! stack overflow on long chains).
//!
//! The realtime edges are Elle's transitive reduction of real-time order (a
//! precedes b when a completed `ok` before b was invoked): every transaction gets an
//! edge from each completed transaction not already known to precede another
//! completed one, so the graph has about `concurrency` realtime edges per
//! transaction instead of a quadratic number. Process edges link consecutive `ok`
//! transactions of one process (Elle's `process-graph`).

use history::OpKind;

use super::txn::Txns;

pub const WW: u8 = 1;
pub const WR: u8 = 2;
pub const RW: u8 = 4;
pub const PROCESS: u8 = 8;
pub const REALTIME: u8 = 16;

/// Every relation.
pub const ALL: u8 = WW | WR | RW | PROCESS | REALTIME;

/// A relation's name as Elle writes it.
pub fn rel_name(rel: u8) -> &'static str {
    match rel {
        WW => "ww",
        WR => "wr",
        RW => "rw",
        PROCESS => "process",
        REALTIME => "realtime",
        _ => "?",
    }
}

/// The single relations in a set, in order.
pub fn rels_of(set: u8) -> impl Iterator<Item = u8> {
    [WW, WR, RW, PROCESS, REALTIME].into_iter().filter(move |r| set & r != 0)
}

/// Edges as they are found (self-edges dropped).
#[derive(Debug, Default)]
pub struct Edges {
    pub from: Vec<u32>,
    pub to: Vec<u32>,
    pub rels: Vec<u8>,
}

impl Edges {
    pub fn push(&mut self, a: u32, b: u32, rel: u8) {
        if a != b {
            self.from.push(a);
            self.to.push(b);
            self.rels.push(rel);
        }
    }

    /// Pushes an edge even from a vertex to itself (derived graphs need them).
    pub fn push_any(&mut self, a: u32, b: u32, rel: u8) {
        self.from.push(a);
        self.to.push(b);
        self.rels.push(rel);
    }

    pub fn len(&self) -> usize {
        self.from.len()
    }

    pub fn is_empty(&self) -> bool {
        self.from.is_empty()
    }
}

/// A graph in compressed sparse rows: the out-edges of `v` are
/// `targets[offsets[v]..offsets[v + 1]]` with their relations in `rels`. The same
/// pair may appear more than once (with different relations).
#[derive(Debug, Default)]
pub struct Graph {
    pub offsets: Vec<usize>,
    pub targets: Vec<u32>,
    pub rels: Vec<u8>,
}

impl Graph {
    /// Builds the graph over `n` vertices by a counting sort of `edges`.
    pub fn new(n: usize, edges: Edges) -> Graph {
        let mut offsets = vec![0usize; n + 1];
        for &a in &edges.from {
            offsets[a as usize + 1] += 1;
        }
        for i in 0..n {
            offsets[i + 1] += offsets[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; edges.len()];
        let mut rels = vec![0u8; edges.len()];
        for i in 0..edges.len() {
            let a = edges.from[i] as usize;
            targets[fill[a]] = edges.to[i];
            rels[fill[a]] = edges.rels[i];
            fill[a] += 1;
        }
        Graph { offsets, targets, rels }
    }

    pub fn vertices(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    pub fn edge_count(&self) -> usize {
        self.targets.len()
    }

    /// Out-edges of `v`: targets and relations.
    pub fn out(&self, v: u32) -> (&[u32], &[u8]) {
        let (s, e) = (self.offsets[v as usize], self.offsets[v as usize + 1]);
        (&self.targets[s..e], &self.rels[s..e])
    }
}

/// The nontrivial strongly connected components of `g` using only edges whose
/// relations intersect `mask`: more than one vertex, or one vertex with an edge to
/// itself. Each component is sorted.
pub fn sccs_masked(g: &Graph, mask: u8) -> Vec<Vec<u32>> {
    const UNSEEN: u32 = u32::MAX;
    let n = g.vertices();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0u32; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<u32> = Vec::new();
    let mut out = Vec::new();
    let mut next = 0u32;
    // The DFS stack: a vertex and the next of its out-edges to look at.
    let mut frames: Vec<(u32, usize)> = Vec::new();
    for root in 0..n as u32 {
        if index[root as usize] != UNSEEN {
            continue;
        }
        index[root as usize] = next;
        low[root as usize] = next;
        next += 1;
        stack.push(root);
        on_stack[root as usize] = true;
        frames.push((root, g.offsets[root as usize]));
        while let Some(&mut (v, ref mut cursor)) = frames.last_mut() {
            let end = g.offsets[v as usize + 1];
            if *cursor < end {
                let (w, r) = (g.targets[*cursor], g.rels[*cursor]);
                *cursor += 1;
                if r & mask == 0 {
                    continue;
                }
                let wi = w as usize;
                if index[wi] == UNSEEN {
                    index[wi] = next;
                    low[wi] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[wi] = true;
                    frames.push((w, g.offsets[wi]));
                } else if on_stack[wi] {
                    low[v as usize] = low[v as usize].min(index[wi]);
                }
                continue;
            }
            frames.pop();
            if let Some(&(parent, _)) = frames.last() {
                let p = parent as usize;
                low[p] = low[p].min(low[v as usize]);
            }
            if low[v as usize] == index[v as usize] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w as usize] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                let looped = || {
                    let (ts, rs) = g.out(v);
                    ts.iter().zip(rs).any(|(t, r)| *t == v && r & mask != 0)
                };
                if component.len() > 1 || looped() {
                    component.sort_unstable();
                    out.push(component);
                }
            }
        }
    }
    out
}

/// The strongly connected components (more than one vertex) of `g`.
pub fn sccs(g: &Graph) -> Vec<Vec<u32>> {
    sccs_masked(g, ALL)
}

/// Realtime edges (Elle's `realtime-graph`, transitively reduced): from every `ok`
/// transaction to the transactions invoked after it completed, skipping those
/// already ordered through a later-completed one. Only transactions that may have
/// happened (ok, info) get edges; an info transaction has none going out (it
/// never completed, so nothing is known to follow it).
pub fn realtime_edges(txns: &Txns, positions: usize, edges: &mut Edges) {
    // Events by history position: the txn invoked or completed there.
    const NOTHING: u32 = u32::MAX;
    let mut invoked_at = vec![NOTHING; positions];
    let mut completed_at = vec![NOTHING; positions];
    for (i, t) in txns.txns.iter().enumerate() {
        if t.possible() {
            invoked_at[t.invoke] = i as u32;
        }
        if let (Some(c), true) = (t.complete, t.ok()) {
            completed_at[c] = i as u32;
        }
    }
    // Completed ok txns no later-completed txn is known to follow.
    let mut frontier: Vec<u32> = Vec::new();
    // For each txn, its realtime predecessors: the frontier when it was invoked.
    let mut preds_start = vec![0usize; txns.txns.len()];
    let mut preds_end = vec![0usize; txns.txns.len()];
    let mut implied = vec![false; txns.txns.len()];
    for pos in 0..positions {
        let b = invoked_at[pos];
        if b != NOTHING {
            preds_start[b as usize] = edges.len();
            for &a in &frontier {
                edges.push(a, b, REALTIME);
            }
            preds_end[b as usize] = edges.len();
        }
        let c = completed_at[pos];
        if c != NOTHING {
            let (s, e) = (preds_start[c as usize], preds_end[c as usize]);
            if e > s {
                for i in s..e {
                    implied[edges.from[i] as usize] = true;
                }
                frontier.retain(|a| !implied[*a as usize]);
                for i in s..e {
                    implied[edges.from[i] as usize] = false;
                }
            }
            frontier.push(c);
        }
    }
}

/// Process edges (Elle's `process-graph`): each `ok` transaction to the next `ok`
/// one of the same process.
pub fn process_edges(txns: &Txns, edges: &mut Edges) {
    let mut last: std::collections::HashMap<history::Process, u32> = Default::default();
    for (i, t) in txns.txns.iter().enumerate() {
        if t.outcome != OpKind::Ok {
            continue;
        }
        if let Some(prev) = last.insert(t.process, i as u32) {
            edges.push(prev, i as u32, PROCESS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_finds_only_nontrivial_components() {
        let mut e = Edges::default();
        // 0 -> 1 -> 2 -> 0, 2 -> 3, 3 -> 4 -> 3, 5 alone
        for (a, b) in [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 3)] {
            e.push(a, b, WW);
        }
        e.push(5, 5, WW); // dropped
        let g = Graph::new(6, e);
        let mut s = sccs(&g);
        s.sort();
        assert_eq!(s, vec![vec![0, 1, 2], vec![3, 4]]);
        assert!(sccs_masked(&g, WR).is_empty());
        let mut e = Edges::default();
        e.push_any(0, 0, RW);
        assert_eq!(sccs(&Graph::new(1, e)), vec![vec![0]], "a self-loop is a cycle");
    }

    #[test]
    fn a_long_chain_does_not_overflow_the_stack() {
        let n = 200_000u32;
        let mut e = Edges::default();
        for i in 0..n - 1 {
            e.push(i, i + 1, WW);
        }
        e.push(n - 1, 0, WW);
        let g = Graph::new(n as usize, e);
        assert_eq!(sccs(&g)[0].len(), n as usize);
    }
}
