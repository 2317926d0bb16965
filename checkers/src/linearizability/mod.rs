//! Linearizability: is there one order of the operations, each taking effect at an
//! instant between its invocation and its completion, that a sequential model accepts?
//!
//! The search is Wing & Gong's, as refined by Lowe and by Porcupine: walk a linked
//! list of call and return events, linearize a pending call when the model accepts it,
//! backtrack on a return whose operation could not be placed, and remember every
//! (set of linearized operations, model state) pair already explored. Jepsen's
//! semantics decide what each completion means:
//! - `ok`: it happened, between invocation and completion;
//! - `fail`: it did not happen, so it is dropped;
//! - `info` or no completion: it may take effect at any point after its invocation,
//!   or never. Such an operation has no return event, so it never blocks the search.
//!
//! # Why it is fast (each is sound: it never changes a verdict)
//! - Operations that constrain nothing are dropped before the search: `fail`ed ones
//!   and reads with unknown results.
//! - Each partition is compiled once into arrays of small `Copy` operations and
//!   states (interned values; hashed strings for `kv`), so a step copies a few words.
//! - The cache key of (linearized set, state) is kept incrementally: the set's hash is
//!   the XOR of a random word per member (Zobrist), updated in O(1) per step; entries
//!   keep the exact bitset in an arena, so a hash collision never merges two states.
//! - Identical unknown-outcome operations (same encoded op, both already invoked, no
//!   return to meet) are interchangeable: only the earliest not yet placed may be
//!   placed next, which removes the factorial blow-up of crashed duplicate writes.
//! - Partitions run on all cores; the first invalid one stops the rest.
//!
//! # Layout
//! - [`model`]: the [`Model`] trait and the value interner models use.
//! - [`keyed`]: a per-key model over a whole, unsplit history.
//! - [`compile`]: turns a linted history into compact per-partition arrays.
//! - [`cache`]: the (linearized set, state) hash set, bounded by a memory limit.
//! - [`search`]: the search itself, allocation-free in its loop.
//! - [`parallel`]: partitions checked on all cores; the first invalid stops the rest.
//! - [`explain`]: turns a failed search into data and a paragraph of plain words.

pub mod cache;
pub mod compile;
pub mod explain;
pub mod keyed;
pub mod model;
pub mod parallel;
pub mod search;

use std::time::{Duration, Instant};

use history::Linted;

pub use explain::{LinearizabilityAnomaly, OpRef};
pub use model::{Completion, Model, Partitioning, Values};

use crate::verdict::{Anomaly, CheckError, Checker, Outcome, Stats, Verdict};

/// How a linearizability check may spend time and memory.
#[derive(Debug, Clone)]
pub struct Options {
    /// Give up with `Unknown` after this long (measured from the start of the check).
    pub time_limit: Option<Duration>,
    /// Give up with `Unknown` before the caches of the partitions being searched
    /// would together exceed this many bytes.
    pub memory_limit: usize,
    /// Split the history by key when the model allows it (P-compositionality).
    pub partition: bool,
    /// Worker threads; `None` = all cores.
    pub threads: Option<usize>,
}

impl Default for Options {
    fn default() -> Options {
        Options { time_limit: None, memory_limit: 4 << 30, partition: true, threads: None }
    }
}

/// The linearizability checker for one model.
#[derive(Debug, Clone)]
pub struct Linearizable<M> {
    pub model: M,
    pub options: Options,
}

impl<M: Model> Linearizable<M> {
    pub fn new(model: M, options: Options) -> Self {
        Linearizable { model, options }
    }
}

impl<M: Model> Checker for Linearizable<M> {
    fn name(&self) -> String {
        format!("linearizable {}", self.model.name())
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        if !self.options.partition && self.model.partition() == Partitioning::ByKey {
            // one object per key, all in one search: the product model
            check_with(&keyed::Keyed(&self.model), history, &self.options)
        } else {
            check_with(&self.model, history, &self.options)
        }
    }
}

fn check_with<M: Model>(
    model: &M,
    history: &Linted,
    options: &Options,
) -> Result<Outcome, CheckError> {
    let start = Instant::now();
    let deadline = options.time_limit.map(|t| start + t);
    let partitions = compile::compile(model, history, options.partition)?;
    let run = parallel::run(model, &partitions, options, deadline);
    let mut outcome = match run.result {
        parallel::Overall::Valid => Outcome {
            verdict: Verdict::Valid,
            reason: "a linearization exists".into(),
            explanation: String::new(),
            anomaly: None,
            stats: Stats::default(),
        },
        parallel::Overall::Unknown(reason) => Outcome {
            verdict: Verdict::Unknown,
            reason: reason.describe(options),
            explanation: String::new(),
            anomaly: None,
            stats: Stats::default(),
        },
        parallel::Overall::Invalid { partition, blocked } => {
            let anomaly = explain::anomaly(model, &partitions[partition], &blocked, history);
            Outcome {
                verdict: Verdict::Invalid,
                reason: "no linearization exists".into(),
                explanation: explain::paragraph(model, &anomaly),
                anomaly: Some(Anomaly::NotLinearizable(anomaly)),
                stats: Stats::default(),
            }
        }
    };
    outcome.stats = Stats {
        ops: history.client_pairs().count(),
        partitions: partitions.len(),
        steps: run.steps,
        cache_entries: run.cache_entries,
        peak_cache_bytes: run.peak_cache_bytes,
        elapsed: start.elapsed(),
    };
    Ok(outcome)
}
