//! Elle's rw-register analysis (`elle.rw-register`), our own code: transactions
//! write unique values to registers (`[:w k 3]`) and read them (`[:r k 3]`).
//! A read tells which write it saw (`wr`), but unlike a list, nothing in it says
//! which write came before which, so the version order of each key is inferred
//! only from what is sound:
//! - the initial state: `nil` precedes every value a key takes (always);
//! - writes follow reads (`--wfr-keys`): a transaction that read `v` and then
//!   wrote `v'` puts `v` before `v'`;
//! - per-key sequential consistency (`--sequential-keys`): one process's
//!   successive transactions see a key's versions in order;
//! - per-key linearizability (`--linearizable-keys`): a transaction that began
//!   after another completed sees the same or a later version of each key.
//!
//! Each source is added only if the version orders stay acyclic; a source that
//! would make a cycle is reported as `cyclic-versions` and left out. From the
//! version order come `ww` (writers of consecutive versions) and `rw` (readers of a
//! version to the writer of the next) edges. Only a transaction's external reads
//! (its first read of a key, before writing it) and final writes count
//! (`jepsen.txn/ext-reads`, `ext-writes`). Besides cycles: `internal` (a read that
//! disagrees with the transaction's own earlier read or write), `G1a` (a read of a
//! failed transaction's write), `G1b` (a read of a value its writer overwrote in
//! the same transaction) and `lost-update`.

use std::collections::HashMap;

use history::{Linted, Process};

use super::analysis::{Case, Expected, Findings, OpCase};
use super::cycles::{Explainer, Step, Val};
use super::graph::{self, Edges, Graph, RW, WR, WW};
use super::txn::{FxMap, MopKind, NIL, Txns};
use crate::verdict::CheckError;

fn pack(k: u32, v: u32) -> u64 {
    ((k as u64) << 32) | v as u64
}

/// Which version-order assumptions to add to the initial state's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Assumptions {
    pub wfr_keys: bool,
    pub sequential_keys: bool,
    pub linearizable_keys: bool,
}

/// External reads and final writes of every transaction.
struct Ext {
    reads: Vec<(u32, u32, u32)>, // key, value, mop index
    writes: Vec<(u32, u32, u32)>,
    /// Per transaction: ranges into `reads` and `writes`.
    at: Vec<(u32, u32, u32, u32)>,
}

impl Ext {
    fn new(txns: &Txns) -> Ext {
        let mut e = Ext { reads: Vec::new(), writes: Vec::new(), at: Vec::new() };
        for t in 0..txns.txns.len() {
            let (rs, ws) = (e.reads.len() as u32, e.writes.len() as u32);
            let mops = txns.mops(t);
            let mut written: Vec<u32> = Vec::new();
            for (i, m) in mops.iter().enumerate() {
                match m.kind {
                    MopKind::Read => {
                        let first = !written.contains(&m.key)
                            && !e.reads[rs as usize..].iter().any(|(k, _, _)| *k == m.key);
                        if first {
                            e.reads.push((m.key, m.value, i as u32));
                        }
                    }
                    MopKind::Write => {
                        written.push(m.key);
                        let mine = &mut e.writes[ws as usize..];
                        match mine.iter_mut().find(|(k, _, _)| *k == m.key) {
                            Some(w) => *w = (m.key, m.value, i as u32),
                            None => e.writes.push((m.key, m.value, i as u32)),
                        }
                    }
                    MopKind::Append => {}
                }
            }
            e.at.push((rs, e.reads.len() as u32, ws, e.writes.len() as u32));
        }
        e
    }

    fn reads(&self, t: u32) -> &[(u32, u32, u32)] {
        let (s, e, _, _) = self.at[t as usize];
        &self.reads[s as usize..e as usize]
    }

    fn writes(&self, t: u32) -> &[(u32, u32, u32)] {
        let (_, _, s, e) = self.at[t as usize];
        &self.writes[s as usize..e as usize]
    }

