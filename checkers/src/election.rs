//! `election`: at most one leader at any time, observers see only leaders that were
//! elected, and terms grow.
//!
//! The history (the `election` workload writes it): each tenure is a unique candidate
//! name (the value of its `campaign`, `confirm`s and `resign`); `campaign` and
//! `confirm` complete `ok` with `{:candidate c, :term t}` while the candidate leads;
//! observers' `leader` completes with `nil` or `{:candidate c, :term t}`.
//!
//! Leadership is judged by real-time intervals, as Jepsen judges a lock by its
//! holders. An `ok` campaign or confirm is a *proof*: the candidate led at some
//! instant between its invocation and its completion. A tenure with several proofs
//! led throughout the *certain interval* from the earliest completion of a proof to
//! the latest invocation of one (a leadership, once lost, does not come back: a new
//! one is a new campaign). The rules:
//!
//! - **one leader**: no proof of one tenure lies wholly inside another tenure's
//!   certain interval (two leaders at one instant);
//! - **observers**: a view names a tenure that campaigned (not one whose campaign
//!   failed, nor before its campaign began, nor after its resign completed) with its
//!   term; a view (or `nil`) never lies wholly inside another tenure's certain
//!   interval; and one observer's terms never go back;
//! - **terms**: a tenure's proofs all carry one term; distinct tenures have distinct
//!   terms; and a tenure elected before another began its campaign has the smaller
//!   term.

use std::collections::BTreeMap;

use history::{Linted, OpKind, Value};
use serde::Serialize;

use crate::ops::{ClientOp, client_ops, field, secs, text_field, uint_field};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Plot, Role, Section, Series, Table};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats, Verdict};

/// `election` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "election",
    summary: "at most one leader at any time (real-time intervals of confirmed leadership), \
              observers see only elected leaders, terms grow",
    make: |o| match &o.initial {
        None => o.refuse_extension("election").map(|()| Box::new(ElectionChecker) as _),
        Some(v) => Err(CheckError::BadModel(format!(
            "the election checker takes no initial value (got {v})"
        ))),
    },
};

pub struct ElectionChecker;

/// One rule broken.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionAnomaly {
    /// `two-leaders`, `unknown-leader`, `wrong-term`, `stale-view`, `term-backwards`,
    /// `term-changed`, `same-term`, `term-order`.
    pub kind: &'static str,
    /// Invocation positions, the culprit first.
    pub positions: Vec<usize>,
    pub message: String,
}

/// One tenure as the checker saw it.
#[derive(Debug, Clone, Serialize)]
pub struct Tenure {
    pub candidate: String,
    pub campaign: String,
    pub term: Option<u64>,
    pub proofs: usize,
    /// Seconds: the certain interval, when it has one.
    pub led_from: Option<f64>,
    pub led_until: Option<f64>,
}

/// The election checker's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct ElectionEvidence {
    pub anomalies: Vec<ElectionAnomaly>,
    pub tenures: Vec<Tenure>,
    pub views: usize,
}

struct TenureOps<'a> {
    campaign: Option<&'a ClientOp<'a>>,
    proofs: Vec<(&'a ClientOp<'a>, Option<u64>)>,
    resign: Option<&'a ClientOp<'a>>,
}

impl TenureOps<'_> {
    fn certain(&self) -> Option<(u64, u64)> {
        let from = self.proofs.iter().map(|(p, _)| p.completed_ns).min()?;
        let until = self.proofs.iter().map(|(p, _)| p.invoked_ns).max()?;
        (from < until).then_some((from, until))
    }

    fn term(&self) -> Option<u64> {
        self.proofs.iter().find_map(|(_, t)| *t)
    }
}

fn bad(history: &Linted, pos: usize, message: impl Into<String>) -> CheckError {
    CheckError::BadOperation { place: history.history().place(pos), message: message.into() }
}

/// `{:candidate c, :term t}` or `nil`.
fn leadership(
    op: &ClientOp<'_>,
    history: &Linted,
) -> Result<Option<(String, Option<u64>)>, CheckError> {
    match op.output {
        Value::Nil => Ok(None),
        v => {
            let who = text_field(v, "candidate").ok_or_else(|| {
                bad(
                    history,
                    op.invoke,
                    format!("a leadership is {{:candidate c, :term t}}, found {v}"),
                )
            })?;
            Ok(Some((who.to_string(), uint_field(v, "term"))))
        }
    }
}

