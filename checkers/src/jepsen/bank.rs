//! `bank`: Jepsen's bank checker (`jepsen.tests.bank/checker`): `:transfer`
//! operations (`{:from a, :to b, :amount n}`) between accounts and `:read`s that
//! return every balance (`{account balance, ...}`).
//!
//! Jepsen's rule, for every `ok` read, the first that applies (`check-op`):
//! - *unexpected-key*: it names an account that is not one of the accounts;
//! - *nil-balance*: some balance is nil;
//! - *wrong-total*: the balances do not sum to the total;
//! - *negative-value*: some balance is negative, unless negative balances are
//!   allowed.
//!
//! Valid when no read has an error. Transfers themselves are not checked (only
//! what reads observe), and reads that did not complete `ok` are ignored. The
//! options are elle-cli's: `total-amount` and `accounts` (when absent, as elle-cli
//! does, the total is the first read's sum and the accounts its keys),
//! `allow-negative-balances` (Jepsen's `:negative-balances?`; `negative-balances`
//! is accepted too) and `max-transfer` (accepted and unused, as in Jepsen's
//! checker). Jepsen answers `true` when nothing was read; this answers `unknown`.
//!
//! The report plots each read's total over time, one series per node (Jepsen's
//! `bank` plotter), with the expected total.

use std::collections::{BTreeMap, HashSet};

use history::{Linted, OpKind, Value};
use serde::Serialize;

use super::{FastHash, bad_op, options, place, secs, thin};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Plot, Role, Section, Series, Table};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats, Verdict};

/// `bank` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "bank",
    summary: "Jepsen's bank: every read of all balances sums to the total and none is \
              negative; options total-amount, accounts, allow-negative-balances (elle-cli's)",
    make: |o| {
        let opts = options(
            o,
            "bank",
            &[
                "total-amount",
                "accounts",
                "allow-negative-balances",
                "negative-balances",
                "max-transfer",
            ],
        )?;
        let negative =
            match (opts.flag("allow-negative-balances")?, opts.flag("negative-balances")?) {
                (Some(a), _) | (None, Some(a)) => a,
                (None, None) => false,
            };
        opts.int("max-transfer")?;
        Ok(Box::new(Bank {
            total: opts.int("total-amount")?,
            accounts: opts.collection("accounts")?.map(<[Value]>::to_vec),
            negative_balances: negative,
        }))
    },
};

/// The bank checker.
#[derive(Debug, Clone, Default)]
pub struct Bank {
    /// The total every read must sum to; `None`: the first read's.
    pub total: Option<i64>,
    /// The accounts; `None`: the first read's keys.
    pub accounts: Option<Vec<Value>>,
    /// Jepsen's `:negative-balances?`.
    pub negative_balances: bool,
}

/// Jepsen's error types, in the order `check-op` tries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorType {
    UnexpectedKey,
    NilBalance,
    WrongTotal,
    NegativeValue,
}

impl ErrorType {
    fn words(self) -> &'static str {
        match self {
            ErrorType::UnexpectedKey => "names an account that does not exist",
            ErrorType::NilBalance => "has an account without a balance",
            ErrorType::WrongTotal => "does not sum to the total",
            ErrorType::NegativeValue => "has a negative balance",
        }
    }
}

/// One read's error.
#[derive(Debug, Clone, Serialize)]
pub struct BankError {
    #[serde(rename = "type")]
    pub kind: ErrorType,
    /// Position of the read's completion.
    pub read: usize,
    /// The read's sum (nil balances left out).
    pub total: i64,
    /// The accounts at fault: unexpected ones, nil ones, or negative ones.
    #[serde(serialize_with = "super::values_json")]
    pub accounts: Vec<Value>,
    /// How bad it is (Jepsen's `err-badness`): accounts at fault, the relative total
    /// error, or the negative sum.
    pub badness: f64,
}

