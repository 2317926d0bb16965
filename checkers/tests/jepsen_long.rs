//! Every Jepsen checker says valid on long histories of simulated correct objects
//! (`support/jepsen_histories.rs`: each operation takes effect at its completion),
//! with info operations, failed operations and concurrency, and invalid once one
//! operation is corrupted: the good/bad pair at scale, next to the hand-built
//! histories of each checker's own tests.

#[path = "support/jepsen_histories.rs"]
mod jepsen_histories;

use checkers::Verdict;
use checkers::registry::{self, CheckerOptions};
use history::{History, OpKind, Value};
use jepsen_histories::{Kind, history};

const CASES: [(&str, Kind); 8] = [
    ("set-full", Kind::SetFull),
    ("set", Kind::Set),
    ("counter", Kind::Counter),
    ("bank", Kind::Bank),
    ("unique-ids", Kind::UniqueIds),
    ("long-fork", Kind::LongFork),
    ("queue", Kind::Queue),
    ("total-queue", Kind::Queue),
];

fn check(model: &str, h: History) -> checkers::Outcome {
    let checker = registry::by_name(model).unwrap().checker(&CheckerOptions::default()).unwrap();
    checker.check(&h.lint().expect("the simulated history is well formed")).unwrap()
}

/// Changes the value of the last ok completion of `f` so that the object is wrong.
fn corrupt(h: &mut History, f: &str, with: impl Fn(&Value) -> Value) {
    let op = h.ops.iter_mut().rev().find(|o| o.f == f && o.kind == OpKind::Ok).expect("an ok op");
    op.value = with(&op.value);
}

#[test]
fn simulated_correct_objects_are_valid_and_one_wrong_answer_is_invalid() {
    for (model, kind) in CASES {
        let h = history(kind, 20_000, 11);
        let o = check(model, h.clone());
        assert_eq!(o.verdict, Verdict::Valid, "{model}: {}", o.summary());
        let mut bad = h;
        match model {
            // The last set's first element is missing from every read: lost.
            "set-full" => {
                let key = bad.ops.last().unwrap().key.clone();
                let first =
                    bad.ops.iter().find(|o| o.key == key && o.f == "add").unwrap().value.clone();
                for op in bad
                    .ops
                    .iter_mut()
                    .filter(|o| o.key == key && o.f == "read" && o.kind == OpKind::Ok)
                {
                    let kept: Vec<Value> = op
                        .value
                        .as_list()
                        .unwrap()
                        .iter()
                        .filter(|v| **v != first)
                        .cloned()
                        .collect();
                    op.value = Value::List(kept);
                }
            }
            "set" => corrupt(&mut bad, "read", |v| Value::List(v.as_list().unwrap()[1..].to_vec())),
            "counter" => corrupt(&mut bad, "read", |_| Value::Int(-1)),
            "bank" => corrupt(&mut bad, "read", |v| match v {
                Value::Map(m) => {
                    let mut m = m.clone();
                    m[0].1 = Value::Int(m[0].1.as_int().unwrap() + 1);
                    Value::Map(m)
                }
                other => other.clone(),
            }),
            "unique-ids" => {
                let first = bad.ops.iter().find(|o| o.kind == OpKind::Ok).unwrap().value.clone();
                corrupt(&mut bad, "generate", |_| first.clone())
            }
            // Two reads of the last group see its two inserts in opposite orders.
            "long-fork" => {
                let reads: Vec<usize> = (0..bad.ops.len())
                    .rev()
                    .filter(|&i| bad.ops[i].f == "read" && bad.ops[i].kind == OpKind::Ok)
                    .take(2)
                    .collect();
                for (n, &i) in reads.iter().enumerate() {
                    let l = bad.ops[i].value.as_list().unwrap().to_vec();
                    let mop = |m: &Value, seen: bool| {
                        let m = m.as_list().unwrap();
                        Value::List(vec![
                            m[0].clone(),
                            m[1].clone(),
                            if seen { 1.into() } else { Value::Nil },
                        ])
                    };
                    bad.ops[i].value = Value::List(vec![mop(&l[0], n == 0), mop(&l[1], n == 1)]);
                }
            }
            "queue" => corrupt(&mut bad, "dequeue", |_| Value::Int(-1)),
            "total-queue" => corrupt(&mut bad, "drain", |v| {
                Value::List(v.as_list().unwrap().iter().skip(1).cloned().collect())
            }),
            _ => unreachable!(),
        }
        let o = check(model, bad);
        assert_eq!(o.verdict, Verdict::Invalid, "{model}: {}", o.summary());
    }
}
