//! `set-full` on hand-built histories, one per rule of Jepsen's `set-full` (stable,
//! lost, never read, stale, the linearizable option, duplicates, info and failed
//! adds, reads concurrent with adds, empty histories), and a differential test
//! against a direct transcription of Jepsen's per-read update loop (every element
//! updated on every read), on random histories.

use checkers::jepsen::set_full::{ElementOutcome, ElementReport, SetFull, SetFullEvidence};
use checkers::{Checker, Outcome, Verdict};
use history::{History, Op, OpKind, Value};

/// An op at `ms` milliseconds.
fn at(mut op: Op, ms: f64) -> Op {
    op.time_ns = (ms * 1e6) as u64;
    op
}

fn ints(items: &[i64]) -> Value {
    Value::List(items.iter().map(|&i| i.into()).collect())
}

/// Numbers indices; times as given.
fn history(mut ops: Vec<Op>) -> History {
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    History::from_ops(ops)
}

fn check_with(ops: Vec<Op>, linearizable: bool) -> Outcome {
    SetFull { linearizable, partition: true }.check(&history(ops).lint().unwrap()).unwrap()
}

fn check(ops: Vec<Op>) -> Outcome {
    check_with(ops, false)
}

fn ev(o: &Outcome) -> &SetFullEvidence {
    o.evidence.get::<SetFullEvidence>().expect("set-full evidence")
}

fn add(p: u64, e: i64, inv: f64, ok: f64) -> [Op; 2] {
    [at(Op::invoke(p, "add", e.into()), inv), at(Op::ok(p, "add", e.into()), ok)]
}

fn read(p: u64, items: &[i64], inv: f64, ok: f64) -> [Op; 2] {
    [at(Op::invoke(p, "read", Value::Nil), inv), at(Op::ok(p, "read", ints(items)), ok)]
}

fn seq(parts: &[&[Op]]) -> Vec<Op> {
    parts.iter().flat_map(|p| p.iter().cloned()).collect()
}

#[test]
fn an_element_every_later_read_holds_is_stable_and_the_set_valid() {
    let o = check(seq(&[
        &read(1, &[], 0.0, 1.0), // an initial read of the empty set
        &add(0, 1, 2.0, 3.0),
        &read(1, &[1], 4.0, 5.0),
        &read(1, &[1], 6.0, 7.0),
    ]));
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
    let e = ev(&o);
    assert_eq!((e.stable_count, e.lost_count, e.stale_count, e.never_read_count), (1, 0, 0, 0));
    assert_eq!(e.stable_latencies.as_ref().unwrap()["1"], 0);
    assert_eq!(e.visibility_latencies.as_ref().unwrap()["1"], 0);
}

#[test]
fn an_element_absent_from_every_read_after_some_point_is_lost() {
    let o = check(seq(&[
        &add(0, 17, 0.0, 3200.0),
        &read(1, &[17], 4000.0, 4001.0),
        &read(1, &[17], 9800.0, 9801.0),
        &read(1, &[], 10_000.0, 10_001.0),
        &read(2, &[], 11_000.0, 11_001.0),
    ]));
    assert_eq!(o.verdict, Verdict::Invalid);
    let e = ev(&o);
    assert_eq!(e.lost, vec![Value::Int(17)]);
    let lost = &e.lost_details[0];
    assert_eq!(lost.absent_reads_after, 2);
    // Lost time: just after the last present read's invocation (9.8 s) - known (3.2 s).
    assert_eq!(lost.lost_latency_ms, Some(6600));
    assert_eq!(e.lost_latencies.as_ref().unwrap()["0.5"], 6600);
    let words = &o.explanation;
    assert!(
        words.contains("Element 17, acknowledged at 3.20 s (line 2), is absent from all 2 reads")
            && words.contains("9.80 s")
            && words.contains("line 5"),
        "{words}"
    );
    assert_eq!(o.section.culprits(), vec![0], "the lost add is the culprit");
}

/// A known element that no read ever holds, missed by a read that began after it
/// was acknowledged: lost, with a lost latency of 0 (Jepsen: "known to be
/// inserted, but never observed").
#[test]
fn an_acknowledged_element_never_seen_is_lost() {
    let o = check(seq(&[&add(0, 1, 0.0, 1.0), &read(1, &[], 2.0, 3.0)]));
    assert_eq!(o.verdict, Verdict::Invalid);
    assert_eq!(ev(&o).lost_details[0].lost_latency_ms, Some(0));
    assert!(o.explanation.contains("none ever held it"), "{}", o.explanation);
}

