//! The `Client` trait: one connection to one node, turning abstract operations into
//! API calls and every outcome into `ok`, `fail` or `info`.
//!
//! The rule that keeps histories honest (Jepsen's): `fail` only when the operation
//! *certainly* did not take effect (the request never left, or the server said so in a
//! way that rules it out). Anything else after the request may have been sent (a
//! timeout, a lost connection, an ambiguous server error) is `info`: the operation
//! may take effect at any time later, or never. The runtime adds its own rule on top:
//! an operation that does not complete within the op timeout is `info` too.

use std::future::Future;

use history::{OpKind, Value};
use workloads::Invocation;

/// How one operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// `Ok`, `Fail` or `Info` (never `Invoke`).
    pub kind: OpKind,
    /// For `ok`: what the operation returned (the value read; the value written).
    /// For `fail` / `info`: the invocation's value, as Jepsen records it.
    pub value: Value,
    /// Why it failed or is unknown.
    pub error: Option<Value>,
}

impl Completion {
    pub fn ok(value: Value) -> Completion {
        Completion { kind: OpKind::Ok, value, error: None }
    }

    /// It certainly did not happen.
    pub fn fail(op: &Invocation, error: impl Into<Value>) -> Completion {
        Completion { kind: OpKind::Fail, value: op.value.clone(), error: Some(error.into()) }
    }

    /// It may or may not have happened.
    pub fn info(op: &Invocation, error: impl Into<Value>) -> Completion {
        Completion { kind: OpKind::Info, value: op.value.clone(), error: Some(error.into()) }
    }
}

/// A client bound to one node. A worker owns one client; calls never overlap.
pub trait Client: Send + 'static {
    /// The node this client talks to (`n2`), recorded on every completion.
    fn node(&self) -> &str;

    /// Performs one operation. Must map every outcome to a [`Completion`]; it never
    /// panics on anything the network or the server does. Cancelling the future
    /// (the runtime's op timeout) must be safe.
    fn invoke(&mut self, op: &Invocation) -> impl Future<Output = Completion> + Send;
}
