//! Elle's list-append analysis (`elle.list-append`), our own code: transactions
//! append unique elements to lists and read whole lists, so every read `[1 2 3]`
//! reveals the order the appends took effect in. From the longest read of each key
//! (every other read must be a prefix of it) comes the key's version order, and
//! from that the dependencies:
//! - `ww`: T2 appended `e` right after T1's append of the element before it;
//! - `wr`: T2 read a list ending in T1's append;
//! - `rw`: T1 read the version just before T2's append (T1 did not see it).
//!
//! An append never read is known only to follow the longest read's last element.
//! Besides cycles, found without the graph (Elle's definitions):
//! - `G1a` (aborted read): an `ok` read contains an element a failed transaction
//!   appended;
//! - `G1b` (intermediate read): an `ok` read ends in an element its writer appended
//!   to that key again later in the same transaction;
//! - `internal`: a read disagrees with the transaction's own earlier read or
//!   appends (Cerone et al.'s INT);
//! - `future-read`: a read contains an element the same transaction appends later;
//! - `duplicate-elements`: a read lists an element twice;
//! - `incompatible-order`: two reads of a key, neither a prefix of the other;
//! - `dirty-update`: in a key's order, a committed append follows an aborted one;
//! - `lost-update`: two committed transactions read the same version of a key and
//!   both appended to it.
//!
//! Elle's inputs are assumed: every `[:append k v]` invocation appends a value
//! never appended to `k` before (otherwise the check is refused, naming both).

use history::Linted;

use super::analysis::{Case, Expected, Findings, OpCase};
use super::cycles::{Explainer, Step, Val};
use super::graph::{Edges, RW, WR, WW};
use super::txn::{FxMap, MopKind, NONE, Txns};
use crate::verdict::CheckError;

/// "The initial (empty) state" as an element.
const INIT: u32 = u32::MAX;

fn pack(k: u32, v: u32) -> u64 {
    ((k as u64) << 32) | v as u64
}

/// The indexes the dependency edges are computed from.
pub struct ListAppend<'a> {
    pub txns: &'a Txns,
    /// Per key: the version order (distinct elements of its longest read).
    order: FxMap<u32, Vec<u32>>,
    /// (key, element or INIT) -> what the edges need of it, in one map: each
    /// append then costs two hash probes (its own element, the one before it)
    /// instead of three maps' probes and a binary search of `readers`. At a
    /// million transactions these outgrow the cache and every probe is a miss
    /// (the 1M check took 13.3x the 100k one with them, 12.7x with this).
    elems: FxMap<u64, Elem>,
    /// Reads by (key, last element or INIT), sorted: (packed, txn).
    readers: Vec<(u64, u32)>,
}

/// One (key, element)'s place in the key's order, writer and readers.
#[derive(Debug, Clone, Copy)]
struct Elem {
    /// Position in the key's order (`ABSENT`: no read saw it).
    position: u32,
    /// The ok or info transaction that appended it (`ABSENT`: none).
    writer: u32,
    /// The reads ending in it (or, for INIT, the empty reads): a run of `readers`.
    readers: (u32, u32),
}

const ABSENT: u32 = u32::MAX;

impl Default for Elem {
    fn default() -> Elem {
        Elem { position: ABSENT, writer: ABSENT, readers: (0, 0) }
    }
}

impl<'a> ListAppend<'a> {
    /// The element appended to `k` just before `v` (INIT for the first), or, for an
    /// element no read saw, the last element any read saw.
    fn previous(&self, k: u32, v: u32) -> u32 {
        match self.elems.get(&pack(k, v)).map(|e| e.position) {
            Some(0) => INIT,
            Some(i) if i != ABSENT => self.order[&k][i as usize - 1],
            _ => self.order.get(&k).and_then(|o| o.last().copied()).unwrap_or(INIT),
        }
    }

    fn elem(&self, k: u32, e: u32) -> Elem {
        self.elems.get(&pack(k, e)).copied().unwrap_or_default()
    }

    fn readers_in(&self, e: Elem) -> &[(u64, u32)] {
        &self.readers[e.readers.0 as usize..e.readers.1 as usize]
    }

    fn readers_of(&self, k: u32, e: u32) -> &[(u64, u32)] {
        self.readers_in(self.elem(k, e))
    }

    /// The transaction that appended `e` to `k`.
    fn writer_of(&self, k: u32, e: u32) -> Option<u32> {
        Some(self.elem(k, e).writer).filter(|w| *w != ABSENT)
    }