/// A read concurrent with the add that misses the element may have come first: not
/// lost. With nothing read after, the element is never read, and a set with no
/// stable element is unknown.
#[test]
fn a_concurrent_read_that_misses_an_element_does_not_lose_it() {
    let o = check(vec![
        at(Op::invoke(0, "add", 1.into()), 0.0),
        at(Op::invoke(1, "read", Value::Nil), 1.0),
        at(Op::ok(1, "read", ints(&[])), 2.0),
        at(Op::ok(0, "add", 1.into()), 3.0),
    ]);
    assert_eq!(o.verdict, Verdict::Unknown, "{}", o.summary());
    assert_eq!(ev(&o).never_read, vec![Value::Int(1)]);
    // A concurrent read that *holds* it makes it known at the read's completion.
    let o = check(vec![
        at(Op::invoke(0, "add", 1.into()), 0.0),
        at(Op::invoke(1, "read", Value::Nil), 1.0),
        at(Op::ok(1, "read", ints(&[1])), 2.0),
        at(Op::ok(0, "add", 1.into()), 3.0),
    ]);
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
    assert_eq!(ev(&o).stable_count, 1);
}

/// Missing from a read that began 5 ms after the add was acknowledged: stale (valid
/// by default, invalid with `linearizable`). Under a millisecond it is not stale:
/// Jepsen measures in whole milliseconds.
#[test]
fn stale_reads_are_invalid_only_when_linearizable() {
    let ops = seq(&[&add(0, 1, 0.0, 1.0), &read(1, &[], 6.0, 7.0), &read(1, &[1], 20.0, 21.0)]);
    let o = check(ops.clone());
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
    let e = ev(&o);
    assert_eq!((e.stale_count, e.worst_stale[0].stable_latency_ms), (1, Some(5)));
    assert_eq!(e.visibility_latencies.as_ref().unwrap()["1"], 19, "known 1 ms, seen from 20 ms");
    let lin = check_with(ops, true);
    assert_eq!(lin.verdict, Verdict::Invalid);
    assert!(lin.reason.contains("stale"), "{}", lin.reason);
    assert!(lin.explanation.contains("5 ms after it was known"), "{}", lin.explanation);
    let sub_ms = check_with(
        seq(&[&add(0, 1, 0.0, 1.0), &read(1, &[], 1.5, 2.0), &read(1, &[1], 3.0, 4.0)]),
        true,
    );
    assert_eq!(sub_ms.verdict, Verdict::Valid, "{}", sub_ms.summary());
}

/// An info add may take effect any time: seen later, it is stable (known from that
/// read); a failed add is never known, so reads without it lose nothing; an add
/// that never completes is like info.
#[test]
fn info_adds_count_when_seen_and_failed_adds_never_count() {
    let o = check(vec![
        at(Op::invoke(0, "add", 1.into()), 0.0),
        at(Op::info(0, "add", 1.into()), 1.0),
        at(Op::invoke(1, "add", 2.into()), 2.0),
        at(Op::fail(1, "add", 2.into()), 3.0),
        at(Op::invoke(3, "add", 3.into()), 3.5), // never completes
        at(Op::invoke(2, "read", Value::Nil), 4.0),
        at(Op::ok(2, "read", ints(&[1])), 5.0),
    ]);
    assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
    let e = ev(&o);
    assert_eq!(e.stable_count, 1);
    assert_eq!(e.never_read, vec![Value::Int(2), Value::Int(3)]);
    assert_eq!(e.lost_count, 0);
}

#[test]
fn a_read_holding_an_element_twice_is_invalid() {
    let o = check(seq(&[&add(0, 1, 0.0, 1.0), &read(1, &[1, 1], 2.0, 3.0)]));
    assert_eq!(o.verdict, Verdict::Invalid);
    assert_eq!(ev(&o).duplicated_count, 1);
    assert!(o.explanation.contains("holds element 1 2 times"), "{}", o.explanation);
}

