//! Long histories for Jepsen's non-linearizability checkers: simulated correct
//! objects (each operation takes effect at its completion, which lies inside its
//! interval), so every history is valid; seeded, so each run builds the same one.
//! Used by `benches/jepsen.rs` (speed) and `tests/jepsen_long.rs` (valid at scale).

#![allow(dead_code)]

use history::{History, Op, OpKind, Process, Value};

/// A tiny xorshift generator: the histories must not depend on a crate's version.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// Which object a history exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Independent sets (keys) of 200 lines each: adds and reads of the whole set.
    SetFull,
    /// One set: adds, then one final read.
    Set,
    /// One counter: adds of 1..=5 (1% info) and reads.
    Counter,
    /// 8 accounts, total 100: transfers and reads of every balance.
    Bank,
    /// One id counter: generates.
    UniqueIds,
    /// Groups of 2 keys: one write each, then reads of the group.
    LongFork,
    /// One FIFO queue: enqueues and dequeues, drained at the end.
    Queue,
}

/// What a simulated object answers.
trait Object {
    /// The next invocation's `f` and value for a process.
    fn next(&mut self, rng: &mut Rng) -> (&'static str, Value);
    /// Applies the operation at its completion and returns the completion value
    /// (`None`: the operation fails).
    fn complete(&mut self, f: &str, value: &Value, rng: &mut Rng) -> Option<Value>;
}

/// About `lines` operations (invocations and completions) of `kind`.
pub fn history(kind: Kind, lines: usize, seed: u64) -> History {
    let mut rng = Rng::new(seed);
    let mut ops: Vec<Op> = Vec::with_capacity(lines + 16);
    match kind {
        Kind::SetFull => {
            let mut key = 0;
            while ops.len() < lines {
                let mut set = SetObj { next: 0, items: Vec::new(), read_percent: 50 };
                simulate(&mut set, &mut ops, &mut rng, 200, 5, Some(key), key as u64 * 5);
                key += 1;
            }
        }
        Kind::Set => {
            let mut set = SetObj { next: 0, items: Vec::new(), read_percent: 0 };
            simulate(&mut set, &mut ops, &mut rng, lines.saturating_sub(2), 10, None, 0);
            let t = ops.last().map_or(0, |o| o.time_ns) + 1000;
            push(&mut ops, Op::invoke(1000, "read", Value::Nil), t);
            push(&mut ops, Op::ok(1000, "read", Value::List(set.items.clone())), t + 1000);
        }
        Kind::Counter => simulate(&mut CounterObj(0), &mut ops, &mut rng, lines, 10, None, 0),
        Kind::Bank => {
            let mut bank = BankObj { balances: vec![12; 8] };
            bank.balances[0] = 16;
            simulate(&mut bank, &mut ops, &mut rng, lines, 10, None, 0)
        }
        Kind::UniqueIds => simulate(&mut IdObj(0), &mut ops, &mut rng, lines, 10, None, 0),
        Kind::LongFork => {
            let mut group = 0;
            while ops.len() < lines {
                let mut lf = LongForkObj { base: group * 2, written: [false; 2], writes: 0 };
                simulate(&mut lf, &mut ops, &mut rng, 40, 4, None, group as u64 * 4);
                group += 1;
            }
        }
        Kind::Queue => {
            let mut q = QueueObj { next: 0, items: std::collections::VecDeque::new() };
            simulate(&mut q, &mut ops, &mut rng, lines.saturating_sub(2), 10, None, 0);
            let t = ops.last().map_or(0, |o| o.time_ns) + 1000;
            push(&mut ops, Op::invoke(1000, "drain", Value::Nil), t);
            push(
                &mut ops,
                Op::ok(1000, "drain", Value::List(q.items.drain(..).collect())),
                t + 1000,
            );
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    History::from_ops(ops)
}

fn push(ops: &mut Vec<Op>, mut op: Op, time: u64) {
    op.time_ns = time;
    ops.push(op);
}

/// `lines` operations of `procs` concurrent processes (ids from `first_process`),
/// each operation taking effect when it completes.
fn simulate(
    obj: &mut dyn Object,
    ops: &mut Vec<Op>,
    rng: &mut Rng,
    lines: usize,
    procs: u64,
    key: Option<i64>,
    first_process: u64,
) {
    let mut open: Vec<Option<(u64, &'static str, Value)>> = vec![None; procs as usize];
    let mut ids: Vec<u64> = (0..procs).map(|p| first_process + p).collect();
    let mut t = ops.last().map_or(0, |o| o.time_ns);
    let start = ops.len();
    let key = key.map(Value::Int);
    while ops.len() - start < lines || open.iter().any(Option::is_some) {
        let p = rng.below(procs) as usize;
        t += 1 + rng.below(200_000);
        let op = match open[p].take() {
            None if ops.len() - start >= lines => continue,
            None => {
                let (f, value) = obj.next(rng);
                open[p] = Some((ids[p], f, value.clone()));
                Op::new(Process::Client(ids[p]), OpKind::Invoke, f, value)
            }
            Some((id, f, value)) => {
                let info = f != "read" && f != "dequeue" && rng.below(100) == 0;
                if info && rng.below(2) == 0 {
                    // An info op that never took effect.
                    ids[p] += 1 << 32;
                    Op::new(Process::Client(id), OpKind::Info, f, value)
                } else {
                    match obj.complete(f, &value, rng) {
                        Some(done) if info => {
                            ids[p] += 1 << 32;
                            Op::new(
                                Process::Client(id),
                                OpKind::Info,
                                f,
                                if f == "read" { done } else { value },
                            )
                        }
                        Some(done) => Op::new(Process::Client(id), OpKind::Ok, f, done),
                        None => Op::new(Process::Client(id), OpKind::Fail, f, value),
                    }
                }
            }
        };
        let mut op = op;
        op.key = key.clone();
        push(ops, op, t);
    }
}

struct SetObj {
    next: i64,
    items: Vec<Value>,
    read_percent: u64,
}

impl Object for SetObj {
    fn next(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        if rng.below(100) < self.read_percent {
            ("read", Value::Nil)
        } else {
            self.next += 1;
            ("add", Value::Int(self.next))
        }
    }

    fn complete(&mut self, f: &str, value: &Value, _: &mut Rng) -> Option<Value> {
        if f == "add" {
            self.items.push(value.clone());
            Some(value.clone())
        } else {
            Some(Value::List(self.items.clone()))
        }
    }
}

/// A counter: adds and reads.
struct CounterObj(i64);

/// An id generator: each generate returns the next integer.
struct IdObj(i64);

impl Object for IdObj {
    fn next(&mut self, _: &mut Rng) -> (&'static str, Value) {
        ("generate", Value::Nil)
    }

    fn complete(&mut self, _: &str, _: &Value, _: &mut Rng) -> Option<Value> {
        self.0 += 1;
        Some(Value::Int(self.0))
    }
}

impl Object for CounterObj {
    fn next(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        if rng.below(2) == 0 {
            ("read", Value::Nil)
        } else {
            ("add", Value::Int(1 + rng.below(5) as i64))
        }
    }

    fn complete(&mut self, f: &str, value: &Value, _: &mut Rng) -> Option<Value> {
        if f == "add" {
            self.0 += value.as_int().unwrap_or(0);
            Some(value.clone())
        } else {
            Some(Value::Int(self.0))
        }
    }
}

struct BankObj {
    balances: Vec<i64>,
}

impl Object for BankObj {
    fn next(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        if rng.below(2) == 0 {
            return ("read", Value::Nil);
        }
        let from = rng.below(8) as i64;
        let to = (from + 1 + rng.below(7) as i64) % 8;
        let amount = 1 + rng.below(5) as i64;
        let v = Value::Map(vec![
            (Value::kw("from"), from.into()),
            (Value::kw("to"), to.into()),
            (Value::kw("amount"), amount.into()),
        ]);
        ("transfer", v)
    }

    fn complete(&mut self, f: &str, value: &Value, _: &mut Rng) -> Option<Value> {
        if f == "read" {
            return Some(Value::Map(
                self.balances
                    .iter()
                    .enumerate()
                    .map(|(a, b)| (Value::Int(a as i64), Value::Int(*b)))
                    .collect(),
            ));
        }
        let get = |k: &str| value.get(&Value::kw(k)).and_then(Value::as_int).unwrap_or(0);
        let (from, to, amount) = (get("from") as usize, get("to") as usize, get("amount"));
        if self.balances[from] < amount {
            return None;
        }
        self.balances[from] -= amount;
        self.balances[to] += amount;
        Some(value.clone())
    }
}

struct LongForkObj {
    base: i64,
    written: [bool; 2],
    writes: usize,
}

impl Object for LongForkObj {
    fn next(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        let mop = |f: &str, k: i64, v: Value| Value::List(vec![Value::kw(f), k.into(), v]);
        if self.writes < 2 && rng.below(4) == 0 {
            let k = self.base + self.writes as i64;
            self.writes += 1;
            return ("write", Value::List(vec![mop("w", k, 1.into())]));
        }
        ("read", Value::List((0..2).map(|i| mop("r", self.base + i, Value::Nil)).collect()))
    }

    fn complete(&mut self, f: &str, value: &Value, _: &mut Rng) -> Option<Value> {
        let mop = |f: &str, k: i64, v: Value| Value::List(vec![Value::kw(f), k.into(), v]);
        if f == "write" {
            let k = value.as_list()?[0].as_list()?[1].as_int()?;
            self.written[(k - self.base) as usize] = true;
            return Some(value.clone());
        }
        Some(Value::List(
            (0..2)
                .map(|i| {
                    mop(
                        "r",
                        self.base + i,
                        if self.written[i as usize] { 1.into() } else { Value::Nil },
                    )
                })
                .collect(),
        ))
    }
}

struct QueueObj {
    next: i64,
    items: std::collections::VecDeque<Value>,
}

impl Object for QueueObj {
    fn next(&mut self, rng: &mut Rng) -> (&'static str, Value) {
        if rng.below(2) == 0 {
            self.next += 1;
            ("enqueue", Value::Int(self.next))
        } else {
            ("dequeue", Value::Nil)
        }
    }

    fn complete(&mut self, f: &str, value: &Value, _: &mut Rng) -> Option<Value> {
        if f == "enqueue" {
            self.items.push_back(value.clone());
            Some(value.clone())
        } else {
            self.items.pop_front()
        }
    }
}
