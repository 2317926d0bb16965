//! `total-queue`: Jepsen's total-queue checker (`jepsen.checker/total-queue`): what
//! goes in must come out. Only meaningful when the history drains the queue.
//!
//! Jepsen's rule, over multisets: `ok` `:drain`s (whose value is the collection of
//! elements drained) count as one `ok` dequeue per element;
//! - *attempts*: the values of every enqueue invocation;
//! - *enqueues*: the values of `ok` enqueues; *dequeues*: of `ok` dequeues;
//! - *ok* = dequeues ∩ attempts; *unexpected*: dequeues of values never attempted;
//!   *duplicated* = dequeues − attempts − unexpected (taken more often than put in);
//!   *lost* = enqueues − dequeues (acknowledged, never taken); *recovered* = ok −
//!   enqueues (an indeterminate enqueue that came out).
//!
//! Valid unless something is lost or unexpected; duplicates are reported and, as in
//! Jepsen, do not by themselves make the history invalid. Failed and `info`
//! dequeues took nothing; a failed drain is skipped; a drain whose outcome is
//! unknown cannot be expanded (Jepsen throws), so the verdict is `unknown`, naming
//! it. As in Jepsen's code, attempts include enqueues that failed: an element whose
//! every enqueue failed but which came out counts as ok and recovered, and the
//! explanation names it (`failed_but_dequeued`), since `fail` means it certainly
//! did not happen. Jepsen answers `true` for a history with no queue operation;
//! this answers `unknown`. Each key is its own queue when the history has keys.

use history::{Linted, OpKind, Pair, Value};
use serde::Serialize;

use super::{
    FastHash, FastMap, Judged, bad_op, check_parts, collection, interval_str, key_cell, list_words,
    options, place,
};
use crate::registry::CheckerDef;
use crate::section::{Block, Section, Table};
use crate::verdict::{CheckError, Checker, Outcome, Verdict};

/// `total-queue` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "total-queue",
    summary: "Jepsen's total-queue: every acknowledged enqueue is dequeued (drains \
              included), nothing dequeued that was never enqueued (per key)",
    make: |o| {
        options(o, "total-queue", &[])?;
        Ok(Box::new(TotalQueue { partition: o.partition }))
    },
};

/// The total-queue checker.
#[derive(Debug, Clone, Copy)]
pub struct TotalQueue {
    /// Judge each key's queue on its own.
    pub partition: bool,
}

/// A multiset as (value, multiplicity), sorted by value.
pub type Multiset = Vec<(serde_json::Value, usize)>;

/// What the total-queue checker found for one queue (Jepsen's result map).
#[derive(Debug, Clone, Serialize)]
pub struct TotalQueueEvidence {
    #[serde(serialize_with = "super::key_json")]
    pub key: Option<Value>,
    pub attempt_count: usize,
    pub acknowledged_count: usize,
    pub ok_count: usize,
    pub unexpected_count: usize,
    pub duplicated_count: usize,
    pub lost_count: usize,
    pub recovered_count: usize,
    pub lost: Multiset,
    pub unexpected: Multiset,
    pub duplicated: Multiset,
    pub recovered: Multiset,
    #[serde(serialize_with = "super::values_json")]
    pub failed_but_dequeued: Vec<Value>,
    /// A drain with an unknown outcome (position of its invocation).
    pub indeterminate_drain: Option<usize>,
}

impl Checker for TotalQueue {
    fn name(&self) -> String {
        "total-queue".into()
    }

    fn splits_by_key(&self) -> bool {
        self.partition
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        check_parts(history, self.partition, |k, p| judge(history, k, p), section)
    }
}

type Counts<'a> = FastMap<&'a Value, usize>;

fn count(m: &Counts, v: &Value) -> usize {
    m.get(v).copied().unwrap_or(0)
}

/// `(value, multiplicity)` of `f(value)` over the values of `over`, sorted, without
/// zeros.
fn multiset<'a>(
    over: &Counts<'a>,
    f: impl Fn(&'a Value, usize) -> usize,
) -> Vec<(&'a Value, usize)> {
    let mut out: Vec<(&Value, usize)> =
        over.iter().map(|(v, &n)| (*v, f(v, n))).filter(|(_, n)| *n > 0).collect();
    out.sort();
    out
}

