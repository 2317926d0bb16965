//! Differential testing against porcupine-rs (a port of Go Porcupine) on thousands
//! of random small concurrent cas-register histories with `ok`, `fail` and `info`
//! completions and operations that never complete: both must give the same verdict.
//!
//! Porcupine knows only "the op happened, with this output"; Jepsen's `fail` means
//! "did not happen" and `info` means "may have happened, with an unknown output, or
//! not". The encoding for Porcupine (each choice is exactly Jepsen's meaning):
//! - `ok` read / write / cas: the op with its output (cas `ok` = swapped);
//! - `fail` anything: `Noop`, accepted in every state and changing nothing, over the
//!   op's real interval: an op with no effect and no constraint is the same as an op
//!   that did not happen;
//! - `info` or no completion: return time `i64::MAX` (pending forever) and an output
//!   that accepts anything: `ReadAny`; a write is the write (placed last, it is
//!   invisible, which is "never"); a cas is `CasUnknown`, which swaps when the compare
//!   holds and otherwise leaves the state alone (a failed compare is a no-op, so
//!   this is "happened or not").
//!
//! Our checker drops `fail` ops and unknown reads and uses its own cas shortcut, so
//! the test also checks those simplifications.

use checkers::Verdict;
use checkers::linearizability::Options;
use checkers::models::ModelName;
use history::{History, Op, OpKind, Value};
use porcupine_rs::{Model, Operation};
use proptest::prelude::*;

#[derive(Debug, Clone)]
struct PorcupineCas;

#[derive(Debug, Clone)]
enum PcOp {
    Read(i64),
    ReadAny,
    Write(i64),
    Cas { from: i64, to: i64 },
    CasUnknown { from: i64, to: i64 },
    Noop,
}

/// -1 stands for nil.
const NIL: i64 = -1;

impl Model for PorcupineCas {
    type State = i64;
    type Op = PcOp;
    type Metadata = ();

    fn init() -> i64 {
        NIL
    }

    fn step(s: &i64, op: &PcOp) -> (bool, i64) {
        match *op {
            PcOp::Read(v) => (v == *s, *s),
            PcOp::ReadAny | PcOp::Noop => (true, *s),
            PcOp::Write(v) => (true, v),
            PcOp::Cas { from, to } => (from == *s, to),
            PcOp::CasUnknown { from, to } => (true, if from == *s { to } else { *s }),
        }
    }
}

/// One random step of the generator: (action, process slot, f, a, b, outcome).
type Step = (u8, u8, u8, u8, u8, u8);

struct Built {
    history: History,
    porcupine: Vec<Operation<PorcupineCas>>,
}

fn value(v: i64) -> Value {
    if v == NIL { Value::Nil } else { Value::Int(v) }
}