    /// Every dependency edge between transactions that may have happened.
    pub fn edges(&self, edges: &mut Edges) {
        for (t, txn) in self.txns.txns.iter().enumerate() {
            if !txn.possible() {
                continue;
            }
            let t = t as u32;
            for m in self.txns.mops(t as usize) {
                match m.kind {
                    MopKind::Append => {
                        let prev = self.previous(m.key, m.value);
                        let before = self.elem(m.key, prev);
                        if prev != INIT && before.writer != ABSENT {
                            edges.push(before.writer, t, WW);
                        }
                        for (_, r) in self.readers_in(before) {
                            edges.push(*r, t, RW);
                        }
                    }
                    MopKind::Read => {
                        if let Some(&last) = self.txns.list(m.value).last()
                            && let Some(w) = self.writer_of(m.key, last)
                        {
                            edges.push(w, t, WR);
                        }
                    }
                    MopKind::Write => {}
                }
            }
        }
    }
}

fn mop_index(txns: &Txns, t: u32, f: impl Fn(&super::txn::Mop) -> bool) -> Option<u32> {
    txns.mops(t as usize).iter().position(f).map(|i| i as u32)
}

impl Explainer for ListAppend<'_> {
    fn explain(&self, a: u32, b: u32, rel: u8) -> Option<Step> {
        let txns = self.txns;
        for (i, m) in txns.mops(b as usize).iter().enumerate() {
            let step = |key, value, value2, a_mop| Step {
                from: a,
                to: b,
                rel,
                key,
                value,
                value2,
                a_mop,
                b_mop: Some(i as u32),
            };
            match (rel, m.kind) {
                (WW, MopKind::Append) => {
                    let prev = self.previous(m.key, m.value);
                    if prev != INIT && self.writer_of(m.key, prev) == Some(a) {
                        let am = mop_index(txns, a, |x| {
                            x.kind == MopKind::Append && x.key == m.key && x.value == prev
                        });
                        return Some(step(m.key, Val::Id(prev), Val::Id(m.value), am));
                    }
                }
                (WR, MopKind::Read) => {
                    if let Some(&last) = txns.list(m.value).last()
                        && self.writer_of(m.key, last) == Some(a)
                    {
                        let am = mop_index(txns, a, |x| {
                            x.kind == MopKind::Append && x.key == m.key && x.value == last
                        });
                        return Some(step(m.key, Val::Id(last), Val::Id(last), am));
                    }
                }
                (RW, MopKind::Append) => {
                    let prev = self.previous(m.key, m.value);
                    if self.readers_of(m.key, prev).iter().any(|(_, r)| *r == a) {
                        let am = mop_index(txns, a, |x| {
                            x.kind == MopKind::Read
                                && x.key == m.key
                                && match txns.list(x.value).last() {
                                    None => prev == INIT,
                                    Some(l) => *l == prev,
                                }
                        });
                        let value = if prev == INIT { Val::Init } else { Val::Id(prev) };
                        return Some(step(m.key, value, Val::Id(m.value), am));
                    }
                }
                _ => {}
            }
        }
        None
    }
}

