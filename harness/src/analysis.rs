//! From a recorded history to a verdict: read `history.jsonl`, lint it, count what
//! happened, and hand it to the workload's checker.
//!
//! The checker is the seam to the `checkers` crate: [`judge`] turns a linted history
//! and the workload's [`CheckerSpec`] into a [`Verdict`]. Without a checker for the
//! spec's model the verdict is `unknown` (exit 2), never `valid`: an unchecked run is
//! not green.

use std::collections::BTreeMap;
use std::path::Path;

use history::{Linted, OpKind};
use serde::Serialize;
use workloads::CheckerSpec;

use crate::exit::{Exit, Failure};

/// Jepsen's three-valued verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    Unknown,
}

impl Verdict {
    pub fn exit(self) -> Exit {
        match self {
            Verdict::Valid => Exit::Valid,
            Verdict::Invalid => Exit::Invalid,
            Verdict::Unknown => Exit::Unknown,
        }
    }
}

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
}

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
    let (verdict, explanation) = judge(&linted, spec, &analysis);
    analysis.verdict = verdict;
    analysis.explanation = explanation;
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
    }
}

/// The checker seam. Until the `checkers` crate provides the model named by `spec`,
/// a history cannot be judged: `unknown`, with the reason.
pub fn judge(_linted: &Linted, spec: &CheckerSpec, analysis: &Analysis) -> (Verdict, String) {
    if analysis.totals.ok == 0 {
        return (
            Verdict::Unknown,
            "no client operation succeeded: too little happened to judge".into(),
        );
    }
    (
        Verdict::Unknown,
        format!("no checker for the {} model is available in this build", spec.model),
    )
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
