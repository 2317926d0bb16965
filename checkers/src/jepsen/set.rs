//! `set`: Jepsen's set checker (`jepsen.checker/set`): `:add` operations of single
//! elements, then a `:read` of the whole set (the last `ok` read counts).
//!
//! Jepsen's rule, per set (per key when the history has keys, as Jepsen's
//! `independent` does):
//! - *attempts*: every element an `add` was invoked with (whatever its outcome:
//!   Jepsen takes the invocations);
//! - *acknowledged*: the values of `ok` adds;
//! - the *final read*: the value of the last `ok` read (a vector or a set);
//! - *ok* = read ∩ attempts; *unexpected* = read − attempts (read, never
//!   attempted); *lost* = acknowledged − read; *recovered* = ok − acknowledged (an
//!   add that was `info`, or never completed, and shows up).
//!
//! Valid unless something is lost or unexpected; `unknown` when the set was never
//! read ("Set was never read"). Reads before the last are ignored, as are
//! functions other than `add` and `read`.
//!
//! One choice Jepsen's code makes and its reader might not expect: an element whose
//! adds all *failed* but which the final read holds is an attempt, so it counts as
//! ok (and recovered), not unexpected. A failed add that took effect means a client
//! called `fail` for something that happened; the explanation names such elements
//! (`failed_but_read` in the evidence) without changing Jepsen's verdict.

use std::collections::HashSet;

use history::{Linted, OpKind, Value};
use serde::Serialize;

use super::{
    FastHash, FastMap, Judged, bad_op, check_parts, collection, interval_str, key_cell, list_words,
    options, place, secs, values_json,
};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Role, Section, Table};
use crate::verdict::{CheckError, Checker, Outcome, Verdict};

/// `set` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "set",
    summary: "Jepsen's set: add elements, then a final read; invalid when an acknowledged \
              element is lost or an element nobody added is read (per key)",
    make: |o| {
        options(o, "set", &[])?;
        Ok(Box::new(SetChecker { partition: o.partition }))
    },
};

/// The set checker.
#[derive(Debug, Clone, Copy)]
pub struct SetChecker {
    /// Judge each key's set on its own.
    pub partition: bool,
}

/// An acknowledged element missing from the final read.
#[derive(Debug, Clone, Serialize)]
pub struct LostElement {
    #[serde(serialize_with = "super::value_json")]
    pub element: Value,
    /// Position of the add's invocation and of its `ok`.
    pub add: usize,
    pub acknowledged: usize,
}

/// What the set checker found for one set (Jepsen's result map, plus positions).
#[derive(Debug, Clone, Serialize)]
pub struct SetEvidence {
    #[serde(serialize_with = "super::key_json")]
    pub key: Option<Value>,
    pub attempt_count: usize,
    pub acknowledged_count: usize,
    pub ok_count: usize,
    pub lost_count: usize,
    pub recovered_count: usize,
    pub unexpected_count: usize,
    /// Jepsen's interval strings (`#{1..4 7}`).
    pub ok: String,
    pub lost: String,
    pub unexpected: String,
    pub recovered: String,
    /// Position of the final read's completion.
    pub final_read: Option<usize>,
    pub lost_elements: Vec<LostElement>,
    #[serde(serialize_with = "values_json")]
    pub unexpected_elements: Vec<Value>,
    #[serde(serialize_with = "values_json")]
    pub failed_but_read: Vec<Value>,
}

impl Checker for SetChecker {
    fn name(&self) -> String {
        "set".into()
    }

    fn splits_by_key(&self) -> bool {
        self.partition
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        check_parts(history, self.partition, |k, p| judge(history, k, p), |j| section(history, j))
    }
}