    fn read(&self, t: u32, k: u32) -> Option<u32> {
        self.reads(t).iter().find(|(key, _, _)| *key == k).map(|(_, v, _)| *v)
    }

    fn write(&self, t: u32, k: u32) -> Option<u32> {
        self.writes(t).iter().find(|(key, _, _)| *key == k).map(|(_, v, _)| *v)
    }
}

/// Sorted (packed key-value, txn) pairs, looked up by range.
fn range(index: &[(u64, u32)], key: u64) -> &[(u64, u32)] {
    let s = index.partition_point(|(p, _)| *p < key);
    let e = index[s..].partition_point(|(p, _)| *p == key) + s;
    &index[s..e]
}

/// The version orders and indexes the graph is built from.
pub struct RwRegister<'a> {
    pub txns: &'a Txns,
    ext: Ext,
    /// External writes and reads of committed transactions.
    writers: Vec<(u64, u32)>,
    readers: Vec<(u64, u32)>,
    /// Version order edges: (key, v1, v2), sorted.
    versions: Vec<(u32, u32, u32)>,
}

/// Clojure's `(or a b)` on possibly-absent values where `nil` is false: `a` unless
/// it is absent or nil, else `b` (absent counts as nil). Elle picks a transaction's
/// first or final version of a key this way; kept for identical inferences.
fn or_nil(a: Option<u32>, b: Option<u32>) -> u32 {
    match a {
        Some(v) if v != NIL => v,
        _ => b.unwrap_or(NIL),
    }
}

impl<'a> RwRegister<'a> {
    /// The version a transaction finally left `k` in (`None`: it says nothing).
    fn final_version(&self, t: u32, k: u32) -> Option<u32> {
        let txn = &self.txns.txns[t as usize];
        if txn.ok() {
            Some(or_nil(self.ext.write(t, k), self.ext.read(t, k)))
        } else if txn.possible() {
            self.ext.write(t, k)
        } else {
            None
        }
    }

    /// The version a transaction first saw or made of `k`.
    fn first_version(&self, t: u32, k: u32) -> Option<u32> {
        let txn = &self.txns.txns[t as usize];
        if txn.ok() {
            Some(or_nil(self.ext.read(t, k), self.ext.write(t, k)))
        } else if txn.possible() {
            self.ext.write(t, k)
        } else {
            None
        }
    }

    /// Keys a transaction interacted with externally (reads only when ok).
    fn ext_keys(&self, t: u32) -> Vec<u32> {
        let txn = &self.txns.txns[t as usize];
        let mut keys: Vec<u32> = self.ext.writes(t).iter().map(|w| w.0).collect();
        if txn.ok() {
            keys.extend(self.ext.reads(t).iter().map(|r| r.0));
        }
        if !txn.possible() {
            keys.clear();
        }
        keys.sort_unstable();
        keys.dedup();
        keys
    }

    fn has_version_edge(&self, k: u32, v1: u32, v2: u32) -> bool {
        self.versions.binary_search(&(k, v1, v2)).is_ok()
    }

    /// Every dependency edge.
    pub fn edges(&self, edges: &mut Edges) -> Result<(), CheckError> {
        // wr: the one committed writer of a value read.
        let mut i = 0;
        while i < self.readers.len() {
            let key = self.readers[i].0;
            let group = range(&self.readers, key);
            let writers = range(&self.writers, key);
            if writers.len() > 1 {
                let k = (key >> 32) as u32;
                let v = key as u32;
                return Err(CheckError::BadOperation {
                    place: format!("transactions {} and {}", writers[0].1, writers[1].1),
                    message: format!(
                        "key {} had value {} written by more than one transaction: \
                         rw-register needs every written value to be unique per key",
                        self.txns.key(k),
                        self.txns.value(v)
                    ),
                });
            }
            if let Some(&(_, w)) = writers.first() {
                for (_, r) in group {
                    edges.push(w, *r, WR);
                }
            }
            i += group.len();
        }
        // ww and rw from the version order.
        for &(k, v1, v2) in &self.versions {
            let next = range(&self.writers, pack(k, v2));
            for (_, a) in range(&self.writers, pack(k, v1)) {
                for (_, b) in next {
                    edges.push(*a, *b, WW);
                }
            }
            for (_, a) in range(&self.readers, pack(k, v1)) {
                for (_, b) in next {
                    edges.push(*a, *b, RW);
                }
            }
        }
        Ok(())
    }
}

