//! `fenced-lock`: a mutex whose `acquire` returns a fencing token (an integer) that
//! must be greater than every token handed out before. Catches two holders at once
//! and tokens that go backwards or repeat (a lock service that lost its counter).
//!
//! An `acquire` whose outcome is unknown may have taken the lock, with a token we
//! never saw: it is modelled as taking the lock without raising the last token,
//! which accepts every later token the real one would have (never a false alarm).
//!
//! Knossos has no fenced lock; `--initial` says where the history starts: nothing
//! (free, no token handed out yet), an integer (free, that token was the last one
//! handed out: every later acquire must return more), or a map
//! `{:held true/false, :token n}` with either key optional.

use history::Value;

use super::mutex::initially_held;
use super::register::unknown_f;
use crate::linearizability::{self, Completion, Model, Values};
use crate::registry::CheckerDef;

#[derive(Debug, Clone, Default)]
pub struct FencedLock {
    /// Held when the history begins?
    pub held: bool,
    /// The last token handed out before the history begins.
    pub last_token: Option<i64>,
}

impl FencedLock {
    /// The model for `--initial` (see the module docs).
    pub fn from_initial(initial: Option<&Value>) -> Result<FencedLock, String> {
        let bad = |v: &Value| {
            format!(
                "the fenced-lock model's initial value is the last token handed out (an \
                 integer) or a map {{:held true/false, :token n}}, got {v}"
            )
        };
        match initial {
            None | Some(Value::Nil) => Ok(FencedLock::default()),
            Some(Value::Int(t)) => Ok(FencedLock { held: false, last_token: Some(*t) }),
            Some(Value::Map(entries)) => {
                let mut lock = FencedLock::default();
                for (k, v) in entries {
                    match k {
                        Value::Keyword(k) | Value::Str(k) if k == "held" => {
                            lock.held = initially_held("fenced-lock", Some(v))?
                        }
                        Value::Keyword(k) | Value::Str(k) if k == "token" => {
                            lock.last_token = Some(v.as_int().ok_or_else(|| bad(v))?)
                        }
                        _ => return Err(bad(initial.unwrap_or(&Value::Nil))),
                    }
                }
                Ok(lock)
            }
            Some(other) => Err(bad(other)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LockState {
    pub held: bool,
    /// The greatest token handed out so far (`i64::MIN` before the first).
    pub last_token: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockOp {
    /// An acquire that returned this token.
    Acquire(i64),
    /// An acquire whose token (and success) is unknown.
    AcquireUnknown,
    Release,
}

impl Model for FencedLock {
    type State = LockState;
    type Op = LockOp;

    fn name(&self) -> &'static str {
        "fenced-lock"
    }

    fn state_noun(&self) -> &'static str {
        "the lock"
    }

    fn init(&self, _values: &mut Values) -> LockState {
        LockState { held: self.held, last_token: self.last_token.unwrap_or(i64::MIN) }
    }

    fn step(&self, s: &LockState, op: &LockOp) -> Option<LockState> {
        match *op {
            LockOp::Acquire(t) => {
                (!s.held && t > s.last_token).then_some(LockState { held: true, last_token: t })
            }
            LockOp::AcquireUnknown => (!s.held).then_some(LockState { held: true, ..*s }),
            LockOp::Release => s.held.then_some(LockState { held: false, ..*s }),
        }
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        _values: &mut Values,
    ) -> Result<Option<LockOp>, String> {
        match (invoke.f.as_str(), completion) {
            ("acquire" | "lock", Completion::Ok(done)) => match done.value.as_int() {
                Some(t) => Ok(Some(LockOp::Acquire(t))),
                None => Err(format!(
                    "an acquire must return its fencing token (an integer), found {}",
                    done.value
                )),
            },
            ("acquire" | "lock", Completion::Unknown) => Ok(Some(LockOp::AcquireUnknown)),
            ("release" | "unlock", _) => Ok(Some(LockOp::Release)),
            _ => Err(unknown_f(invoke, "acquire or release")),
        }
    }

    fn describe_op(&self, op: &LockOp, _values: &Values) -> String {
        match op {
            LockOp::Acquire(t) => format!("acquire returning token {t}"),
            LockOp::AcquireUnknown => "acquire (outcome unknown)".into(),
            LockOp::Release => "release".into(),
        }
    }

    fn describe_state(&self, s: &LockState, _values: &Values) -> String {
        let holder = if s.held { "held" } else { "free" };
        if s.last_token == i64::MIN {
            format!("{holder} (no token handed out yet)")
        } else {
            format!("{holder} (last token {})", s.last_token)
        }
    }
}

/// `fenced-lock` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "fenced-lock",
    summary: "a mutex whose acquires return fencing tokens, each greater than the last",
    make: |o| linearizability::checker(FencedLock::from_initial(o.initial.as_ref()), o),
};