#[test]
fn empty_histories_and_reads_without_adds_are_unknown() {
    assert_eq!(check(vec![]).verdict, Verdict::Unknown);
    let o = check(seq(&[&read(0, &[], 0.0, 1.0), &read(0, &[5], 2.0, 3.0)]));
    assert_eq!(o.verdict, Verdict::Unknown, "an element nobody added is ignored, as in Jepsen");
    let bad = SetFull { linearizable: false, partition: true }
        .check(
            &history(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", 3.into())])
                .lint()
                .unwrap(),
        )
        .unwrap_err();
    assert!(
        bad.to_string().starts_with("line 2:") && bad.to_string().contains("vector or set"),
        "{bad}"
    );
}

#[test]
fn keys_are_judged_on_their_own() {
    let mut ops = Vec::new();
    for (k, lose) in [(1, false), (2, true)] {
        let mut part = seq(&[
            &add(0, 1, 0.0, 1.0),
            &read(1, &[1], 2.0, 3.0),
            &read(1, if lose { &[] } else { &[1] }, 4.0, 5.0),
        ]);
        for op in &mut part {
            op.key = Some(Value::Int(k));
        }
        ops.extend(part);
    }
    let o = check(ops);
    assert_eq!(o.verdict, Verdict::Invalid);
    assert_eq!(o.parts.len(), 1);
    assert_eq!(o.parts[0].key, Some(Value::Int(2)));
    assert_eq!(o.stats.partitions, 2);
}

/// Jepsen's set-full, transcribed as it is written: walk the history in order;
/// an add invocation (re)creates the element's state, an ok add sets `known`, and
/// every ok read updates *every* element tracked so far (present: `known` and
/// `last-present`; absent: `last-absent`), by the read's invocation.
fn jepsen_reference(h: &History) -> Vec<(Value, ElementOutcome, Option<u64>, Option<u64>)> {
    #[derive(Clone, Default)]
    struct St {
        known: Option<usize>,
        last_present: Option<usize>,
        last_absent: Option<usize>,
    }
    let ops = &h.ops;
    let mut open: std::collections::HashMap<u64, usize> = Default::default();
    let mut elements: std::collections::BTreeMap<Value, St> = Default::default();
    for (i, op) in ops.iter().enumerate() {
        let history::Process::Client(p) = op.process else { continue };
        if op.kind == OpKind::Invoke {
            open.insert(p, i);
        }
        match (op.f.as_str(), op.kind) {
            ("add", OpKind::Invoke) => {
                elements.insert(op.value.clone(), St::default());
            }
            ("add", OpKind::Ok) => {
                if let Some(s) = elements.get_mut(&op.value) {
                    s.known = s.known.or(Some(i));
                }
            }
            ("read", OpKind::Ok) => {
                let inv = open[&p];
                let held: Vec<Value> = op.value.as_list().unwrap().to_vec();
                for (v, s) in elements.iter_mut() {
                    if held.contains(v) {
                        s.known = s.known.or(Some(i));
                        if s.last_present.is_none_or(|lp| lp < inv) {
                            s.last_present = Some(inv);
                        }
                    } else if s.last_absent.is_none_or(|la| la < inv) {
                        s.last_absent = Some(inv);
                    }
                }
            }
            _ => {}
        }
    }
    let t = |p: usize| ops[p].time_ns;
    elements
        .into_iter()
        .map(|(v, s)| {
            let idx = |o: Option<usize>| o.map_or(-1, |x| x as i64);
            let stable = s.last_present.is_some() && idx(s.last_absent) < idx(s.last_present);
            let lost = s.known.is_some()
                && s.last_absent.is_some()
                && idx(s.last_present) < idx(s.last_absent)
                && idx(s.known) < idx(s.last_absent);
            let ms = |to: u64| Some(to.saturating_sub(t(s.known?)) / 1_000_000);
            let outcome = if stable {
                ElementOutcome::Stable
            } else if lost {
                ElementOutcome::Lost
            } else {
                ElementOutcome::NeverRead
            };
            let stable_ms = if stable { ms(s.last_absent.map_or(0, |a| t(a) + 1)) } else { None };
            let lost_ms = if lost { ms(s.last_present.map_or(0, |p| t(p) + 1)) } else { None };
            (v, outcome, stable_ms, lost_ms)
        })
        .collect()
}

/// A random history: `procs` processes each doing adds (of elements 0..8, some
/// repeated) and reads that return a random subset of the elements added so far
/// (so elements go missing, come back, and get lost), with random outcomes.
fn random_history(seed: u64, len: usize, procs: u64) -> History {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    let mut rnd = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut ops = Vec::new();
    let mut open: Vec<Option<(Op, bool)>> = vec![None; procs as usize];
    let mut next_proc: Vec<u64> = (0..procs).collect();
    let mut time = 0u64;
    while ops.len() < len {
        let w = rnd(procs) as usize;
        time += rnd(3_000_000);
        match open[w].take() {
            None => {
                let op = if rnd(2) == 0 {
                    Op::invoke(next_proc[w], "add", (rnd(8) as i64).into())
                } else {
                    Op::invoke(next_proc[w], "read", Value::Nil)
                };
                let mut o = op.clone();
                o.time_ns = time;
                ops.push(o);
                open[w] = Some((op, true));
            }
            Some((inv, _)) => {
                let value = if inv.f == "read" {
                    ints(&(0..8).filter(|_| rnd(3) != 0).collect::<Vec<_>>())
                } else {
                    inv.value.clone()
                };
                let kind = match rnd(6) {
                    0 => OpKind::Info,
                    1 => OpKind::Fail,
                    _ => OpKind::Ok,
                };
                let mut done = Op::new(inv.process, kind, &inv.f, value);
                done.time_ns = time;
                ops.push(done);
                if kind == OpKind::Info {
                    next_proc[w] += procs;
                }
            }
        }
    }
    history(ops)
}

fn by_element(e: &SetFullEvidence) -> Vec<(Value, ElementOutcome)> {
    let mut out: Vec<(Value, ElementOutcome)> = Vec::new();
    out.extend(e.lost.iter().map(|v| (v.clone(), ElementOutcome::Lost)));
    out.extend(e.never_read.iter().map(|v| (v.clone(), ElementOutcome::NeverRead)));
    out.sort();
    out
}

/// Outcomes, stale elements, lost latencies and verdicts agree with the
/// transcription of Jepsen's loop on 1500 random histories, which between them
/// produce every verdict and every element outcome (counted, so the comparison
/// cannot pass by only ever seeing easy histories).
#[test]
fn agrees_with_jepsens_loop_on_random_histories() {
    let mut verdicts = std::collections::BTreeMap::new();
    let (mut lost, mut stale, mut never) = (0, 0, 0);
    for seed in 0..1500u64 {
        let h = random_history(seed, (seed % 120) as usize, 1 + seed % 4);
        let expected = jepsen_reference(&h);
        let o = SetFull { linearizable: true, partition: true }.check(&h.lint().unwrap()).unwrap();
        *verdicts.entry(o.verdict.name()).or_insert(0) += 1;
        let Some(e) = o.evidence.get::<SetFullEvidence>() else {
            assert!(expected.is_empty(), "seed {seed}");
            continue;
        };
        let mut want: Vec<(Value, ElementOutcome)> = expected
            .iter()
            .filter(|(_, o, ..)| *o != ElementOutcome::Stable)
            .map(|(v, o, ..)| (v.clone(), *o))
            .collect();
        want.sort();
        assert_eq!(by_element(e), want, "seed {seed}");
        let stable = expected.iter().filter(|x| x.1 == ElementOutcome::Stable).count();
        assert_eq!(e.stable_count, stable, "seed {seed}");
        let stale_want: Vec<Value> =
            expected.iter().filter(|x| x.2.is_some_and(|l| l > 0)).map(|x| x.0.clone()).collect();
        assert_eq!(e.stale, stale_want, "seed {seed}");
        let lost_ms: Vec<Option<u64>> =
            expected.iter().filter(|x| x.1 == ElementOutcome::Lost).map(|x| x.3).collect();
        let got: Vec<Option<u64>> =
            e.lost_details.iter().map(|r: &ElementReport| r.lost_latency_ms).collect();
        assert_eq!(got, lost_ms, "seed {seed}");
        let want_verdict = if !lost_ms.is_empty() {
            Verdict::Invalid
        } else if stable == 0 {
            Verdict::Unknown
        } else if !stale_want.is_empty() {
            Verdict::Invalid
        } else {
            Verdict::Valid
        };
        assert_eq!(o.verdict, want_verdict, "seed {seed}");
        lost += lost_ms.len();
        stale += stale_want.len();
        never += e.never_read_count;
    }
    for v in ["valid", "invalid", "unknown"] {
        assert!(verdicts.get(v).copied().unwrap_or(0) >= 50, "{verdicts:?}");
    }
    assert!(lost >= 200 && stale >= 200 && never >= 200, "lost {lost} stale {stale} never {never}");
}