fn judge(
    history: &Linted,
    key: Option<Value>,
    pairs: &[Pair],
) -> Result<Judged<TotalQueueEvidence>, CheckError> {
    let ops = history.ops();
    // Sized up front: growing would hash every element again (each hash reads the
    // element where its operation lies in the history).
    let sized = || Counts::with_capacity_and_hasher(pairs.len(), FastHash);
    let (mut attempts, mut enqueues, mut dequeues) = (sized(), sized(), sized());
    let mut not_failed = sized();
    let mut indeterminate_drain = None;
    for pair in pairs {
        let outcome = history.outcome(pair);
        let done = pair.completion.filter(|_| outcome == OpKind::Ok);
        match ops[pair.invoke].f.as_str() {
            "enqueue" => {
                let v = &ops[pair.invoke].value;
                *attempts.entry(v).or_insert(0) += 1;
                if outcome != OpKind::Fail {
                    *not_failed.entry(v).or_insert(0) += 1;
                }
                if let Some(done) = done {
                    *enqueues.entry(&ops[done].value).or_insert(0) += 1;
                }
            }
            "dequeue" => {
                if let Some(done) = done {
                    *dequeues.entry(&ops[done].value).or_insert(0) += 1;
                }
            }
            "drain" => match (outcome, done) {
                (OpKind::Fail, _) => {}
                (_, Some(done)) => {
                    let Some(items) = collection(&ops[done].value) else {
                        return Err(bad_op(
                            history,
                            done,
                            format!(
                                "a drain must return the collection drained, got {}",
                                ops[done].value
                            ),
                        ));
                    };
                    for item in items {
                        *dequeues.entry(item).or_insert(0) += 1;
                    }
                }
                _ => {
                    indeterminate_drain.get_or_insert(pair.invoke);
                }
            },
            _ => {}
        }
    }
    // Only counted and filtered, so not sorted: the largest of these multisets.
    let ok =
        dequeues.iter().map(|(v, &d)| (*v, d.min(count(&attempts, v)))).filter(|(_, n)| *n > 0);
    let ok_count: usize = ok.clone().map(|(_, n)| n).sum();
    let mut failed_but_dequeued: Vec<&Value> =
        ok.filter(|(v, _)| count(&not_failed, v) == 0).map(|(v, _)| v).collect();
    failed_but_dequeued.sort();
    let unexpected = multiset(&dequeues, |v, d| if count(&attempts, v) == 0 { d } else { 0 });
    let duplicated = multiset(&dequeues, |v, d| {
        let a = count(&attempts, v);
        if a == 0 { 0 } else { d.saturating_sub(a) }
    });
    let lost = multiset(&enqueues, |v, e| e.saturating_sub(count(&dequeues, v)));
    let recovered =
        multiset(&dequeues, |v, d| d.min(count(&attempts, v)).saturating_sub(count(&enqueues, v)));
    let total = |m: &[(&Value, usize)]| m.iter().map(|(_, n)| n).sum::<usize>();
    let json =
        |m: &[(&Value, usize)]| m.iter().map(|(v, n)| (v.to_json(), *n)).collect::<Multiset>();
    let evidence = TotalQueueEvidence {
        key: key.clone(),
        attempt_count: attempts.values().sum(),
        acknowledged_count: enqueues.values().sum(),
        ok_count,
        unexpected_count: total(&unexpected),
        duplicated_count: total(&duplicated),
        lost_count: total(&lost),
        recovered_count: total(&recovered),
        lost: json(&lost),
        unexpected: json(&unexpected),
        duplicated: json(&duplicated),
        recovered: json(&recovered),
        failed_but_dequeued: failed_but_dequeued.into_iter().cloned().collect(),
        indeterminate_drain,
    };
    let set_words = |m: &[(&Value, usize)]| {
        let distinct: Vec<&Value> = m.iter().map(|(v, _)| *v).collect();
        interval_str(&distinct)
    };
    let mut words = Vec::new();
    if !lost.is_empty() {
        words.push(format!(
            "{} acknowledged enqueue(s) never came out: {}.",
            evidence.lost_count,
            set_words(&lost)
        ));
    }
    if !unexpected.is_empty() {
        words.push(format!(
            "{} dequeue(s) took elements nobody tried to enqueue: {}.",
            evidence.unexpected_count,
            set_words(&unexpected)
        ));
    }
    if !duplicated.is_empty() {
        words.push(format!(
            "{} element(s) came out more often than they were put in: {} (reported; not invalid \
             by Jepsen's rule).",
            evidence.duplicated_count,
            set_words(&duplicated)
        ));
    }
    if !evidence.failed_but_dequeued.is_empty() {
        words.push(format!(
            "Dequeued although every enqueue of them failed: {} (Jepsen counts them as recovered).",
            list_words(&evidence.failed_but_dequeued, 10)
        ));
    }
    let (verdict, reason) = if let Some(at) = indeterminate_drain {
        words.insert(
            0,
            format!(
                "The drain at {} has an unknown outcome, so what it took cannot be counted.",
                place(history, at)
            ),
        );
        (Verdict::Unknown, "a drain's outcome is unknown".to_string())
    } else if !lost.is_empty() || !unexpected.is_empty() {
        let mut what = Vec::new();
        if !lost.is_empty() {
            what.push(format!("{} lost", evidence.lost_count));
        }
        if !unexpected.is_empty() {
            what.push(format!("{} unexpected", evidence.unexpected_count));
        }
        (Verdict::Invalid, what.join(", "))
    } else if attempts.is_empty() && dequeues.is_empty() {
        (Verdict::Unknown, "no enqueue or dequeue".to_string())
    } else {
        (
            Verdict::Valid,
            format!(
                "every acknowledged enqueue came out ({} recovered, {} duplicated)",
                evidence.recovered_count, evidence.duplicated_count
            ),
        )
    };
    Ok(Judged { key, verdict, reason, explanation: words.join(" "), evidence })
}

