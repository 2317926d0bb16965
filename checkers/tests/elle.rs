//! Elle's checkers on hand-built histories: every anomaly type found and named,
//! each next to a twin that differs in one read or one outcome and is valid; the
//! verdicts Elle gives (unknown for an empty graph or a search out of time, valid
//! when only anomalies the models allow are present); and the explanation in words
//! naming the lines.

use std::collections::BTreeMap;
use std::time::Duration;

use checkers::elle::{ElleEvidence, Validity};
use checkers::registry::{self, CheckerOptions};
use checkers::{Outcome, Verdict};
use history::{History, Op, OpKind, Value};

fn kw(s: &str) -> Value {
    Value::kw(s)
}

/// `[:append k v]`
fn a(k: &str, v: i64) -> Value {
    Value::List(vec![kw("append"), k.into(), v.into()])
}

/// `[:r k [..]]`
fn r(k: &str, l: &[i64]) -> Value {
    Value::List(vec![kw("r"), k.into(), Value::List(l.iter().map(|v| Value::Int(*v)).collect())])
}

/// `[:w k v]`
fn w(k: &str, v: i64) -> Value {
    Value::List(vec![kw("w"), k.into(), v.into()])
}

/// `[:r k v]` (register; `None` reads nil)
fn rv(k: &str, v: Option<i64>) -> Value {
    Value::List(vec![kw("r"), k.into(), v.map_or(Value::Nil, Value::Int)])
}

/// The invocation's form of a transaction: reads return nil.
fn invocation(mops: &[Value]) -> Value {
    Value::List(
        mops.iter()
            .map(|m| {
                let l = m.as_list().unwrap();
                if l[0] == kw("r") {
                    Value::List(vec![l[0].clone(), l[1].clone(), Value::Nil])
                } else {
                    m.clone()
                }
            })
            .collect(),
    )
}

#[derive(Default)]
struct B {
    ops: Vec<Op>,
}

impl B {
    fn invoke(&mut self, p: u64, mops: &[Value]) -> &mut B {
        self.ops.push(Op::invoke(p, "txn", invocation(mops)));
        self
    }

    fn complete(&mut self, p: u64, kind: OpKind, mops: &[Value]) -> &mut B {
        let value = if kind == OpKind::Ok { Value::List(mops.to_vec()) } else { invocation(mops) };
        self.ops.push(Op::new(history::Process::Client(p), kind, "txn", value));
        self
    }

    /// An ok transaction, invoked and completed before the next starts.
    fn ok(&mut self, p: u64, mops: &[Value]) -> &mut B {
        self.invoke(p, mops).complete(p, OpKind::Ok, mops)
    }

    fn fail(&mut self, p: u64, mops: &[Value]) -> &mut B {
        self.invoke(p, mops).complete(p, OpKind::Fail, mops)
    }

    /// Ok transactions all concurrent (every invocation before any completion).
    fn concurrent(&mut self, txns: &[(u64, &[Value])]) -> &mut B {
        for (p, m) in txns {
            self.invoke(*p, m);
        }
        for (p, m) in txns {
            self.complete(*p, OpKind::Ok, m);
        }
        self
    }
}

fn options(models: &[&str], extra: &[(&str, Value)]) -> CheckerOptions {
    let mut e: BTreeMap<String, Value> =
        extra.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    e.insert(
        "consistency-models".into(),
        Value::List(models.iter().map(|m| Value::Str(m.to_string())).collect()),
    );
    CheckerOptions { extension: e, ..CheckerOptions::default() }
}

fn run(model: &str, b: &B, models: &[&str], extra: &[(&str, Value)]) -> Outcome {
    let h = History::from_ops(b.ops.clone()).lint().expect("well-formed");
    registry::by_name(model).unwrap().checker(&options(models, extra)).unwrap().check(&h).unwrap()
}

