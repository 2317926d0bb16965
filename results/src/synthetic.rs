//! A synthetic run of any size, for the report's size test and benchmark: workers
//! doing reads, writes and CAS on a few keys over three nodes, a fault schedule
//! (partition, kill, pause, each healed), some `fail`s and `info`s (more of them
//! during faults), and a linearizability failure to show. Deterministic: a fixed
//! linear congruential generator, no seed needed.

use history::{History, Op, OpKind, Process, Value};
use serde_json::json;

use checkers::section::{Block, Section};

use crate::view::{CheckView, LinView, RunView, Verdict};

struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// A run with about `ops` history entries (invocations and completions) from
/// `workers` concurrent workers.
pub fn run(ops: usize, workers: u64) -> RunView {
    let mut rng = Lcg(0x5eed);
    let mut h = Vec::with_capacity(ops + 64);
    let mut t: u64 = 0;
    // Per worker: current process id, and its open op (f, value, completes at).
    let mut process: Vec<u64> = (0..workers).collect();
    let mut open: Vec<Option<(String, Value, u64, Value)>> = vec![None; workers as usize];
    let mut next_process = workers;
    let fault_names = ["start-partition", "kill", "pause"];
    let heal_names = ["stop-partition", "start", "resume"];
    let mut fault: Option<(usize, u64)> = None; // (which, ends at)
    let mut next_fault_at: u64 = 2_000_000_000;
    let mut fault_k = 0;
    let mut first_ok_reads = Vec::new();
    while h.len() < ops {
        t += 50_000 + rng.below(200_000); // 0.05–0.25 ms between events
        // Faults: one every ~4 s, lasting ~2 s.
        match fault {
            Some((k, end)) if t >= end => {
                for kind in [OpKind::Invoke, OpKind::Info] {
                    let mut op = Op::new(Process::Nemesis, kind, heal_names[k], Value::Nil);
                    op.time_ns = t;
                    h.push(op);
                }
                fault = None;
                next_fault_at = t + 2_000_000_000;
            }
            None if t >= next_fault_at => {
                let k = fault_k % 3;
                fault_k += 1;
                for kind in [OpKind::Invoke, OpKind::Info] {
                    let v = Value::Str(format!("n{}", rng.below(3) + 1));
                    let mut op = Op::new(Process::Nemesis, kind, fault_names[k], v);
                    op.time_ns = t;
                    h.push(op);
                }
                fault = Some((k, t + 2_000_000_000));
            }
            _ => {}
        }
        let w = rng.below(workers) as usize;
        let p = process[w];
        match open[w].take() {
            None => {
                let (f, v) = match rng.below(3) {
                    0 => ("read", Value::Nil),
                    1 => ("write", Value::Int(rng.below(5) as i64)),
                    _ => (
                        "cas",
                        Value::List(vec![
                            Value::Int(rng.below(5) as i64),
                            Value::Int(rng.below(5) as i64),
                        ]),
                    ),
                };
                let mut op = Op::invoke(p, f, v.clone());
                op.time_ns = t;
                let key = Value::Int(rng.below(4) as i64);
                op.key = Some(key.clone());
                op.node = Some(format!("n{}", w % 3 + 1));
                let latency = 200_000 + rng.below(3_000_000) + rng.below(40) / 39 * 50_000_000;
                open[w] = Some((f.to_string(), v, t + latency, key));
                h.push(op);
            }
            Some((f, v, done_at, key)) if t >= done_at => {
                let roll = rng.below(1000);
                let bad = if fault.is_some() { 150 } else { 8 };
                let (kind, value) = if roll < bad / 2 {
                    (OpKind::Info, v)
                } else if roll < bad {
                    (OpKind::Fail, v)
                } else if f == "read" {
                    (OpKind::Ok, Value::Int(rng.below(5) as i64))
                } else {
                    (OpKind::Ok, v)
                };
                let mut op = Op::new(Process::Client(p), kind, &f, value);
                op.time_ns = t;
                op.key = Some(key);
                op.node = Some(format!("n{}", w % 3 + 1));
                if kind == OpKind::Info {
                    op.error = Some(Value::Keyword("timed-out".into()));
                    process[w] = next_process;
                    next_process += 1;
                }
                if kind == OpKind::Ok && f == "read" && first_ok_reads.len() < 40 {
                    first_ok_reads.push(h.len());
                }
                h.push(op);
            }
            Some(still_open) => open[w] = Some(still_open),
        }
    }
    for (i, op) in h.iter_mut().enumerate() {
        op.index = i as u64;
    }
    let history = History::from_ops(h);
    // A linearizability failure to draw: the invocation of the last early read.
    let invoke_of = |c: usize| {
        let p = history.ops[c].process;
        (0..c).rev().find(|&i| history.ops[i].process == p && history.ops[i].kind == OpKind::Invoke)
    };
    let positions: Vec<usize> = first_ok_reads.iter().filter_map(|&c| invoke_of(c)).collect();
    let linearization = positions.split_last().map(|(last, prefix)| LinView {
        breaking_op: *last,
        prefix: prefix.to_vec(),
        states_before: vec!["0".into(), "3".into()],
        more_states: false,
        model: Some("cas-register".into()),
        key: history.ops[*last].key.as_ref().map(|k| k.to_string()),
    });
    RunView {
        test: json!({"name": "synthetic", "args": {"system": "builtin", "workload": "register",
            "nemesis": ["partition", "kill", "pause"]}, "seed": 1}),
        history,
        checks: vec![CheckView::new(
            "linearizable cas-register",
            Verdict::Invalid,
            "synthetic: a read that cannot be linearized",
            linearization.map_or_else(Section::default, |l| {
                Section::new("Linearizability").with(Block::Linearization(l))
            }),
        )],
    }
}