fn judge(
    history: &Linted,
    key: Option<Value>,
    pairs: &[history::Pair],
) -> Result<Judged<SetEvidence>, CheckError> {
    let ops = history.ops();
    // Sized up front: growing them would hash every element again, and each hash
    // reads an element from wherever its operation lies in the history.
    let n = pairs.len();
    let mut attempts: HashSet<&Value, FastHash> = HashSet::with_capacity_and_hasher(n, FastHash);
    // Element -> (add invocation, ok completion) of its first acknowledged add.
    let mut acknowledged: FastMap<&Value, (usize, usize)> =
        FastMap::with_capacity_and_hasher(n, FastHash);
    let mut not_failed: HashSet<&Value, FastHash> = HashSet::with_capacity_and_hasher(n, FastHash);
    let mut final_read: Option<usize> = None;
    for pair in pairs {
        let outcome = history.outcome(pair);
        match ops[pair.invoke].f.as_str() {
            "add" => {
                attempts.insert(&ops[pair.invoke].value);
                if outcome != OpKind::Fail {
                    not_failed.insert(&ops[pair.invoke].value);
                }
                if let (OpKind::Ok, Some(done)) = (outcome, pair.completion) {
                    acknowledged.entry(&ops[done].value).or_insert((pair.invoke, done));
                }
            }
            "read" => {
                if let (OpKind::Ok, Some(done)) = (outcome, pair.completion) {
                    final_read = final_read.max(Some(done));
                }
            }
            _ => {}
        }
    }
    let mut evidence = SetEvidence {
        key: key.clone(),
        attempt_count: attempts.len(),
        acknowledged_count: acknowledged.len(),
        ok_count: 0,
        lost_count: 0,
        recovered_count: 0,
        unexpected_count: 0,
        ok: "#{}".into(),
        lost: "#{}".into(),
        unexpected: "#{}".into(),
        recovered: "#{}".into(),
        final_read,
        lost_elements: vec![],
        unexpected_elements: vec![],
        failed_but_read: vec![],
    };
    let Some(read_at) = final_read else {
        return Ok(Judged {
            key,
            verdict: Verdict::Unknown,
            reason: "the set was never read".into(),
            explanation: format!(
                "No read of the set completed ok, so none of its {} attempted elements can be \
                 judged.",
                attempts.len()
            ),
            evidence,
        });
    };
    let Some(items) = collection(&ops[read_at].value) else {
        return Err(bad_op(
            history,
            read_at,
            format!(
                "a set read must return a vector or set of elements, got {}",
                ops[read_at].value
            ),
        ));
    };
    // In the read's own order (often sorted already, which makes the sorts below
    // cheap), each element once.
    let mut read: HashSet<&Value, FastHash> =
        HashSet::with_capacity_and_hasher(items.len(), FastHash);
    let (mut ok, mut unexpected): (Vec<&Value>, Vec<&Value>) = (Vec::new(), Vec::new());
    for v in items {
        if read.insert(v) {
            if attempts.contains(v) { ok.push(v) } else { unexpected.push(v) }
        }
    }
    ok.sort();
    unexpected.sort();
    let mut lost: Vec<(&Value, (usize, usize))> =
        acknowledged.iter().filter(|(v, _)| !read.contains(*v)).map(|(v, at)| (*v, *at)).collect();
    lost.sort();
    let recovered: Vec<&Value> =
        ok.iter().copied().filter(|v| !acknowledged.contains_key(v)).collect();
    let failed_but_read: Vec<&Value> =
        ok.iter().copied().filter(|v| !not_failed.contains(v)).collect();
    let lost_values: Vec<&Value> = lost.iter().map(|(v, _)| *v).collect();
    evidence.ok_count = ok.len();
    evidence.lost_count = lost.len();
    evidence.recovered_count = recovered.len();
    evidence.unexpected_count = unexpected.len();
    evidence.ok = interval_str(&ok);
    evidence.lost = interval_str(&lost_values);
    evidence.unexpected = interval_str(&unexpected);
    evidence.recovered = interval_str(&recovered);
    evidence.lost_elements = lost
        .iter()
        .map(|(v, (add, ack))| LostElement { element: (*v).clone(), add: *add, acknowledged: *ack })
        .collect();
    evidence.unexpected_elements = unexpected.iter().map(|v| (*v).clone()).collect();
    evidence.failed_but_read = failed_but_read.iter().map(|v| (*v).clone()).collect();

    let read_words =
        format!("the final read (at {}, {})", secs(ops[read_at].time_ns), place(history, read_at));
    let mut words = Vec::new();
    if let [(v, (_, ack))] = lost.as_slice() {
        words.push(format!(
            "Element {v}, acknowledged at {} ({}), is absent from {read_words}: lost.",
            secs(ops[*ack].time_ns),
            place(history, *ack)
        ));
    } else if !lost.is_empty() {
        let some: Vec<String> = lost
            .iter()
            .take(5)
            .map(|(v, (_, ack))| {
                format!(
                    "{v} (acknowledged at {}, {})",
                    secs(ops[*ack].time_ns),
                    place(history, *ack)
                )
            })
            .collect();
        words.push(format!(
            "{} acknowledged elements are absent from {read_words}: {}{}.",
            lost.len(),
            some.join(", "),
            if lost.len() > 5 { ", ..." } else { "" }
        ));
    }
    if !unexpected.is_empty() {
        words.push(format!(
            "{read_words} holds {} element(s) no add ever attempted: {}.",
            unexpected.len(),
            list_words(unexpected.iter().copied(), 10)
        ));
    }
    if !failed_but_read.is_empty() {
        words.push(format!(
            "The final read holds {} element(s) whose every add failed ({}); Jepsen counts them \
             as recovered, but a failed operation that took effect means the client reported \
             fail for something that happened.",
            failed_but_read.len(),
            list_words(failed_but_read.iter().copied(), 10)
        ));
    }
    let (verdict, reason) = if lost.is_empty() && unexpected.is_empty() {
        (
            Verdict::Valid,
            format!(
                "all {} acknowledged elements read ({} recovered)",
                acknowledged.len(),
                recovered.len()
            ),
        )
    } else {
        let mut what = Vec::new();
        if !lost.is_empty() {
            what.push(format!("{} acknowledged element(s) lost", lost.len()));
        }
        if !unexpected.is_empty() {
            what.push(format!("{} unexpected element(s) read", unexpected.len()));
        }
        (Verdict::Invalid, what.join(", "))
    };
    Ok(Judged { key, verdict, reason, explanation: words.join(" "), evidence })
}