fn types(o: &Outcome) -> Vec<String> {
    o.evidence.get::<ElleEvidence>().expect("elle evidence").anomaly_types.clone()
}

/// Checks list-append under strict-serializable: the verdict and the anomaly types.
fn la(b: &B) -> (Verdict, Vec<String>) {
    let o = run("list-append", b, &["strict-serializable"], &[]);
    (o.verdict, types(&o))
}

fn invalid(types: &[&str]) -> (Verdict, Vec<String>) {
    (Verdict::Invalid, types.iter().map(|s| s.to_string()).collect())
}

fn valid() -> (Verdict, Vec<String>) {
    (Verdict::Valid, vec![])
}

#[test]
fn g0_write_cycle_and_its_twin() {
    let mut bad = B::default();
    bad.ok(0, &[a("x", 1), a("y", 1)])
        .ok(1, &[a("x", 2), a("y", 2)])
        .ok(2, &[r("x", &[1, 2]), r("y", &[2, 1])]);
    assert_eq!(la(&bad), invalid(&["G0"]));
    let mut good = B::default();
    good.ok(0, &[a("x", 1), a("y", 1)])
        .ok(1, &[a("x", 2), a("y", 2)])
        .ok(2, &[r("x", &[1, 2]), r("y", &[1, 2])]);
    assert_eq!(la(&good), valid());
}

#[test]
fn g1a_aborted_read_and_its_twin() {
    let mut bad = B::default();
    bad.fail(0, &[a("x", 1)]).ok(1, &[a("x", 2)]).ok(2, &[r("x", &[1, 2])]);
    assert_eq!(la(&bad), invalid(&["G1a", "dirty-update"]));
    let mut good = B::default();
    good.ok(0, &[a("x", 1)]).ok(1, &[a("x", 2)]).ok(2, &[r("x", &[1, 2])]);
    assert_eq!(la(&good), valid());
    // Read alone (no committed append after it): G1a without dirty update.
    let mut only = B::default();
    only.fail(0, &[a("x", 1)]).ok(1, &[r("x", &[1])]);
    let (v, t) = la(&only);
    assert_eq!(v, Verdict::Invalid);
    assert!(t.contains(&"G1a".to_string()) && !t.contains(&"dirty-update".to_string()), "{t:?}");
}

#[test]
fn g1b_intermediate_read_and_its_twin() {
    let mut bad = B::default();
    bad.concurrent(&[(0, &[a("x", 1), a("x", 2)]), (1, &[r("x", &[1])])]);
    // Reading [1] also puts the reader between T1's two appends: a cycle too.
    assert_eq!(la(&bad), invalid(&["G-single-item", "G1b"]));
    let mut good = B::default();
    good.concurrent(&[(0, &[a("x", 1), a("x", 2)]), (1, &[r("x", &[1, 2])])]);
    assert_eq!(la(&good), valid());
}

#[test]
fn g1c_circular_information_flow_and_its_twin() {
    let t1 = [a("x", 1), r("y", &[1])];
    let t2 = [a("x", 2), a("y", 1)];
    let mut bad = B::default();
    bad.concurrent(&[(0, &t1), (1, &t2)]).ok(2, &[r("x", &[1, 2])]);
    assert_eq!(la(&bad), invalid(&["G1c"]));
    let mut good = B::default();
    good.concurrent(&[(0, &[a("x", 1), r("y", &[])]), (1, &t2)]).ok(2, &[r("x", &[1, 2])]);
    assert_eq!(la(&good), valid());
}

#[test]
fn g_single_item_read_skew_and_its_twin() {
    let mut bad = B::default();
    bad.concurrent(&[(0, &[a("x", 1), a("y", 1)]), (1, &[a("x", 2), r("y", &[])])])
        .ok(2, &[r("x", &[1, 2])]);
    assert_eq!(la(&bad), invalid(&["G-single-item"]));
    let mut good = B::default();
    good.concurrent(&[(0, &[a("x", 1), a("y", 1)]), (1, &[a("x", 2), r("y", &[1])])])
        .ok(2, &[r("x", &[1, 2])]);
    assert_eq!(la(&good), valid());
}