impl Checker for ElectionChecker {
    fn name(&self) -> String {
        "election".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let place = |p: usize| history.history().place(p);
        let ops = client_ops(history);
        let mut tenures: BTreeMap<String, TenureOps<'_>> = BTreeMap::new();
        let mut views = Vec::new();
        for op in &ops {
            let name = || match op.input {
                Value::Str(s) => Ok(s.clone()),
                v => Err(bad(
                    history,
                    op.invoke,
                    format!("a {} names its candidate (a string), found {v}", op.f),
                )),
            };
            match op.f {
                "campaign" | "confirm" | "resign" => {
                    let t = tenures.entry(name()?).or_insert(TenureOps {
                        campaign: None,
                        proofs: vec![],
                        resign: None,
                    });
                    match op.f {
                        "campaign" => t.campaign = Some(op),
                        "resign" => t.resign = Some(op),
                        _ => {}
                    }
                    if op.ok() && op.f != "resign" {
                        let term = leadership(op, history)?.and_then(|(_, t)| t);
                        t.proofs.push((op, term));
                    }
                }
                "leader" => {
                    let observer = field(op.input, "observer")
                        .and_then(Value::as_int)
                        .unwrap_or(op.process as i64);
                    if op.ok() {
                        views.push((observer, op, leadership(op, history)?));
                    }
                }
                other => {
                    return Err(bad(
                        history,
                        op.invoke,
                        format!(
                            "the election checker knows campaign, confirm, resign and leader, not {other:?}"
                        ),
                    ));
                }
            }
        }
        let mut anomalies = Vec::new();
        let mut push = |kind, positions: Vec<usize>, message: String| {
            anomalies.push(ElectionAnomaly { kind, positions, message })
        };
        // Terms: one per tenure.
        for (name, t) in &tenures {
            let terms: Vec<u64> = t.proofs.iter().filter_map(|(_, t)| *t).collect();
            if let (Some(first), Some(other)) =
                (terms.first(), terms.iter().find(|x| *x != &terms[0]))
            {
                let (p, _) =
                    t.proofs.iter().find(|(_, x)| *x == Some(*other)).expect("found above");
                push(
                    "term-changed",
                    vec![p.invoke],
                    format!(
                        "tenure {name} led with term {first}, then with term {other} at {}",
                        place(p.invoke)
                    ),
                );
            }
        }
        // One leader at a time.
        let certain: Vec<(&String, (u64, u64))> =
            tenures.iter().filter_map(|(n, t)| t.certain().map(|c| (n, c))).collect();
        for (name, t) in &tenures {
            for (proof, _) in &t.proofs {
                if let Some((other, (from, until))) = certain.iter().find(|(o, (f, u))| {
                    *o != name && *f <= proof.invoked_ns && proof.completed_ns <= *u
                }) {
                    push(
                        "two-leaders",
                        vec![proof.invoke],
                        format!(
                            "tenure {name} led at some instant between {} and {} ({} at {}), while tenure {other} led without a break from {} to {}: two leaders at once",
                            secs(proof.invoked_ns),
                            secs(proof.completed_ns),
                            proof.f,
                            place(proof.invoke),
                            secs(*from),
                            secs(*until)
                        ),
                    );
                    break;
                }
            }
        }
        // Distinct terms, in election order.
        let elected: Vec<(&String, &ClientOp<'_>, u64)> = tenures
            .iter()
            .filter_map(|(n, t)| Some((n, t.campaign.filter(|c| c.ok())?, t.term()?)))
            .collect();
        for (i, (a, ca, ta)) in elected.iter().enumerate() {
            for (b, cb, tb) in &elected[i + 1..] {
                if ta == tb {
                    push(
                        "same-term",
                        vec![cb.invoke, ca.invoke],
                        format!("tenures {a} and {b} were both elected with term {ta}"),
                    );
                } else {
                    let (first, second) = if ca.completed_ns < cb.invoked_ns {
                        ((a, ca, ta), (b, cb, tb))
                    } else if cb.completed_ns < ca.invoked_ns {
                        ((b, cb, tb), (a, ca, ta))
                    } else {
                        continue;
                    };
                    if first.2 > second.2 {
                        push(
                            "term-order",
                            vec![second.1.invoke, first.1.invoke],
                            format!(
                                "tenure {} was elected (term {}) before tenure {} campaigned at {}, yet {} has the smaller term {}",
                                first.0,
                                first.2,
                                second.0,
                                place(second.1.invoke),
                                second.0,
                                second.2
                            ),
                        );
                    }
                }
            }
        }
        // Observers.
        let mut last_term: BTreeMap<i64, (u64, usize)> = BTreeMap::new();
        for (observer, op, view) in &views {
            let inside = certain.iter().find(|(n, (f, u))| {
                *f <= op.invoked_ns
                    && op.completed_ns <= *u
                    && view.as_ref().is_none_or(|(c, _)| c != *n)
            });
            match view {
                None => {
                    if let Some((other, _)) = inside {
                        push(
                            "stale-view",
                            vec![op.invoke],
                            format!(
                                "observer {observer} saw no leader at {}, while tenure {other} certainly led throughout",
                                place(op.invoke)
                            ),
                        );
                    }
                }
                Some((who, term)) => {
                    let tenure = tenures.get(who);
                    let campaigned =
                        tenure.and_then(|t| t.campaign).filter(|c| c.kind != OpKind::Fail);
                    match (tenure, campaigned) {
                        (_, None) => push(
                            "unknown-leader",
                            vec![op.invoke],
                            format!(
                                "observer {observer} saw {who} lead at {}, but {who} was never elected (its campaign failed or never happened)",
                                place(op.invoke)
                            ),
                        ),
                        (Some(t), Some(c)) => {
                            if op.completed_ns < c.invoked_ns {
                                push(
                                    "unknown-leader",
                                    vec![op.invoke, c.invoke],
                                    format!(
                                        "observer {observer} saw {who} lead at {} before {who} campaigned",
                                        place(op.invoke)
                                    ),
                                );
                            }
                            if let Some(r) =
                                t.resign.filter(|r| r.ok() && r.completed_ns < op.invoked_ns)
                            {
                                push(
                                    "stale-view",
                                    vec![op.invoke, r.invoke],
                                    format!(
                                        "observer {observer} saw {who} lead at {}, after {who} resigned ({})",
                                        place(op.invoke),
                                        place(r.invoke)
                                    ),
                                );
                            }
                            if let (Some(seen), Some(real)) = (term, t.term())
                                && *seen != real
                            {
                                push(
                                    "wrong-term",
                                    vec![op.invoke],
                                    format!(
                                        "observer {observer} saw {who} lead with term {seen} at {}, but {who} was elected with term {real}",
                                        place(op.invoke)
                                    ),
                                );
                            }
                        }
                        (None, Some(_)) => unreachable!("a campaign implies a tenure"),
                    }
                    if let Some((other, _)) = inside {
                        push(
                            "stale-view",
                            vec![op.invoke],
                            format!(
                                "observer {observer} saw {who} lead at {}, while tenure {other} certainly led throughout",
                                place(op.invoke)
                            ),
                        );
                    }
                    if let Some(term) = term {
                        if let Some((before, at)) = last_term.get(observer)
                            && term < before
                        {
                            push(
                                "term-backwards",
                                vec![op.invoke, *at],
                                format!(
                                    "observer {observer}'s view went back from term {before} to term {term} at {}",
                                    place(op.invoke)
                                ),
                            );
                        }
                        last_term.insert(*observer, (*term, op.invoke));
                    }
                }
            }
        }
        let summary: Vec<Tenure> = tenures
            .iter()
            .filter(|(_, t)| !t.proofs.is_empty())
            .map(|(n, t)| Tenure {
                candidate: n.clone(),
                campaign: t.campaign.map_or("none".into(), |c| c.kind.to_string()),
                term: t.term(),
                proofs: t.proofs.len(),
                led_from: t.certain().map(|(f, _)| f as f64 / 1e9),
                led_until: t.certain().map(|(_, u)| u as f64 / 1e9),
            })
            .collect();
        let mut outcome = match anomalies.first() {
            Some(a) => Outcome::new(
                Verdict::Invalid,
                format!(
                    "{} election anomal{} ({})",
                    anomalies.len(),
                    if anomalies.len() == 1 { "y" } else { "ies" },
                    a.kind
                ),
                a.message.clone(),
            ),
            None if summary.is_empty() => {
                Outcome::new(Verdict::Unknown, "nobody was ever elected: nothing to judge", "")
            }
            None => Outcome::new(
                Verdict::Valid,
                format!(
                    "{} tenures, one leader at a time; {} observer views agree",
                    summary.len(),
                    views.len()
                ),
                "",
            ),
        };
        outcome.section = section(&anomalies, &summary);
        outcome.evidence =
            Evidence::new(ElectionEvidence { anomalies, tenures: summary, views: views.len() });
        outcome.stats =
            Stats { ops: ops.len(), partitions: 1, elapsed: started.elapsed(), ..Stats::default() };
        Ok(outcome)
    }
}

fn section(anomalies: &[ElectionAnomaly], tenures: &[Tenure]) -> Section {
    let mut s = Section::new("Leader election").with(Block::paragraph(format!(
        "{} tenures were elected; each line below is the interval it certainly led (from its \
         first proof's completion to its last proof's invocation). {} anomalies.",
        tenures.len(),
        anomalies.len()
    )));
    s.blocks.push(Block::Plot(Plot {
        title: "certain leadership intervals".into(),
        x_label: "time (s)".into(),
        y_label: "term".into(),
        time_axis: true,
        series: tenures
            .iter()
            .filter_map(|t| {
                let (f, u, term) = (t.led_from?, t.led_until?, t.term? as f64);
                Some(Series { name: t.candidate.clone(), points: vec![(f, term), (u, term)] })
            })
            .collect(),
    }));
    s.blocks.push(Block::Table(Table {
        caption: Some("tenures".into()),
        columns: ["candidate", "campaign", "term", "proofs", "led from (s)", "led until (s)"]
            .map(String::from)
            .to_vec(),
        rows: tenures
            .iter()
            .map(|t| {
                let f = |x: Option<f64>| x.map_or("-".into(), |x| format!("{x:.3}"));
                vec![
                    t.candidate.clone(),
                    t.campaign.clone(),
                    t.term.map_or("?".into(), |x| x.to_string()),
                    t.proofs.to_string(),
                    f(t.led_from),
                    f(t.led_until),
                ]
            })
            .collect(),
    }));
    if !anomalies.is_empty() {
        s.blocks.push(Block::Operations(Operations {
            caption: Some("operations that broke a rule".into()),
            ops: anomalies
                .iter()
                .take(50)
                .flat_map(|a| {
                    a.positions.iter().enumerate().map(|(i, &p)| Highlight {
                        position: p,
                        role: if i == 0 { Role::Culprit } else { Role::Related },
                        label: a.message.clone(),
                    })
                })
                .collect(),
        }));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn lead(c: &str, t: i64) -> Value {
        Value::Map(vec![
            (Value::kw("candidate"), Value::Str(c.into())),
            (Value::kw("term"), Value::Int(t)),
        ])
    }

    /// Ops at the given times: (process, f, input, completion kind, output, invoke ms, complete ms).
    fn check(ops: &[(u64, &str, Value, OpKind, Value, u64, u64)]) -> Outcome {
        let mut events: Vec<(u64, Op)> = Vec::new();
        for (p, f, input, kind, output, i, c) in ops {
            let mut inv = Op::invoke(*p, f, input.clone());
            inv.time_ns = i * 1_000_000;
            events.push((inv.time_ns, inv));
            let mut done = Op::new(history::Process::Client(*p), *kind, f, output.clone());
            done.time_ns = c * 1_000_000;
            events.push((done.time_ns, done));
        }
        events.sort_by_key(|(t, _)| *t);
        let ops: Vec<Op> = events
            .into_iter()
            .enumerate()
            .map(|(i, (_, mut o))| {
                o.index = i as u64;
                o
            })
            .collect();
        ElectionChecker.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    fn kinds(o: &Outcome) -> Vec<&'static str> {
        o.evidence.get::<ElectionEvidence>().unwrap().anomalies.iter().map(|a| a.kind).collect()
    }

    use OpKind::{Fail, Ok as Okk};

    fn s(x: &str) -> Value {
        Value::Str(x.into())
    }

    #[test]
    fn one_leader_after_another_is_valid() {
        let o = check(&[
            (0, "campaign", s("a"), Okk, lead("a", 5), 0, 10),
            (2, "campaign", s("b"), Fail, Value::Nil, 20, 30),
            (0, "confirm", s("a"), Okk, lead("a", 5), 40, 50),
            (1, "leader", Value::Nil, Okk, lead("a", 5), 45, 55),
            (0, "resign", s("a"), Okk, s("a"), 60, 70),
            (2, "campaign", s("b2"), Okk, lead("b2", 9), 80, 90),
            (1, "leader", Value::Nil, Okk, lead("b2", 9), 95, 99),
            (2, "confirm", s("b2"), Okk, lead("b2", 9), 100, 110),
        ]);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!(o.evidence.get::<ElectionEvidence>().unwrap().tenures.len(), 2);
    }

    #[test]
    fn two_leaders_stale_views_and_bad_terms_are_caught() {
        // b is proven leader while a certainly leads (a's lease expired unseen).
        let o = check(&[
            (0, "campaign", s("a"), Okk, lead("a", 5), 0, 10),
            (2, "campaign", s("b"), Okk, lead("b", 9), 30, 40),
            (0, "confirm", s("a"), Okk, lead("a", 5), 60, 70),
        ]);
        assert_eq!(kinds(&o), vec!["two-leaders"], "{}", o.summary());
        assert!(o.explanation.contains("two leaders at once"), "{}", o.explanation);

        // An observer sees a leader that never won, then an old term.
        let k = kinds(&check(&[
            (0, "campaign", s("a"), Okk, lead("a", 5), 0, 10),
            (2, "campaign", s("b"), Fail, Value::Nil, 12, 14),
            (1, "leader", Value::Nil, Okk, lead("b", 7), 20, 25),
            (1, "leader", Value::Nil, Okk, lead("a", 4), 30, 35),
        ]));
        assert!(
            k.contains(&"unknown-leader")
                && k.contains(&"wrong-term")
                && k.contains(&"term-backwards"),
            "{k:?}"
        );

        // Nobody seen while a certainly leads; a resigned leader seen.
        let k = kinds(&check(&[
            (0, "campaign", s("a"), Okk, lead("a", 5), 0, 10),
            (1, "leader", Value::Nil, Okk, Value::Nil, 20, 25),
            (0, "confirm", s("a"), Okk, lead("a", 5), 30, 40),
            (0, "resign", s("a"), Okk, s("a"), 50, 55),
            (1, "leader", Value::Nil, Okk, lead("a", 5), 60, 65),
        ]));
        assert_eq!(k, vec!["stale-view", "stale-view"]);

        // A later election with a smaller term, and one term for two tenures.
        let k = kinds(&check(&[
            (0, "campaign", s("a"), Okk, lead("a", 5), 0, 10),
            (0, "resign", s("a"), Okk, s("a"), 12, 14),
            (2, "campaign", s("b"), Okk, lead("b", 3), 20, 30),
            (2, "resign", s("b"), Okk, s("b"), 32, 34),
            (4, "campaign", s("c"), Okk, lead("c", 3), 40, 50),
        ]));
        assert!(k.contains(&"term-order") && k.contains(&"same-term"), "{k:?}");
    }

    #[test]
    fn unknown_campaigns_may_have_led() {
        let o = check(&[
            (0, "campaign", s("a"), OpKind::Info, s("a"), 0, 1000),
            (1, "leader", Value::Nil, Okk, lead("a", 5), 20, 25),
            (2, "campaign", s("b"), Okk, lead("b", 9), 2000, 2010),
        ]);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let err = ElectionChecker.check(
            &History::from_ops(vec![
                Op::invoke(0, "campaign", Value::Int(3)),
                Op::ok(0, "campaign", Value::Nil),
            ])
            .lint()
            .unwrap(),
        );
        assert!(err.unwrap_err().to_string().contains("line 1"));
    }
}