/// Runs every analysis that needs no graph, builds the indexes for the graph, and
/// returns both.
pub fn analyze<'a>(
    history: &Linted,
    txns: &'a Txns,
) -> Result<(Findings, ListAppend<'a>), CheckError> {
    let mut findings = Findings::default();
    unique_appends(history, txns)?;
    let mut failed: FxMap<u64, u32> = FxMap::default();
    let mut intermediate: FxMap<u64, u32> = FxMap::default();
    let mut writer: FxMap<u64, u32> = FxMap::default();
    let mut appends_per_key: FxMap<u32, (u32, u32)> = FxMap::default();
    for (t, txn) in txns.txns.iter().enumerate() {
        let t = t as u32;
        let mops = txns.mops(t as usize);
        for (i, m) in mops.iter().enumerate() {
            if m.kind != MopKind::Append {
                continue;
            }
            let p = pack(m.key, m.value);
            if !txn.possible() {
                failed.insert(p, t);
            } else {
                writer.insert(p, t);
                let e = appends_per_key.entry(m.key).or_insert((0, m.value));
                e.0 += 1;
            }
            if mops[i + 1..].iter().any(|n| n.kind == MopKind::Append && n.key == m.key) {
                intermediate.insert(p, t);
            }
        }
    }
    // Per-operation anomalies of committed transactions.
    let mut seen = vec![0u32; txns.values.len()];
    let mut stamp = 0u32;
    for (t, txn) in txns.txns.iter().enumerate() {
        let t = t as u32;
        if txn.ok() {
            for (i, m) in txns.mops(t as usize).iter().enumerate() {
                if m.kind != MopKind::Read {
                    continue;
                }
                let list = txns.list(m.value);
                for e in list {
                    if let Some(&w) = failed.get(&pack(m.key, *e)) {
                        let mut c = OpCase::new(t, i as u32);
                        c.writer = Some(w);
                        c.element = Some(*e);
                        findings.add("G1a", Case::Op(c));
                    }
                }
                if let Some(&last) = list.last()
                    && let Some(&w) = intermediate.get(&pack(m.key, last))
                    && w != t
                {
                    let mut c = OpCase::new(t, i as u32);
                    c.writer = Some(w);
                    c.element = Some(last);
                    findings.add("G1b", Case::Op(c));
                }
            }
            if let Some(c) = internal_case(txns, t) {
                findings.add("internal", Case::Op(c));
            }
            if let Some(c) = future_read_case(txns, t) {
                findings.add("future-read", Case::Op(c));
            }
        }
        if txn.possible() {
            for (i, m) in txns.mops(t as usize).iter().enumerate() {
                if m.kind != MopKind::Read {
                    continue;
                }
                stamp += 1;
                let mut dups: Vec<(u32, usize)> = Vec::new();
                let list = txns.list(m.value);
                for e in list {
                    if seen[*e as usize] == stamp {
                        if !dups.iter().any(|(d, _)| d == e) {
                            dups.push((*e, list.iter().filter(|x| *x == e).count()));
                        }
                    } else {
                        seen[*e as usize] = stamp;
                    }
                }
                if !dups.is_empty() {
                    dups.sort_unstable_by_key(|(e, _)| txns.value(*e).clone());
                    let mut c = OpCase::new(t, i as u32);
                    c.duplicates = dups;
                    findings.add("duplicate-elements", Case::Op(c));
                }
            }
        }
    }
    // Version orders from the longest reads (of transactions that may have
    // happened), keys with a single append and no read inferred from it.
    let (mut longest, incompatible) = longest_reads(txns, |t| txns.txns[t].possible());
    for (k, values) in incompatible {
        findings.add("incompatible-order", Case::Orders { key: k, values });
    }
    for (k, (count, v)) in &appends_per_key {
        if *count == 1 {
            longest.entry(*k).or_insert_with(|| vec![*v]);
        }
    }
    dirty_updates(txns, &failed, &writer, &mut findings);
    lost_updates(txns, &mut findings);
    let mut order: FxMap<u32, Vec<u32>> = FxMap::default();
    let mut elems: FxMap<u64, Elem> = FxMap::default();
    elems.reserve(writer.len());
    for (p, w) in writer {
        elems.insert(p, Elem { writer: w, ..Elem::default() });
    }
    for (k, list) in longest {
        let mut distinct = Vec::with_capacity(list.len());
        for e in list {
            let elem = elems.entry(pack(k, e)).or_default();
            if elem.position == ABSENT {
                elem.position = distinct.len() as u32;
                distinct.push(e);
            }
        }
        order.insert(k, distinct);
    }
    let mut readers: Vec<(u64, u32)> = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if !txn.possible() {
            continue;
        }
        for m in txns.mops(t) {
            // An info op's nil read is the invocation's: nothing was observed.
            if m.kind == MopKind::Read && (txn.ok() || m.value != NONE) {
                let last = txns.list(m.value).last().copied().unwrap_or(INIT);
                readers.push((pack(m.key, last), t as u32));
            }
        }
    }
    readers.sort_unstable();
    let mut start = 0;
    while start < readers.len() {
        let key = readers[start].0;
        let end = readers[start..]
            .iter()
            .position(|(p, _)| *p != key)
            .map_or(readers.len(), |n| start + n);
        elems.entry(key).or_default().readers = (start as u32, end as u32);
        start = end;
    }
    Ok((findings, ListAppend { txns, order, elems, readers }))
}

/// Elle refuses histories that append one value to a key twice.
fn unique_appends(history: &Linted, txns: &Txns) -> Result<(), CheckError> {
    let mut first: FxMap<u64, u32> = FxMap::default();
    for (t, _) in txns.txns.iter().enumerate() {
        for m in txns.mops(t) {
            if m.kind != MopKind::Append {
                continue;
            }
            if let Some(&other) = first.get(&pack(m.key, m.value)) {
                let place = |t: u32| history.history().place(txns.txns[t as usize].invoke);
                return Err(CheckError::BadOperation {
                    place: place(t as u32),
                    message: format!(
                        "value {} is appended to key {} more than once (also at {}): \
                         list-append needs every appended value to be unique per key",
                        txns.value(m.value),
                        txns.key(m.key),
                        place(other)
                    ),
                });
            }
            first.insert(pack(m.key, m.value), t as u32);
        }
    }
    Ok(())
}