#[test]
fn g_nonadjacent_item_and_its_twin() {
    // T1 -rw-> T2 -wr-> T3 -rw-> T4 -wr-> T1: two anti-dependencies, never adjacent.
    let bad_t1 = [r("w", &[1]), r("x", &[])];
    let rest: [&[Value]; 3] =
        [&[a("x", 1), a("y", 1)], &[r("y", &[1]), r("z", &[])], &[a("z", 1), a("w", 1)]];
    let mut bad = B::default();
    bad.concurrent(&[(0, &bad_t1), (1, rest[0]), (2, rest[1]), (3, rest[2])]);
    assert_eq!(la(&bad), invalid(&["G-nonadjacent-item"]));
    let good_t1 = [r("w", &[]), r("x", &[])];
    let mut good = B::default();
    good.concurrent(&[(0, &good_t1), (1, rest[0]), (2, rest[1]), (3, rest[2])]);
    assert_eq!(la(&good), valid());
    // Snapshot isolation forbids it too (generalized SI: any cycle whose
    // anti-dependencies are all non-adjacent).
    assert_eq!(run("list-append", &bad, &["snapshot-isolation"], &[]).verdict, Verdict::Invalid);
}

#[test]
fn g2_item_write_skew_and_its_twin_and_what_allows_it() {
    let mut bad = B::default();
    bad.concurrent(&[(0, &[a("x", 1), r("y", &[])]), (1, &[a("y", 1), r("x", &[])])]);
    assert_eq!(la(&bad), invalid(&["G2-item"]));
    let mut good = B::default();
    good.concurrent(&[(0, &[a("x", 1), r("y", &[])]), (1, &[a("y", 1), r("x", &[1])])]);
    assert_eq!(la(&good), valid());
    // Snapshot isolation allows write skew; serializable does not.
    assert_eq!(run("list-append", &bad, &["snapshot-isolation"], &[]).verdict, Verdict::Valid);
    assert_eq!(run("list-append", &bad, &["serializable"], &[]).verdict, Verdict::Invalid);
}

#[test]
fn realtime_variants_only_under_strict_models() {
    // T2 begins after T1 completed but does not see its append: a stale read.
    let mut bad = B::default();
    bad.ok(0, &[a("x", 1)]).ok(1, &[r("x", &[])]);
    assert_eq!(la(&bad), invalid(&["G-single-item-realtime"]));
    assert_eq!(run("list-append", &bad, &["serializable"], &[]).verdict, Verdict::Valid);
    let mut good = B::default();
    good.concurrent(&[(0, &[a("x", 1)]), (1, &[r("x", &[])])]);
    assert_eq!(la(&good), valid(), "concurrent: the read may come first");
    // G0-realtime: T1 appended 2 and completed; T2, later, appended 1, yet the
    // order read is [1 2].
    let mut g0 = B::default();
    g0.invoke(2, &[r("x", &[1, 2])]).ok(0, &[a("x", 2)]).ok(1, &[a("x", 1)]).complete(
        2,
        OpKind::Ok,
        &[r("x", &[1, 2])],
    );
    assert_eq!(la(&g0), invalid(&["G0-realtime"]));
    let mut g0_twin = B::default();
    g0_twin.invoke(2, &[r("x", &[2, 1])]).ok(0, &[a("x", 2)]).ok(1, &[a("x", 1)]).complete(
        2,
        OpKind::Ok,
        &[r("x", &[2, 1])],
    );
    assert_eq!(la(&g0_twin), valid());
}

