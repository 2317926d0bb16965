//! Differential testing of the `kv` model against porcupine-rs on random small
//! histories over a few keys, with `ok`, `fail` and `info` completions: our verdict
//! split by key, our verdict not split (the per-key product model, see
//! `linearizability/keyed.rs`) and Porcupine's (one map-valued state, not split)
//! must all agree. This exercises the hashed string states, the product model and
//! P-compositionality at once.
//!
//! Encoding for Porcupine, as in `differential_porcupine.rs`: `fail` becomes a
//! `Noop` over the op's interval (no effect, no constraint = did not happen);
//! `info` and never-completed ops return at `i64::MAX` with any output accepted.

use std::collections::BTreeMap;

use checkers::Verdict;
use checkers::registry::{self, CheckerOptions};
use history::{History, Op, OpKind, Process, Value};
use porcupine_rs::{Model, Operation};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct PorcupineKv;

#[derive(Debug, Clone)]
enum KvOp {
    Get { key: u8, out: Option<String> },
    Put { key: u8, v: String },
    Append { key: u8, v: String },
    Noop,
}

impl Model for PorcupineKv {
    type State = BTreeMap<u8, String>;
    type Op = KvOp;
    type Metadata = ();

    fn init() -> Self::State {
        BTreeMap::new()
    }

    fn step(s: &Self::State, op: &KvOp) -> (bool, Self::State) {
        let current = |k: &u8| s.get(k).cloned().unwrap_or_default();
        match op {
            KvOp::Get { key, out } => (out.as_ref().is_none_or(|o| *o == current(key)), s.clone()),
            KvOp::Put { key, v } => {
                let mut n = s.clone();
                n.insert(*key, v.clone());
                (true, n)
            }
            KvOp::Append { key, v } => {
                let mut n = s.clone();
                n.insert(*key, current(key) + v);
                (true, n)
            }
            KvOp::Noop => (true, s.clone()),
        }
    }
}

/// (action, slot, f, key, value choice, outcome)
type Step = (u8, u8, u8, u8, u8, u8);

const PIECES: [&str; 3] = ["a", "b", "ab"];
/// What gets may return: short concatenations of the pieces.
const READS: [&str; 6] = ["", "a", "b", "ab", "ba", "aab"];

fn build(steps: &[Step], slots: u8, keys: u8) -> (History, Vec<Operation<PorcupineKv>>) {
    struct Open {
        process: u64,
        f: u8,
        key: u8,
        v: String,
        call: usize,
    }
    let mut ops = Vec::new();
    let mut pc = Vec::new();
    let mut open: Vec<Option<Open>> = (0..slots).map(|_| None).collect();
    let mut process_of: Vec<u64> = (0..slots as u64).collect();
    let mut next_process = slots as u64;
    let f_name = |f: u8| ["get", "put", "append"][f as usize];
    let key_value = |k: u8| Value::Str(k.to_string());
    for &(action, slot, f, key, choice, outcome) in steps {
        let s = (slot % slots) as usize;
        match open[s].take() {
            None if action % 3 != 0 => {
                let f = f % 3;
                let key = key % keys;
                let v = PIECES[choice as usize % PIECES.len()].to_string();
                let input = if f == 0 { Value::Nil } else { Value::Str(v.clone()) };
                let process = process_of[s];
                ops.push(Op::invoke(process, f_name(f), input).with_key(key_value(key)));
                open[s] = Some(Open { process, f, key, v, call: ops.len() - 1 });
            }
            None => {}
            Some(o) => {
                let kind = match outcome % 6 {
                    0 => OpKind::Fail,
                    1 => OpKind::Info,
                    _ => OpKind::Ok,
                };
                let read = READS[choice as usize % READS.len()].to_string();
                let value = match (kind, o.f) {
                    (OpKind::Info, _) => Value::kw("timed-out"),
                    (_, 0) => Value::Str(read.clone()),
                    _ => Value::Str(o.v.clone()),
                };
                let mut done = Op::new(Process::Client(o.process), kind, f_name(o.f), value);
                done.key = Some(key_value(o.key));
                ops.push(done);
                if kind == OpKind::Info {
                    process_of[s] = next_process;
                    next_process += 1;
                }
                let op = match (kind, o.f) {
                    (OpKind::Fail, _) => KvOp::Noop,
                    (OpKind::Ok, 0) => KvOp::Get { key: o.key, out: Some(read) },
                    (_, 0) => KvOp::Get { key: o.key, out: None },
                    (_, 1) => KvOp::Put { key: o.key, v: o.v },
                    _ => KvOp::Append { key: o.key, v: o.v },
                };
                let ret = if kind == OpKind::Info { i64::MAX } else { ops.len() as i64 - 1 };
                pc.push(operation(o.process, o.call as i64, ret, op));
            }
        }
    }
    for o in open.into_iter().flatten() {
        let op = match o.f {
            0 => KvOp::Get { key: o.key, out: None },
            1 => KvOp::Put { key: o.key, v: o.v },
            _ => KvOp::Append { key: o.key, v: o.v },
        };
        pc.push(operation(o.process, o.call as i64, i64::MAX, op));
    }
    (History::from_ops(ops), pc)
}

fn operation(process: u64, call: i64, ret: i64, op: KvOp) -> Operation<PorcupineKv> {
    Operation {
        client_id: Some(process as u32),
        call_time: call,
        return_time: ret,
        op,
        metadata: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn split_unsplit_and_porcupine_agree(
        steps in prop::collection::vec(any::<Step>(), 1..40),
        slots in 1u8..5,
        keys in 1u8..4,
    ) {
        let (history, porcupine) = build(&steps, slots, keys);
        let linted = history.clone().lint().expect("well-formed");
        let expected =
            if porcupine_rs::check_operations(&porcupine) { Verdict::Valid } else { Verdict::Invalid };
        for partition in [true, false] {
            let checker = registry::by_name("kv").unwrap().checker(&CheckerOptions { partition, ..CheckerOptions::default() })
                .unwrap();
            let ours = checker.check(&linted).unwrap().verdict;
            prop_assert_eq!(
                ours,
                expected,
                "partition {}: history\n{:#?}",
                partition,
                history.ops
            );
        }
    }
}

/// The generator is not one-sided: on a fixed seed, both verdicts are common.
#[test]
fn generator_makes_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[9; 32]),
    );
    let strategy = (prop::collection::vec(any::<Step>(), 1..40), 1u8..5, 1u8..4);
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..500 {
        let (steps, slots, keys) = strategy.new_tree(&mut runner).unwrap().current();
        let (_, porcupine) = build(&steps, slots, keys);
        if porcupine_rs::check_operations(&porcupine) { valid += 1 } else { invalid += 1 }
    }
    eprintln!("500 generated kv histories: {valid} valid, {invalid} invalid");
    assert!(valid >= 50 && invalid >= 50, "valid {valid}, invalid {invalid}");
}
