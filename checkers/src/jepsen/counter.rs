//! `counter`: Jepsen's counter checker (`jepsen.checker/counter`): `:add` operations
//! of integers and `:read`s of the counter, which starts at 0.
//!
//! Jepsen's rule: every `ok` read must lie within
//! `[lower, upper]`, where *lower* is the sum of the adds acknowledged (`ok`) before
//! the read was invoked, and *upper* the sum of the adds invoked before the read
//! completed that did not fail (an `info` add, or one that never completes, may
//! have happened). Failed adds count nowhere, reads that do not complete `ok` are
//! ignored, and so are other functions. Each key is its own counter when the
//! history has keys.
//!
//! Jepsen asserts every add is non-negative. Decrements are allowed here, by the
//! same reasoning mirrored: a negative add lowers *lower* as soon as it is invoked
//! (it may already have happened) and lowers *upper* only once acknowledged. With
//! no negative add this is exactly Jepsen's rule. Jepsen answers `true` when
//! nothing was read; this answers `unknown`.

use history::{Linted, OpKind, Pair, Value};
use serde::Serialize;

use super::{Judged, bad_op, check_parts, key_cell, options, place, secs, thin};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Plot, Role, Section, Series, Table};
use crate::verdict::{CheckError, Checker, Outcome, Verdict};

/// `counter` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "counter",
    summary: "Jepsen's counter: adds of integers and reads; every read within [sum \
              acknowledged before it began, sum possibly applied before it ended] (per key)",
    make: |o| {
        options(o, "counter", &[])?;
        Ok(Box::new(Counter { partition: o.partition }))
    },
};

/// The counter checker.
#[derive(Debug, Clone, Copy)]
pub struct Counter {
    /// Judge each key's counter on its own.
    pub partition: bool,
}

/// One `ok` read with its bounds (Jepsen's `[lower value upper]`).
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct BoundedRead {
    pub lower: i64,
    pub value: i64,
    pub upper: i64,
    /// Positions of the read's invocation and completion.
    pub invoke: usize,
    pub completion: usize,
}

impl BoundedRead {
    pub fn within(&self) -> bool {
        self.lower <= self.value && self.value <= self.upper
    }

    /// How far outside its bounds the read is (0 when within).
    pub fn error(&self) -> i64 {
        (self.lower - self.value).max(self.value - self.upper).max(0)
    }
}

/// What the counter checker found for one counter.
#[derive(Debug, Clone, Serialize)]
pub struct CounterEvidence {
    #[serde(serialize_with = "super::key_json")]
    pub key: Option<Value>,
    pub read_count: usize,
    pub add_count: usize,
    pub error_count: usize,
    /// The reads outside their bounds (at most [`ERRORS_KEPT`]), in history order.
    pub errors: Vec<BoundedRead>,
    /// The read furthest outside its bounds.
    pub max_absolute_error: Option<BoundedRead>,
    /// Every read (for the report's plot; not in the JSON: it is as long as the
    /// history).
    #[serde(skip)]
    pub reads: Vec<BoundedRead>,
}

/// Most reads outside their bounds the evidence lists.
pub const ERRORS_KEPT: usize = 1000;

impl Checker for Counter {
    fn name(&self) -> String {
        "counter".into()
    }

    fn splits_by_key(&self) -> bool {
        self.partition
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        check_parts(history, self.partition, |k, p| judge(history, k, p), |j| section(history, j))
    }
}

/// What happens at one position of the history, for the sweep.
#[derive(Clone, Copy)]
enum Event {
    /// An add that may happen (it did not fail) is invoked.
    AddInvoked(i64),
    AddAcknowledged(i64),
    /// A read that completes ok is invoked (its index in `reads`).
    ReadInvoked(usize),
    ReadCompleted(usize),
}