/// Elle's INT check for one committed transaction: each read must equal what the
/// transaction's own earlier reads and appends imply (after appends to a key not
/// read first, only the list's end is known).
fn internal_case(txns: &Txns, t: u32) -> Option<OpCase> {
    // key -> (unknown prefix, known elements)
    let mut state: FxMap<u32, (bool, Vec<u32>)> = FxMap::default();
    for (i, m) in txns.mops(t as usize).iter().enumerate() {
        match m.kind {
            MopKind::Append => {
                state.entry(m.key).or_insert((true, Vec::new())).1.push(m.value);
            }
            MopKind::Read => {
                let read = txns.list(m.value);
                if let Some((unknown, expected)) = state.get(&m.key) {
                    let bad = if *unknown {
                        read.len() < expected.len()
                            || read[read.len() - expected.len()..] != expected[..]
                    } else {
                        read != &expected[..]
                    };
                    if bad {
                        let mut c = OpCase::new(t, i as u32);
                        c.expected = Some(Expected::List {
                            unknown_prefix: *unknown,
                            elements: expected.clone(),
                        });
                        return Some(c);
                    }
                }
                if m.value != NONE {
                    state.insert(m.key, (false, read.to_vec()));
                }
            }
            MopKind::Write => {}
        }
    }
    None
}

/// A read that contains an element the same transaction appends later.
fn future_read_case(txns: &Txns, t: u32) -> Option<OpCase> {
    let mops = txns.mops(t as usize);
    for (j, m) in mops.iter().enumerate() {
        if m.kind != MopKind::Append {
            continue;
        }
        for (i, r) in mops[..j].iter().enumerate() {
            if r.kind == MopKind::Read && r.key == m.key && txns.list(r.value).contains(&m.value) {
                let mut c = OpCase::new(t, i as u32);
                c.element = Some(m.value);
                return Some(c);
            }
        }
    }
    None
}

/// The longest non-empty read of each key among the transactions `include`
/// accepts, and the keys where some read is not a prefix of it (with Elle's pair:
/// the first two reads, by length, that are not prefixes of one another).
#[allow(clippy::type_complexity)]
fn longest_reads(
    txns: &Txns,
    include: impl Fn(usize) -> bool,
) -> (FxMap<u32, Vec<u32>>, Vec<(u32, [Vec<u32>; 2])>) {
    let mut best: FxMap<u32, u32> = FxMap::default(); // key -> list id
    let reads = || {
        txns.txns.iter().enumerate().filter(|(t, _)| include(*t)).flat_map(|(t, _)| {
            txns.mops(t)
                .iter()
                .filter(|m| m.kind == MopKind::Read && !txns.list(m.value).is_empty())
        })
    };
    for m in reads() {
        let len = txns.list(m.value).len();
        let e = best.entry(m.key).or_insert(m.value);
        if txns.list(*e).len() < len {
            *e = m.value;
        }
    }
    let mut bad: std::collections::BTreeSet<u32> = Default::default();
    for m in reads() {
        let longest = txns.list(best[&m.key]);
        let read = txns.list(m.value);
        if !longest.starts_with(read) {
            bad.insert(m.key);
        }
    }
    let mut incompatible = Vec::new();
    for k in bad {
        let mut values: Vec<&[u32]> =
            reads().filter(|m| m.key == k).map(|m| txns.list(m.value)).collect();
        values.sort_unstable_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
        values.dedup();
        if let Some(w) = values.windows(2).find(|w| !w[1].starts_with(w[0])) {
            incompatible.push((k, [w[0].to_vec(), w[1].to_vec()]));
        }
    }
    let longest = best.into_iter().map(|(k, l)| (k, txns.list(l).to_vec())).collect();
    (longest, incompatible)
}

