//! `unique-ids`: Jepsen's unique-id checker (`jepsen.checker/unique-ids`): `:generate`
//! operations whose `ok` completions carry the id generated.
//!
//! Jepsen's rule: valid when no id was returned by two acknowledged generates.
//! Failed and `info` generates returned nothing and are ignored (an id a lost
//! reply carried cannot be compared). It reports the attempted and acknowledged
//! counts, the duplicated ids (Jepsen keeps the 48 most frequent; here every one,
//! each with the operations that returned it) and the range of ids. Jepsen answers
//! `true` when nothing was acknowledged; this answers `unknown`. Each key is its
//! own generator when the history has keys.

use std::collections::hash_map::Entry;

use history::{Linted, OpKind, Pair, Value};
use serde::Serialize;

use super::{FastHash, FastMap, Judged, check_parts, key_cell, options, place, secs};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Role, Section, Table};
use crate::verdict::{CheckError, Checker, Outcome, Verdict};

/// `unique-ids` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "unique-ids",
    summary: "Jepsen's unique-ids: no id returned by two acknowledged generate operations",
    make: |o| {
        options(o, "unique-ids", &[])?;
        Ok(Box::new(UniqueIds { partition: o.partition }))
    },
};

/// The unique-ids checker.
#[derive(Debug, Clone, Copy)]
pub struct UniqueIds {
    /// Judge each key's generator on its own.
    pub partition: bool,
}

/// An id returned more than once, with the completions that returned it.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    #[serde(serialize_with = "super::value_json")]
    pub id: Value,
    /// Positions of the `ok` completions, in history order.
    pub returned_by: Vec<usize>,
}

/// What the unique-ids checker found for one generator.
#[derive(Debug, Clone, Serialize)]
pub struct UniqueIdsEvidence {
    #[serde(serialize_with = "super::key_json")]
    pub key: Option<Value>,
    pub attempted_count: usize,
    pub acknowledged_count: usize,
    pub duplicated_count: usize,
    /// Most frequent first, then by id.
    pub duplicated: Vec<Duplicate>,
    /// `[lowest highest]` of the acknowledged ids.
    pub range: Option<(serde_json::Value, serde_json::Value)>,
}

impl Checker for UniqueIds {
    fn name(&self) -> String {
        "unique-ids".into()
    }

    fn splits_by_key(&self) -> bool {
        self.partition
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        check_parts(
            history,
            self.partition,
            |k, p| Ok(judge(history, k, p)),
            |j| section(history, j),
        )
    }
}

fn judge(history: &Linted, key: Option<Value>, pairs: &[Pair]) -> Judged<UniqueIdsEvidence> {
    let ops = history.ops();
    let mut attempted = 0;
    let mut acknowledged = 0;
    // Each id's first acknowledged completion, and every later one as (first,
    // later): no list per id, so a million distinct ids cost one map entry each.
    let mut first: FastMap<&Value, usize> =
        FastMap::with_capacity_and_hasher(pairs.len(), FastHash);
    let mut again: Vec<(usize, usize)> = Vec::new();
    let mut range: Option<(&Value, &Value)> = None;
    for pair in pairs.iter().filter(|p| ops[p.invoke].f == "generate") {
        attempted += 1;
        if let (OpKind::Ok, Some(done)) = (history.outcome(pair), pair.completion) {
            acknowledged += 1;
            let id = &ops[done].value;
            match first.entry(id) {
                Entry::Occupied(e) => again.push((*e.get(), done)),
                Entry::Vacant(e) => {
                    e.insert(done);
                    range = Some(range.map_or((id, id), |(lo, hi)| (lo.min(id), hi.max(id))));
                }
            }
        }
    }
    again.sort_unstable();
    let mut duplicated: Vec<Duplicate> = Vec::new();
    for (at, later) in again {
        match duplicated.last_mut() {
            Some(d) if d.returned_by[0] == at => d.returned_by.push(later),
            _ => duplicated
                .push(Duplicate { id: ops[at].value.clone(), returned_by: vec![at, later] }),
        }
    }
    for d in &mut duplicated {
        d.returned_by.sort_unstable();
    }
    duplicated.sort_by(|a, b| b.returned_by.len().cmp(&a.returned_by.len()).then(a.id.cmp(&b.id)));
    let evidence = UniqueIdsEvidence {
        key: key.clone(),
        attempted_count: attempted,
        acknowledged_count: acknowledged,
        duplicated_count: duplicated.len(),
        range: range.map(|(lo, hi)| (lo.to_json(), hi.to_json())),
        duplicated,
    };
    let (verdict, reason, explanation) = if acknowledged == 0 {
        (
            Verdict::Unknown,
            "no id was acknowledged".to_string(),
            format!(
                "None of the {attempted} generate operations completed ok: nothing to compare."
            ),
        )
    } else if let Some(d) = evidence.duplicated.first() {
        let by: Vec<String> = d
            .returned_by
            .iter()
            .take(4)
            .map(|&p| {
                format!(
                    "{} (process {}, {})",
                    place(history, p),
                    ops[p].process,
                    secs(ops[p].time_ns)
                )
            })
            .collect();
        (
            Verdict::Invalid,
            format!("{} id(s) returned more than once", evidence.duplicated_count),
            format!(
                "Id {} was returned by {} acknowledged generates: {}.",
                d.id,
                d.returned_by.len(),
                by.join(" and ")
            ),
        )
    } else {
        (Verdict::Valid, format!("all {acknowledged} acknowledged ids distinct"), String::new())
    };
    Judged { key, verdict, reason, explanation, evidence }
}

const SHOWN: usize = 50;