fn judge(
    history: &Linted,
    key: Option<Value>,
    pairs: &[Pair],
) -> Result<Judged<CounterEvidence>, CheckError> {
    let ops = history.ops();
    let mut events: Vec<(usize, Event)> = Vec::with_capacity(pairs.len() * 2);
    let mut reads: Vec<BoundedRead> = Vec::new();
    let mut adds = 0;
    for pair in pairs {
        let outcome = history.outcome(pair);
        match ops[pair.invoke].f.as_str() {
            "add" => {
                adds += 1;
                if outcome == OpKind::Fail {
                    continue;
                }
                let Some(v) = ops[pair.invoke].value.as_int() else {
                    return Err(bad_op(
                        history,
                        pair.invoke,
                        format!(
                            "a counter add must carry an integer, got {}",
                            ops[pair.invoke].value
                        ),
                    ));
                };
                events.push((pair.invoke, Event::AddInvoked(v)));
                if let (OpKind::Ok, Some(done)) = (outcome, pair.completion) {
                    events.push((done, Event::AddAcknowledged(v)));
                }
            }
            "read" => {
                let (OpKind::Ok, Some(done)) = (outcome, pair.completion) else { continue };
                let Some(value) = ops[done].value.as_int() else {
                    return Err(bad_op(
                        history,
                        done,
                        format!("a counter read must return an integer, got {}", ops[done].value),
                    ));
                };
                events.push((pair.invoke, Event::ReadInvoked(reads.len())));
                events.push((done, Event::ReadCompleted(reads.len())));
                reads.push(BoundedRead {
                    lower: 0,
                    value,
                    upper: 0,
                    invoke: pair.invoke,
                    completion: done,
                });
            }
            _ => {}
        }
    }
    events.sort_unstable_by_key(|(at, _)| *at);
    // Sums of increments and of decrements, acknowledged and possibly applied.
    let (mut ok_up, mut ok_down, mut maybe_up, mut maybe_down) = (0i64, 0i64, 0i64, 0i64);
    // At each read's invocation: what was acknowledged by then.
    let mut at_invoke: Vec<(i64, i64)> = vec![(0, 0); reads.len()];
    for (_, event) in events {
        match event {
            Event::AddInvoked(v) if v >= 0 => maybe_up = maybe_up.saturating_add(v),
            Event::AddInvoked(v) => maybe_down = maybe_down.saturating_add(v),
            Event::AddAcknowledged(v) if v >= 0 => ok_up = ok_up.saturating_add(v),
            Event::AddAcknowledged(v) => ok_down = ok_down.saturating_add(v),
            Event::ReadInvoked(r) => at_invoke[r] = (ok_up, ok_down),
            Event::ReadCompleted(r) => {
                let (up, down) = at_invoke[r];
                reads[r].lower = up.saturating_add(maybe_down);
                reads[r].upper = maybe_up.saturating_add(down);
            }
        }
    }
    let outside: Vec<BoundedRead> = reads.iter().copied().filter(|r| !r.within()).collect();
    let worst = outside.iter().copied().max_by_key(BoundedRead::error);
    let evidence = CounterEvidence {
        key: key.clone(),
        read_count: reads.len(),
        add_count: adds,
        error_count: outside.len(),
        errors: outside.iter().take(ERRORS_KEPT).copied().collect(),
        max_absolute_error: worst,
        reads,
    };
    let (verdict, reason, explanation) = match outside.first() {
        _ if evidence.read_count == 0 => (
            Verdict::Unknown,
            "the counter was never read".to_string(),
            format!("No read completed ok, so none of the {adds} adds can be judged."),
        ),
        None => (
            Verdict::Valid,
            format!("all {} reads within their bounds", evidence.read_count),
            String::new(),
        ),
        Some(first) => {
            let mut words = read_words(history, first);
            if let Some(w) = worst.filter(|w| w.completion != first.completion) {
                words.push(' ');
                words.push_str(&format!("The furthest off: {}", read_words(history, &w)));
            }
            (
                Verdict::Invalid,
                format!("{} of {} reads outside their bounds", outside.len(), evidence.read_count),
                words,
            )
        }
    };
    Ok(Judged { key, verdict, reason, explanation, evidence })
}

fn read_words(history: &Linted, r: &BoundedRead) -> String {
    let ops = history.ops();
    let what = format!(
        "the read at {} (process {}, {}) returned {}",
        place(history, r.completion),
        ops[r.completion].process,
        secs(ops[r.completion].time_ns),
        r.value
    );
    if r.value < r.lower {
        format!(
            "{what}, but adds acknowledged before it began (at {}) already sum to {}: an \
             acknowledged increment is missing (bounds [{}, {}]).",
            secs(ops[r.invoke].time_ns),
            r.lower,
            r.lower,
            r.upper
        )
    } else {
        format!(
            "{what}, more than the {} every add that could have happened before it completed \
             sums to: an increment was applied twice, or one that failed was applied (bounds \
             [{}, {}]).",
            r.upper, r.lower, r.upper
        )
    }
}

