//! Transactions as Elle reads them: every client operation whose value is a list of
//! micro-operations `[f k v]` (`[:append k 3]`, `[:r k [1 2 3]]`, `[:w k 5]`),
//! compiled once into compact arrays: keys and values interned to small integers,
//! every read list stored in one arena, so the analyses that follow touch no
//! `Value` again.
//!
//! Jepsen's rules for what an operation says: an `ok` transaction happened with the
//! values its completion carries; a `fail`ed one did not happen; an `info` one (or
//! one the history never completed) may or may not have happened, and its reads
//! say nothing (its value is the invocation's, reads `nil`). The completion's value
//! is used when there is one, else the invocation's.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use history::{Linted, OpKind, Process, Value};

use crate::verdict::CheckError;

/// A fast hash for small integer keys (Fx: multiply and rotate). Inputs are ids
/// and integers, not attacker-chosen strings; worst cases only cost time.
#[derive(Default, Clone, Copy)]
pub struct FxHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(SEED);
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

pub type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Which micro-operations a checker accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `:append` and `:r` (reads return lists).
    ListAppend,
    /// `:w` and `:r` (reads return single values).
    RwRegister,
}

/// A micro-operation's function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MopKind {
    Append,
    Write,
    Read,
}

impl MopKind {
    pub fn name(self) -> &'static str {
        match self {
            MopKind::Append => "append",
            MopKind::Write => "w",
            MopKind::Read => "r",
        }
    }
}

/// No value: the read returned `nil` (unknown for an `info` op).
pub const NONE: u32 = u32::MAX;

/// One micro-operation. For appends and writes `value` is the value id; for
/// list-append reads it is the index of the read list in [`Txns::lists`] ([`NONE`]
/// for `nil`); for register reads it is the value id ([`NIL`] for `nil`).
#[derive(Debug, Clone, Copy)]
pub struct Mop {
    pub kind: MopKind,
    pub key: u32,
    pub value: u32,
}

/// The value id of `nil` in a register history (every key's initial state).
pub const NIL: u32 = 0;

/// One transaction (a client operation and its completion).
#[derive(Debug, Clone, Copy)]
pub struct Txn {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion, `None` when the history ended first.
    pub complete: Option<usize>,
    /// `Ok`, `Fail` or `Info` (never completed counts as `Info`).
    pub outcome: OpKind,
    pub process: Process,
    /// Its micro-operations: `mops[start..end]`.
    pub start: u32,
    pub end: u32,
}

impl Txn {
    pub fn ok(&self) -> bool {
        self.outcome == OpKind::Ok
    }

    /// Ok or info: it may have happened (Jepsen's `possible`).
    pub fn possible(&self) -> bool {
        self.outcome != OpKind::Fail
    }

    /// The position that names it in reports: its completion, else its invocation.
    pub fn position(&self) -> usize {
        self.complete.unwrap_or(self.invoke)
    }
}

/// A history's transactions, compiled.
#[derive(Debug, Default)]
pub struct Txns {
    pub txns: Vec<Txn>,
    pub mops: Vec<Mop>,
    /// Read lists (list-append): `(start, len)` into `elements`.
    pub lists: Vec<(u32, u32)>,
    pub elements: Vec<u32>,
    /// Keys by id.
    pub keys: Vec<Value>,
    /// Values (appended elements, written values) by id; id 0 is `nil`.
    pub values: Vec<Value>,
}

impl Txns {
    pub fn mops(&self, t: usize) -> &[Mop] {
        let txn = &self.txns[t];
        &self.mops[txn.start as usize..txn.end as usize]
    }

    /// A read's list (empty for `nil`).
    pub fn list(&self, list: u32) -> &[u32] {
        match self.lists.get(list as usize) {
            Some(&(s, n)) => &self.elements[s as usize..(s + n) as usize],
            None => &[],
        }
    }

    pub fn key(&self, key: u32) -> &Value {
        &self.keys[key as usize]
    }

    pub fn value(&self, v: u32) -> &Value {
        &self.values[v as usize]
    }
}

/// Interns values: integers without hashing a `Value`, anything else by value.
#[derive(Default)]
struct Interner {
    ints: FxMap<i64, u32>,
    others: HashMap<Value, u32>,
}

impl Interner {
    fn id(&mut self, v: &Value, table: &mut Vec<Value>) -> u32 {
        let next = table.len() as u32;
        let id = match v {
            Value::Int(i) => *self.ints.entry(*i).or_insert(next),
            other => match self.others.get(other) {
                Some(id) => *id,
                None => {
                    self.others.insert(other.clone(), next);
                    next
                }
            },
        };
        if id == next {
            table.push(v.clone());
        }
        id
    }
}

/// The name of a micro-operation's function, from a keyword or a string.
fn mop_name(v: &Value) -> Option<&str> {
    match v {
        Value::Keyword(s) | Value::Str(s) | Value::Symbol(s) => Some(s),
        _ => None,
    }
}