/// Plays the steps: invoke on an idle slot or complete a busy one; slots whose op
/// ends `info` take a fresh process id, as Jepsen does.
fn build(steps: &[Step], slots: u8) -> Built {
    struct Open {
        process: u64,
        f: u8,
        a: i64,
        b: i64,
        call: usize,
    }
    let mut ops: Vec<Op> = Vec::new();
    let mut pc = Vec::new();
    let mut open: Vec<Option<Open>> = (0..slots).map(|_| None).collect();
    let mut process_of: Vec<u64> = (0..slots as u64).collect();
    let mut next_process = slots as u64;
    let f_name = |f: u8| ["read", "write", "cas"][f as usize];
    for &(action, slot, f, a, b, outcome) in steps {
        let s = (slot % slots) as usize;
        let (a, b) = ((a % 4) as i64 - 1, (b % 4) as i64 - 1); // -1 = nil
        match open[s].take() {
            None if action % 3 != 0 => {
                let f = f % 3;
                let input = match f {
                    0 => Value::Nil,
                    1 => value(a.max(0)),
                    _ => Value::List(vec![value(a), value(b.max(0))]),
                };
                let process = process_of[s];
                ops.push(Op::invoke(process, f_name(f), input));
                // a is the write value (never nil) or the cas `from` (maybe nil)
                let a = if f == 1 { a.max(0) } else { a };
                open[s] = Some(Open { process, f, a, b: b.max(0), call: ops.len() - 1 });
            }
            None => {}
            Some(o) => {
                let kind = match outcome % 6 {
                    0 => OpKind::Fail,
                    1 => OpKind::Info,
                    _ => OpKind::Ok,
                };
                // a read returns some value in nil..2; cas keeps its own from/to
                let (cas_from, read_result) = (o.a, a);
                let mut done = match o.f {
                    0 => Op::new(
                        history::Process::Client(o.process),
                        kind,
                        "read",
                        value(read_result),
                    ),
                    1 => Op::new(history::Process::Client(o.process), kind, "write", value(o.a)),
                    _ => Op::new(
                        history::Process::Client(o.process),
                        kind,
                        "cas",
                        Value::List(vec![value(cas_from), value(o.b)]),
                    ),
                };
                if kind == OpKind::Info {
                    done.value = Value::kw("timed-out");
                    process_of[s] = next_process;
                    next_process += 1;
                }
                ops.push(done);
                let ret = ops.len() as i64 - 1;
                let op = match (kind, o.f) {
                    (OpKind::Fail, _) => PcOp::Noop,
                    (OpKind::Ok, 0) => PcOp::Read(read_result),
                    (OpKind::Info, 0) => PcOp::ReadAny,
                    (_, 1) => PcOp::Write(o.a),
                    (OpKind::Ok, _) => PcOp::Cas { from: cas_from, to: o.b },
                    _ => PcOp::CasUnknown { from: cas_from, to: o.b },
                };
                let return_time = if kind == OpKind::Info { i64::MAX } else { ret };
                pc.push(porcupine(o.process, o.call as i64, return_time, op));
            }
        }
    }
    // never completed: pending forever, like info
    for o in open.into_iter().flatten() {
        let op = match o.f {
            0 => PcOp::ReadAny,
            1 => PcOp::Write(o.a),
            _ => PcOp::CasUnknown { from: o.a, to: o.b },
        };
        pc.push(porcupine(o.process, o.call as i64, i64::MAX, op));
    }
    Built { history: History::from_ops(ops), porcupine: pc }
}

fn porcupine(process: u64, call: i64, ret: i64, op: PcOp) -> Operation<PorcupineCas> {
    Operation {
        client_id: Some(process as u32),
        call_time: call,
        return_time: ret,
        op,
        metadata: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn same_verdict_as_porcupine(
        steps in prop::collection::vec(any::<Step>(), 1..28),
        slots in 1u8..5,
    ) {
        same_verdict(&steps, slots)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    /// Longer histories with more concurrency (up to 7 processes at once).
    #[test]
    fn same_verdict_as_porcupine_longer(
        steps in prop::collection::vec(any::<Step>(), 20..70),
        slots in 3u8..8,
    ) {
        same_verdict(&steps, slots)?;
    }
}

fn same_verdict(steps: &[Step], slots: u8) -> Result<(), TestCaseError> {
    let built = build(steps, slots);
    let linted = built.history.clone().lint().expect("generated histories are well formed");
    let checker = ModelName::CasRegister.linearizable(None, Options::default()).unwrap();
    let ours = checker.check(&linted).unwrap();
    let theirs = porcupine_rs::check_operations(&built.porcupine);
    let expected = if theirs { Verdict::Valid } else { Verdict::Invalid };
    prop_assert_eq!(
        ours.verdict,
        expected,
        "history:\n{:#?}\nporcupine ops:\n{:#?}",
        built.history.ops,
        built.porcupine
    );
    Ok(())
}

/// The generator is not one-sided: on a fixed seed, both verdicts are common.
#[test]
fn generator_makes_both_verdicts() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let strategy = (prop::collection::vec(any::<Step>(), 1..28), 1u8..5);
    let checker = ModelName::CasRegister.linearizable(None, Options::default()).unwrap();
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..500 {
        let (steps, slots) = strategy.new_tree(&mut runner).unwrap().current();
        let built = build(&steps, slots);
        match checker.check(&built.history.lint().unwrap()).unwrap().verdict {
            Verdict::Valid => valid += 1,
            Verdict::Invalid => invalid += 1,
            Verdict::Unknown => panic!("no limits were set"),
        }
    }
    assert!(valid >= 50 && invalid >= 50, "valid {valid}, invalid {invalid}");
    eprintln!("500 generated histories: {valid} valid, {invalid} invalid");
}
