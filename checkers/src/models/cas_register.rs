//! `cas-register`: a register with compare-and-set, as in Jepsen's etcd tests.
//! `read` returns the current value, `write v` sets it, `cas [from to]` sets `to`
//! when the value is `from`. A `cas` that completed `ok` swapped; a `fail`ed one did
//! not happen (the compiler drops it); one with an unknown outcome may have swapped
//! at any point after its call, or never.
//!
//! `--initial` takes any value, as Knossos' `(cas-register value)` does; default
//! `nil`. A read of `nil` means the register holds nil (not Knossos' "any state";
//! see `register.rs` for why).

use history::Value;

use super::register::{RegisterOp, encode_read_write, unknown_f};
use crate::linearizability::{self, Completion, Model, Values};
use crate::registry::CheckerDef;

#[derive(Debug, Clone)]
pub struct CasRegister {
    pub initial: Value,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CasOp {
    Read(u32),
    Write(u32),
    Cas { from: u32, to: u32 },
}

impl CasRegister {
    /// The model for `--initial`: any value (Knossos `(cas-register value)`),
    /// default `nil`.
    pub fn from_initial(initial: Option<&Value>) -> Result<CasRegister, String> {
        Ok(CasRegister { initial: initial.cloned().unwrap_or(Value::Nil) })
    }
}

impl Default for CasRegister {
    /// Initial value nil.
    fn default() -> CasRegister {
        CasRegister { initial: Value::Nil }
    }
}

impl Model for CasRegister {
    type State = u32;
    type Op = CasOp;

    fn name(&self) -> &'static str {
        "cas-register"
    }

    fn state_noun(&self) -> &'static str {
        "the register"
    }

    fn init(&self, values: &mut Values) -> u32 {
        values.intern(&self.initial)
    }

    #[inline]
    fn step(&self, state: &u32, op: &CasOp) -> Option<u32> {
        match *op {
            CasOp::Read(v) => (v == *state).then_some(v),
            CasOp::Write(v) => Some(v),
            // Unknown-outcome cas ops need no case of their own: where the compare
            // fails they had no effect, which is the same as not placing them there.
            CasOp::Cas { from, to } => (from == *state).then_some(to),
        }
    }

    fn is_read_only(&self, op: &Self::Op) -> bool {
        matches!(op, CasOp::Read(_))
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        values: &mut Values,
    ) -> Result<Option<CasOp>, String> {
        if let Some(rw) = encode_read_write(invoke, completion, values) {
            return rw.map(|op| {
                op.map(|op| match op {
                    RegisterOp::Read(v) => CasOp::Read(v),
                    RegisterOp::Write(v) => CasOp::Write(v),
                })
            });
        }
        if invoke.f != "cas" {
            return Err(unknown_f(invoke, "read, write or cas"));
        }
        match invoke.value.as_list() {
            Some([from, to]) => {
                Ok(Some(CasOp::Cas { from: values.intern(from), to: values.intern(to) }))
            }
            _ => Err(format!("a cas value must be [from to], found {}", invoke.value)),
        }
    }

    fn describe_op(&self, op: &CasOp, values: &Values) -> String {
        match *op {
            CasOp::Read(v) => format!("read returning {}", values.get(v)),
            CasOp::Write(v) => format!("write of {}", values.get(v)),
            CasOp::Cas { from, to } => {
                format!("cas from {} to {}", values.get(from), values.get(to))
            }
        }
    }

    fn describe_state(&self, state: &u32, values: &Values) -> String {
        values.get(*state).to_string()
    }
}

/// `cas-register` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "cas-register",
    summary: "a register with compare-and-set (Knossos' cas-register): read, write, cas [from to]; --initial sets its value (default nil)",
    make: |o| linearizability::checker(CasRegister::from_initial(o.initial.as_ref()), o),
};