/// Compiles every client operation of `history` into transactions. An operation
/// whose value is not a list of micro-operations, or a micro-operation this flavor
/// does not know, is an error naming its line.
pub fn compile(history: &Linted, flavor: Flavor) -> Result<Txns, CheckError> {
    let ops = history.ops();
    let mut out = Txns { values: vec![Value::Nil], ..Txns::default() };
    let mut keys = Interner::default();
    let mut values = Interner::default();
    values.others.insert(Value::Nil, NIL);
    for pair in history.client_pairs() {
        let invoke = &ops[pair.invoke];
        let outcome = history.outcome(pair);
        let source = match pair.completion {
            Some(c) if !ops[c].value.is_nil() || outcome == OpKind::Ok => c,
            _ => pair.invoke,
        };
        let place = || history.history().place(source);
        let bad = |message: String| CheckError::BadOperation { place: place(), message };
        let Value::List(mops) = &ops[source].value else {
            return Err(bad(format!(
                "{} {} has value {}, not a transaction (a list of micro-operations like \
                 [[:append 1 2] [:r 1 nil]]): wrong model?",
                invoke.f, ops[source].kind, ops[source].value
            )));
        };
        let start = out.mops.len() as u32;
        for mop in mops {
            let Some([f, k, v]) = mop.as_list().and_then(|l| <&[Value; 3]>::try_from(l).ok())
            else {
                return Err(bad(format!("micro-operation {mop} is not [f key value]")));
            };
            let kind = match (mop_name(f), flavor) {
                (Some("append"), Flavor::ListAppend) => MopKind::Append,
                (Some("w"), Flavor::RwRegister) => MopKind::Write,
                (Some("r"), _) => MopKind::Read,
                _ => {
                    let expected = match flavor {
                        Flavor::ListAppend => ":append or :r (list-append)",
                        Flavor::RwRegister => ":w or :r (rw-register)",
                    };
                    return Err(bad(format!(
                        "micro-operation {mop}: function {f} is not {expected}: wrong model?"
                    )));
                }
            };
            let key = keys.id(k, &mut out.keys);
            let value = match (kind, flavor) {
                (MopKind::Read, Flavor::ListAppend) => match v {
                    Value::Nil => NONE,
                    Value::List(items) => {
                        let s = out.elements.len() as u32;
                        for item in items {
                            let id = values.id(item, &mut out.values);
                            out.elements.push(id);
                        }
                        out.lists.push((s, items.len() as u32));
                        out.lists.len() as u32 - 1
                    }
                    other => {
                        return Err(bad(format!(
                            "micro-operation {mop}: a list-append read returns a list or nil, \
                             not {other}"
                        )));
                    }
                },
                _ => values.id(v, &mut out.values),
            };
            out.mops.push(Mop { kind, key, value });
        }
        out.txns.push(Txn {
            invoke: pair.invoke,
            complete: pair.completion,
            outcome,
            process: invoke.process,
            start,
            end: out.mops.len() as u32,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn kw(s: &str) -> Value {
        Value::kw(s)
    }

    fn mop(f: &str, k: i64, v: Value) -> Value {
        Value::List(vec![kw(f), Value::Int(k), v])
    }

    #[test]
    fn compiles_values_and_names_bad_operations() {
        let txn = Value::List(vec![
            mop("append", 1, 2.into()),
            mop("r", 1, Value::List(vec![1.into(), 2.into()])),
        ]);
        let h = History::from_ops(vec![
            Op::invoke(
                0,
                "txn",
                Value::List(vec![mop("append", 1, 2.into()), mop("r", 1, Value::Nil)]),
            ),
            Op::ok(0, "txn", txn),
            Op::invoke(1, "txn", Value::List(vec![mop("append", 2, 9.into())])),
        ])
        .lint()
        .unwrap();
        let t = compile(&h, Flavor::ListAppend).unwrap();
        assert_eq!(t.txns.len(), 2);
        assert_eq!(t.txns[1].outcome, OpKind::Info);
        let m = t.mops(0);
        assert_eq!((m[0].kind, m[1].kind), (MopKind::Append, MopKind::Read));
        assert_eq!(t.list(m[1].value).len(), 2);
        assert_eq!(t.value(t.list(m[1].value)[1]), &Value::Int(2));
        assert_eq!(t.value(m[0].value), &Value::Int(2));
        let wrong = compile(&h, Flavor::RwRegister).unwrap_err().to_string();
        assert!(wrong.contains("line 2") && wrong.contains("wrong model"), "{wrong}");
        let flat =
            History::from_ops(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", 3.into())])
                .lint()
                .unwrap();
        let e = compile(&flat, Flavor::ListAppend).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("not a transaction"), "{e}");
    }
}
