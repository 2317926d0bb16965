//! What the transactional workloads (`list-append`, `rw-register`) share: the
//! generator of random transactions and how one transaction is carried out through
//! the client's [`Txn`] API.
//!
//! # Transactions (Jepsen's `elle.list-append/gen` / `elle.rw-register/gen` shape)
//! Each operation is `{:f :txn :value [[f k v] ...]}` of 1 to [`MAX_TXN_LEN`]
//! micro-operations, each a read (`[:r k nil]`) or a write (`[:append k v]` /
//! `[:w k v]`) of one of [`ACTIVE_KEYS`] keys. Keys rotate as Elle's `wr-txns` do:
//! a key is retired after a bounded number of writes and a fresh one takes its
//! place, so every key's version order stays short. Here, without a shared
//! generator (each worker's stream is its own, see the crate's determinism rule),
//! the active keys are a window that moves every `ops_per_key` transactions of a
//! worker: workers running at about the same speed share the window's keys. Values
//! written are unique per key (Elle needs that to know which write a read saw): a
//! worker's `n`-th write is `n * concurrency + worker + 1`.
//!
//! # Carrying one out (the same on every system)
//! Read every key the transaction names in one snapshot ([`Txn::read`]), apply the
//! micro-operations in order to the values read (a read sees the transaction's own
//! earlier writes), then, if it wrote, commit every written key guarded by the
//! versions of *all* the keys it touched ([`Txn::commit`]). The guards make the
//! transaction take effect at its commit with exactly the state it read, so a
//! correct store gives strict-serializable histories. A read-only transaction needs
//! no commit: its snapshot is its effect.
//!
//! Outcomes (Jepsen's rule, [`Completion`]): a refused or failed snapshot read
//! wrote nothing (`fail`); a guard that no longer holds wrote nothing (`fail`,
//! `:conflict`); a commit whose answer was lost may have happened (`info`).

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, CallError, Client, Completion, Versioned};
use crate::{Invocation, OpStream, WorkloadError, WorkloadOptions, key_text};

/// Longest transaction, in micro-operations (Jepsen's default `:max-txn-length`).
pub const MAX_TXN_LEN: u64 = 4;
/// Keys a window holds at a time.
pub const ACTIVE_KEYS: i64 = 5;
/// Transactions a worker issues before its window of keys moves on (default of
/// `--ops-per-key`).
pub const DEFAULT_TXNS_PER_WINDOW: usize = 20;

/// Which kind of write a workload issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `[:append k v]`: the key holds a list, space-separated integers.
    Append,
    /// `[:w k v]`: the key holds one integer.
    Write,
}

impl Flavor {
    fn write_f(self) -> &'static str {
        match self {
            Flavor::Append => "append",
            Flavor::Write => "w",
        }
    }
}

/// Transactional workload of one flavor, seed and concurrency.
#[derive(Debug, Clone)]
pub struct TxnWorkload {
    pub flavor: Flavor,
    seed: u64,
    concurrency: usize,
    per_window: usize,
}

impl TxnWorkload {
    pub fn new(flavor: Flavor, options: &WorkloadOptions) -> Result<TxnWorkload, WorkloadError> {
        if options.concurrency == 0 {
            return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
        }
        let per_window = options.ops_per_key.unwrap_or(DEFAULT_TXNS_PER_WINDOW);
        if per_window == 0 {
            return Err(WorkloadError::BadOption("--ops-per-key must be at least 1".into()));
        }
        Ok(TxnWorkload { flavor, seed: options.seed, concurrency: options.concurrency, per_window })
    }

    /// Worker `worker`'s stream, as its concrete type.
    pub fn txn_stream(&self, worker: usize) -> TxnStream {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(worker as u64);
        TxnStream {
            rng,
            flavor: self.flavor,
            worker: worker as i64,
            concurrency: self.concurrency as i64,
            per_window: self.per_window,
            issued: 0,
            writes: 0,
        }
    }
}

/// One worker's transactions.
#[derive(Debug)]
pub struct TxnStream {
    rng: ChaCha8Rng,
    flavor: Flavor,
    worker: i64,
    concurrency: i64,
    per_window: usize,
    issued: usize,
    writes: i64,
}

impl TxnStream {
    fn window(&self) -> i64 {
        (self.issued / self.per_window) as i64 * ACTIVE_KEYS
    }
}

fn mop(f: &str, k: i64, v: Value) -> Value {
    Value::List(vec![Value::kw(f), Value::Int(k), v])
}

impl OpStream for TxnStream {
    fn next_op(&mut self) -> Invocation {
        let base = self.window();
        self.issued += 1;
        let len = 1 + self.rng.random_range(0..MAX_TXN_LEN);
        let mops = (0..len)
            .map(|_| {
                let k = base + self.rng.random_range(0..ACTIVE_KEYS);
                if self.rng.random_range(0..2u8) == 0 {
                    mop("r", k, Value::Nil)
                } else {
                    self.writes += 1;
                    mop(
                        self.flavor.write_f(),
                        k,
                        Value::Int(self.writes * self.concurrency + self.worker + 1),
                    )
                }
            })
            .collect();
        Invocation { f: "txn", key: None, value: Value::List(mops) }
    }

    /// One read of every key of the current window.
    fn final_ops(&self) -> Vec<Invocation> {
        let base = self.window();
        let mops = (0..ACTIVE_KEYS).map(|i| mop("r", base + i, Value::Nil)).collect();
        vec![Invocation { f: "txn", key: None, value: Value::List(mops) }]
    }
}

