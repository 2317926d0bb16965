//! `mutex`: a lock that one process holds at a time (Knossos' `mutex`).
//! `acquire` succeeds only when the lock is free; `release` only when it is held.
//! Two processes holding it at once shows up as an `acquire` that cannot be placed.
//!
//! Knossos' `(mutex)` starts free (`(Mutex. false)`); its record takes `locked?`.
//! `--initial` says the same: `false`, `nil` or `:free` (the default) for free,
//! `true`, `:held` or `:locked` for a lock someone holds when the history begins.

use history::Value;

use super::register::unknown_f;
use crate::linearizability::{self, Completion, Model, Values};
use crate::registry::CheckerDef;

#[derive(Debug, Clone, Default)]
pub struct Mutex {
    /// Held when the history begins?
    pub held: bool,
}

impl Mutex {
    /// The model for `--initial` (see the module docs).
    pub fn from_initial(initial: Option<&Value>) -> Result<Mutex, String> {
        Ok(Mutex { held: initially_held("mutex", initial)? })
    }
}

/// Reads a lock's starting state: free (`nil`, `false`, `:free`) or held (`true`,
/// `:held`, `:locked`); shared by the lock models.
pub(crate) fn initially_held(model: &str, initial: Option<&Value>) -> Result<bool, String> {
    match initial {
        None | Some(Value::Nil) | Some(Value::Bool(false)) => Ok(false),
        Some(Value::Bool(true)) => Ok(true),
        Some(Value::Keyword(k) | Value::Str(k)) if k == "free" => Ok(false),
        Some(Value::Keyword(k) | Value::Str(k)) if k == "held" || k == "locked" => Ok(true),
        Some(other) => Err(format!(
            "the {model} model's initial value is false / :free or true / :held, got {other}"
        )),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MutexOp {
    Acquire,
    Release,
}

impl Model for Mutex {
    /// Held?
    type State = bool;
    type Op = MutexOp;

    fn name(&self) -> &'static str {
        "mutex"
    }

    fn state_noun(&self) -> &'static str {
        "the lock"
    }

    fn init(&self, _values: &mut Values) -> bool {
        self.held
    }

    fn step(&self, held: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!held).then_some(true),
            MutexOp::Release => held.then_some(false),
        }
    }

    fn encode(
        &self,
        invoke: &history::Op,
        _completion: Completion<'_>,
        _values: &mut Values,
    ) -> Result<Option<MutexOp>, String> {
        match invoke.f.as_str() {
            "acquire" | "lock" => Ok(Some(MutexOp::Acquire)),
            "release" | "unlock" => Ok(Some(MutexOp::Release)),
            _ => Err(unknown_f(invoke, "acquire or release")),
        }
    }

    fn describe_op(&self, op: &MutexOp, _values: &Values) -> String {
        match op {
            MutexOp::Acquire => "acquire".into(),
            MutexOp::Release => "release".into(),
        }
    }

    fn describe_state(&self, held: &bool, _values: &Values) -> String {
        if *held { "held".into() } else { "free".into() }
    }
}

/// `mutex` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "mutex",
    summary: "a lock one process holds at a time (Knossos' mutex): acquire, release",
    make: |o| linearizability::checker(Mutex::from_initial(o.initial.as_ref()), o),
};