impl Explainer for RwRegister<'_> {
    fn explain(&self, a: u32, b: u32, rel: u8) -> Option<Step> {
        let step = |k, v, v2, am, bm| Step {
            from: a,
            to: b,
            rel,
            key: k,
            value: Val::Id(v),
            value2: Val::Id(v2),
            a_mop: Some(am),
            b_mop: Some(bm),
        };
        match rel {
            WW | RW => {
                let from = if rel == WW { self.ext.writes(a) } else { self.ext.reads(a) };
                for &(k, v, am) in from {
                    if let Some(&(_, v2, bm)) = self.ext.writes(b).iter().find(|w| w.0 == k)
                        && self.has_version_edge(k, v, v2)
                    {
                        return Some(step(k, v, v2, am, bm));
                    }
                }
                None
            }
            WR => {
                for &(k, v, am) in self.ext.writes(a) {
                    if let Some(&(_, _, bm)) =
                        self.ext.reads(b).iter().find(|r| r.0 == k && r.1 == v)
                    {
                        return Some(step(k, v, v, am, bm));
                    }
                }
                None
            }
            _ => None,
        }
    }
}

/// Runs the analyses that need no graph and infers the version orders.
pub fn analyze<'a>(
    history: &Linted,
    txns: &'a Txns,
    assume: Assumptions,
) -> Result<(Findings, RwRegister<'a>), CheckError> {
    let _ = history;
    let mut findings = Findings::default();
    let ext = Ext::new(txns);
    let mut failed: FxMap<u64, u32> = FxMap::default();
    let mut intermediate: FxMap<u64, u32> = FxMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        let mops = txns.mops(t);
        for (i, m) in mops.iter().enumerate() {
            if m.kind != MopKind::Write {
                continue;
            }
            if !txn.possible() {
                failed.insert(pack(m.key, m.value), t as u32);
            }
            if mops[i + 1..].iter().any(|n| n.kind == MopKind::Write && n.key == m.key) {
                intermediate.insert(pack(m.key, m.value), t as u32);
            }
        }
    }
    let mut writers: Vec<(u64, u32)> = Vec::new();
    let mut readers: Vec<(u64, u32)> = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        let t = t as u32;
        if !txn.ok() {
            continue;
        }
        for (i, m) in txns.mops(t as usize).iter().enumerate() {
            if m.kind != MopKind::Read {
                continue;
            }
            let p = pack(m.key, m.value);
            if let Some(&w) = failed.get(&p) {
                let mut c = OpCase::new(t, i as u32);
                c.writer = Some(w);
                findings.add("G1a", Case::Op(c));
            }
            if let Some(&w) = intermediate.get(&p)
                && w != t
            {
                let mut c = OpCase::new(t, i as u32);
                c.writer = Some(w);
                findings.add("G1b", Case::Op(c));
            }
        }
        if let Some(c) = internal_case(txns, t) {
            findings.add("internal", Case::Op(c));
        }
        writers.extend(ext.writes(t).iter().map(|(k, v, _)| (pack(*k, *v), t)));
        readers.extend(ext.reads(t).iter().map(|(k, v, _)| (pack(*k, *v), t)));
    }
    writers.sort_unstable();
    readers.sort_unstable();
    lost_updates(txns, &ext, &mut findings);
    let mut reg = RwRegister { txns, ext, writers, readers, versions: Vec::new() };
    let mut sources: Vec<&'static str> = Vec::new();
    type Source = (&'static str, Vec<(u32, u32, u32)>);
    let mut candidates: Vec<Source> = vec![("initial-state", initial_state(&reg))];
    if assume.wfr_keys {
        candidates.push(("wfr-keys", wfr(&reg)));
    }
    if assume.sequential_keys {
        candidates.push(("sequential-keys", sequential(&reg)));
    }
    if assume.linearizable_keys {
        candidates.push(("linearizable-keys", linearizable(&reg)));
    }
    for (name, edges) in candidates {
        let mut merged = reg.versions.clone();
        merged.extend(edges);
        merged.sort_unstable();
        merged.dedup();
        let cycles = version_cycles(&merged);
        if cycles.is_empty() {
            reg.versions = merged;
            sources.push(name);
        } else {
            let mut s = sources.clone();
            s.push(name);
            for (key, scc) in cycles {
                findings.add("cyclic-versions", Case::Versions { key, scc, sources: s.clone() });
            }
        }
    }
    Ok((findings, reg))
}

