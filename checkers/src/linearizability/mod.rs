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
//! - `streaming`: the checker on a streamed history ([`crate::stream`]): keys
//!   compiled as they arrive, searched and dropped once done.
//!
//! # As a checker
//! [`Linearizable`] is the [`Checker`]: it is handed the whole history, splits it by
//! key itself when the model is per key (every model is, unless it says otherwise:
//! an operation's `key` names an independent object, as in Jepsen's `independent`
//! checker), and reports positions in that history. Its evidence is
//! [`LinearizabilityEvidence`] (the anomaly of the first key found not
//! linearizable), its report section the Porcupine-style
//! [`LinearizationView`](crate::section::LinearizationView).

pub mod cache;
pub mod compile;
pub mod explain;
pub mod keyed;
pub mod model;
pub mod parallel;
pub mod search;
mod streaming;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use history::Linted;
use serde::{Deserialize, Serialize};

pub use explain::{LinearizabilityAnomaly, OpRef, view};
pub use model::{Completion, Model, Partitioning, Values};

use crate::registry::CheckerOptions;
use crate::section::{Block, Section};
use crate::stream::{StreamCheck, StreamSource};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Part, PartOutcome, Stats, Verdict};

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

impl From<&CheckerOptions> for Options {
    fn from(o: &CheckerOptions) -> Options {
        Options {
            time_limit: o.time_limit,
            memory_limit: o.memory_limit,
            partition: o.partition,
            threads: o.threads,
        }
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

/// What a model file's registry entry calls: the model (or why its options are
/// unusable) as a boxed checker with the registry's options.
pub fn checker<M: Model + Send + 'static>(
    model: Result<M, String>,
    options: &CheckerOptions,
) -> Result<Box<dyn Checker + Send + Sync>, CheckError> {
    let model = model.map_err(CheckError::BadModel)?;
    options.refuse_extension("linearizability")?;
    Ok(Box::new(Linearizable::new(model, Options::from(options))))
}

/// The evidence of a linearizability check (in the outcome's JSON: `model`,
/// `split_by_key` and, when invalid, `anomaly`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearizabilityEvidence {
    pub model: String,
    /// Each key was checked as an object of its own.
    pub split_by_key: bool,
    /// Why the (first invalid) part is not linearizable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<LinearizabilityAnomaly>,
}

/// The anomaly a linearizability outcome carries, if it is one.
pub fn anomaly_of(outcome: &Outcome) -> Option<&LinearizabilityAnomaly> {
    outcome.evidence.get::<LinearizabilityEvidence>()?.anomaly.as_ref()
}

impl<M: Model> Checker for Linearizable<M> {
    fn name(&self) -> String {
        let split = if self.splits_by_key() { ", split by key" } else { "" };
        format!("linearizable {}{split}", self.model.name())
    }

    fn splits_by_key(&self) -> bool {
        self.options.partition && self.model.partition() == Partitioning::ByKey
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let per_key = self.model.partition() == Partitioning::ByKey;
        let keys = distinct_keys(history);
        if per_key && !self.options.partition && keys > 1 {
            // one object per key, all in one search: the product model
            check_with(&keyed::Keyed(&self.model), history, false, &self.options)
        } else {
            // without keys there is nothing to split (and no product to build)
            let split = per_key && self.options.partition && keys > 0;
            check_with(&self.model, history, split, &self.options)
        }
    }

    /// Split by key, or a model that never splits: the streamed form. Unsplit per-key
    /// checking builds the product of the keys, which needs to know them all before
    /// the first operation is encoded: not offered.
    fn stream(&self, source: &StreamSource) -> Option<Box<dyn StreamCheck + '_>> {
        let grouping = match self.model.partition() {
            Partitioning::ByKey if self.options.partition => streaming::Grouping::ByKey,
            Partitioning::ByKey => return None,
            Partitioning::Whole => streaming::Grouping::Whole,
        };
        Some(Box::new(streaming::Stream::new(&self.model, &self.options, grouping, source)))
    }
}

/// 0 when no client operation has a key, 1 for one key, 2 for more than one.
fn distinct_keys(history: &Linted) -> usize {
    let mut first = None;
    for pair in history.client_pairs() {
        if let Some(k) = &history.ops()[pair.invoke].key {
            match first {
                None => first = Some(k),
                Some(f) if f != k => return 2,
                Some(_) => {}
            }
        }
    }
    usize::from(first.is_some())
}

