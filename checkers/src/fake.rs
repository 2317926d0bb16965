//! `fake`: a checker that exists to prove the checker seam, compiled only with the
//! `fakes` feature (the harness's tests turn it on; `faultline` as built for users
//! does not list it). It is this one file plus one line in [`crate::registry::ALL`],
//! and it uses every report primitive, so a test can show that a new checker needs
//! nothing else: `faultline check --model fake`, `results.json` and `report.html`
//! all handle it.
//!
//! Its rule: no operation may complete `ok` with the value `"forbidden"`. Valid when
//! none does, invalid otherwise (each such operation named by its position), unknown
//! when no client operation succeeded at all.

use std::collections::BTreeMap;

use history::{Linted, OpKind, Value};
use serde::{Deserialize, Serialize};

use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Plot, Role, Section, Series, Table};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats, Verdict};

/// `fake` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "fake",
    summary: "test-only: invalid when an operation completes ok with the value \"forbidden\"",
    make: |o| match &o.initial {
        None => o.refuse_extension("fake").map(|()| Box::new(Fake) as _),
        Some(v) => {
            Err(CheckError::BadModel(format!("the fake checker takes no initial value (got {v})")))
        }
    },
};

/// The value nobody may return.
pub const FORBIDDEN: &str = "forbidden";

pub struct Fake;

/// What the fake checker found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FakeEvidence {
    /// Invocation positions of the operations that returned the forbidden value.
    pub forbidden: Vec<usize>,
    /// `ok` completions per function.
    pub ok_by_f: BTreeMap<String, u64>,
}

impl Checker for Fake {
    fn name(&self) -> String {
        "fake".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let ops = history.ops();
        let mut found = FakeEvidence { forbidden: Vec::new(), ok_by_f: BTreeMap::new() };
        let mut oks_over_time = Vec::new();
        let mut clients = 0;
        for pair in history.client_pairs() {
            clients += 1;
            let Some(done) = pair.completion.filter(|_| history.outcome(pair) == OpKind::Ok) else {
                continue;
            };
            *found.ok_by_f.entry(ops[pair.invoke].f.clone()).or_default() += 1;
            oks_over_time.push(ops[done].time_ns as f64 / 1e9);
            if matches!(&ops[done].value, Value::Str(s) if s == FORBIDDEN) {
                found.forbidden.push(pair.invoke);
            }
        }
        let mut outcome = match (found.forbidden.first(), oks_over_time.is_empty()) {
            (Some(&first), _) => Outcome::new(
                Verdict::Invalid,
                format!("{} operation(s) returned {FORBIDDEN:?}", found.forbidden.len()),
                format!(
                    "The {} by process {} at {} returned {FORBIDDEN:?}, which no operation may.",
                    ops[first].f,
                    ops[first].process,
                    history.history().place(first)
                ),
            ),
            (None, true) => Outcome::new(Verdict::Unknown, "no operation succeeded", ""),
            (None, false) => Outcome::new(Verdict::Valid, "nothing forbidden was returned", ""),
        };
        oks_over_time.sort_by(f64::total_cmp);
        let mut section = Section::new("Forbidden values")
            .with(Block::paragraph(format!(
                "{} of {clients} client operations returned {FORBIDDEN:?}.",
                found.forbidden.len()
            )))
            .with(Block::Table(Table {
                caption: Some("ok operations by function".into()),
                columns: vec!["f".into(), "ok".into()],
                rows: found.ok_by_f.iter().map(|(f, n)| vec![f.clone(), n.to_string()]).collect(),
            }))
            .with(Block::Plot(Plot {
                title: "ok operations so far".into(),
                x_label: "time (s)".into(),
                y_label: "ok operations".into(),
                time_axis: true,
                series: vec![Series {
                    name: "ok".into(),
                    points: oks_over_time
                        .iter()
                        .enumerate()
                        .map(|(i, &t)| (t, i as f64 + 1.0))
                        .collect(),
                }],
            }));
        if !found.forbidden.is_empty() {
            section.blocks.push(Block::Operations(Operations {
                caption: Some("operations that returned the forbidden value".into()),
                ops: found
                    .forbidden
                    .iter()
                    .map(|&p| Highlight {
                        position: p,
                        role: Role::Culprit,
                        label: "returned it".into(),
                    })
                    .collect(),
            }));
        }
        outcome.section = section;
        outcome.evidence = Evidence::new(found);
        outcome.stats =
            Stats { ops: clients, partitions: 1, elapsed: started.elapsed(), ..Stats::default() };
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn check(ops: Vec<Op>) -> Outcome {
        Fake.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    #[test]
    fn forbidden_value_is_invalid_and_named_by_position() {
        let good = check(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", 1.into())]);
        assert_eq!(good.verdict, Verdict::Valid);
        let bad = check(vec![
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", 1.into()),
            Op::invoke(1, "read", Value::Nil),
            Op::ok(1, "read", FORBIDDEN.into()),
        ]);
        assert_eq!(bad.verdict, Verdict::Invalid);
        let found = bad.evidence.get::<FakeEvidence>().expect("its own evidence");
        assert_eq!(found.forbidden, vec![2]);
        assert_eq!(bad.section.culprits(), vec![2]);
        assert_eq!(check(vec![]).verdict, Verdict::Unknown);
    }
}