/// Most rows a table or highlight list of the report gets.
const SHOWN: usize = 50;

fn section(history: &Linted, judged: &[Judged<SetEvidence>]) -> Section {
    let ops = history.ops();
    let keyed = judged.len() > 1 || judged.iter().any(|j| j.key.is_some());
    let (mut attempts, mut acked, mut lost, mut unexpected, mut recovered) = (0, 0, 0, 0, 0);
    for j in judged {
        attempts += j.evidence.attempt_count;
        acked += j.evidence.acknowledged_count;
        lost += j.evidence.lost_count;
        unexpected += j.evidence.unexpected_count;
        recovered += j.evidence.recovered_count;
    }
    let mut section = Section::new("Set").with(Block::paragraph(format!(
        "{attempts} elements attempted, {acked} acknowledged; the final read{} lost {lost}, \
         held {unexpected} never attempted, and recovered {recovered} whose add was \
         indeterminate.",
        if keyed { format!("s of {} sets", judged.len()) } else { String::new() }
    )));
    let rows: Vec<Vec<String>> = judged
        .iter()
        .filter(|j| !keyed || j.verdict != Verdict::Valid)
        .take(SHOWN)
        .map(|j| {
            let e = &j.evidence;
            let mut row = vec![
                j.verdict.to_string(),
                e.attempt_count.to_string(),
                e.acknowledged_count.to_string(),
                e.ok.clone(),
                e.lost.clone(),
                e.unexpected.clone(),
                e.recovered.clone(),
            ];
            if keyed {
                row.insert(0, key_cell(&j.key));
            }
            row
        })
        .collect();
    if !rows.is_empty() {
        let mut columns: Vec<String> =
            ["verdict", "attempted", "acknowledged", "ok", "lost", "unexpected", "recovered"]
                .map(String::from)
                .to_vec();
        if keyed {
            columns.insert(0, "key".into());
        }
        section.blocks.push(Block::Table(Table {
            caption: Some(if keyed { "sets not valid".into() } else { "the final read".into() }),
            columns,
            rows,
        }));
    }
    let mut highlights = Vec::new();
    for j in judged {
        let e = &j.evidence;
        for l in &e.lost_elements {
            highlights.push(Highlight {
                position: l.add,
                role: Role::Culprit,
                label: format!("acknowledged add of {}, absent from the final read", l.element),
            });
        }
        if let (Some(read), true) = (e.final_read, e.lost_count + e.unexpected_count > 0) {
            let label = if e.unexpected_count > 0 {
                format!("the final read, holding {} never added", e.unexpected)
            } else {
                format!(
                    "the final read ({} elements)",
                    collection(&ops[read].value).map_or(0, <[_]>::len)
                )
            };
            let role = if e.unexpected_count > 0 { Role::Culprit } else { Role::Related };
            highlights.push(Highlight { position: read, role, label });
        }
    }
    if !highlights.is_empty() {
        let total = highlights.len();
        highlights.truncate(SHOWN);
        section.blocks.push(Block::Operations(Operations {
            caption: Some(format!(
                "the operations behind the anomaly{}",
                if total > SHOWN { format!(" (first {SHOWN} of {total})") } else { String::new() }
            )),
            ops: highlights,
        }));
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn check(ops: Vec<Op>) -> Outcome {
        SetChecker { partition: true }.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    fn ev(o: &Outcome) -> &SetEvidence {
        o.evidence.get::<SetEvidence>().expect("set evidence")
    }

    fn read(p: u64, items: &[i64]) -> [Op; 2] {
        [
            Op::invoke(p, "read", Value::Nil),
            Op::ok(p, "read", Value::List(items.iter().map(|&i| i.into()).collect())),
        ]
    }

    #[test]
    fn every_acknowledged_element_read_is_valid() {
        let mut ops = vec![
            Op::invoke(0, "add", 1.into()),
            Op::ok(0, "add", 1.into()),
            Op::invoke(1, "add", 2.into()),
            Op::ok(1, "add", 2.into()),
        ];
        ops.extend(read(0, &[1, 2]));
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!((ev(&o).ok.as_str(), ev(&o).ok_count), ("#{1..2}", 2));
    }

    #[test]
    fn lost_element_is_invalid_and_named_with_its_line() {
        let mut ops = vec![
            Op::invoke(0, "add", 17.into()),
            Op::ok(0, "add", 17.into()),
            Op::invoke(1, "add", 18.into()),
            Op::ok(1, "add", 18.into()),
        ];
        ops.extend(read(0, &[18]));
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!(ev(&o).lost, "#{17}");
        assert_eq!(ev(&o).lost_elements[0].add, 0);
        assert!(
            o.explanation.contains("Element 17, acknowledged at")
                && o.explanation.contains("line 2"),
            "{}",
            o.explanation
        );
        assert!(o.explanation.contains("line 6"), "the final read's line: {}", o.explanation);
        assert_eq!(o.section.culprits(), vec![0]);
    }

    #[test]
    fn unexpected_element_is_invalid() {
        let mut ops = vec![Op::invoke(0, "add", 1.into()), Op::ok(0, "add", 1.into())];
        ops.extend(read(1, &[1, 99]));
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!((ev(&o).unexpected.as_str(), ev(&o).lost_count), ("#{99}", 0));
        assert!(o.reason.contains("unexpected"), "{}", o.reason);
    }

    /// An info add may or may not happen: read, it is recovered; absent, nothing is
    /// lost. A failed add is never acknowledged; reads other than the last do not
    /// count.
    #[test]
    fn info_adds_recover_failed_adds_are_not_acknowledged_and_only_the_last_read_counts() {
        let mut ops = vec![
            Op::invoke(0, "add", 1.into()),
            Op::info(0, "add", 1.into()),
            Op::invoke(1, "add", 2.into()),
            Op::info(1, "add", 2.into()),
            Op::invoke(2, "add", 3.into()),
            Op::fail(2, "add", 3.into()),
        ];
        ops.extend(read(3, &[])); // an early read that sees nothing
        ops.extend(read(3, &[1]));
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!((ev(&o).recovered.as_str(), ev(&o).acknowledged_count), ("#{1}", 0));
        // The failed add shows up: Jepsen's attempts include it (ok, recovered),
        // and the explanation says so.
        let mut ops = vec![Op::invoke(2, "add", 3.into()), Op::fail(2, "add", 3.into())];
        ops.extend(read(3, &[3]));
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Valid);
        assert!(o.explanation.contains("whose every add failed"), "{}", o.explanation);
        assert_eq!(ev(&o).recovered, "#{3}");
    }

    /// A read concurrent with an add may or may not see it; an add that never
    /// completes is like info; no read at all is unknown; so is an empty history.
    #[test]
    fn concurrent_reads_open_adds_and_empty_histories() {
        let o = check(vec![
            Op::invoke(0, "add", 5.into()),
            Op::invoke(1, "read", Value::Nil),
            Op::ok(1, "read", Value::Set(vec![5.into()])),
            Op::ok(0, "add", 5.into()),
            Op::invoke(2, "add", 6.into()), // never completes
            Op::invoke(3, "read", Value::Nil),
            Op::ok(3, "read", Value::Set(vec![5.into()])),
        ]);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let o = check(vec![Op::invoke(0, "add", 1.into()), Op::ok(0, "add", 1.into())]);
        assert_eq!(o.verdict, Verdict::Unknown);
        assert!(o.reason.contains("never read"));
        assert_eq!(check(vec![]).verdict, Verdict::Unknown);
        // A read that is no collection names its line.
        let h =
            History::from_ops(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", 3.into())]);
        let err = SetChecker { partition: true }.check(&h.lint().unwrap()).unwrap_err();
        assert!(err.to_string().starts_with("line 2:"), "{err}");
    }

    #[test]
    fn keys_are_independent_sets() {
        let ops = vec![
            Op::invoke(0, "add", 1.into()).with_key(1),
            Op::ok(0, "add", 1.into()).with_key(1),
            Op::invoke(1, "add", 1.into()).with_key(2),
            Op::ok(1, "add", 1.into()).with_key(2),
            Op::invoke(0, "read", Value::Nil).with_key(1),
            Op::ok(0, "read", Value::List(vec![1.into()])).with_key(1),
            Op::invoke(1, "read", Value::Nil).with_key(2),
            Op::ok(1, "read", Value::List(vec![])).with_key(2),
        ];
        let o = check(ops.clone());
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!(o.parts.len(), 1);
        assert_eq!(o.parts[0].key, Some(Value::Int(2)));
        assert!(o.reason.starts_with("1 of 2 keys"), "{}", o.reason);
        // As one set, key 1's read is not the last: the last read (empty) loses 1.
        let one =
            SetChecker { partition: false }.check(&History::from_ops(ops).lint().unwrap()).unwrap();
        assert_eq!(one.verdict, Verdict::Invalid);
    }
}