/// A micro-operation of an invocation: `(f, key, value)`.
fn parse_mop(m: &Value) -> Option<(&str, i64, &Value)> {
    let [f, k, v] = m.as_list()? else { return None };
    let f = match f {
        Value::Keyword(s) => s.trim_start_matches(':'),
        _ => return None,
    };
    Some((f, k.as_int()?, v))
}

/// A stored value as this flavor's state: a list for `Append`, one value (or nil)
/// for `Write`. `Err` names what could not be read.
fn decode(flavor: Flavor, stored: &Option<String>) -> Result<Value, String> {
    let Some(text) = stored else {
        return Ok(match flavor {
            Flavor::Append => Value::List(Vec::new()),
            Flavor::Write => Value::Nil,
        });
    };
    let int = |s: &str| {
        s.parse::<i64>().map(Value::Int).map_err(|_| format!("stored value {text:?} is not ours"))
    };
    match flavor {
        Flavor::Append => {
            text.split_whitespace().map(int).collect::<Result<_, _>>().map(Value::List)
        }
        Flavor::Write => int(text.trim()),
    }
}

fn encode(v: &Value) -> String {
    match v {
        Value::List(items) => items.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// Carries out one transaction (see the module docs).
pub async fn perform(flavor: Flavor, op: &Invocation, client: &mut dyn Client) -> Completion {
    let Some(txn) = client.txn() else { return Completion::missing(op, Api::Txn) };
    let Some(mops) =
        op.value.as_list().and_then(|l| l.iter().map(parse_mop).collect::<Option<Vec<_>>>())
    else {
        return Completion::fail(
            op,
            format!("a transaction is a list of [f k v], got {}", op.value),
        );
    };
    let mut keys: Vec<i64> = mops.iter().map(|m| m.1).collect();
    keys.sort_unstable();
    keys.dedup();
    let names: Vec<String> = keys.iter().map(|k| key_text(&Some(Value::Int(*k)), "txn")).collect();
    let read: Vec<Versioned> = match txn.read(&names).await {
        Ok(r) if r.len() == names.len() => r,
        Ok(r) => {
            return Completion::fail(op, format!("asked {} keys, got {}", names.len(), r.len()));
        }
        // Nothing was written yet: whatever went wrong, the transaction did not happen.
        Err(CallError::Refused(why) | CallError::Unknown(why)) => return Completion::fail(op, why),
    };
    let mut state = Vec::with_capacity(keys.len());
    for v in &read {
        match decode(flavor, &v.value) {
            Ok(s) => state.push(s),
            Err(why) => return Completion::fail(op, why),
        }
    }
    let mut wrote = vec![false; keys.len()];
    let mut done = Vec::with_capacity(mops.len());
    for (f, k, v) in &mops {
        let i = keys.binary_search(k).unwrap_or(0);
        match (*f, flavor) {
            ("r", _) => done.push(mop("r", *k, state[i].clone())),
            ("append", Flavor::Append) => {
                if let Value::List(l) = &mut state[i] {
                    l.push((*v).clone());
                }
                wrote[i] = true;
                done.push(mop("append", *k, (*v).clone()));
            }
            ("w", Flavor::Write) => {
                state[i] = (*v).clone();
                wrote[i] = true;
                done.push(mop("w", *k, (*v).clone()));
            }
            (other, _) => return Completion::fail(op, format!("unknown micro-op {other:?}")),
        }
    }
    let writes: Vec<(String, String)> = (0..keys.len())
        .filter(|i| wrote[*i])
        .map(|i| (names[i].clone(), encode(&state[i])))
        .collect();
    if !writes.is_empty() {
        let guards: Vec<(String, u64)> =
            names.iter().zip(&read).map(|(n, v)| (n.clone(), v.version)).collect();
        match txn.commit(&guards, &writes).await {
            Ok(true) => {}
            Ok(false) => return Completion::fail(op, Value::kw("conflict")),
            Err(e) => return Completion::of_error(op, e),
        }
    }
    Completion::ok(Value::List(done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_foreign_values_are_errors() {
        let l = decode(Flavor::Append, &Some("1 2 3".into())).unwrap();
        assert_eq!(l, Value::List(vec![Value::Int(1), Value::Int(2), Value::Int(3)]));
        assert_eq!(encode(&l), "1 2 3");
        assert_eq!(decode(Flavor::Append, &None).unwrap(), Value::List(vec![]));
        assert_eq!(decode(Flavor::Write, &None).unwrap(), Value::Nil);
        assert_eq!(decode(Flavor::Write, &Some("7".into())).unwrap(), Value::Int(7));
        assert!(decode(Flavor::Append, &Some("1 x".into())).unwrap_err().contains("1 x"));
    }

    #[test]
    fn streams_are_deterministic_bounded_and_write_unique_values() {
        let w = TxnWorkload::new(Flavor::Append, &WorkloadOptions::new(5, 4)).unwrap();
        let mut a = w.txn_stream(1);
        let mut b = w.txn_stream(1);
        let mut seen = std::collections::HashSet::new();
        for worker in 0..4 {
            let mut s = w.txn_stream(worker);
            for _ in 0..300 {
                let op = s.next_op();
                let mops = op.value.as_list().unwrap();
                assert!((1..=4).contains(&mops.len()));
                for m in mops {
                    let (f, _, v) = parse_mop(m).unwrap();
                    assert!(f == "r" || f == "append");
                    if f == "append" {
                        assert!(seen.insert(v.as_int().unwrap()), "value {v} written twice");
                    }
                }
            }
        }
        for _ in 0..50 {
            assert_eq!(a.next_op(), b.next_op());
        }
    }
}
