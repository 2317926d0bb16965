//! From a recorded history to a verdict: read `history.jsonl`, lint it, count what
//! happened, and hand the whole linted history to the workload's checker (a
//! checkers registry entry).
//!
//! The checker splits the history by key itself when it judges keys on their own
//! (Jepsen's `independent`), and every position it reports is a position in the
//! history file; the per-key verdicts (how many keys, which were not valid, why)
//! are its own ([`checkers::Outcome::parts`]). The whole check has a time budget
//! ([`CHECK_BUDGET`] unless the caller sets one): running out is `unknown`, never a
//! false `invalid`, and an unchecked run is never `valid`.
//!
//! A history file is analysed in bounded memory when the checker has a streaming
//! form ([`checkers::Checker::stream`]): see [`streamed`]. A checker without one gets
//! the whole linted history, as before.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use checkers::registry::{CheckerDef, CheckerOptions};
use checkers::{Part, Section, Stats};
use history::{Linted, OpKind};
use serde::Serialize;

use crate::exit::Failure;

mod streamed;

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
    /// The checker's reason and explanation, in its own words.
    pub explanation: String,
    /// The registry name of the checker, and whether it split the history by key
    /// (`cas-register, split by key`).
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
    /// Parts the checker judged on their own (one per key when split by key).
    pub checked: usize,
    /// The parts that were not valid, each with the checker's verdict, words and
    /// evidence (the whole history as one part, key `null`, when not split).
    pub not_valid: Vec<Part>,
    pub check_seconds: f64,
    /// `"history"`: every position in this analysis is a position in the history
    /// file (before this field existed, `not_valid` used per-key positions).
    pub positions: &'static str,
    /// The checker's own statistics (absent when it did not run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    /// The checker's name for reports and JUnit (`linearizable cas-register, split
    /// by key`).
    #[serde(skip)]
    pub check_name: String,
    /// The checker's report section (written into `results.json`'s `checks`).
    #[serde(skip)]
    pub section: Section,
}

/// How long a whole check may take before its verdict is `unknown`, unless the
/// caller sets a time limit of its own.
pub const CHECK_BUDGET: Duration = Duration::from_secs(120);

/// Memory a history held whole takes per byte of its JSON Lines file: measured on
/// the 10.75 M-entry history of `faultline test --system memory --rate 0
/// --concurrency 100 --time-limit 5` (1.15 GB of JSON Lines, 4.66 GB peak RSS
/// reading, linting and checking it whole), rounded up.
pub const HELD_BYTES_PER_FILE_BYTE: u64 = 5;

/// Which checker judges a history (a registry entry: the command line's registry, or
/// a test's own) and with which options.
#[derive(Debug, Clone)]
pub struct CheckWith {
    pub def: &'static CheckerDef,
    pub options: CheckerOptions,
}

impl From<&'static CheckerDef> for CheckWith {
    fn from(def: &'static CheckerDef) -> CheckWith {
        CheckWith { def, options: CheckerOptions::default() }
    }
}

/// Reads, lints and judges a history file. Unusable input is a 254 failure naming
/// the file and line. The file is streamed, never held whole, when the checker can
/// judge it that way.
pub fn analyze_file(path: &Path, checker: impl Into<CheckWith>) -> Result<Analysis, Failure> {
    let CheckWith { def, mut options } = checker.into();
    options.time_limit.get_or_insert(CHECK_BUDGET);
    let probe = def.checker(&options).map_err(Failure::crash)?;
    let source = checkers::stream::StreamSource { path: Some(path.to_path_buf()) };
    if probe.stream(&source).is_some() {
        return streamed::analyze(path, def, &options);
    }
    // The checker needs the whole history in memory: refuse one that would not fit
    // its memory limit (`unknown`, with the counts of a streamed scan), never crash.
    let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let needs = size.saturating_mul(HELD_BYTES_PER_FILE_BYTE);
    if needs > options.memory_limit as u64 {
        return streamed::too_big(path, def, &options, needs);
    }
    let read =
        history::read_path(path, Some(history::Format::Jsonl)).map_err(Failure::bad_input)?;
    let linted = read.history.lint().map_err(|f| {
        Failure::bad_input(format!(
            "the history breaks Jepsen's rules ({} defects):\n{f}",
            f.errors.len()
        ))
    })?;
    let mut analysis = analyze(&linted, CheckWith { def, options })?;
    analysis.warnings.extend(read.warnings);
    Ok(analysis)
}

/// Counts and judges a linted history.
pub fn analyze(linted: &Linted, checker: impl Into<CheckWith>) -> Result<Analysis, Failure> {
    let CheckWith { def, mut options } = checker.into();
    options.time_limit.get_or_insert(CHECK_BUDGET);
    let mut analysis = summarize(linted);
    judge(linted, def, &options, &mut analysis)?;
    Ok(analysis)
}

/// Counts per function and outcome; the verdict is `unknown` until [`judge`].
pub fn summarize(linted: &Linted) -> Analysis {
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
        checker: String::new(),
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
        positions: "history",
        stats: None,
        check_name: String::new(),
        section: Section::default(),
    }
}

/// Runs the checker on the whole history and sets the verdict, explanation and
/// evidence of `analysis`. A history the checker cannot read is unusable input
/// (254); options it refuses are a harness bug (255).
pub fn judge(
    linted: &Linted,
    def: &'static CheckerDef,
    options: &CheckerOptions,
    analysis: &mut Analysis,
) -> Result<(), Failure> {
    let started = Instant::now();
    let checker = def.checker(options).map_err(Failure::crash)?;
    let split = if checker.splits_by_key() { ", split by key" } else { "" };
    analysis.checker = format!("{}{split}", def.name);
    analysis.check_name = checker.name();
    if analysis.totals.ok == 0 {
        analysis.verdict = Verdict::Unknown;
        analysis.explanation = "no client operation succeeded: too little happened to judge".into();
        return Ok(());
    }
    let outcome = checker.check(linted).map_err(Failure::bad_input)?;
    record(outcome, started, analysis);
    Ok(())
}

/// Sets the verdict, explanation and evidence of `analysis` from a checker's outcome.
fn record(outcome: checkers::Outcome, started: Instant, analysis: &mut Analysis) {
    analysis.check_seconds = started.elapsed().as_secs_f64();
    analysis.verdict = outcome.verdict;
    analysis.explanation = outcome.summary();
    analysis.checked = outcome.stats.partitions;
    analysis.not_valid = outcome.not_valid();
    analysis.stats = Some(outcome.stats);
    analysis.section = outcome.section;
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
