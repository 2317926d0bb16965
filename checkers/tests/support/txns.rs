//! Transactional histories made by simulating a strictly serializable store: each
//! transaction takes effect atomically at one instant between its invocation and
//! its completion, so every history made here is strict-serializable (and every
//! weaker model holds too). Jepsen's shape: `concurrency` processes, transactions
//! of 1 to 4 micro-operations over a pool of active keys, each key retired after
//! `max_writes_per_key` writes and replaced by a fresh one (Elle's `wr-txns`).
//! Some transactions fail (no effect) and some end `info` (half of them take
//! effect); an `info` retires its process, as Jepsen does.
//!
//! Also planting one anomaly in such a history. Shared by `tests/elle*.rs` and
//! `benches/elle.rs`.

#![allow(dead_code)]

use std::collections::HashMap;

use history::{History, Op, OpKind, Value};

/// SplitMix64: deterministic, no dependency.
pub struct Rng(pub u64);

impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n.max(1)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    ListAppend,
    RwRegister,
}

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub kind: Kind,
    pub txns: usize,
    pub concurrency: usize,
    pub active_keys: u64,
    pub max_writes_per_key: u64,
    /// Percent of transactions that fail, and that end `info`.
    pub fail_pct: u64,
    pub info_pct: u64,
    /// No two transactions overlap.
    pub serial: bool,
}

impl Shape {
    pub fn new(kind: Kind, txns: usize) -> Shape {
        Shape {
            kind,
            txns,
            concurrency: 10,
            active_keys: 8,
            max_writes_per_key: 32,
            fail_pct: 3,
            info_pct: 2,
            serial: false,
        }
    }
}

fn mop(f: &str, k: i64, v: Value) -> Value {
    Value::List(vec![Value::kw(f), Value::Int(k), v])
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    Invoked,
    Effected,
}

