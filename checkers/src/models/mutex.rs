//! `mutex`: a lock that one process holds at a time (Knossos' `mutex`).
//! `acquire` succeeds only when the lock is free; `release` only when it is held.
//! Two processes holding it at once shows up as an `acquire` that cannot be placed.

use history::Value;

use super::register::unknown_f;
use crate::linearizability::{self, Completion, Model, Values};
use crate::registry::CheckerDef;

#[derive(Debug, Clone, Default)]
pub struct Mutex;

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
        false
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

impl Mutex {
    /// The model; it takes no initial value.
    pub fn from_initial(initial: Option<&Value>) -> Result<Mutex, String> {
        match initial {
            None => Ok(Mutex),
            Some(v) => Err(format!("the mutex model takes no initial value (got {v})")),
        }
    }
}

/// `mutex` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "mutex",
    summary: "a lock one process holds at a time (Knossos' mutex): acquire, release",
    make: |o| linearizability::checker(Mutex::from_initial(o.initial.as_ref()), o),
};
