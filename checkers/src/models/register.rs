//! `register`: one read/write register (Knossos' `register`). Reads return the
//! current value; writes set it. The initial value is `nil` unless configured.
//!
//! `--initial` takes any value, as `(register x)` does in `knossos.model`.
//!
//! Reads of `nil` differ from Knossos on purpose. `knossos.model/Register` accepts a
//! nil read in any state (`(or (nil? (:value op)) ...)`: "we don't know what the
//! read was"), because old Jepsen clients wrote nil for an unknown read. Our clients
//! record an unknown read as `info` and return nil only for a key that is absent, so
//! a nil read means "the register holds nil", as in Porcupine's etcd model (nil is
//! the initial state). With Knossos' rule the builtin node's `no-fsync` bug (data
//! lost in a whole-cluster crash, seen as nil reads) goes undetected.

use history::Value;

use crate::linearizability::{self, Completion, Model, Values};
use crate::registry::CheckerDef;

#[derive(Debug, Clone)]
pub struct Register {
    pub initial: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// A read that returned this value.
    Read(u32),
    Write(u32),
}

impl Register {
    /// The model for `--initial`: any value (Knossos `(register x)`), default `nil`.
    pub fn from_initial(initial: Option<&Value>) -> Result<Register, String> {
        Ok(Register { initial: initial.cloned().unwrap_or(Value::Nil) })
    }
}

impl Default for Register {
    /// Initial value nil.
    fn default() -> Register {
        Register { initial: Value::Nil }
    }
}

impl Model for Register {
    type State = u32;
    type Op = RegisterOp;

    fn name(&self) -> &'static str {
        "register"
    }

    fn state_noun(&self) -> &'static str {
        "the register"
    }

    fn init(&self, values: &mut Values) -> u32 {
        values.intern(&self.initial)
    }

    fn step(&self, state: &u32, op: &RegisterOp) -> Option<u32> {
        match *op {
            RegisterOp::Read(v) => (v == *state).then_some(v),
            RegisterOp::Write(v) => Some(v),
        }
    }

    fn is_read_only(&self, op: &Self::Op) -> bool {
        matches!(op, RegisterOp::Read(_))
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        values: &mut Values,
    ) -> Result<Option<RegisterOp>, String> {
        encode_read_write(invoke, completion, values)
            .unwrap_or_else(|| Err(unknown_f(invoke, "read or write")))
    }

    fn describe_op(&self, op: &RegisterOp, values: &Values) -> String {
        match *op {
            RegisterOp::Read(v) => format!("read returning {}", values.get(v)),
            RegisterOp::Write(v) => format!("write of {}", values.get(v)),
        }
    }

    fn describe_state(&self, state: &u32, values: &Values) -> String {
        values.get(*state).to_string()
    }
}

/// Reads and writes, shared with `cas-register`; `None` for another `f`.
pub(crate) fn encode_read_write(
    invoke: &history::Op,
    completion: Completion<'_>,
    values: &mut Values,
) -> Option<Result<Option<RegisterOp>, String>> {
    Some(match invoke.f.as_str() {
        // a read with an unknown result constrains nothing
        "read" => Ok(match completion {
            Completion::Ok(done) => Some(RegisterOp::Read(values.intern(&done.value))),
            Completion::Unknown => None,
        }),
        "write" => Ok(Some(RegisterOp::Write(values.intern(&invoke.value)))),
        _ => return None,
    })
}

pub(crate) fn unknown_f(invoke: &history::Op, known: &str) -> String {
    format!("unknown function {:?} for this model (expected {known})", invoke.f)
}

/// `register` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "register",
    summary: "a read/write register (Knossos' register): read, write; --initial sets its value (default nil)",
    make: |o| linearizability::checker(Register::from_initial(o.initial.as_ref()), o),
};