struct Proc {
    id: u64,
    phase: Phase,
    /// (f, key, value) with reads' values filled in at the effect.
    mops: Vec<(&'static str, i64, Value)>,
    outcome: OpKind,
}

/// A strict-serializable history of `shape.txns` transactions.
pub fn history(shape: Shape, seed: u64) -> History {
    let mut rng = Rng(seed);
    let mut ops: Vec<Op> = Vec::with_capacity(shape.txns * 2);
    let mut procs: Vec<Proc> = (0..shape.concurrency)
        .map(|i| Proc { id: i as u64, phase: Phase::Idle, mops: Vec::new(), outcome: OpKind::Ok })
        .collect();
    let mut next_process = shape.concurrency as u64;
    let mut lists: HashMap<i64, Vec<i64>> = HashMap::new();
    let mut registers: HashMap<i64, i64> = HashMap::new();
    let mut writes: HashMap<i64, u64> = HashMap::new();
    let mut active: Vec<i64> = (0..shape.active_keys as i64).collect();
    let mut next_key = shape.active_keys as i64;
    let mut next_value = 1i64;
    let (mut invoked, mut open, mut time) = (0usize, 0usize, 0u64);
    let value_of = |mops: &[(&'static str, i64, Value)], invocation: bool| {
        Value::List(
            mops.iter()
                .map(|(f, k, v)| {
                    let v = if invocation && *f == "r" { Value::Nil } else { v.clone() };
                    mop(f, *k, v)
                })
                .collect(),
        )
    };
    while invoked < shape.txns || open > 0 {
        time += 1 + rng.below(3);
        let p = if shape.serial {
            procs.iter().position(|p| p.phase != Phase::Idle).unwrap_or(invoked % shape.concurrency)
        } else {
            rng.below(shape.concurrency as u64) as usize
        };
        let pr = &mut procs[p];
        match pr.phase {
            Phase::Idle if invoked < shape.txns => {
                let n = 1 + rng.below(4) as usize;
                pr.mops.clear();
                for _ in 0..n {
                    // Hot keys: the lower of two uniform picks.
                    let i =
                        rng.below(active.len() as u64).min(rng.below(active.len() as u64)) as usize;
                    let k = active[i];
                    if rng.below(2) == 0 {
                        pr.mops.push(("r", k, Value::Nil));
                    } else {
                        let f = if shape.kind == Kind::ListAppend { "append" } else { "w" };
                        pr.mops.push((f, k, Value::Int(next_value)));
                        next_value += 1;
                        let w = writes.entry(k).or_insert(0);
                        *w += 1;
                        if *w >= shape.max_writes_per_key {
                            active[i] = next_key;
                            next_key += 1;
                        }
                    }
                }
                let roll = rng.below(100);
                pr.outcome = if roll < shape.fail_pct {
                    OpKind::Fail
                } else if roll < shape.fail_pct + shape.info_pct {
                    OpKind::Info
                } else {
                    OpKind::Ok
                };
                let mut op = Op::invoke(pr.id, "txn", value_of(&pr.mops, true));
                op.time_ns = time;
                ops.push(op);
                pr.phase = Phase::Invoked;
                invoked += 1;
                open += 1;
            }
            Phase::Idle => {}
            Phase::Invoked => {
                let takes_effect =
                    pr.outcome == OpKind::Ok || (pr.outcome == OpKind::Info && rng.below(2) == 0);
                if takes_effect {
                    for (f, k, v) in pr.mops.iter_mut() {
                        match (*f, shape.kind) {
                            ("r", Kind::ListAppend) => {
                                let l = lists.get(k).cloned().unwrap_or_default();
                                *v = Value::List(l.into_iter().map(Value::Int).collect());
                            }
                            ("r", Kind::RwRegister) => {
                                *v = registers.get(k).map_or(Value::Nil, |x| Value::Int(*x));
                            }
                            ("append", _) => {
                                lists.entry(*k).or_default().push(v.as_int().unwrap_or(0))
                            }
                            _ => {
                                registers.insert(*k, v.as_int().unwrap_or(0));
                            }
                        }
                    }
                }
                pr.phase = Phase::Effected;
            }
            Phase::Effected => {
                let value = match pr.outcome {
                    OpKind::Ok => value_of(&pr.mops, false),
                    _ => value_of(&pr.mops, true),
                };
                let mut op = Op::new(history::Process::Client(pr.id), pr.outcome, "txn", value);
                op.time_ns = time;
                ops.push(op);
                if pr.outcome == OpKind::Info {
                    pr.id = next_process;
                    next_process += 1;
                }
                pr.phase = Phase::Idle;
                open -= 1;
            }
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    History::from_ops(ops)
}

/// Ways to break a history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    /// A committed read returns an older state of its key (a stale read).
    StaleRead,
    /// A committed list read loses one element from the middle.
    DropElement,
    /// A committed list read repeats its last element.
    Duplicate,
    /// A committed read shows a value a failed transaction wrote.
    AbortedRead,
}

/// `history` with one anomaly of `plant` planted (the `n`th candidate read, modulo
/// their number); `None` when there is no read to plant it in.
pub fn plant(history: &History, plant: Plant, n: usize) -> Option<History> {
    let mut h = history.clone();
    let reads: Vec<(usize, usize)> = h
        .ops
        .iter()
        .enumerate()
        .filter(|(_, o)| o.kind == OpKind::Ok)
        .flat_map(|(i, o)| {
            let mops = o.value.as_list().unwrap_or(&[]).to_vec();
            mops.into_iter().enumerate().filter_map(move |(j, m)| {
                let l = m.as_list()?;
                (l.first() == Some(&Value::kw("r"))).then_some((i, j))
            })
        })
        .collect();
    let key_of = |h: &History, (i, j): (usize, usize)| {
        h.ops[i].value.as_list().unwrap()[j].as_list().unwrap()[1].clone()
    };
    let val_of = |h: &History, (i, j): (usize, usize)| {
        h.ops[i].value.as_list().unwrap()[j].as_list().unwrap()[2].clone()
    };
    let set = |h: &mut History, (i, j): (usize, usize), v: Value| {
        if let Value::List(mops) = &mut h.ops[i].value
            && let Value::List(m) = &mut mops[j]
        {
            m[2] = v;
        }
    };
    match plant {
        Plant::StaleRead => {
            // A read that returns an older state of its key: a prefix of its list
            // missing an element a committed transaction appended (list-append),
            // or nil where a committed transaction had written a value (register).
            // In a serial history that transaction completed before the read began.
            // Every (key, value) a committed transaction wrote, once (not a scan per read).
            let committed: std::collections::HashSet<String> = h
                .ops
                .iter()
                .filter(|o| o.kind == OpKind::Ok)
                .flat_map(|o| o.value.as_list().unwrap_or(&[]).iter())
                .filter_map(|m| {
                    let l = m.as_list()?;
                    (l[0] != Value::kw("r")).then(|| format!("{} {}", l[1], l[2]))
                })
                .collect();
            let ok_writer =
                |_: &History, k: &Value, v: &Value| committed.contains(&format!("{k} {v}"));
            let candidates: Vec<((usize, usize), Value)> = reads
                .iter()
                .filter_map(|&r| {
                    let (k, v) = (key_of(&h, r), val_of(&h, r));
                    match &v {
                        Value::List(l) if !l.is_empty() => {
                            let cut = n % l.len();
                            ok_writer(&h, &k, &l[cut]).then(|| (r, Value::List(l[..cut].to_vec())))
                        }
                        Value::Int(_) => ok_writer(&h, &k, &v).then_some((r, Value::Nil)),
                        _ => None,
                    }
                })
                .collect();
            let (r, old) = candidates.get(n % candidates.len().max(1))?.clone();
            set(&mut h, r, old);
        }
        Plant::DropElement | Plant::Duplicate => {
            let candidates: Vec<(usize, usize)> = reads
                .iter()
                .copied()
                .filter(|r| val_of(&h, *r).as_list().is_some_and(|l| l.len() >= 3))
                .collect();
            let r = *candidates.get(n % candidates.len().max(1))?;
            let mut l = val_of(&h, r).as_list()?.to_vec();
            if plant == Plant::DropElement {
                l.remove(l.len() / 2);
            } else {
                let last = l.last()?.clone();
                l.push(last);
            }
            set(&mut h, r, Value::List(l));
        }
        Plant::AbortedRead => {
            // The value of a failed write, put into a later committed read of its key.
            let failed: Vec<(Value, Value, usize)> = h
                .ops
                .iter()
                .enumerate()
                .filter(|(_, o)| o.kind == OpKind::Fail)
                .flat_map(|(i, o)| {
                    o.value
                        .as_list()
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(move |m| {
                            let l = m.as_list()?;
                            (l[0] != Value::kw("r")).then(|| (l[1].clone(), l[2].clone(), i))
                        })
                        .collect::<Vec<_>>()
                })
                .collect();
            let (k, v, at) = failed
                .iter()
                .cycle()
                .skip(n % failed.len().max(1))
                .take(failed.len())
                .find(|(k, _, at)| reads.iter().any(|r| r.0 > *at && key_of(&h, *r) == *k))?
                .clone();
            let r = *reads.iter().find(|r| r.0 > at && key_of(&h, **r) == k)?;
            let new = match val_of(&h, r) {
                Value::List(ref l) => {
                    let mut l = l.clone();
                    l.push(v);
                    Value::List(l)
                }
                Value::Nil
                    if h.ops[r.0]
                        .value
                        .as_list()?
                        .iter()
                        .any(|m| m.as_list().is_some_and(|l| l[0] == Value::kw("append"))) =>
                {
                    Value::List(vec![v])
                }
                _ => v,
            };
            set(&mut h, r, new);
        }
    }
    Some(h)
}
