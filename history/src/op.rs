//! One history entry: Jepsen's operation, typed.
//!
//! An operation is an `invoke` followed, later, by one completion from the same
//! process: `ok` (it happened), `fail` (it certainly did not happen) or `info` (the
//! outcome is unknown: it may take effect at any time after its invocation, or
//! never). Both halves are separate `Op`s in the history, exactly as in Jepsen.

use std::collections::BTreeMap;
use std::fmt;

use crate::Value;

/// Who performed an operation: a client process, or the nemesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Process {
    Client(u64),
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(p) => write!(f, "{p}"),
            Process::Nemesis => f.write_str("nemesis"),
        }
    }
}

/// Jepsen's `:type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OpKind {
    Invoke,
    Ok,
    Fail,
    Info,
}

impl OpKind {
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Invoke => "invoke",
            OpKind::Ok => "ok",
            OpKind::Fail => "fail",
            OpKind::Info => "info",
        }
    }

    /// Parses `invoke`, `ok`, `fail` or `info` (without a colon).
    pub fn parse(name: &str) -> Option<OpKind> {
        Some(match name {
            "invoke" => OpKind::Invoke,
            "ok" => OpKind::Ok,
            "fail" => OpKind::Fail,
            "info" => OpKind::Info,
            _ => return None,
        })
    }

    pub fn is_completion(self) -> bool {
        self != OpKind::Invoke
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of a history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// Position in the history, strictly increasing.
    pub index: u64,
    /// Nanoseconds since the run started (monotonic clock). Formats without times
    /// (Porcupine's logs) use the line order instead, which is all they record.
    pub time_ns: u64,
    pub process: Process,
    pub kind: OpKind,
    /// The function: `read`, `write`, `cas`, `append`, `start-partition`...
    pub f: String,
    /// The key, for workloads over several keys (Porcupine's kv `:key`).
    pub key: Option<Value>,
    pub value: Value,
    /// The node the client talked to, when known.
    pub node: Option<String>,
    /// Why a `fail` / `info` happened (`:timed-out`, an HTTP status, ...).
    pub error: Option<Value>,
    /// Any other fields the source carried; kept so conversions lose nothing.
    pub extra: BTreeMap<String, Value>,
}

impl Op {
    /// A bare operation; set the other fields directly.
    pub fn new(process: Process, kind: OpKind, f: &str, value: Value) -> Op {
        Op {
            index: 0,
            time_ns: 0,
            process,
            kind,
            f: f.to_string(),
            key: None,
            value,
            node: None,
            error: None,
            extra: BTreeMap::new(),
        }
    }

    pub fn invoke(process: u64, f: &str, value: Value) -> Op {
        Op::new(Process::Client(process), OpKind::Invoke, f, value)
    }

    pub fn ok(process: u64, f: &str, value: Value) -> Op {
        Op::new(Process::Client(process), OpKind::Ok, f, value)
    }

    pub fn fail(process: u64, f: &str, value: Value) -> Op {
        Op::new(Process::Client(process), OpKind::Fail, f, value)
    }

    pub fn info(process: u64, f: &str, value: Value) -> Op {
        Op::new(Process::Client(process), OpKind::Info, f, value)
    }

    pub fn with_key(mut self, key: impl Into<Value>) -> Op {
        self.key = Some(key.into());
        self
    }

    pub fn is_nemesis(&self) -> bool {
        self.process == Process::Nemesis
    }
}

/// A short human description: `process 3 invoke read key "k" nil`.
impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "process {} {} {}", self.process, self.kind, self.f)?;
        if let Some(k) = &self.key {
            write!(f, " key {k}")?;
        }
        write!(f, " {}", self.value)
    }
}