#[test]
fn process_variants_under_strong_session_models() {
    let mut bad = B::default();
    bad.ok(0, &[a("x", 1)]).ok(0, &[r("x", &[])]);
    let o = run("list-append", &bad, &["strong-session-serializable"], &[]);
    assert_eq!((o.verdict, types(&o)), invalid(&["G-single-item-process"]));
    // The same two transactions from different processes are session-serializable.
    let mut good = B::default();
    good.ok(0, &[a("x", 1)]).ok(1, &[r("x", &[])]);
    assert_eq!(
        run("list-append", &good, &["strong-session-serializable"], &[]).verdict,
        Verdict::Valid
    );
}

#[test]
fn internal_future_duplicate_incompatible_and_lost_update_and_their_twins() {
    let single = |mops: &[Value]| {
        let mut b = B::default();
        b.ok(0, &[a("z", 9)]).ok(1, mops);
        la(&b)
    };
    assert_eq!(single(&[a("x", 1), r("x", &[])]).1, vec!["internal".to_string()]);
    assert_eq!(single(&[a("x", 1), r("x", &[1])]), valid());
    assert_eq!(single(&[r("x", &[1]), a("x", 1)]).1, vec!["future-read".to_string()]);
    assert_eq!(single(&[r("x", &[]), a("x", 1)]), valid());
    let mut dup = B::default();
    dup.ok(0, &[a("x", 1)]).ok(1, &[r("x", &[1, 1])]);
    assert_eq!(la(&dup), invalid(&["duplicate-elements"]));
    let mut orders = B::default();
    orders.concurrent(&[
        (0, &[a("x", 1)]),
        (1, &[a("x", 2)]),
        (2, &[a("x", 3)]),
        (3, &[r("x", &[1, 2])]),
        (4, &[r("x", &[1, 3])]),
    ]);
    let (v, t) = la(&orders);
    assert_eq!(v, Verdict::Invalid);
    assert!(t.contains(&"incompatible-order".to_string()), "{t:?}");
    let mut compatible = B::default();
    compatible.concurrent(&[
        (0, &[a("x", 1)]),
        (1, &[a("x", 2)]),
        (2, &[a("x", 3)]),
        (3, &[r("x", &[1, 2])]),
        (4, &[r("x", &[1, 2, 3])]),
    ]);
    assert_eq!(la(&compatible), valid());
    let mut lost = B::default();
    lost.ok(0, &[a("x", 0)])
        .concurrent(&[(1, &[r("x", &[0]), a("x", 1)]), (2, &[r("x", &[0]), a("x", 2)])]);
    assert_eq!(la(&lost), invalid(&["G2-item", "lost-update"]));
    let mut kept = B::default();
    kept.ok(0, &[a("x", 0)])
        .concurrent(&[(1, &[r("x", &[0]), a("x", 1)]), (2, &[r("x", &[0, 1]), a("x", 2)])]);
    assert_eq!(la(&kept), valid());
}

#[test]
fn unknown_when_nothing_to_judge_or_out_of_time() {
    let mut empty = B::default();
    empty.ok(0, &[r("x", &[])]);
    let o = run("list-append", &empty, &["strict-serializable"], &[]);
    assert_eq!(
        (o.verdict, types(&o)),
        (Verdict::Unknown, vec!["empty-transaction-graph".to_string()])
    );
    // A write-skew component whose search gets no time: under read committed
    // (which allows write skew) the search running out is all there is to say.
    let mut skew = B::default();
    skew.concurrent(&[(0, &[a("x", 1), r("y", &[])]), (1, &[a("y", 1), r("x", &[])])]);
    let h = History::from_ops(skew.ops.clone()).lint().unwrap();
    let rc =
        CheckerOptions { time_limit: Some(Duration::ZERO), ..options(&["read-committed"], &[]) };
    let o = registry::by_name("list-append").unwrap().checker(&rc).unwrap().check(&h).unwrap();
    assert_eq!(o.verdict, Verdict::Unknown, "{}", o.summary());
    assert!(types(&o).contains(&"cycle-search-timeout".to_string()));
    // Under serializable the fallback cycle found anyway is G2-item: invalid.
    let ser =
        CheckerOptions { time_limit: Some(Duration::ZERO), ..options(&["serializable"], &[]) };
    let o = registry::by_name("list-append").unwrap().checker(&ser).unwrap().check(&h).unwrap();
    assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
}