/// Elle's internal check for one committed transaction.
fn internal_case(txns: &Txns, t: u32) -> Option<OpCase> {
    let mut state: FxMap<u32, u32> = FxMap::default();
    for (i, m) in txns.mops(t as usize).iter().enumerate() {
        match m.kind {
            MopKind::Write => {
                state.insert(m.key, m.value);
            }
            MopKind::Read => match state.get(&m.key) {
                // As Elle: a nil expectation (an earlier nil read) checks nothing.
                Some(&s) if s != NIL && s != m.value => {
                    let mut c = OpCase::new(t, i as u32);
                    c.expected = Some(Expected::Value(s));
                    return Some(c);
                }
                _ => {
                    state.insert(m.key, m.value);
                }
            },
            MopKind::Append => {}
        }
    }
    None
}

fn lost_updates(txns: &Txns, ext: &Ext, findings: &mut Findings) {
    let _ = ext;
    let mut groups: FxMap<u64, Vec<(u32, u32)>> = FxMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        if !txn.ok() {
            continue;
        }
        let mut read: Vec<(u32, u32, u32)> = Vec::new();
        let mut written: Vec<u32> = Vec::new();
        for (i, m) in txns.mops(t).iter().enumerate() {
            match m.kind {
                MopKind::Read if !read.iter().any(|r| r.0 == m.key) => {
                    read.push((m.key, m.value, i as u32))
                }
                MopKind::Write if !written.contains(&m.key) => {
                    if let Some(&(k, v, r)) = read.iter().find(|r| r.0 == m.key) {
                        written.push(k);
                        groups.entry(pack(k, v)).or_default().push((t as u32, r));
                    }
                }
                _ => {}
            }
        }
    }
    let mut cases: Vec<(u64, Vec<(u32, u32)>)> =
        groups.into_iter().filter(|(_, g)| g.len() >= 2).collect();
    cases.sort_unstable_by_key(|(p, _)| *p);
    for (p, g) in cases {
        findings.add(
            "lost-update",
            Case::Lost {
                key: (p >> 32) as u32,
                read: g[0],
                txns: g.iter().map(|(t, _)| *t).collect(),
            },
        );
    }
}

fn initial_state(reg: &RwRegister<'_>) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    for (t, txn) in reg.txns.txns.iter().enumerate() {
        if !txn.possible() {
            continue;
        }
        let t = t as u32;
        let reads = if txn.ok() { reg.ext.reads(t) } else { &[] };
        for &(k, v, _) in reg.ext.writes(t).iter().chain(reads) {
            if v != NIL {
                out.push((k, NIL, v));
            }
        }
    }
    out
}

