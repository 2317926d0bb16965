//! Checking a per-key model without splitting the history: the product of one copy
//! of the model per key, as one model.
//!
//! A model that partitions by key describes one key's object, so a whole history
//! (all keys at once, which is what "not split" means and what the benchmarks
//! exercise) needs a state per key. [`Keyed`] keeps up to [`MAX_KEYS`] inner states in
//! a fixed array and a digest (XOR over keys of a hash of (key, state)) updated on
//! every step, so hashing a state costs one word instead of the whole array.

use std::hash::{Hash, Hasher};

use history::Value;

use super::cache::hash_state;
use super::model::{Completion, Model, Partitioning, Values};

pub const MAX_KEYS: usize = 16;

/// One inner state per key slot.
#[derive(Debug, Clone, Copy)]
pub struct KeyedState<S> {
    states: [S; MAX_KEYS],
    /// A function of `states` alone (so equal states have equal digests).
    digest: u64,
}

impl<S: Eq> PartialEq for KeyedState<S> {
    fn eq(&self, other: &Self) -> bool {
        self.digest == other.digest && self.states == other.states
    }
}

impl<S: Eq> Eq for KeyedState<S> {}

impl<S> Hash for KeyedState<S> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.digest)
    }
}

/// An inner op on one key slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyedOp<O> {
    slot: u8,
    op: O,
}

/// The whole-history view of a per-key model.
#[derive(Debug)]
pub struct Keyed<'a, M>(pub &'a M);

fn part<S: Hash>(slot: usize, s: &S) -> u64 {
    hash_state(s).wrapping_add(slot as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(23)
}

impl<M: Model> Model for Keyed<'_, M> {
    type State = KeyedState<M::State>;
    type Op = KeyedOp<M::Op>;

    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn state_noun(&self) -> &'static str {
        "the keys"
    }

    fn partition(&self) -> Partitioning {
        Partitioning::Whole
    }

    fn init(&self, values: &mut Values) -> Self::State {
        let s = self.0.init(values);
        let states = [s; MAX_KEYS];
        let digest = (0..MAX_KEYS).fold(0, |d, k| d ^ part(k, &s));
        KeyedState { states, digest }
    }

    #[inline]
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State> {
        let k = op.slot as usize;
        let old = &state.states[k];
        let new = self.0.step(old, &op.op)?;
        let mut next = *state;
        if new != *old {
            next.digest ^= part(k, old) ^ part(k, &new);
            next.states[k] = new;
        }
        Some(next)
    }

    fn is_read_only(&self, op: &Self::Op) -> bool {
        self.0.is_read_only(&op.op)
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        values: &mut Values,
    ) -> Result<Option<Self::Op>, String> {
        let key = invoke.key.clone().unwrap_or(Value::Nil);
        let slot = values.name_slot(&key);
        if slot >= MAX_KEYS {
            return Err(format!(
                "key {key} is the {}th key; unsplit checking handles at most {MAX_KEYS} keys \
                 (check split by key instead)",
                slot + 1
            ));
        }
        Ok(self.0.encode(invoke, completion, values)?.map(|op| KeyedOp { slot: slot as u8, op }))
    }

    fn describe_op(&self, op: &Self::Op, values: &Values) -> String {
        self.0.describe_op(&op.op, values)
    }

    fn describe_state(&self, state: &Self::State, values: &Values) -> String {
        self.describe_reached(state, &[], values)
    }

    fn describe_reached(&self, state: &Self::State, run: &[Self::Op], values: &Values) -> String {
        let parts: Vec<String> = values
            .names()
            .iter()
            .zip(state.states.iter())
            .enumerate()
            .map(|(slot, (k, s))| {
                let own: Vec<M::Op> =
                    run.iter().filter(|o| o.slot as usize == slot).map(|o| o.op).collect();
                format!("{k}: {}", self.0.describe_reached(s, &own, values))
            })
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}