fn section(history: &Linted, judged: &[Judged<UniqueIdsEvidence>]) -> Section {
    let ops = history.ops();
    let keyed = judged.len() > 1 || judged.iter().any(|j| j.key.is_some());
    let acknowledged: usize = judged.iter().map(|j| j.evidence.acknowledged_count).sum();
    let attempted: usize = judged.iter().map(|j| j.evidence.attempted_count).sum();
    let dups: Vec<(&Option<Value>, &Duplicate)> = judged
        .iter()
        .flat_map(|j| j.evidence.duplicated.iter().map(move |d| (&j.key, d)))
        .collect();
    let range = judged.first().and_then(|j| j.evidence.range.as_ref()).filter(|_| !keyed);
    let mut section = Section::new("Unique ids").with(Block::paragraph(format!(
        "{attempted} ids requested, {acknowledged} acknowledged{}; {} returned more than once.",
        range.map_or(String::new(), |(lo, hi)| format!(", from {lo} to {hi}")),
        dups.len()
    )));
    if !dups.is_empty() {
        let mut columns: Vec<String> = ["id", "times", "returned at"].map(String::from).to_vec();
        if keyed {
            columns.insert(0, "key".into());
        }
        section.blocks.push(Block::Table(Table {
            caption: Some(format!("duplicated ids ({} shown)", dups.len().min(SHOWN))),
            columns,
            rows: dups
                .iter()
                .take(SHOWN)
                .map(|(k, d)| {
                    let at: Vec<String> = d
                        .returned_by
                        .iter()
                        .map(|&p| format!("{} ({})", secs(ops[p].time_ns), place(history, p)))
                        .collect();
                    let mut row =
                        vec![d.id.to_string(), d.returned_by.len().to_string(), at.join(", ")];
                    if keyed {
                        row.insert(0, key_cell(k));
                    }
                    row
                })
                .collect(),
        }));
        section.blocks.push(Block::Operations(Operations {
            caption: Some("generates that returned the same id".into()),
            ops: dups
                .iter()
                .take(SHOWN / 2)
                .flat_map(|(_, d)| {
                    d.returned_by.iter().enumerate().map(|(i, &p)| Highlight {
                        position: p,
                        role: if i == 0 { Role::Related } else { Role::Culprit },
                        label: format!("returned id {}", d.id),
                    })
                })
                .collect(),
        }));
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn check(ops: Vec<Op>) -> Outcome {
        UniqueIds { partition: true }.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    fn generate(p: u64, id: i64) -> [Op; 2] {
        [Op::invoke(p, "generate", Value::Nil), Op::ok(p, "generate", id.into())]
    }

    #[test]
    fn distinct_ids_are_valid_and_a_duplicate_names_both_operations() {
        let ok: Vec<Op> = [generate(0, 1), generate(1, 2), generate(0, 3)].concat();
        let o = check(ok);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let e = o.evidence.get::<UniqueIdsEvidence>().unwrap();
        assert_eq!(e.range, Some((1.into(), 3.into())));
        let o = check([generate(0, 41), generate(1, 7), generate(2, 41)].concat());
        assert_eq!(o.verdict, Verdict::Invalid);
        let e = o.evidence.get::<UniqueIdsEvidence>().unwrap();
        assert_eq!(e.duplicated[0].returned_by, vec![1, 5]);
        assert!(
            o.explanation.contains("Id 41 was returned by 2")
                && o.explanation.contains("line 2 ")
                && o.explanation.contains("line 6 "),
            "{}",
            o.explanation
        );
        assert_eq!(o.section.culprits(), vec![5]);
    }

    /// An id returned three times comes first, with all three completions in
    /// history order, also when the completions come back out of invocation order.
    #[test]
    fn ids_returned_more_than_twice_list_every_completion_most_frequent_first() {
        let mut ops: Vec<Op> = [generate(0, 5), generate(1, 9)].concat();
        // Processes 2 and 3 overlap: 3's ok (returning 9) comes before 2's (5).
        ops.extend([
            Op::invoke(2, "generate", Value::Nil),
            Op::invoke(3, "generate", Value::Nil),
            Op::ok(3, "generate", 9.into()),
            Op::ok(2, "generate", 5.into()),
        ]);
        ops.extend(generate(4, 9));
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Invalid, "{}", o.summary());
        let e = o.evidence.get::<UniqueIdsEvidence>().unwrap();
        assert_eq!(e.duplicated_count, 2);
        assert_eq!(e.duplicated[0].id, Value::Int(9));
        assert_eq!(e.duplicated[0].returned_by, vec![3, 6, 9]);
        assert_eq!(e.duplicated[1].id, Value::Int(5));
        assert_eq!(e.duplicated[1].returned_by, vec![1, 7]);
        assert_eq!(e.range, Some((5.into(), 9.into())));
        assert!(o.explanation.contains("Id 9 was returned by 3"), "{}", o.explanation);
    }

    #[test]
    fn failed_and_info_generates_are_ignored_and_nothing_acknowledged_is_unknown() {
        let o = check(vec![
            Op::invoke(0, "generate", Value::Nil),
            Op::info(0, "generate", Value::Nil),
            Op::invoke(1, "generate", Value::Nil),
            Op::fail(1, "generate", Value::Nil),
        ]);
        assert_eq!(o.verdict, Verdict::Unknown);
        assert_eq!(check(vec![]).verdict, Verdict::Unknown);
        let mut ops: Vec<Op> = generate(0, 1).into();
        ops.extend([Op::invoke(1, "generate", Value::Nil), Op::info(1, "generate", 1.into())]);
        assert_eq!(check(ops).verdict, Verdict::Valid, "an info op's value is not an id returned");
    }
}
