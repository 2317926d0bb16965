//! From a recorded history to a verdict: read `history.jsonl`, lint it, count what
//! happened, and hand it to the workload's checker.
//!
//! [`judge`] hands the linted history to the `checkers` crate's linearizability
//! checker for the workload's model. A workload over independent keys (Jepsen's
//! `independent` checker) is split here: one sub-history per key, each checked on
//! its own, verdicts merged (invalid beats unknown beats valid). The whole check has
//! a time budget; a key that cannot be decided within it is `unknown`, and an
//! unchecked run is never `valid`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use checkers::linearizability::Options;
use checkers::models::ModelName;
use history::{History, Linted, OpKind, Pair, Value};
use serde::Serialize;
use workloads::CheckerSpec;

use crate::exit::Failure;

pub use checkers::Verdict;

/// Outcomes of one function (`read`, `write`, `cas`).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Outcomes {
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    /// Invoked but never completed (the run ended first): counts as info.
    pub open: u64,
}

/// Latency of completed operations of one function, in milliseconds.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Latency {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Latency {
    fn of(mut nanos: Vec<u64>) -> Latency {
        if nanos.is_empty() {
            return Latency::default();
        }
        nanos.sort_unstable();
        // Nearest-rank quantiles.
        let q = |p: f64| {
            let rank = ((p * nanos.len() as f64).ceil() as usize).clamp(1, nanos.len());
            nanos[rank - 1] as f64 / 1e6
        };
        Latency {
            count: nanos.len(),
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: nanos[nanos.len() - 1] as f64 / 1e6,
        }
    }
}

/// What the analysis found.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub verdict: Verdict,
    pub explanation: String,
    pub checker: String,
    /// Lines in the history (client and nemesis, invocations and completions).
    pub ops: usize,
    pub client_operations: usize,
    pub nemesis_operations: usize,
    pub by_f: BTreeMap<String, Outcomes>,
    pub totals: Outcomes,
    /// Latency of `ok` operations per function.
    pub latency_ok: BTreeMap<String, Latency>,
    pub keys: usize,
    pub warnings: Vec<String>,
    /// Sub-histories the checker judged (one per key when split by key).
    pub checked: usize,
    /// The checker's full outcome for every key that was not valid.
    pub not_valid: Vec<KeyOutcome>,
    pub check_seconds: f64,
}

/// The checker's outcome for one key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyOutcome {
    /// The key as the history writes it (JSON form of the value).
    #[serde(serialize_with = "key_json")]
    pub key: Option<Value>,
    pub outcome: checkers::Outcome,
}

fn key_json<S: serde::Serializer>(key: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize as _;
    key.as_ref().map(Value::to_json).serialize(s)
}

/// How long a whole check may take before its open keys are `unknown`.
pub const CHECK_BUDGET: Duration = Duration::from_secs(120);

/// Reads, lints and judges a history file. Unusable input is a 254 failure naming
/// the file and line.
pub fn analyze_file(path: &Path, spec: &CheckerSpec) -> Result<Analysis, Failure> {
    let read =
        history::read_path(path, Some(history::Format::Jsonl)).map_err(Failure::bad_input)?;
    let linted = read.history.lint().map_err(|f| {
        Failure::bad_input(format!(
            "the history breaks Jepsen's rules ({} defects):\n{f}",
            f.errors.len()
        ))
    })?;
    let mut analysis = summarize(&linted, spec);
    analysis.warnings.extend(read.warnings);
    judge(&linted, spec, &mut analysis, CHECK_BUDGET)?;
    Ok(analysis)
}

/// Counts per function and outcome.
pub fn summarize(linted: &Linted, spec: &CheckerSpec) -> Analysis {
    let mut by_f: BTreeMap<String, Outcomes> = BTreeMap::new();
    let mut totals = Outcomes::default();
    let mut client_operations = 0;
    let mut latencies: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for pair in linted.client_pairs() {
        client_operations += 1;
        let f = &linted.ops()[pair.invoke].f;
        if let Some(c) = pair.completion.filter(|_| linted.outcome(pair) == OpKind::Ok) {
            let took = linted.ops()[c].time_ns.saturating_sub(linted.ops()[pair.invoke].time_ns);
            latencies.entry(f.clone()).or_default().push(took);
        }
        let entry = by_f.entry(f.clone()).or_default();
        for o in [entry, &mut totals] {
            match (pair.completion, linted.outcome(pair)) {
                (None, _) => o.open += 1,
                (Some(_), OpKind::Ok) => o.ok += 1,
                (Some(_), OpKind::Fail) => o.fail += 1,
                (Some(_), _) => o.info += 1,
            }
        }
    }
    let nemesis_operations = linted.pairs().len() - client_operations;
    Analysis {
        verdict: Verdict::Unknown,
        explanation: String::new(),
        checker: format!("{}{}", spec.model, if spec.split_by_key { ", split by key" } else { "" }),
        ops: linted.ops().len(),
        client_operations,
        nemesis_operations,
        by_f,
        totals,
        latency_ok: latencies.into_iter().map(|(f, l)| (f, Latency::of(l))).collect(),
        keys: linted.by_key().len(),
        warnings: linted.warnings().to_vec(),
        checked: 0,
        not_valid: Vec::new(),
        check_seconds: 0.0,
    }
}

