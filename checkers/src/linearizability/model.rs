//! The sequential specification a history is checked against.
//!
//! A model is Porcupine's interface, typed: `init`, `step`, how to `partition` a
//! history, and how to `describe` operations and states. States and operations are
//! small `Copy` values (interned ids, hashes, fixed arrays), so the search can copy
//! them freely and store them in its cache without allocating. Models take `&self`,
//! so they can carry configuration such as an initial value.

use std::collections::HashMap;
use std::fmt::Debug;
use std::hash::Hash;

use history::Value;

/// What is known about how an operation ended. `fail` never reaches a model: it did
/// not happen, so the compiler drops it.
#[derive(Debug, Clone, Copy)]
pub enum Completion<'a> {
    /// It happened; the completion carries what it returned.
    Ok(&'a history::Op),
    /// `info`, or the history ended first: it may have happened, or not.
    Unknown,
}

/// How a model may split a history into independently checkable parts.
///
/// An operation's `key` names an independent object (Jepsen's `independent`
/// checker, Porcupine's `Partition`), so every model is per key unless it says
/// otherwise; a history without keys is one object either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partitioning {
    /// One sub-history per `key` of the operations (P-compositionality: the object is
    /// a product of independent objects, one per key).
    ByKey,
    /// The whole history is one object, whatever its keys (a model whose operations
    /// use `key` for something else).
    Whole,
}

/// A sequential specification.
pub trait Model: Sync {
    /// A model state; cheap to copy, compare and hash.
    type State: Copy + Eq + Hash + Send + Sync + Debug;
    /// An operation with its input and (when known) its output, in compact form.
    /// Two unknown-outcome operations that encode equally are interchangeable.
    type Op: Copy + Eq + Hash + Send + Sync + Debug;

    /// The command-line name (`cas-register`).
    fn name(&self) -> &'static str;

    /// What the state is called in explanations ("the register", "the lock").
    fn state_noun(&self) -> &'static str;

    /// The initial state. `values` is the partition's interner.
    fn init(&self, values: &mut Values) -> Self::State;

    /// The state after `op`, or `None` when the model does not allow `op` here
    /// (a read returning a value other than the current one, say).
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// Encodes an invocation and what is known of its completion. `Ok(None)` drops
    /// the operation because it constrains nothing (a read whose result is unknown).
    /// `Err` is a message saying what is wrong with the operation.
    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        values: &mut Values,
    ) -> Result<Option<Self::Op>, String>;

    /// Whether `op` only observes: in every state it is either refused or leaves the
    /// state as it was (a read). The search places such an op as soon as it is
    /// legal and tries nothing else there, which is always safe for these ops (see
    /// `search.rs`); `false`, the default, is always correct, only slower.
    fn is_read_only(&self, _op: &Self::Op) -> bool {
        false
    }

    /// Whether the history may be split by key (by default it may: see
    /// [`Partitioning`]).
    fn partition(&self) -> Partitioning {
        Partitioning::ByKey
    }

    /// "read returned 3", "cas from 1 to 2", "acquire (outcome unknown)".
    fn describe_op(&self, op: &Self::Op, values: &Values) -> String;

    /// "3", "nil", "held".
    fn describe_state(&self, state: &Self::State, values: &Values) -> String;

    /// Describes `state`, reached by applying `run` to the initial state; for models
    /// whose states cannot be described alone (hashes of strings, say).
    fn describe_reached(&self, state: &Self::State, _run: &[Self::Op], values: &Values) -> String {
        self.describe_state(state, values)
    }
}

/// Interns history values into small ids, so models can compare values as integers.
/// Id 0 is always `nil`.
#[derive(Debug, Clone)]
pub struct Values {
    list: Vec<Value>,
    ids: HashMap<Value, u32>,
    /// A second, separate numbering for names such as register keys (slot 0, 1, ...).
    names: Vec<Value>,
}

impl Default for Values {
    fn default() -> Values {
        Values::new()
    }
}

impl Values {
    pub const NIL: u32 = 0;

    pub fn new() -> Values {
        let mut v = Values { list: Vec::new(), ids: HashMap::new(), names: Vec::new() };
        v.intern(&Value::Nil);
        v
    }

    pub fn intern(&mut self, value: &Value) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = self.list.len() as u32;
        self.list.push(value.clone());
        self.ids.insert(value.clone(), id);
        id
    }

    /// The value with this id (`nil` for an id never handed out).
    pub fn get(&self, id: u32) -> &Value {
        self.list.get(id as usize).unwrap_or(&self.list[0])
    }

    pub fn all(&self) -> &[Value] {
        &self.list
    }

    /// The slot of a name (its position among the names seen so far).
    pub fn name_slot(&mut self, name: &Value) -> usize {
        match self.names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.clone());
                self.names.len() - 1
            }
        }
    }

    pub fn names(&self) -> &[Value] {
        &self.names
    }
}