fn check_with<M: Model>(
    model: &M,
    history: &Linted,
    split: bool,
    options: &Options,
) -> Result<Outcome, CheckError> {
    let start = Instant::now();
    let deadline = options.time_limit.map(|t| start + t);
    let partitions = compile::compile(model, history, split)?;
    let run = parallel::run(model, &partitions, options, deadline);
    let decided = match run.result {
        parallel::Overall::Valid => Decided::Valid,
        parallel::Overall::Unknown(why) => Decided::Unknown(why),
        parallel::Overall::Invalid { partition, blocked } => {
            let part = &partitions[partition];
            // Porcupine's logs record no times: the "time" is the line position.
            let timed = history.ops().iter().any(crate::stream::is_timed);
            let anomaly = explain::anomaly(model, part, &blocked, history, timed);
            Decided::Invalid { key: part.key.clone(), anomaly: Box::new(anomaly) }
        }
    };
    let stats = Stats {
        ops: history.client_pairs().count(),
        partitions: partitions.len(),
        elapsed: start.elapsed(),
        counters: BTreeMap::from([
            ("steps", run.steps),
            ("cache_entries", run.cache_entries),
            ("peak_cache_bytes", run.peak_cache_bytes),
        ]),
    };
    Ok(outcome(model, options, split, decided, stats))
}

/// What the search decided, with the anomaly already explained.
pub(crate) enum Decided {
    Valid,
    Unknown(search::GaveUp),
    Invalid { key: Option<history::Value>, anomaly: Box<LinearizabilityAnomaly> },
}

/// The outcome of a check, in words, evidence and a report section; `stats.partitions`
/// is the number of parts judged (keys, when split).
pub(crate) fn outcome<M: Model>(
    model: &M,
    options: &Options,
    split: bool,
    decided: Decided,
    stats: Stats,
) -> Outcome {
    let keys = stats.partitions;
    let many = split && keys > 1;
    let evidence_of = |anomaly| {
        Evidence::new(LinearizabilityEvidence {
            model: model.name().to_string(),
            split_by_key: split,
            anomaly,
        })
    };
    let mut outcome = match decided {
        Decided::Valid => Outcome::new(
            Verdict::Valid,
            if many {
                format!("a linearization exists for each of the {keys} keys")
            } else {
                "a linearization exists".into()
            },
            "",
        ),
        Decided::Unknown(reason) => {
            let mut why = reason.describe(options);
            if many {
                why += &format!(" before all {keys} keys were decided");
            }
            Outcome::new(Verdict::Unknown, why, "")
        }
        Decided::Invalid { key, anomaly } => {
            let paragraph = explain::paragraph(model, &anomaly);
            let reason = match (&anomaly.key, split) {
                (Some(k), true) if many => {
                    format!("not linearizable on key {k} (one of {keys} keys checked on their own)")
                }
                (Some(k), true) => format!("not linearizable on key {k}"),
                _ => "not linearizable".to_string(),
            };
            let mut out = Outcome::new(Verdict::Invalid, reason, String::new());
            out.section = Section::new("Linearizability");
            if many {
                out.section.blocks.push(Block::paragraph(format!(
                    "Each of the {keys} keys was checked as an object of its own (Jepsen's \
                     independent checker). The search stops at the first key found not \
                     linearizable, so the other keys may or may not be linearizable."
                )));
            }
            out.section.blocks.push(Block::Linearization(view(&anomaly)));
            let shared = evidence_of(Some(*anomaly));
            if split {
                // the key's evidence is the outcome's (one value, shared)
                out.parts.push(Part {
                    key,
                    outcome: PartOutcome {
                        verdict: Verdict::Invalid,
                        reason: "not linearizable".into(),
                        explanation: paragraph.clone(),
                        evidence: shared.clone(),
                    },
                });
            }
            out.explanation = paragraph;
            out.evidence = shared;
            out
        }
    };
    if outcome.evidence.is_empty() {
        outcome.evidence = evidence_of(None);
    }
    outcome.stats = stats;
    outcome
}
