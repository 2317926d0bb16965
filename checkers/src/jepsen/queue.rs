//! `queue`: Jepsen's queue checker (`jepsen.checker/queue`) with Knossos'
//! unordered-queue model, the model its docstring recommends: every dequeue must
//! come from somewhere.
//!
//! Jepsen's rule: take the history in order, keeping only enqueue *invocations*
//! (every enqueue is assumed to have happened, as soon as it is invoked) and `ok`
//! dequeues; the model is a multiset of pending elements: an enqueue adds its
//! value, a dequeue removes its value, and a dequeue of a value not pending is
//! inconsistent ("can't dequeue x"): invalid, at that operation. Valid otherwise,
//! with the elements left in the queue. Order is not checked (an unordered queue),
//! nothing is checked to come out (that is [`super::total_queue`]), and `:drain`
//! operations are not read (Jepsen's `queue` ignores them). An `ok` dequeue of nil
//! (an empty queue answered as a value) is a dequeue of nil, as in Knossos.
//!
//! No one here runs a queue: this is for imported histories (`faultline check
//! --model queue`). Jepsen answers `true` for a history with no queue operation;
//! this answers `unknown`. Each key is its own queue when the history has keys.

use history::{Linted, OpKind, Pair, Value};
use serde::Serialize;

use super::{FastHash, FastMap, Judged, check_parts, key_cell, options, place, secs};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Role, Section};
use crate::verdict::{CheckError, Checker, Outcome, Verdict};

/// `queue` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "queue",
    summary: "Jepsen's queue (unordered): every ok dequeue takes an element an earlier \
              enqueue put in and nobody took yet (per key)",
    make: |o| {
        options(o, "queue", &[])?;
        Ok(Box::new(Queue { partition: o.partition }))
    },
};

/// The queue checker.
#[derive(Debug, Clone, Copy)]
pub struct Queue {
    /// Judge each key's queue on its own.
    pub partition: bool,
}

/// What the queue checker found for one queue.
#[derive(Debug, Clone, Serialize)]
pub struct QueueEvidence {
    #[serde(serialize_with = "super::key_json")]
    pub key: Option<Value>,
    pub enqueue_count: usize,
    pub dequeue_count: usize,
    /// The dequeue that took what was not there (position of its completion), and
    /// Knossos' message.
    pub inconsistent_at: Option<usize>,
    pub error: Option<String>,
    /// How many elements were left in the queue (when consistent).
    pub final_queue_size: usize,
}

impl Checker for Queue {
    fn name(&self) -> String {
        "queue".into()
    }

    fn splits_by_key(&self) -> bool {
        self.partition
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        check_parts(history, self.partition, |k, p| Ok(judge(history, k, p)), section)
    }
}

fn judge(history: &Linted, key: Option<Value>, pairs: &[Pair]) -> Judged<QueueEvidence> {
    let ops = history.ops();
    // (position, +value / -value) in history order.
    let mut steps: Vec<(usize, bool, &Value)> = Vec::new();
    for pair in pairs {
        match ops[pair.invoke].f.as_str() {
            "enqueue" => steps.push((pair.invoke, true, &ops[pair.invoke].value)),
            "dequeue" => {
                if let (OpKind::Ok, Some(done)) = (history.outcome(pair), pair.completion) {
                    steps.push((done, false, &ops[done].value));
                }
            }
            _ => {}
        }
    }
    steps.sort_unstable_by_key(|(at, ..)| *at);
    // Sized up front: growing would hash every pending element again.
    let mut pending: FastMap<&Value, usize> =
        FastMap::with_capacity_and_hasher(steps.len(), FastHash);
    let mut evidence = QueueEvidence {
        key: key.clone(),
        enqueue_count: steps.iter().filter(|s| s.1).count(),
        dequeue_count: steps.iter().filter(|s| !s.1).count(),
        inconsistent_at: None,
        error: None,
        final_queue_size: 0,
    };
    for &(at, enqueue, value) in &steps {
        if enqueue {
            *pending.entry(value).or_insert(0) += 1;
            continue;
        }
        match pending.get_mut(value) {
            Some(n) if *n > 0 => *n -= 1,
            _ => {
                evidence.inconsistent_at = Some(at);
                evidence.error = Some(format!("can't dequeue {value}"));
                let explanation = format!(
                    "The dequeue at {} (process {}, {}) took {value}, which no earlier enqueue \
                     put in the queue, or which an earlier dequeue already took.",
                    place(history, at),
                    ops[at].process,
                    secs(ops[at].time_ns)
                );
                return Judged {
                    key,
                    verdict: Verdict::Invalid,
                    reason: format!("can't dequeue {value}"),
                    explanation,
                    evidence,
                };
            }
        }
    }
    evidence.final_queue_size = pending.values().sum();
    let (verdict, reason) = if steps.is_empty() {
        (Verdict::Unknown, "no enqueue or ok dequeue".to_string())
    } else {
        (
            Verdict::Valid,
            format!(
                "every one of {} dequeues took an enqueued element ({} left)",
                evidence.dequeue_count, evidence.final_queue_size
            ),
        )
    };
    Judged { key, verdict, reason, explanation: String::new(), evidence }
}