/// Elle's dirty update: walking each key's order (from the reads of every
/// completed transaction, failed ones included), an element appended by an `ok`
/// transaction right after a run of elements from failed ones.
fn dirty_updates(
    txns: &Txns,
    failed: &FxMap<u64, u32>,
    writer: &FxMap<u64, u32>,
    findings: &mut Findings,
) {
    if failed.is_empty() {
        return;
    }
    let (longest, _) = longest_reads(txns, |t| txns.txns[t].complete.is_some());
    let mut keys: Vec<&u32> = longest.keys().collect();
    keys.sort_unstable();
    #[derive(Clone, Copy, PartialEq)]
    enum W {
        Ok,
        Info,
        Fail,
    }
    for k in keys {
        let mut distinct: Vec<u32> = Vec::new();
        for e in &longest[k] {
            if !distinct.contains(e) {
                distinct.push(*e);
            }
        }
        let (mut t1, mut t1_txn) = (W::Ok, None::<u32>);
        let mut run: Vec<u32> = Vec::new();
        for v in distinct {
            let p = pack(*k, v);
            let (t2, t2_txn) = match (failed.get(&p), writer.get(&p)) {
                (Some(f), _) => (W::Fail, Some(*f)),
                (None, Some(w)) if txns.txns[*w as usize].ok() => (W::Ok, Some(*w)),
                (None, Some(w)) => (W::Info, Some(*w)),
                (None, None) => (W::Info, None),
            };
            match (t1, t2) {
                (W::Fail, W::Ok) => {
                    run.push(v);
                    if let (Some(a), Some(b)) = (t1_txn, t2_txn) {
                        findings.add(
                            "dirty-update",
                            Case::Dirty { key: *k, values: run.clone(), txns: [a, b] },
                        );
                    }
                    (t1, t1_txn, run) = (t2, t2_txn, vec![v]);
                }
                (_, W::Ok) | (W::Ok | W::Info, W::Fail) => {
                    (t1, t1_txn, run) = (t2, t2_txn, vec![v])
                }
                _ => run.push(v),
            }
        }
    }
}

/// Committed transactions that read the same version of a key (their first read of
/// it, before appending) and then appended to it.
fn lost_updates(txns: &Txns, findings: &mut Findings) {
    // (key, hash of the list read, txn, mop of the read), then sorted: one flat
    // vector rather than a map of small vectors (a million transactions would
    // allocate one per read).
    let mut reads: Vec<(u32, u64, u32, u32)> = Vec::new();
    let mut read: Vec<(u32, u32)> = Vec::new(); // key -> mop index
    let mut written: Vec<u32> = Vec::new();
    for (t, txn) in txns.txns.iter().enumerate() {
        if !txn.ok() {
            continue;
        }
        let mops = txns.mops(t);
        read.clear();
        written.clear();
        for (i, m) in mops.iter().enumerate() {
            match m.kind {
                MopKind::Read if !read.iter().any(|(k, _)| *k == m.key) => {
                    read.push((m.key, i as u32))
                }
                // As Elle: a key counts as written only once it was read first.
                MopKind::Append if !written.contains(&m.key) => {
                    if let Some(&(_, r)) = read.iter().find(|(k, _)| *k == m.key) {
                        written.push(m.key);
                        let v = mops[r as usize].value;
                        let h = if v == NONE { u64::MAX } else { list_hash(txns.list(v)) };
                        reads.push((m.key, h, t as u32, r));
                    }
                }
                _ => {}
            }
        }
    }
    reads.sort_unstable();
    let mut cases: Vec<(u32, (u32, u32), Vec<u32>)> = Vec::new();
    let mut i = 0;
    while i < reads.len() {
        let (k, h) = (reads[i].0, reads[i].1);
        let n = reads[i..].iter().position(|x| (x.0, x.1) != (k, h)).unwrap_or(reads.len() - i);
        let bucket = &reads[i..i + n];
        i += n;
        if n < 2 {
            continue;
        }
        // Split a hash bucket by the exact list read (collisions are all but
        // impossible, but cost nothing to rule out); members in transaction order.
        let mut rest: Vec<(u32, u32)> = bucket.iter().map(|x| (x.2, x.3)).collect();
        while let Some(&(t0, r0)) = rest.first() {
            let v0 = txns.mops(t0 as usize)[r0 as usize].value;
            let same = |&(t, r): &(u32, u32)| {
                let v = txns.mops(t as usize)[r as usize].value;
                (v == NONE) == (v0 == NONE) && txns.list(v) == txns.list(v0)
            };
            let (group, others): (Vec<_>, Vec<_>) = rest.iter().partition(|x| same(x));
            if group.len() >= 2 {
                cases.push((k, (t0, r0), group.iter().map(|(t, _)| *t).collect()));
            }
            rest = others;
        }
    }
    cases.sort_unstable_by_key(|(k, r, _)| (*k, *r));
    for (key, read, txns) in cases {
        findings.add("lost-update", Case::Lost { key, read, txns });
    }
}

fn list_hash(list: &[u32]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = super::txn::FxHasher::default();
    list.len().hash(&mut h);
    for e in list {
        e.hash(&mut h);
    }
    h.finish()
}