/// Errors of one type (Jepsen's `{:count :first :worst :last}`, plus the lowest and
/// highest total for wrong totals).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorsOfType {
    pub count: usize,
    pub first: BankError,
    pub worst: BankError,
    pub last: BankError,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lowest: Option<BankError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highest: Option<BankError>,
}

/// What the bank checker found.
#[derive(Debug, Clone, Serialize)]
pub struct BankEvidence {
    pub total: Option<i64>,
    #[serde(serialize_with = "super::values_json")]
    pub accounts: Vec<Value>,
    pub negative_balances: bool,
    pub read_count: usize,
    pub error_count: usize,
    pub first_error: Option<BankError>,
    pub errors: BTreeMap<ErrorType, ErrorsOfType>,
    /// Every read's (completion position, total): the report's plot.
    #[serde(skip)]
    pub totals: Vec<(usize, i64)>,
}

impl Checker for Bank {
    fn name(&self) -> String {
        "bank".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let ops = history.ops();
        let mut reads: Vec<(usize, &[(Value, Value)])> = Vec::new();
        let mut clients = 0;
        for pair in history.client_pairs() {
            clients += 1;
            if ops[pair.invoke].f != "read" {
                continue;
            }
            let (OpKind::Ok, Some(done)) = (history.outcome(pair), pair.completion) else {
                continue;
            };
            let Value::Map(entries) = &ops[done].value else {
                return Err(bad_op(
                    history,
                    done,
                    format!(
                        "a bank read must return a map of accounts to balances, got {}",
                        ops[done].value
                    ),
                ));
            };
            if let Some((account, balance)) =
                entries.iter().find(|(_, b)| !matches!(b, Value::Int(_) | Value::Nil))
            {
                return Err(bad_op(
                    history,
                    done,
                    format!("account {account}'s balance must be an integer or nil, got {balance}"),
                ));
            }
            reads.push((done, entries));
        }
        let first = reads.first().map(|(_, e)| *e);
        let total = self.total.or_else(|| first.map(sum));
        let accounts: Vec<Value> = match (&self.accounts, first) {
            (Some(a), _) => a.clone(),
            (None, Some(e)) => e.iter().map(|(k, _)| k.clone()).collect(),
            (None, None) => Vec::new(),
        };
        let known: HashSet<&Value, FastHash> = accounts.iter().collect();
        let mut errors: Vec<BankError> = Vec::new();
        for &(at, entries) in &reads {
            if let Some(e) =
                check_read(at, entries, &known, total.unwrap_or(0), self.negative_balances)
            {
                errors.push(e);
            }
        }
        let mut by_type: BTreeMap<ErrorType, ErrorsOfType> = BTreeMap::new();
        for kind in [
            ErrorType::UnexpectedKey,
            ErrorType::NilBalance,
            ErrorType::WrongTotal,
            ErrorType::NegativeValue,
        ] {
            let of: Vec<&BankError> = errors.iter().filter(|e| e.kind == kind).collect();
            let (Some(&first), Some(&last)) = (of.first(), of.last()) else { continue };
            let worst =
                of.iter().copied().fold(first, |w, e| if e.badness > w.badness { e } else { w });
            let wrong = kind == ErrorType::WrongTotal;
            by_type.insert(
                kind,
                ErrorsOfType {
                    count: of.len(),
                    first: first.clone(),
                    worst: worst.clone(),
                    last: last.clone(),
                    lowest: wrong
                        .then(|| of.iter().min_by_key(|e| e.total).map(|e| (*e).clone()))
                        .flatten(),
                    highest: wrong
                        .then(|| of.iter().max_by_key(|e| e.total).map(|e| (*e).clone()))
                        .flatten(),
                },
            );
        }
        let evidence = BankEvidence {
            total,
            accounts,
            negative_balances: self.negative_balances,
            read_count: reads.len(),
            error_count: errors.len(),
            first_error: errors.first().cloned(),
            errors: by_type,
            totals: reads.iter().map(|&(at, e)| (at, sum(e))).collect(),
        };
        let (verdict, reason, explanation) = match errors.first() {
            _ if reads.is_empty() => (
                Verdict::Unknown,
                "no read of the balances completed".to_string(),
                "Nothing observed the balances, so nothing can be judged.".to_string(),
            ),
            None => (
                Verdict::Valid,
                format!("all {} reads sum to {}", reads.len(), total.unwrap_or(0)),
                String::new(),
            ),
            Some(first) => {
                let mut counts: Vec<String> = evidence
                    .errors
                    .iter()
                    .map(|(k, e)| format!("{} {}", e.count, kind_name(*k)))
                    .collect();
                counts.dedup();
                (
                    Verdict::Invalid,
                    format!(
                        "{} of {} reads wrong ({})",
                        errors.len(),
                        reads.len(),
                        counts.join(", ")
                    ),
                    error_words(history, first, total.unwrap_or(0)),
                )
            }
        };
        let mut outcome = Outcome::new(verdict, reason, explanation);
        outcome.section = section(history, &evidence, &errors);
        outcome.evidence = Evidence::new(evidence);
        outcome.stats =
            Stats { ops: clients, partitions: 1, elapsed: started.elapsed(), ..Stats::default() };
        Ok(outcome)
    }
}

