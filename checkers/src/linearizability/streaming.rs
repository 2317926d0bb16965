//! The linearizability checker on a streamed history ([`crate::stream`]): the same
//! verdict as [`Linearizable::check`](super::Linearizable), in memory that follows
//! the keys in use at once rather than the history.
//!
//! Each operation is encoded into its key's [`Builder`] when it arrives (a few
//! words: the model's compact op and two positions). When the harness says a key is
//! done, that key is compiled and searched at once and everything kept of it is
//! dropped, except, for the first key found not linearizable, what its explanation
//! needs. Keys still open at the end are judged then, in key order. The
//! explanation reads the operations it names again through the [`Lookup`]. The
//! compiled partition is the one the whole-history path builds (the builder numbers
//! operations in invocation order however they came), so the search, and with it
//! the verdict and the anomaly, are the same.
//!
//! As in the whole-history path, the search stops at the first key found not
//! linearizable: later keys are not searched. Keys are searched one at a time, on
//! the thread that feeds the stream (the harness reads the file on another).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use history::Value;

use super::cache::Budget;
use super::compile::{Builder, Compiled};
use super::model::Model;
use super::search::{Blocked, Found, GaveUp, Limits, search};
use super::{Decided, Options, explain, outcome};
use crate::stream::{Lookup, StreamCheck, StreamOp, StreamSource, is_timed};
use crate::verdict::{CheckError, Outcome, Stats};

/// How the stream groups operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Grouping {
    /// One part per key (Jepsen's `independent`).
    ByKey,
    /// The whole history is one object (a model that does not split by key).
    Whole,
}

pub(crate) struct Stream<'a, M: Model> {
    model: &'a M,
    options: &'a Options,
    grouping: Grouping,
    source: StreamSource,
    start: Instant,
    deadline: Option<Instant>,
    budget: Budget,
    stop: AtomicBool,
    live: HashMap<Option<Value>, Builder<M>>,
    /// Keys judged and dropped: an operation on one of them is a caller's error.
    done: HashSet<Option<Value>>,
    judged: usize,
    any_key: bool,
    client_ops: usize,
    timed: bool,
    steps: u64,
    cache_entries: u64,
    peak_cache_bytes: u64,
    invalid: Option<(Compiled<M>, Blocked<M::State>)>,
    gave_up: Option<GaveUp>,
}

impl<'a, M: Model> Stream<'a, M> {
    pub(crate) fn new(
        model: &'a M,
        options: &'a Options,
        grouping: Grouping,
        source: &StreamSource,
    ) -> Stream<'a, M> {
        let start = Instant::now();
        Stream {
            model,
            options,
            grouping,
            source: source.clone(),
            start,
            deadline: options.time_limit.map(|t| start + t),
            budget: Budget::new(options.memory_limit),
            stop: AtomicBool::new(false),
            live: HashMap::new(),
            done: HashSet::new(),
            judged: 0,
            any_key: false,
            client_ops: 0,
            timed: false,
            steps: 0,
            cache_entries: 0,
            peak_cache_bytes: 0,
            invalid: None,
            gave_up: None,
        }
    }

    /// Compiles and searches one part, keeping only its verdict (and, for the first
    /// invalid one, what explains it).
    fn judge(&mut self, key: Option<Value>, builder: Builder<M>) {
        self.judged += 1;
        if self.invalid.is_some() {
            return; // the search stops at the first part found not linearizable
        }
        let part = builder.finish(key);
        let limits = Limits { deadline: self.deadline, memory: &self.budget, stop: &self.stop };
        let searched = search(self.model, &part, &limits);
        self.steps += searched.steps;
        self.cache_entries += searched.cache_entries;
        self.peak_cache_bytes = self.peak_cache_bytes.max(searched.cache_bytes);
        match searched.found {
            Found::Valid => {}
            Found::Invalid(blocked) => self.invalid = Some((part, blocked)),
            Found::Unknown(why) => {
                if self.gave_up.is_none() || self.gave_up == Some(GaveUp::Stopped) {
                    self.gave_up = Some(why);
                }
            }
        }
    }
}

impl<M: Model> StreamCheck for Stream<'_, M> {
    fn op(&mut self, op: StreamOp<'_>) -> Result<(), CheckError> {
        self.timed =
            self.timed || is_timed(op.invoke) || op.completion.is_some_and(|(c, _)| is_timed(c));
        if op.is_nemesis() {
            return Ok(());
        }
        self.client_ops += 1;
        let key = match self.grouping {
            Grouping::ByKey => op.invoke.key.clone(),
            Grouping::Whole => None,
        };
        self.any_key |= op.invoke.key.is_some();
        if self.done.contains(&key) {
            return Err(CheckError::BadOperation {
                place: self.source.place(op.invoke_line),
                message: format!(
                    "an operation on key {} came after the key was declared done (a bug in \
                     what feeds the stream)",
                    key.as_ref().map_or("nil".to_string(), Value::to_string)
                ),
            });
        }
        if self.invalid.is_some() {
            // nothing more will be searched; only the count of parts matters
            self.live.entry(key).or_insert_with(|| Builder::new(self.model));
            return Ok(());
        }
        let model = self.model;
        let builder = self.live.entry(key).or_insert_with(|| Builder::new(model));
        let source = &self.source;
        builder.push(model, op.invoke, op.completion.map(|(c, _)| c), op.pair(), || {
            source.place(op.invoke_line)
        })
    }

    fn key_done(&mut self, key: Option<&Value>) -> Result<(), CheckError> {
        if self.grouping == Grouping::Whole {
            return Ok(());
        }
        let key = key.cloned();
        if let Some(builder) = self.live.remove(&key) {
            self.judge(key.clone(), builder);
        }
        self.done.insert(key);
        Ok(())
    }

    fn finish(mut self: Box<Self>, lookup: &dyn Lookup) -> Result<Outcome, CheckError> {
        // The rest in key order, as the whole-history path orders its partitions.
        let rest: BTreeMap<Option<Value>, Builder<M>> =
            std::mem::take(&mut self.live).into_iter().collect();
        for (key, builder) in rest {
            self.judge(key, builder);
        }
        if self.judged == 0 {
            // no client operation: one empty object, trivially linearizable
            self.judged = 1;
        }
        let split = self.grouping == Grouping::ByKey && self.any_key;
        let decided = match (self.invalid.take(), self.gave_up) {
            (Some((part, blocked)), _) => {
                let fetched = lookup.fetch(&explain::positions_needed(&part, &blocked))?;
                let anomaly = explain::anomaly(self.model, &part, &blocked, &fetched, self.timed);
                Decided::Invalid { key: part.key.clone(), anomaly: Box::new(anomaly) }
            }
            (None, Some(why)) => Decided::Unknown(why),
            (None, None) => Decided::Valid,
        };
        let stats = Stats {
            ops: self.client_ops,
            partitions: self.judged,
            elapsed: self.start.elapsed(),
            counters: BTreeMap::from([
                ("steps", self.steps),
                ("cache_entries", self.cache_entries),
                ("peak_cache_bytes", self.peak_cache_bytes),
            ]),
        };
        Ok(outcome(self.model, self.options, split, decided, stats))
    }
}