fn wfr(reg: &RwRegister<'_>) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    for (t, txn) in reg.txns.txns.iter().enumerate() {
        if !txn.ok() {
            continue;
        }
        for &(k, v, _) in reg.ext.reads(t as u32) {
            if v != NIL
                && let Some(w) = reg.ext.write(t as u32, k)
                && w != v
            {
                out.push((k, v, w));
            }
        }
    }
    out
}

/// Per process and key, consecutive committed transactions that touched the key.
fn sequential(reg: &RwRegister<'_>) -> Vec<(u32, u32, u32)> {
    let mut out = Vec::new();
    let mut last: HashMap<(Process, u32), u32> = HashMap::new();
    for (t, txn) in reg.txns.txns.iter().enumerate() {
        if !txn.ok() {
            continue;
        }
        let b = t as u32;
        for k in reg.ext_keys(b) {
            if let Some(a) = last.insert((txn.process, k), b)
                && let (Some(v1), Some(v2)) = (reg.final_version(a, k), reg.first_version(b, k))
                && v1 != v2
            {
                out.push((k, v1, v2));
            }
        }
    }
    out
}

/// Per key, from each committed transaction to the first transactions (in real
/// time) after it that touched the key: those invoked after it completed and
/// before any of them completed.
fn linearizable(reg: &RwRegister<'_>) -> Vec<(u32, u32, u32)> {
    let mut by_key: FxMap<u32, Vec<u32>> = FxMap::default();
    for t in 0..reg.txns.txns.len() as u32 {
        for k in reg.ext_keys(t) {
            by_key.entry(k).or_default().push(t);
        }
    }
    let mut out = Vec::new();
    let mut keys: Vec<_> = by_key.into_iter().collect();
    keys.sort_unstable_by_key(|(k, _)| *k);
    for (k, mut ts) in keys {
        let txns = &reg.txns.txns;
        ts.sort_unstable_by_key(|t| txns[*t as usize].invoke);
        let done = |t: u32| {
            let x = &txns[t as usize];
            if x.ok() { x.complete.unwrap_or(usize::MAX) } else { usize::MAX }
        };
        for &a in &ts {
            if !txns[a as usize].ok() {
                continue;
            }
            let end = done(a);
            let start = ts.partition_point(|t| txns[*t as usize].invoke < end);
            let mut horizon = usize::MAX;
            for &b in &ts[start..] {
                if txns[b as usize].invoke > horizon {
                    break;
                }
                horizon = horizon.min(done(b));
                if let (Some(v1), Some(v2)) = (reg.final_version(a, k), reg.first_version(b, k))
                    && v1 != v2
                {
                    out.push((k, v1, v2));
                }
            }
        }
    }
    out
}

/// The cycles of the per-key version orders: (key, values in the cycle).
fn version_cycles(versions: &[(u32, u32, u32)]) -> Vec<(u32, Vec<u32>)> {
    let mut ids: FxMap<u64, u32> = FxMap::default();
    let mut nodes: Vec<(u32, u32)> = Vec::new();
    let mut id = |k: u32, v: u32, nodes: &mut Vec<(u32, u32)>| {
        *ids.entry(pack(k, v)).or_insert_with(|| {
            nodes.push((k, v));
            nodes.len() as u32 - 1
        })
    };
    let mut edges = Edges::default();
    for &(k, a, b) in versions {
        let x = id(k, a, &mut nodes);
        let y = id(k, b, &mut nodes);
        edges.push(x, y, WW);
    }
    let g = Graph::new(nodes.len(), edges);
    let mut out: Vec<(u32, Vec<u32>)> = graph::sccs(&g)
        .into_iter()
        .map(|scc| {
            let k = nodes[scc[0] as usize].0;
            let mut vs: Vec<u32> = scc.iter().map(|n| nodes[*n as usize].1).collect();
            vs.sort_unstable();
            (k, vs)
        })
        .collect();
    out.sort_unstable();
    out
}