fn section(judged: &[Judged<QueueEvidence>]) -> Section {
    let mut section = Section::new("Queue").with(Block::paragraph(format!(
        "{} enqueues (all assumed to happen when invoked) and {} ok dequeues; {} queue(s) \
         dequeued something not there.",
        judged.iter().map(|j| j.evidence.enqueue_count).sum::<usize>(),
        judged.iter().map(|j| j.evidence.dequeue_count).sum::<usize>(),
        judged.iter().filter(|j| j.evidence.inconsistent_at.is_some()).count()
    )));
    let bad: Vec<Highlight> = judged
        .iter()
        .filter_map(|j| {
            let at = j.evidence.inconsistent_at?;
            let on = if j.key.is_some() {
                format!(" (key {})", key_cell(&j.key))
            } else {
                String::new()
            };
            Some(Highlight {
                position: at,
                role: Role::Culprit,
                label: format!("{}{on}", j.evidence.error.clone().unwrap_or_default()),
            })
        })
        .take(50)
        .collect();
    if !bad.is_empty() {
        section.blocks.push(Block::Operations(Operations {
            caption: Some("dequeues of elements not in the queue".into()),
            ops: bad,
        }));
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn check(ops: Vec<Op>) -> Outcome {
        Queue { partition: true }.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    #[test]
    fn dequeues_of_enqueued_elements_are_valid_others_are_not() {
        let ok = vec![
            Op::invoke(0, "enqueue", 1.into()),
            Op::ok(0, "enqueue", 1.into()),
            Op::invoke(0, "enqueue", 2.into()),
            Op::info(0, "enqueue", 2.into()), // assumed to happen
            Op::invoke(1, "dequeue", Value::Nil),
            Op::ok(1, "dequeue", 2.into()),
            Op::invoke(1, "dequeue", Value::Nil),
            Op::fail(1, "dequeue", Value::Nil), // ignored
        ];
        let o = check(ok);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!(o.evidence.get::<QueueEvidence>().unwrap().final_queue_size, 1);
        let twice = vec![
            Op::invoke(0, "enqueue", 1.into()),
            Op::ok(0, "enqueue", 1.into()),
            Op::invoke(1, "dequeue", Value::Nil),
            Op::ok(1, "dequeue", 1.into()),
            Op::invoke(1, "dequeue", Value::Nil),
            Op::ok(1, "dequeue", 1.into()),
        ];
        let o = check(twice);
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!(o.reason, "can't dequeue 1");
        assert!(o.explanation.contains("line 6"), "{}", o.explanation);
        assert_eq!(o.section.culprits(), vec![5]);
    }

    /// A dequeue completing before the enqueue is even invoked takes what is not yet
    /// there; one concurrent with the enqueue (after its invocation) is fine.
    #[test]
    fn order_matters_only_against_the_enqueue_invocation() {
        let early = vec![
            Op::invoke(1, "dequeue", Value::Nil),
            Op::ok(1, "dequeue", 7.into()),
            Op::invoke(0, "enqueue", 7.into()),
            Op::ok(0, "enqueue", 7.into()),
        ];
        assert_eq!(check(early).verdict, Verdict::Invalid);
        let concurrent = vec![
            Op::invoke(0, "enqueue", 7.into()),
            Op::invoke(1, "dequeue", Value::Nil),
            Op::ok(1, "dequeue", 7.into()),
            Op::ok(0, "enqueue", 7.into()),
        ];
        assert_eq!(check(concurrent).verdict, Verdict::Valid);
        assert_eq!(check(vec![]).verdict, Verdict::Unknown);
    }
}
