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
    let mut values = Values::new();
    let init = model.init(&mut values);
    let mut ops = Vec::with_capacity(pairs.len());
    let mut has_return = Vec::with_capacity(pairs.len());
    let mut kept = Vec::with_capacity(pairs.len());
    let mut twin_prev = Vec::with_capacity(pairs.len());
    let mut last_twin: HashMap<M::Op, u32> = HashMap::new();
    // (history position, node)
    let mut events: Vec<(usize, u32)> = Vec::with_capacity(pairs.len() * 2);
    for pair in pairs {
        let invoke = &ops_in[pair.invoke];
        let completion = match history.outcome(pair) {
            OpKind::Fail => continue,
            OpKind::Ok => match pair.completion {
                Some(c) => Completion::Ok(&ops_in[c]),
                None => Completion::Unknown,
            },
            _ => Completion::Unknown,
        };
        let encoded = model.encode(invoke, completion, &mut values).map_err(|message| {
            CheckError::BadOperation { place: history.history().place(pair.invoke), message }
        })?;
        let Some(op) = encoded else { continue };
        let i = ops.len() as u32;
        ops.push(op);
        kept.push(*pair);
        events.push((pair.invoke, 2 * i));
        match (completion, pair.completion) {
            (Completion::Ok(_), Some(c)) => {
                has_return.push(true);
                events.push((c, 2 * i + 1));
                twin_prev.push(NONE);
            }
            _ => {
                has_return.push(false);
                twin_prev.push(last_twin.insert(op, i).unwrap_or(NONE));
            }
        }
    }
    events.sort_unstable_by_key(|&(pos, _)| pos);
    let returns = has_return.iter().filter(|&&r| r).count();
    Ok(Compiled {
        key,
        ops,
        has_return,
        events: events.into_iter().map(|(_, node)| node).collect(),
        twin_prev,
        pairs: kept,
        returns,
        values,
        init,
    })
}