fn sum(entries: &[(Value, Value)]) -> i64 {
    entries.iter().filter_map(|(_, b)| b.as_int()).fold(0i64, i64::saturating_add)
}

fn kind_name(k: ErrorType) -> &'static str {
    match k {
        ErrorType::UnexpectedKey => "unexpected-key",
        ErrorType::NilBalance => "nil-balance",
        ErrorType::WrongTotal => "wrong-total",
        ErrorType::NegativeValue => "negative-value",
    }
}

/// Jepsen's `check-op`: the first error of the read, if any.
fn check_read(
    at: usize,
    entries: &[(Value, Value)],
    known: &HashSet<&Value, FastHash>,
    total: i64,
    negative_balances: bool,
) -> Option<BankError> {
    let read_total = sum(entries);
    let error = |kind, accounts: Vec<Value>, badness| {
        Some(BankError { kind, read: at, total: read_total, accounts, badness })
    };
    let unexpected: Vec<Value> =
        entries.iter().filter(|(k, _)| !known.contains(k)).map(|(k, _)| k.clone()).collect();
    if !unexpected.is_empty() {
        let n = unexpected.len() as f64;
        return error(ErrorType::UnexpectedKey, unexpected, n);
    }
    let nils: Vec<Value> =
        entries.iter().filter(|(_, b)| b.is_nil()).map(|(k, _)| k.clone()).collect();
    if !nils.is_empty() {
        let n = nils.len() as f64;
        return error(ErrorType::NilBalance, nils, n);
    }
    if read_total != total {
        let badness = if total != 0 {
            ((read_total - total) as f64 / total as f64).abs()
        } else {
            (read_total - total).unsigned_abs() as f64
        };
        return error(ErrorType::WrongTotal, vec![], badness);
    }
    let negative: Vec<&(Value, Value)> =
        entries.iter().filter(|(_, b)| b.as_int().is_some_and(|b| b < 0)).collect();
    if !negative_balances && !negative.is_empty() {
        let badness = -(negative.iter().filter_map(|(_, b)| b.as_int()).sum::<i64>()) as f64;
        return error(
            ErrorType::NegativeValue,
            negative.iter().map(|(k, _)| k.clone()).collect(),
            badness,
        );
    }
    None
}

fn error_words(history: &Linted, e: &BankError, total: i64) -> String {
    let ops = history.ops();
    let read = &ops[e.read];
    let node = read.node.as_ref().map_or(String::new(), |n| format!(", node {n}"));
    let head = format!(
        "The read at {} (process {}{node}, {}) {}",
        place(history, e.read),
        read.process,
        secs(read.time_ns),
        e.kind.words()
    );
    let accounts: Vec<String> = e.accounts.iter().map(Value::to_string).collect();
    match e.kind {
        ErrorType::WrongTotal => {
            format!("{head}: its balances total {}, not {total}: {}.", e.total, read.value)
        }
        _ => format!("{head} ({}): {}.", accounts.join(", "), read.value),
    }
}

