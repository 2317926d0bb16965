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
//! A service that hands out fencing tokens (etcd's lock: the lock key's revision)
//! records each granted acquire's token as its completion value (an integer); such an
//! acquire is judged by the `fenced-lock` model's rule as well: its token must be
//! greater than every token handed out before it, so a stale token (a grant that went
//! back in time) is caught along with two holders at once. An acquire without a token
//! (Consul's `?acquire=`, value `nil`) is judged as a plain mutex acquire.
//!
//! `--initial` is the mutex's: `false` / `:free` (default) or `true` / `:held`.

use super::fenced_lock::{FencedLock, LockOp, LockState};
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
    /// A granted (or unknown) acquire, with the fencing token it returned if any.
    Acquire(Option<i64>),
    /// An acquire with a destroyed session that the service answered with success.
    AcquireWithDeadSession,
    Release,
}

fn is_dead_session(op: &history::Op) -> bool {
    matches!(&op.value, history::Value::Str(s) | history::Value::Keyword(s) if s == DEAD_SESSION)
}

impl SessionLock {
    /// The fenced-lock model this one applies to acquires (tokens and holds).
    fn fenced(&self) -> FencedLock {
        FencedLock { held: self.held, last_token: None }
    }
}

impl Model for SessionLock {
    /// Held, and the last token handed out (the fenced-lock model's state).
    type State = LockState;
    type Op = SessionLockOp;

    fn name(&self) -> &'static str {
        "session-lock"
    }

    fn state_noun(&self) -> &'static str {
        "the lock"
    }

    fn init(&self, values: &mut Values) -> LockState {
        self.fenced().init(values)
    }

    fn step(&self, state: &LockState, op: &SessionLockOp) -> Option<LockState> {
        let fenced = self.fenced();
        match *op {
            SessionLockOp::Acquire(Some(token)) => fenced.step(state, &LockOp::Acquire(token)),
            SessionLockOp::Acquire(None) => fenced.step(state, &LockOp::AcquireUnknown),
            // A destroyed session can take nothing, whatever the lock's state.
            SessionLockOp::AcquireWithDeadSession => None,
            SessionLockOp::Release => fenced.step(state, &LockOp::Release),
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
                Completion::Ok(done) => match &done.value {
                    history::Value::Int(token) => Ok(Some(SessionLockOp::Acquire(Some(*token)))),
                    _ => Ok(Some(SessionLockOp::Acquire(None))),
                },
                Completion::Unknown => Ok(Some(SessionLockOp::Acquire(None))),
            },
            "release" | "unlock" => Ok(Some(SessionLockOp::Release)),
            _ => Err(unknown_f(invoke, "acquire or release")),
        }
    }

    fn describe_op(&self, op: &SessionLockOp, _values: &Values) -> String {
        match op {
            SessionLockOp::Acquire(None) => "acquire".into(),
            SessionLockOp::Acquire(Some(t)) => format!("acquire returning fencing token {t}"),
            SessionLockOp::AcquireWithDeadSession => {
                "acquire with a destroyed session (granted)".into()
            }
            SessionLockOp::Release => "release".into(),
        }
    }

    fn describe_state(&self, state: &LockState, values: &Values) -> String {
        self.fenced().describe_state(state, values)
    }
}

/// `session-lock` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "session-lock",
    summary: "a mutex held through a session or lease (Consul, etcd): no acquire succeeds with a destroyed session; fencing tokens, when given, only grow",
    make: |o| linearizability::checker(SessionLock::from_initial(o.initial.as_ref()), o),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;
    use crate::registry::CheckerOptions;
    use history::{History, Op, Value};

    fn check(ops: Vec<Op>) -> Verdict {
        let checker = CHECKER.checker(&CheckerOptions::default()).unwrap();
        checker.check(&History::from_ops(ops).lint().unwrap()).unwrap().verdict
    }

    #[test]
    fn tokens_must_grow_and_holds_must_not_overlap() {
        let acquire = |p, token: i64| {
            vec![Op::invoke(p, "acquire", Value::Nil), Op::ok(p, "acquire", Value::Int(token))]
        };
        let release =
            |p| vec![Op::invoke(p, "release", Value::Nil), Op::ok(p, "release", Value::Nil)];
        let good = [acquire(0, 5), release(0), acquire(1, 9), release(1)].concat();
        assert_eq!(check(good), Verdict::Valid);
        // The second grant carries an older token: the service went back in time.
        let stale = [acquire(0, 9), release(0), acquire(1, 5), release(1)].concat();
        assert_eq!(check(stale), Verdict::Invalid);
        // Two holders at once (process 1 acquires before process 0 releases).
        let both = [acquire(0, 5), acquire(1, 9), release(0), release(1)].concat();
        assert_eq!(check(both), Verdict::Invalid);
        // Without tokens, the mutex rule alone.
        let plain = vec![
            Op::invoke(0, "acquire", Value::Nil),
            Op::ok(0, "acquire", Value::Nil),
            Op::invoke(0, "release", Value::Nil),
            Op::ok(0, "release", Value::Nil),
            Op::invoke(1, "acquire", Value::Nil),
            Op::ok(1, "acquire", Value::Nil),
        ];
        assert_eq!(check(plain), Verdict::Valid);
    }
}