#[test]
fn models_and_anomalies_options() {
    let mut bad = B::default();
    bad.concurrent(&[(0, &[a("x", 1), r("y", &[])]), (1, &[a("y", 1), r("x", &[])])]);
    // No model, but the anomaly asked for: invalid; no model and only G0: valid.
    let o = run("list-append", &bad, &[], &[("anomalies", Value::Str("G2-item".into()))]);
    assert_eq!(o.verdict, Verdict::Invalid);
    let o = run("list-append", &bad, &[], &[("anomalies", Value::Str("G0".into()))]);
    assert_eq!(o.verdict, Verdict::Valid);
    let bogus = registry::by_name("list-append").unwrap().checker(&options(&["bogus-model"], &[]));
    assert!(bogus.err().unwrap().to_string().contains("bogus-model"));
    let bogus = registry::by_name("list-append")
        .unwrap()
        .checker(&options(&["serializable"], &[("anomalies", Value::Str("G9".into()))]));
    assert!(bogus.err().unwrap().to_string().contains("G9"));
}

#[test]
fn explanations_name_lines_models_and_draw_the_cycle() {
    let mut bad = B::default();
    bad.concurrent(&[(0, &[a("x", 1), r("y", &[])]), (1, &[a("y", 1), r("x", &[])])]);
    let o = run("list-append", &bad, &["strict-serializable"], &[]);
    let e = &o.explanation;
    assert!(e.contains("G2-item") && e.contains("T1 = the transaction at line 3"), "{e}");
    assert!(e.contains("so T1 precedes T2 (rw)") && e.contains("so T1 precedes itself"), "{e}");
    assert!(e.contains("not repeatable-read") && e.contains("may still satisfy"), "{e}");
    let ev = o.evidence.get::<ElleEvidence>().unwrap();
    assert!(ev.still_possible.contains(&"strong-snapshot-isolation"), "{:?}", ev.still_possible);
    assert_eq!(ev.elle["valid?"], serde_json::json!(false));
    assert!(
        o.section
            .blocks
            .iter()
            .any(|b| matches!(b, checkers::section::Block::Graph(g) if g.nodes.len() == 2))
    );
    assert_eq!(o.section.culprits().len(), 1);
    let _ = Validity::True;
}

#[test]
fn wrong_shapes_are_errors_naming_the_line() {
    let h = History::from_ops(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", 3.into())])
        .lint()
        .unwrap();
    let e = registry::by_name("list-append")
        .unwrap()
        .checker(&CheckerOptions::default())
        .unwrap()
        .check(&h);
    let msg = e.unwrap_err().to_string();
    assert!(msg.contains("line 2") && msg.contains("not a transaction"), "{msg}");
    let mut dup = B::default();
    dup.ok(0, &[a("x", 1)]).ok(1, &[a("x", 1)]);
    let h = History::from_ops(dup.ops.clone()).lint().unwrap();
    let msg = registry::by_name("list-append")
        .unwrap()
        .checker(&CheckerOptions::default())
        .unwrap()
        .check(&h)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("more than once") && msg.contains("line 3") && msg.contains("line 1"),
        "{msg}"
    );
}

// ---- rw-register ----

fn rw(b: &B, extra: &[(&str, Value)]) -> (Verdict, Vec<String>) {
    let o = run("rw-register", b, &["strict-serializable"], extra);
    (o.verdict, types(&o))
}

