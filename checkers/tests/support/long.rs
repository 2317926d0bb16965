//! Long histories of ONE object, made by simulating a correct object: each operation
//! takes effect at one instant between its invocation and its completion, so every
//! history made here is linearizable. Shared by `tests/long_object.rs` and
//! `benches/long_object.rs`.
//!
//! `concurrency` processes each run one operation at a time; at every tick one
//! random process moves: an idle one invokes, an invoked one takes effect (a lock
//! acquire waits until the lock is free), an effected one completes `ok`. With
//! `sequential`, operations never overlap at all.

#![allow(dead_code)]

use history::{History, Op, Value};

/// Which object to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Object {
    /// `register`: reads and writes of small integers.
    Register,
    /// `mutex` and `session-lock`: acquire / release.
    Mutex,
    /// `fenced-lock`: acquire returns an increasing token.
    FencedLock,
}

#[derive(Clone, Copy, PartialEq)]
enum Phase {
    Idle,
    Invoked,
    Effected,
}

struct Proc {
    phase: Phase,
    f: &'static str,
    input: Value,
    output: Value,
}

/// SplitMix64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

/// A linearizable history of `ops` operations on one object.
pub fn history(
    object: Object,
    ops: usize,
    concurrency: usize,
    sequential: bool,
    seed: u64,
) -> History {
    let mut rng = Rng(seed);
    let mut out: Vec<Op> = Vec::with_capacity(2 * ops);
    let mut procs: Vec<Proc> = (0..concurrency)
        .map(|_| Proc { phase: Phase::Idle, f: "", input: Value::Nil, output: Value::Nil })
        .collect();
    let mut register = Value::Nil;
    let mut holder: Option<usize> = None;
    let mut token = 0i64;
    let mut invoked = 0;
    let mut open = 0;
    let mut time = 0u64;
    let mut owner: Option<usize> = None;
    while invoked < ops || open > 0 {
        if sequential && invoked >= ops && open == 0 && holder.is_none() {
            break;
        }
        time += 1;
        let p = if sequential {
            // one op at a time: the one in flight, else the lock's holder (who must
            // release it), else the next process round robin
            match (owner, holder) {
                (Some(o), _) => o,
                (None, Some(h)) => h,
                (None, None) => invoked % concurrency,
            }
        } else {
            rng.below(concurrency as u64) as usize
        };
        let pr = &mut procs[p];
        match pr.phase {
            // past `ops`, the holder still releases, so waiting acquires finish
            Phase::Idle if invoked < ops || holder == Some(p) => {
                let (f, input) = match object {
                    Object::Register if rng.below(2) == 0 => ("read", Value::Nil),
                    Object::Register => ("write", Value::Int(rng.below(5) as i64)),
                    _ if holder == Some(p) => ("release", Value::Nil),
                    _ => ("acquire", Value::Nil),
                };
                pr.f = f;
                pr.input = input.clone();
                pr.phase = Phase::Invoked;
                let mut op = Op::invoke(p as u64, f, input);
                op.time_ns = time;
                out.push(op);
                invoked += 1;
                open += 1;
                owner = Some(p);
            }
            Phase::Idle => {}
            Phase::Invoked => {
                let effect = match (pr.f, object) {
                    ("read", _) => {
                        pr.output = register.clone();
                        true
                    }
                    ("write", _) => {
                        register = pr.input.clone();
                        pr.output = pr.input.clone();
                        true
                    }
                    ("acquire", _) if holder.is_none() => {
                        holder = Some(p);
                        token += 1 + rng.below(3) as i64;
                        pr.output = if object == Object::FencedLock {
                            Value::Int(token)
                        } else {
                            Value::Nil
                        };
                        true
                    }
                    ("acquire", _) => false, // waits for the lock
                    _ => {
                        holder = None;
                        pr.output = Value::Nil;
                        true
                    }
                };
                if effect {
                    pr.phase = Phase::Effected;
                }
            }
            Phase::Effected => {
                let mut op = Op::ok(p as u64, pr.f, pr.output.clone());
                op.time_ns = time;
                out.push(op);
                pr.phase = Phase::Idle;
                open -= 1;
                owner = None;
            }
        }
    }
    for (i, op) in out.iter_mut().enumerate() {
        op.index = i as u64;
    }
    History::from_ops(out)
}
