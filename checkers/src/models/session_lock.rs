//! `session-lock`: a mutex held through a session (Consul's locks), where some
//! acquires are sent with a session the client destroyed first (value `dead-session`).
//!
//! The plain `mutex` model cannot see a lock service that grants locks to dead
//! sessions: the service still hands a lock to one session at a time, so no two
//! holders ever overlap. What the contract forbids is the grant itself: a session that
//! is gone holds nothing and can take nothing. The client marks such an acquire with
//! the value `dead-session` only after the service confirmed the destroy, so in real
//! time the session's death precedes the acquire: its `ok` can never be placed. An
//! unknown-outcome dead-session acquire is modelled as a plain acquire (a faulty
//! service may have granted it), which never raises a false alarm.
//!
//! `--initial` is the mutex's: `false` / `:free` (default) or `true` / `:held`.

use super::mutex::initially_held;
use super::register::unknown_f;
use crate::linearizability::{self, Completion, Model, Values};
use crate::registry::CheckerDef;

/// The value that marks an acquire sent with a destroyed session.
pub const DEAD_SESSION: &str = "dead-session";

#[derive(Debug, Clone, Default)]
pub struct SessionLock {
    /// Held when the history begins?
    pub held: bool,
}

impl SessionLock {
    /// The model for `--initial` (see the module docs).
    pub fn from_initial(initial: Option<&history::Value>) -> Result<SessionLock, String> {
        Ok(SessionLock { held: initially_held("session-lock", initial)? })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionLockOp {
    Acquire,
    /// An acquire with a destroyed session that the service answered with success.
    AcquireWithDeadSession,
    Release,
}

fn is_dead_session(op: &history::Op) -> bool {
    matches!(&op.value, history::Value::Str(s) | history::Value::Keyword(s) if s == DEAD_SESSION)
}

impl Model for SessionLock {
    /// Held?
    type State = bool;
    type Op = SessionLockOp;

    fn name(&self) -> &'static str {
        "session-lock"
    }

    fn state_noun(&self) -> &'static str {
        "the lock"
    }

    fn init(&self, _values: &mut Values) -> bool {
        self.held
    }

    fn step(&self, held: &bool, op: &SessionLockOp) -> Option<bool> {
        match op {
            SessionLockOp::Acquire => (!held).then_some(true),
            // A destroyed session can take nothing, whatever the lock's state.
            SessionLockOp::AcquireWithDeadSession => None,
            SessionLockOp::Release => held.then_some(false),
        }
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        _values: &mut Values,
    ) -> Result<Option<SessionLockOp>, String> {
        match invoke.f.as_str() {
            "acquire" | "lock" => match completion {
                Completion::Ok(_) if is_dead_session(invoke) => {
                    Ok(Some(SessionLockOp::AcquireWithDeadSession))
                }
                _ => Ok(Some(SessionLockOp::Acquire)),
            },
            "release" | "unlock" => Ok(Some(SessionLockOp::Release)),
            _ => Err(unknown_f(invoke, "acquire or release")),
        }
    }

    fn describe_op(&self, op: &SessionLockOp, _values: &Values) -> String {
        match op {
            SessionLockOp::Acquire => "acquire".into(),
            SessionLockOp::AcquireWithDeadSession => {
                "acquire with a destroyed session (granted)".into()
            }
            SessionLockOp::Release => "release".into(),
        }
    }

    fn describe_state(&self, held: &bool, _values: &Values) -> String {
        if *held { "held".into() } else { "free".into() }
    }
}

/// `session-lock` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "session-lock",
    summary: "a mutex held through a session (Consul's locks): no acquire succeeds with a destroyed session",
    make: |o| linearizability::checker(SessionLock::from_initial(o.initial.as_ref()), o),
};