/// Most rows of the error table; points per plot series.
const SHOWN: usize = 50;
const POINTS: usize = 2000;

fn section(history: &Linted, evidence: &BankEvidence, errors: &[BankError]) -> Section {
    let ops = history.ops();
    let mut section = Section::new("Bank").with(Block::paragraph(format!(
        "{} reads of {} accounts; every read must sum to {}{}. {} reads were wrong.",
        evidence.read_count,
        evidence.accounts.len(),
        evidence.total.map_or("(nothing read)".into(), |t| t.to_string()),
        if evidence.negative_balances { "" } else { " with no negative balance" },
        evidence.error_count
    )));
    let mut by_node: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for &(at, total) in &evidence.totals {
        let node = ops[at].node.clone().unwrap_or_else(|| "reads".into());
        by_node.entry(node).or_default().push((ops[at].time_ns as f64 / 1e9, total as f64));
    }
    if !by_node.is_empty() {
        let mut series: Vec<Series> = by_node
            .into_iter()
            .map(|(name, points)| Series { name, points: thin(points, POINTS) })
            .collect();
        if let (Some(total), Some(first), Some(last)) =
            (evidence.total, evidence.totals.first(), evidence.totals.last())
        {
            let t = |p: usize| ops[p].time_ns as f64 / 1e9;
            series.push(Series {
                name: "expected total".into(),
                points: vec![(t(first.0), total as f64), (t(last.0), total as f64)],
            });
        }
        section.blocks.push(Block::Plot(Plot {
            title: "total of all accounts, per read".into(),
            x_label: "time read completed (s)".into(),
            y_label: "total".into(),
            time_axis: true,
            series,
        }));
    }
    if !errors.is_empty() {
        section.blocks.push(Block::Table(Table {
            caption: Some(format!("wrong reads ({} shown)", errors.len().min(SHOWN))),
            columns: ["read at", "error", "total", "balances"].map(String::from).to_vec(),
            rows: errors
                .iter()
                .take(SHOWN)
                .map(|e| {
                    vec![
                        format!("{} ({})", secs(ops[e.read].time_ns), place(history, e.read)),
                        kind_name(e.kind).to_string(),
                        e.total.to_string(),
                        ops[e.read].value.to_string(),
                    ]
                })
                .collect(),
        }));
        section.blocks.push(Block::Operations(Operations {
            caption: Some("wrong reads".into()),
            ops: errors
                .iter()
                .take(SHOWN)
                .map(|e| Highlight {
                    position: e.read,
                    role: Role::Culprit,
                    label: format!("{}: total {}", kind_name(e.kind), e.total),
                })
                .collect(),
        }));
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::CheckerOptions;
    use history::{History, Op};

    fn balances(b: &[(i64, Option<i64>)]) -> Value {
        Value::Map(b.iter().map(|&(k, v)| (k.into(), v.into())).collect())
    }

    fn read(p: u64, b: &[(i64, Option<i64>)]) -> [Op; 2] {
        [Op::invoke(p, "read", Value::Nil), Op::ok(p, "read", balances(b))]
    }

    fn transfer(from: i64, to: i64, amount: i64) -> Value {
        Value::Map(vec![
            (Value::kw("from"), from.into()),
            (Value::kw("to"), to.into()),
            (Value::kw("amount"), amount.into()),
        ])
    }

    fn check(bank: &Bank, ops: Vec<Op>) -> Outcome {
        bank.check(&History::from_ops(ops).lint().unwrap()).unwrap()
    }

    fn ev(o: &Outcome) -> &BankEvidence {
        o.evidence.get::<BankEvidence>().expect("bank evidence")
    }

    #[test]
    fn reads_that_sum_to_the_total_are_valid_and_transfers_are_not_checked() {
        let mut ops: Vec<Op> = read(0, &[(0, Some(10)), (1, Some(10))]).into();
        ops.push(Op::invoke(1, "transfer", transfer(0, 1, 3)));
        ops.push(Op::ok(1, "transfer", transfer(0, 1, 3)));
        ops.extend(read(0, &[(0, Some(7)), (1, Some(13))]));
        let o = check(&Bank { total: Some(20), ..Bank::default() }, ops);
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        assert_eq!(ev(&o).read_count, 2);
    }

    #[test]
    fn each_error_type_in_jepsens_order() {
        let bank = Bank {
            total: Some(20),
            accounts: Some(vec![0.into(), 1.into()]),
            negative_balances: false,
        };
        type Case<'a> = (&'a [(i64, Option<i64>)], ErrorType);
        let cases: [Case; 4] = [
            (&[(0, Some(10)), (7, Some(10))], ErrorType::UnexpectedKey),
            (&[(0, Some(20)), (1, None)], ErrorType::NilBalance),
            (&[(0, Some(10)), (1, Some(6))], ErrorType::WrongTotal),
            (&[(0, Some(25)), (1, Some(-5))], ErrorType::NegativeValue),
        ];
        for (b, kind) in cases {
            let o = check(&bank, read(0, b).into());
            assert_eq!(o.verdict, Verdict::Invalid, "{kind:?}");
            assert_eq!(ev(&o).first_error.as_ref().map(|e| e.kind), Some(kind));
            assert!(o.explanation.contains("line 2"), "{}", o.explanation);
        }
        let o = check(&bank, read(0, &[(0, Some(10)), (1, Some(6))]).into());
        assert!(o.explanation.contains("total 16, not 20"), "{}", o.explanation);
        let allowed = Bank { negative_balances: true, ..bank };
        assert_eq!(
            check(&allowed, read(0, &[(0, Some(25)), (1, Some(-5))]).into()).verdict,
            Verdict::Valid
        );
    }

    /// Without options the first read sets the total and the accounts (elle-cli);
    /// info and failed transfers and unfinished reads are ignored; nothing read is
    /// unknown.
    #[test]
    fn inferred_total_ignored_ops_and_nothing_read() {
        let mut ops: Vec<Op> = read(0, &[(0, Some(50)), (1, Some(50))]).into();
        ops.push(Op::invoke(1, "transfer", transfer(0, 1, 3)));
        ops.push(Op::info(1, "transfer", transfer(0, 1, 3)));
        ops.push(Op::invoke(2, "read", Value::Nil));
        ops.push(Op::fail(2, "read", Value::Nil));
        ops.extend(read(0, &[(0, Some(40)), (1, Some(59))]));
        let o = check(&Bank::default(), ops);
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!((ev(&o).total, ev(&o).error_count), (Some(100), 1));
        assert_eq!(check(&Bank::default(), vec![]).verdict, Verdict::Unknown);
        let bad =
            History::from_ops(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", 3.into())]);
        let err = Bank::default().check(&bad.lint().unwrap()).unwrap_err().to_string();
        assert!(err.starts_with("line 2:") && err.contains("map of accounts"), "{err}");
    }

    #[test]
    fn options_come_from_the_extension() {
        let mut o = CheckerOptions::default();
        o.extension.insert("total-amount".into(), 30.into());
        o.extension.insert("allow-negative-balances".into(), Value::Bool(true));
        let checker = CHECKER.checker(&o).unwrap();
        let out = checker
            .check(
                &History::from_ops(read(0, &[(0, Some(40)), (1, Some(-10))]).into())
                    .lint()
                    .unwrap(),
            )
            .unwrap();
        assert_eq!(out.verdict, Verdict::Valid, "{}", out.summary());
        o.extension.insert("group-size".into(), 3.into());
        assert!(CHECKER.checker(&o).is_err());
    }
}