#[test]
fn rw_register_anomalies_and_twins() {
    let mut g1a = B::default();
    g1a.fail(0, &[w("x", 2)]).ok(1, &[rv("x", Some(2))]);
    assert_eq!(rw(&g1a, &[]), invalid(&["G1a", "empty-transaction-graph"]));
    let mut g1a_twin = B::default();
    g1a_twin.ok(0, &[w("x", 2)]).ok(1, &[rv("x", Some(2))]);
    assert_eq!(rw(&g1a_twin, &[]), valid());
    let mut g1b = B::default();
    g1b.ok(0, &[w("x", 1), w("x", 2)]).ok(1, &[rv("x", Some(1))]);
    assert_eq!(rw(&g1b, &[]), invalid(&["G1b"]));
    let mut g1b_twin = B::default();
    g1b_twin.ok(0, &[w("x", 1), w("x", 2)]).ok(1, &[rv("x", Some(2))]);
    assert_eq!(rw(&g1b_twin, &[]), valid());
    let mut internal = B::default();
    internal.ok(0, &[w("y", 1)]).ok(1, &[w("x", 2), rv("x", Some(3))]);
    assert!(rw(&internal, &[]).1.contains(&"internal".to_string()));
    let mut lost = B::default();
    lost.ok(0, &[w("x", 0)])
        .concurrent(&[(1, &[rv("x", Some(0)), w("x", 1)]), (2, &[rv("x", Some(0)), w("x", 2)])]);
    assert_eq!(rw(&lost, &[]), invalid(&["lost-update"]));
    let mut single = B::default();
    single.concurrent(&[
        (0, &[w("x", 1)]),
        (1, &[rv("x", Some(1)), w("y", 1)]),
        (2, &[rv("y", Some(1)), rv("x", None)]),
    ]);
    assert_eq!(rw(&single, &[]), invalid(&["G-single-item"]));
    let mut single_twin = B::default();
    single_twin.concurrent(&[
        (0, &[w("x", 1)]),
        (1, &[rv("x", Some(1)), w("y", 1)]),
        (2, &[rv("y", Some(1)), rv("x", Some(1))]),
    ]);
    assert_eq!(rw(&single_twin, &[]), valid());
}

#[test]
fn rw_register_version_inferences_are_opt_in() {
    // Writes follow reads: T2 read x=1 then wrote 2, so 1 < 2; T3 read x=1 too but
    // misses T2's write while T2 misses T3's write of y.
    let mut b = B::default();
    b.concurrent(&[
        (0, &[w("x", 1)]),
        (1, &[rv("x", Some(1)), w("x", 2), rv("y", None)]),
        (2, &[w("y", 1), rv("x", Some(1))]),
    ]);
    assert_eq!(rw(&b, &[]), valid(), "without the assumption nothing orders 1 and 2");
    assert_eq!(rw(&b, &[("wfr-keys", Value::Bool(true))]), invalid(&["G2-item"]));
    // A stale read is visible only under per-key linearizability.
    let mut stale = B::default();
    stale.ok(0, &[w("x", 1)]).ok(1, &[w("x", 2)]).ok(2, &[rv("x", Some(1))]);
    assert_eq!(rw(&stale, &[]), valid());
    assert_eq!(
        rw(&stale, &[("linearizable-keys", Value::Bool(true))]),
        invalid(&["cyclic-versions"])
    );
    // ... and sequential keys see it when one process does it.
    let mut same = B::default();
    same.ok(0, &[w("x", 1)]).ok(0, &[w("x", 2)]).ok(0, &[rv("x", Some(1))]);
    assert_eq!(rw(&same, &[("sequential-keys", Value::Bool(true))]), invalid(&["cyclic-versions"]));
    let mut fine = B::default();
    fine.ok(0, &[w("x", 1)]).ok(0, &[w("x", 2)]).ok(0, &[rv("x", Some(2))]);
    assert_eq!(
        rw(
            &fine,
            &[("sequential-keys", Value::Bool(true)), ("linearizable-keys", Value::Bool(true))]
        ),
        valid()
    );
}