fn section(judged: &[Judged<TotalQueueEvidence>]) -> Section {
    let keyed = judged.len() > 1 || judged.iter().any(|j| j.key.is_some());
    let sum =
        |f: fn(&TotalQueueEvidence) -> usize| judged.iter().map(|j| f(&j.evidence)).sum::<usize>();
    let mut section = Section::new("Total queue").with(Block::paragraph(format!(
        "{} enqueues attempted, {} acknowledged; {} came out as expected, {} lost, {} \
         unexpected, {} duplicated, {} recovered.",
        sum(|e| e.attempt_count),
        sum(|e| e.acknowledged_count),
        sum(|e| e.ok_count),
        sum(|e| e.lost_count),
        sum(|e| e.unexpected_count),
        sum(|e| e.duplicated_count),
        sum(|e| e.recovered_count),
    )));
    let show = |m: &Multiset| {
        m.iter()
            .take(20)
            .map(|(v, n)| if *n > 1 { format!("{v}×{n}") } else { v.to_string() })
            .collect::<Vec<_>>()
            .join(" ")
    };
    let rows: Vec<Vec<String>> = judged
        .iter()
        .filter(|j| j.verdict != Verdict::Valid || j.evidence.duplicated_count > 0)
        .take(50)
        .map(|j| {
            let e = &j.evidence;
            let mut row = vec![
                j.verdict.to_string(),
                show(&e.lost),
                show(&e.unexpected),
                show(&e.duplicated),
            ];
            if keyed {
                row.insert(0, key_cell(&j.key));
            }
            row
        })
        .collect();
    if !rows.is_empty() {
        let mut columns: Vec<String> =
            ["verdict", "lost", "unexpected", "duplicated"].map(String::from).to_vec();
        if keyed {
            columns.insert(0, "key".into());
        }
        section.blocks.push(Block::Table(Table {
            caption: Some("what did not come out right".into()),
            columns,
            rows,
        }));
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn check(ops: Vec<Op>) -> Outcome {
        TotalQueue { partition: true }.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    fn ev(o: &Outcome) -> &TotalQueueEvidence {
        o.evidence.get::<TotalQueueEvidence>().unwrap()
    }

    fn enq(p: u64, v: i64) -> [Op; 2] {
        [Op::invoke(p, "enqueue", v.into()), Op::ok(p, "enqueue", v.into())]
    }

    fn deq(p: u64, v: i64) -> [Op; 2] {
        [Op::invoke(p, "dequeue", Value::Nil), Op::ok(p, "dequeue", v.into())]
    }

    #[test]
    fn everything_in_comes_out_lost_and_unexpected_are_invalid() {
        let o = check([enq(0, 1), enq(0, 2), deq(1, 2), deq(1, 1)].concat());
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let o = check([enq(0, 1), enq(0, 2), deq(1, 2)].concat());
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!(ev(&o).lost, vec![(1.into(), 1)]);
        let o = check([enq(0, 1), deq(1, 1), deq(1, 9)].concat());
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!(ev(&o).unexpected, vec![(9.into(), 1)]);
    }

    /// Duplicates are reported but valid (Jepsen's rule); info enqueues that come
    /// out are recovered; drains expand into dequeues; an unknown drain is unknown.
    #[test]
    fn duplicates_recovery_and_drains() {
        let o = check([enq(0, 1), deq(1, 1), deq(1, 1)].concat());
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!(ev(&o).duplicated, vec![(1.into(), 1)]);
        let mut ops = vec![Op::invoke(0, "enqueue", 5.into()), Op::info(0, "enqueue", 5.into())];
        ops.extend(enq(1, 6));
        ops.extend([
            Op::invoke(2, "drain", Value::Nil),
            Op::ok(2, "drain", Value::List(vec![5.into(), 6.into()])),
        ]);
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!((ev(&o).recovered_count, ev(&o).ok_count), (1, 2));
        let mut ops: Vec<Op> = enq(0, 1).into();
        ops.extend([Op::invoke(2, "drain", Value::Nil), Op::info(2, "drain", Value::Nil)]);
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Unknown);
        assert!(o.explanation.contains("line 3"), "{}", o.explanation);
        assert_eq!(check(vec![]).verdict, Verdict::Unknown);
    }

    #[test]
    fn failed_enqueues_are_attempts_and_named_when_they_come_out() {
        let mut ops = vec![Op::invoke(0, "enqueue", 3.into()), Op::fail(0, "enqueue", 3.into())];
        ops.extend(deq(1, 3));
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Valid);
        assert!(o.explanation.contains("every enqueue of them failed"), "{}", o.explanation);
        // A failed enqueue that never comes out is not lost.
        let o = check(vec![Op::invoke(0, "enqueue", 3.into()), Op::fail(0, "enqueue", 3.into())]);
        assert_eq!((o.verdict, ev(&o).lost_count), (Verdict::Valid, 0));
    }
}
