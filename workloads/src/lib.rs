//! Workloads: what clients do, how each operation is carried out through a client's
//! APIs, and which checker judges the history.
//!
//! A workload turns a seed into one operation stream per worker, maps each operation
//! onto the client APIs it needs ([`api`]), and names its checker. It knows nothing of
//! which system runs it: any system whose client offers those APIs can.
//!
//! # Adding a workload
//! One file: the operation generator, a [`Workload`] (streams + `invoke`), and a
//! [`WorkloadDef`] static (name, summary, the APIs it needs, its checker's registry
//! name, a constructor). Then one line in [`ALL`]. Nothing else names it.
//!
//! # Layout
//! - [`api`]: the client APIs ([`api::Kv`], [`api::Locks`]), [`api::CallError`] and
//!   [`Completion`]: Jepsen's ok / fail / info rule in types.
//! - [`register`]: Jepsen's linearizable register over independent keys (read,
//!   write, cas), checked per key with the `cas-register` model.
//! - [`lock`]: acquire / release of a few shared lock keys, some acquires sent with a
//!   destroyed session, checked per key with the `session-lock` model.
//! - Jepsen's other tests, over the [`api::Txn`] API (so every system offering it
//!   runs them): [`set`] (adds, a final read), [`set_full`] (adds and reads all
//!   along), [`counter`] (compare-and-set increments), [`bank`] (guarded two-key
//!   transfers), [`unique_ids`] (a compare-and-set id counter), each checked by the
//!   Jepsen checker of the same name.
//! - [`list_append`], [`rw_register`]: Elle's transactional workloads over the
//!   [`api::Txn`] API, checked for isolation anomalies; [`txn_gen`] is what they
//!   share.
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

pub mod api;
pub mod bank;
pub mod counter;
pub mod discovery;
pub mod election;
pub mod list_append;
pub mod lock;
pub mod membership;
pub mod register;
pub mod rw_register;
pub mod set;
pub mod set_full;
pub mod txn_gen;
pub mod unique_ids;
pub mod watch;

use history::Value;

pub use api::{Api, BoxFuture, CallError, Client, Completion};

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

/// A workload for one run: per-worker operation streams, and how one operation is
/// carried out through a client's APIs.
pub trait Workload: Send + Sync {
    /// The stream of worker `worker` (0-based) for this workload's seed.
    fn stream(&self, worker: usize) -> Box<dyn OpStream>;

    /// Performs `op` through `client`. Maps every outcome to a [`Completion`]
    /// (see [`api`] for the rule); never panics on anything a system does.
    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion>;
}

/// What a workload is made from: the run's seed and concurrency, and the options
/// some workloads take (each refuses the ones it does not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadOptions {
    pub seed: u64,
    pub concurrency: usize,
    /// `--ops-per-key`: operations one key gets before its workers move on.
    pub ops_per_key: Option<usize>,
}

impl WorkloadOptions {
    pub fn new(seed: u64, concurrency: usize) -> WorkloadOptions {
        WorkloadOptions { seed, concurrency, ops_per_key: None }
    }
}

/// A workload as the registry lists it: everything the controller, `faultline
/// list` and `analyze` need to know, stated next to the workload itself.
pub struct WorkloadDef {
    /// The `--workload` word.
    pub name: &'static str,
    pub summary: &'static str,
    /// The client APIs its operations need.
    pub needs: &'static [Api],
    /// The name (in the checker registry) of the checker that judges its history.
    pub checker: &'static str,
    pub make: fn(&WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError>,
}

impl std::fmt::Debug for WorkloadDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkloadDef").field("name", &self.name).finish_non_exhaustive()
    }
}

/// Every workload, one line each. Adding a workload: one file with its
/// [`WorkloadDef`], and one line here.
pub static ALL: &[&WorkloadDef] = &[
    &register::WORKLOAD,
    &lock::WORKLOAD,
    &set::WORKLOAD,
    &set_full::WORKLOAD,
    &counter::WORKLOAD,
    &bank::WORKLOAD,
    &unique_ids::WORKLOAD,
    &list_append::WORKLOAD,
    &rw_register::WORKLOAD,
    &watch::WORKLOAD,
    &election::WORKLOAD,
    &discovery::WORKLOAD,
    &membership::WORKLOAD,
];

/// Options that cannot make a workload.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkloadError {
    #[error("unknown workload {name:?} (known: {known})")]
    Unknown { name: String, known: String },
    #[error("{0}")]
    BadOption(String),
}

/// The workload called `name` among `defs`.
pub fn find(
    defs: &[&'static WorkloadDef],
    name: &str,
) -> Result<&'static WorkloadDef, WorkloadError> {
    defs.iter().copied().find(|d| d.name == name).ok_or_else(|| WorkloadError::Unknown {
        name: name.to_string(),
        known: defs.iter().map(|d| d.name).collect::<Vec<_>>().join(", "),
    })
}

/// The registered workload called `name`.
pub fn by_name(name: &str) -> Result<&'static WorkloadDef, WorkloadError> {
    find(ALL, name)
}

/// The key a workload's operation names, as a string key of a store: `k3` for the
/// integer 3, a string as it is.
pub fn key_text(key: &Option<Value>, absent: &str) -> String {
    match key {
        Some(Value::Int(k)) => format!("k{k}"),
        Some(Value::Str(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => absent.to_string(),
    }
}

/// A value as stored text: strings as they are, anything else printed as EDN.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Stored text read back: integers as integers, anything else as a string.
pub fn parse_value(text: &str) -> Value {
    text.parse::<i64>().map(Value::Int).unwrap_or_else(|_| Value::Str(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_names_are_unique_and_lookups_name_the_known_ones() {
        let mut names: Vec<_> = ALL.iter().map(|d| d.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(by_name("register").map(|d| d.name), Ok("register"));
        let err = by_name("no-such").unwrap_err().to_string();
        assert!(
            err.contains("no-such") && err.contains("register") && err.contains("bank"),
            "{err}"
        );
    }

    #[test]
    fn keys_and_values_as_text() {
        assert_eq!(key_text(&Some(Value::Int(3)), "register"), "k3");
        assert_eq!(key_text(&None, "register"), "register");
        assert_eq!(value_text(&Value::Int(5)), "5");
        assert_eq!(parse_value("5"), Value::Int(5));
        assert_eq!(parse_value("x"), Value::Str("x".into()));
        assert_eq!(parse_value(""), Value::Str(String::new()));
    }
}