/// The operations of some pairs as a history of their own (original order, lines and
/// source kept, so the checker's messages point into the real file).
fn sub_history(linted: &Linted, pairs: &[Pair]) -> History {
    let mut positions: Vec<usize> =
        pairs.iter().flat_map(|p| std::iter::once(p.invoke).chain(p.completion)).collect();
    positions.sort_unstable();
    let full = linted.history();
    let ops = positions.iter().map(|&i| full.ops[i].clone()).collect();
    let lines = positions.iter().map(|&i| full.lines.get(i).copied().unwrap_or(i + 1)).collect();
    let mut h = History::with_lines(ops, lines);
    h.source = full.source.clone();
    h
}

/// Runs the workload's checker and sets the verdict and explanation of `analysis`.
/// A history the model cannot read is unusable input (254).
pub fn judge(
    linted: &Linted,
    spec: &CheckerSpec,
    analysis: &mut Analysis,
    budget: Duration,
) -> Result<(), Failure> {
    let started = Instant::now();
    if analysis.totals.ok == 0 {
        analysis.verdict = Verdict::Unknown;
        analysis.explanation = "no client operation succeeded: too little happened to judge".into();
        return Ok(());
    }
    let model: ModelName = spec.model.parse().map_err(Failure::crash)?;
    let groups: Vec<(Option<Value>, Vec<Pair>)> = if spec.split_by_key {
        linted.by_key().into_iter().collect()
    } else {
        vec![(None, linted.client_pairs().copied().collect())]
    };
    let mut verdict = checkers::Verdict::Valid;
    for (key, pairs) in groups {
        let sub = sub_history(linted, &pairs);
        let sub = sub.lint().map_err(|f| Failure::bad_input(format!("key {key:?}: {f}")))?;
        let left = budget.saturating_sub(started.elapsed()).max(Duration::from_millis(1));
        let options = Options { time_limit: Some(left), partition: false, ..Options::default() };
        let checker = model.linearizable(None, options).map_err(Failure::crash)?;
        let outcome = checker.check(&sub).map_err(Failure::bad_input)?;
        analysis.checked += 1;
        verdict = verdict.merge(outcome.verdict);
        if outcome.verdict != checkers::Verdict::Valid {
            analysis.not_valid.push(KeyOutcome { key, outcome });
        }
    }
    analysis.check_seconds = started.elapsed().as_secs_f64();
    analysis.verdict = verdict;
    let keys = |v: checkers::Verdict| {
        analysis.not_valid.iter().filter(|k| k.outcome.verdict == v).collect::<Vec<_>>()
    };
    let what = if spec.split_by_key { "keys" } else { "histories" };
    analysis.explanation = match verdict {
        checkers::Verdict::Valid => format!(
            "linearizable: all {} {what} have a legal {} order",
            analysis.checked, spec.model
        ),
        checkers::Verdict::Invalid => {
            let bad = keys(checkers::Verdict::Invalid);
            let first = &bad[0];
            let key = first.key.as_ref().map(|k| format!("key {k}: ")).unwrap_or_default();
            format!(
                "not linearizable ({} of {} {what}); {key}{}: {}",
                bad.len(),
                analysis.checked,
                first.outcome.reason,
                first.outcome.explanation
            )
        }
        checkers::Verdict::Unknown => {
            let open = keys(checkers::Verdict::Unknown);
            format!(
                "undecided for {} of {} {what} (e.g. {}: {})",
                open.len(),
                analysis.checked,
                open[0].key.as_ref().map_or("the history".into(), |k| format!("key {k}")),
                open[0].outcome.reason
            )
        }
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let l = Latency::of((1..=100).map(|ms| ms * 1_000_000).collect());
        assert_eq!(
            (l.count, l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms),
            (100, 50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(Latency::of(vec![]), Latency::default());
        let one = Latency::of(vec![3_000_000]);
        assert_eq!((one.p50_ms, one.max_ms), (3.0, 3.0));
    }
}
