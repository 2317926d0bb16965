//! Turns a linted history into the compact arrays the search walks: one
//! [`Compiled`] partition per key (or one for the whole history).
//!
//! Per partition: the model's `Copy` operations, which of them have a return event
//! (only `ok` ones: `info` and unfinished operations may take effect any time after
//! their call, so nothing ever forces them), the call/return events in history order,
//! and for every unknown-outcome operation its previous interchangeable twin (same
//! encoded op, also unknown): the search linearizes twins in call order only, which
//! removes the factorial blow-up of identical crashed writes without losing any
//! linearization (any order of identical, unconstrained, already-invoked operations
//! can be renamed into that one).

use std::collections::HashMap;

use history::{Linted, OpKind, Pair, Value};

use super::model::{Completion, Model, Partitioning, Values};
use crate::verdict::CheckError;

/// Marks "no such op" in `u32` index arrays.
pub const NONE: u32 = u32::MAX;

/// One independently checkable sub-history, ready for the search.
#[derive(Debug)]
pub struct Compiled<M: Model> {
    /// The key of this partition (`None` for an unsplit history).
    pub key: Option<Value>,
    pub ops: Vec<M::Op>,
    /// Whether op `i` has a return event (its completion was `ok`).
    pub has_return: Vec<bool>,
    /// Event nodes in history order: `2i` is op `i`'s call, `2i + 1` its return.
    pub events: Vec<u32>,
    /// The earlier interchangeable op of op `i`, or [`NONE`].
    pub twin_prev: Vec<u32>,
    /// Where op `i` came from in the history.
    pub pairs: Vec<Pair>,
    pub returns: usize,
    pub values: Values,
    pub init: M::State,
}

impl<M: Model> Compiled<M> {
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// Splits (when asked and the model allows) and compiles every partition.
pub fn compile<M: Model>(
    model: &M,
    history: &Linted,
    split: bool,
) -> Result<Vec<Compiled<M>>, CheckError> {
    let groups: Vec<(Option<Value>, Vec<Pair>)> =
        if split && model.partition() == Partitioning::ByKey {
            history.by_key().into_iter().collect()
        } else {
            vec![(None, history.client_pairs().copied().collect())]
        };
    groups.into_iter().map(|(key, pairs)| compile_one(model, history, key, &pairs)).collect()
}

fn compile_one<M: Model>(
    model: &M,
    history: &Linted,
    key: Option<Value>,
    pairs: &[Pair],
) -> Result<Compiled<M>, CheckError> {
    let ops_in = history.ops();
    let mut builder = Builder::new(model);
    for pair in pairs {
        let completion = pair.completion.map(|c| &ops_in[c]);
        builder.push(model, &ops_in[pair.invoke], completion, *pair, || {
            history.history().place(pair.invoke)
        })?;
    }
    Ok(builder.finish(key))
}

/// One kept operation, before ids are given.
#[derive(Debug)]
struct Entry<O> {
    op: O,
    pair: Pair,
    has_return: bool,
}

/// Compiles one partition from operations given in any order (a streamed history
/// delivers them as they complete): each is encoded when it comes, and
/// [`Builder::finish`] numbers them in invocation order, so the result is the
/// same [`Compiled`] whatever the order they came in.
#[derive(Debug)]
pub struct Builder<M: Model> {
    values: Values,
    init: M::State,
    entries: Vec<Entry<M::Op>>,
}

impl<M: Model> Builder<M> {
    pub fn new(model: &M) -> Builder<M> {
        let mut values = Values::new();
        let init = model.init(&mut values);
        Builder { values, init, entries: Vec::new() }
    }

    /// Operations kept so far.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds one operation: its invocation, its completion (`None` when the history
    /// ended first) and their positions; `place` names the invocation for an error.
    /// `fail`ed operations and those the model drops are not kept.
    pub fn push(
        &mut self,
        model: &M,
        invoke: &history::Op,
        completion: Option<&history::Op>,
        pair: Pair,
        place: impl FnOnce() -> String,
    ) -> Result<(), CheckError> {
        let completion = match completion {
            Some(c) if c.kind == OpKind::Fail => return Ok(()),
            Some(c) if c.kind == OpKind::Ok && pair.completion.is_some() => Completion::Ok(c),
            _ => Completion::Unknown,
        };
        let encoded = model
            .encode(invoke, completion, &mut self.values)
            .map_err(|message| CheckError::BadOperation { place: place(), message })?;
        if let Some(op) = encoded {
            let has_return = matches!(completion, Completion::Ok(_));
            self.entries.push(Entry { op, pair, has_return });
        }
        Ok(())
    }

    /// The partition, its operations numbered in invocation order.
    pub fn finish(self, key: Option<Value>) -> Compiled<M> {
        let Builder { values, init, mut entries } = self;
        entries.sort_unstable_by_key(|e| e.pair.invoke);
        let n = entries.len();
        let mut ops = Vec::with_capacity(n);
        let mut has_return = Vec::with_capacity(n);
        let mut kept = Vec::with_capacity(n);
        let mut twin_prev = Vec::with_capacity(n);
        let mut last_twin: HashMap<M::Op, u32> = HashMap::new();
        // (history position, node)
        let mut events: Vec<(usize, u32)> = Vec::with_capacity(n * 2);
        for (i, e) in entries.into_iter().enumerate() {
            let i = i as u32;
            ops.push(e.op);
            kept.push(e.pair);
            events.push((e.pair.invoke, 2 * i));
            match (e.has_return, e.pair.completion) {
                (true, Some(c)) => {
                    has_return.push(true);
                    events.push((c, 2 * i + 1));
                    twin_prev.push(NONE);
                }
                _ => {
                    has_return.push(false);
                    twin_prev.push(last_twin.insert(e.op, i).unwrap_or(NONE));
                }
            }
        }
        events.sort_unstable_by_key(|&(pos, _)| pos);
        let returns = has_return.iter().filter(|&&r| r).count();
        Compiled {
            key,
            ops,
            has_return,
            events: events.into_iter().map(|(_, node)| node).collect(),
            twin_prev,
            pairs: kept,
            returns,
            values,
            init,
        }
    }
}