/// Most rows of the table, and points per plot series.
const SHOWN: usize = 50;
const POINTS: usize = 2000;

fn section(history: &Linted, judged: &[Judged<CounterEvidence>]) -> Section {
    let ops = history.ops();
    let keyed = judged.len() > 1 || judged.iter().any(|j| j.key.is_some());
    let reads: usize = judged.iter().map(|j| j.evidence.read_count).sum();
    let errors: usize = judged.iter().map(|j| j.evidence.error_count).sum();
    let mut section = Section::new("Counter").with(Block::paragraph(format!(
        "{reads} reads{}, {errors} outside their bounds: each read must lie between the sum \
         of the adds acknowledged before it began and the sum of the adds that could have \
         happened before it completed.",
        if keyed { format!(" of {} counters", judged.len()) } else { String::new() }
    )));
    // The plot: the first counter's reads (or the first invalid one's), against time.
    if let Some(j) = judged.iter().find(|j| j.verdict == Verdict::Invalid).or(judged.first()) {
        let t = |r: &BoundedRead| ops[r.completion].time_ns as f64 / 1e9;
        let series = |name: &str, f: fn(&BoundedRead) -> i64| Series {
            name: name.into(),
            points: thin(j.evidence.reads.iter().map(|r| (t(r), f(r) as f64)).collect(), POINTS),
        };
        if !j.evidence.reads.is_empty() {
            section.blocks.push(Block::Plot(Plot {
                title: format!(
                    "reads against their bounds{}",
                    if keyed { format!(" (key {})", key_cell(&j.key)) } else { String::new() }
                ),
                x_label: "time read completed (s)".into(),
                y_label: "counter value".into(),
                time_axis: true,
                series: vec![
                    series("lower bound", |r| r.lower),
                    series("read", |r| r.value),
                    series("upper bound", |r| r.upper),
                ],
            }));
        }
    }
    let outside: Vec<(&Option<Value>, &BoundedRead)> =
        judged.iter().flat_map(|j| j.evidence.errors.iter().map(move |r| (&j.key, r))).collect();
    if !outside.is_empty() {
        let mut columns: Vec<String> =
            ["read at", "lower", "value", "upper", "off by"].map(String::from).to_vec();
        if keyed {
            columns.insert(0, "key".into());
        }
        section.blocks.push(Block::Table(Table {
            caption: Some(format!(
                "reads outside their bounds ({} shown)",
                outside.len().min(SHOWN)
            )),
            columns,
            rows: outside
                .iter()
                .take(SHOWN)
                .map(|(k, r)| {
                    let mut row = vec![
                        format!(
                            "{} ({})",
                            secs(ops[r.completion].time_ns),
                            place(history, r.completion)
                        ),
                        r.lower.to_string(),
                        r.value.to_string(),
                        r.upper.to_string(),
                        r.error().to_string(),
                    ];
                    if keyed {
                        row.insert(0, key_cell(k));
                    }
                    row
                })
                .collect(),
        }));
        section.blocks.push(Block::Operations(Operations {
            caption: Some("reads outside their bounds".into()),
            ops: outside
                .iter()
                .take(SHOWN)
                .map(|(_, r)| Highlight {
                    position: r.invoke,
                    role: Role::Culprit,
                    label: format!("read {} outside [{}, {}]", r.value, r.lower, r.upper),
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
        Counter { partition: true }.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    fn ev(o: &Outcome) -> &CounterEvidence {
        o.evidence.get::<CounterEvidence>().expect("counter evidence")
    }

    fn add(p: u64, v: i64) -> [Op; 2] {
        [Op::invoke(p, "add", v.into()), Op::ok(p, "add", v.into())]
    }

    fn read(p: u64, v: i64) -> [Op; 2] {
        [Op::invoke(p, "read", Value::Nil), Op::ok(p, "read", v.into())]
    }

    fn seq(parts: &[&[Op]]) -> Vec<Op> {
        parts.iter().flat_map(|p| p.iter().cloned()).collect()
    }

    #[test]
    fn reads_within_bounds_are_valid_starting_from_zero() {
        let o = check(seq(&[&read(0, 0), &add(1, 2), &read(0, 2), &add(1, 3), &read(0, 5)]));
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let bounds: Vec<(i64, i64, i64)> =
            ev(&o).reads.iter().map(|r| (r.lower, r.value, r.upper)).collect();
        assert_eq!(bounds, vec![(0, 0, 0), (2, 2, 2), (5, 5, 5)]);
    }

    #[test]
    fn a_read_below_the_acknowledged_sum_is_invalid_with_its_bounds() {
        let o = check(seq(&[&add(1, 1), &add(1, 1), &read(0, 1)]));
        assert_eq!(o.verdict, Verdict::Invalid);
        let e = ev(&o);
        assert_eq!((e.errors[0].lower, e.errors[0].value, e.errors[0].upper), (2, 1, 2));
        assert!(
            o.explanation.contains("line 6") && o.explanation.contains("sum to 2"),
            "{}",
            o.explanation
        );
        assert_eq!(o.section.culprits(), vec![4]);
    }

    #[test]
    fn a_read_above_every_possible_add_is_invalid() {
        let o = check(seq(&[&add(1, 1), &read(0, 3)]));
        assert_eq!(o.verdict, Verdict::Invalid);
        assert!(o.explanation.contains("more than the 1"), "{}", o.explanation);
    }

    /// An info add may or may not have happened, before or after any read after its
    /// invocation; a failed add never happened; a read concurrent with an add may see
    /// it or not.
    #[test]
    fn info_adds_widen_the_upper_bound_failed_adds_count_nowhere() {
        let ops = vec![
            Op::invoke(1, "add", 5.into()),
            Op::info(1, "add", 5.into()),
            Op::invoke(2, "add", 7.into()),
            Op::fail(2, "add", 7.into()),
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", 5.into()),
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", 0.into()),
        ];
        let o = check(ops);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!(ev(&o).reads[0].upper, 5, "the failed 7 is not possible");
        let seven =
            seq(&[&[Op::invoke(2, "add", 7.into()), Op::fail(2, "add", 7.into())], &read(0, 7)]);
        assert_eq!(check(seven).verdict, Verdict::Invalid);
        // Concurrent: the read began before the add was acknowledged.
        let concurrent = vec![
            Op::invoke(1, "add", 1.into()),
            Op::invoke(0, "read", Value::Nil),
            Op::ok(1, "add", 1.into()),
            Op::ok(0, "read", 0.into()),
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", 1.into()),
        ];
        assert_eq!(check(concurrent).verdict, Verdict::Valid);
    }

    #[test]
    fn decrements_mirror_increments() {
        let o = check(seq(&[&add(1, 5), &add(1, -2), &read(0, 3)]));
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let pending_decrement = vec![
            Op::invoke(1, "add", 4.into()),
            Op::ok(1, "add", 4.into()),
            Op::invoke(2, "add", (-3).into()),
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", 1.into()),
        ];
        let o = check(pending_decrement);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!((ev(&o).reads[0].lower, ev(&o).reads[0].upper), (1, 4));
        assert_eq!(check(seq(&[&add(1, -2), &read(0, 0)])).verdict, Verdict::Invalid);
    }

    #[test]
    fn no_reads_or_no_ops_are_unknown_and_bad_values_name_their_line() {
        assert_eq!(check(vec![]).verdict, Verdict::Unknown);
        assert_eq!(check(seq(&[&add(0, 1)])).verdict, Verdict::Unknown);
        let bad = History::from_ops(vec![
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", Value::Nil),
        ]);
        let err = Counter { partition: true }.check(&bad.lint().unwrap()).unwrap_err().to_string();
        assert!(err.starts_with("line 2:") && err.contains("integer"), "{err}");
        // An unfinished read is ignored.
        let o = check(seq(&[&add(0, 1), &read(0, 1), &[Op::invoke(1, "read", Value::Nil)]]));
        assert_eq!(o.verdict, Verdict::Valid);
    }
}
