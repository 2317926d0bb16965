//! Workloads: what clients do and which checker judges it.
//!
//! A workload turns a seed into one operation stream per worker and names the checker
//! that judges the resulting history. It knows nothing of which system runs it.
//!
//! # Layout
//! - [`register`]: Jepsen's linearizable register over independent keys (read,
//!   write, cas), checked per key with the `cas-register` model.
//! - [`lock`]: acquire / release of a few shared lock keys, some acquires sent with a
//!   destroyed session, checked per key with the `session-lock` model.
//!
//! # Determinism
//! Every worker draws its operations from its own ChaCha8 stream derived from the run
//! seed and the worker number, and nothing else: how fast operations complete, which
//! ones time out and how many a worker gets to issue never change *which* operations
//! it issues. A replay with the same seed therefore issues the same sequence (each
//! worker's stream is a prefix of, or equal to, the original's).
//!
//! # Errors
//! [`WorkloadError`] for options that cannot make a workload.

pub mod lock;
pub mod register;

use history::Value;

/// One abstract operation for a client to perform: Jepsen's `{:f .. :value ..}`
/// with an optional independent key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The function: `read`, `write`, `cas`, `acquire`, `release`.
    pub f: &'static str,
    pub key: Option<Value>,
    /// `nil` for a read, the value for a write, `[from to]` for a cas.
    pub value: Value,
}

/// An endless, deterministic stream of operations for one worker.
pub trait OpStream: Send {
    /// The next operation this worker should invoke.
    fn next_op(&mut self) -> Invocation;
    /// Operations to run once after the faults are healed and the cluster had time to
    /// recover (Jepsen's final reads): they see the state everything settled into.
    fn final_ops(&self) -> Vec<Invocation>;
}

/// How the history of a workload is judged, named for the `checkers` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckerSpec {
    /// The model name, e.g. `cas-register`.
    pub model: &'static str,
    /// Whether operations are split by their `key` and checked independently.
    pub split_by_key: bool,
}

/// A workload: per-worker operation streams plus the checker for their history.
pub trait Workload: Send + Sync {
    fn name(&self) -> &'static str;
    /// The stream of worker `worker` (0-based) for this workload's seed.
    fn stream(&self, worker: usize) -> Box<dyn OpStream>;
    fn checker(&self) -> CheckerSpec;
}

/// Options that cannot make a workload.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    #[error("unknown workload {0:?} (known: register, lock)")]
    Unknown(String),
    #[error("{0}")]
    BadOption(String),
}

/// Builds a workload by name.
pub fn by_name(
    name: &str,
    seed: u64,
    concurrency: usize,
) -> Result<Box<dyn Workload>, WorkloadError> {
    match name {
        "register" => Ok(Box::new(register::Register::new(
            seed,
            concurrency,
            register::RegisterOptions::default(),
        )?)),
        "lock" => Ok(Box::new(lock::Lock::new(seed, concurrency, lock::LockOptions::default())?)),
        other => Err(WorkloadError::Unknown(other.to_string())),
    }
}
