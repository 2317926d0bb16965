//! The counter workload: Jepsen's counter test. Workers add small positive amounts
//! to one counter and read it, half and half; each worker reads it once more at the
//! end. Checked by `counter`: every read must lie between the sum of the adds
//! acknowledged before it began and the sum of those that may have happened before
//! it completed.
//!
//! Through the [`crate::api::Txn`] API, so it runs on every system that offers it:
//! - `add n`: a compare-and-set loop ([`cas_add`]): read the counter with its
//!   version (absent = 0), commit `value + n` guarded on that version (etcd: a
//!   `txn` comparing `mod_revision`; Consul: `/v1/txn` with `check-index` on
//!   `ModifyIndex`). A guard that fails means another add won: read and try again,
//!   up to [`ATTEMPTS`] times, then `fail` (`:contended`; nothing was written). The
//!   read before each commit has no effect, so a failed read is a `fail` too; only a
//!   commit whose outcome is unknown is `info`.
//! - `read`: one snapshot read of the counter (absent = 0).

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, CallError, Client, Completion, Txn};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The counter workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "counter",
    summary: "Jepsen's counter: compare-and-set increments of one counter and reads of it",
    needs: &[Api::Txn],
    checker: "counter",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is for workloads over rotating keys; counter uses one counter".into(),
        ));
    }
    if options.concurrency == 0 {
        return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
    }
    Ok(Box::new(Counter { seed: options.seed }))
}

/// The store key of the counter.
pub const KEY: &str = "counter";

/// Compare-and-set attempts of one add before it gives up.
pub const ATTEMPTS: usize = 10;

/// The counter workload.
#[derive(Debug, Clone)]
pub struct Counter {
    seed: u64,
}

impl Workload for Counter {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(worker as u64);
        Box::new(CounterStream { rng })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(perform(op, client))
    }
}

struct CounterStream {
    rng: ChaCha8Rng,
}

impl OpStream for CounterStream {
    fn next_op(&mut self) -> Invocation {
        if self.rng.random_range(0..2u8) == 0 {
            Invocation { f: "read", key: None, value: Value::Nil }
        } else {
            Invocation { f: "add", key: None, value: Value::Int(self.rng.random_range(1..=5)) }
        }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![Invocation { f: "read", key: None, value: Value::Nil }]
    }
}

async fn perform(op: &Invocation, client: &mut dyn Client) -> Completion {
    let Some(txn) = client.txn() else { return Completion::missing(op, Api::Txn) };
    match op.f {
        "add" => {
            let Some(n) = op.value.as_int() else {
                return Completion::fail(
                    op,
                    format!("counter: add needs an integer, got {}", op.value),
                );
            };
            match cas_add(txn, KEY, n).await {
                Ok(_) => Completion::ok(op.value.clone()),
                Err(e) => e.completion(op),
            }
        }
        "read" => match read_int(txn, KEY).await {
            Ok((value, _)) => Completion::ok(Value::Int(value)),
            Err(e) => e.completion(op),
        },
        other => Completion::fail(op, format!("counter: unknown f {other:?}")),
    }
}

/// Why a compare-and-set add did not happen (or may have).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CasError {
    /// Certainly nothing was written (a failed read, a refused commit, too much
    /// contention, an unreadable counter).
    Failed(Value),
    /// The last commit may have happened.
    Unknown(Value),
}

impl CasError {
    /// `fail` or `info`.
    pub fn completion(self, op: &Invocation) -> Completion {
        match self {
            CasError::Failed(why) => Completion::fail(op, why),
            CasError::Unknown(why) => Completion::info(op, why),
        }
    }
}

/// The integer under `key` (absent = 0) and its version. Any error is `Failed`: a
/// read changes nothing.
pub async fn read_int(txn: &mut dyn Txn, key: &str) -> Result<(i64, u64), CasError> {
    let keys = [key.to_string()];
    let read = txn.read(&keys).await.map_err(|e| match e {
        CallError::Refused(why) | CallError::Unknown(why) => CasError::Failed(why),
    })?;
    let Some(v) = read.into_iter().next() else {
        return Err(CasError::Failed("the read returned no value".into()));
    };
    match v.value.as_deref().map(str::parse::<i64>) {
        None => Ok((0, v.version)),
        Some(Ok(n)) => Ok((n, v.version)),
        Some(Err(_)) => {
            Err(CasError::Failed(format!("{key} holds {:?}, not an integer", v.value).into()))
        }
    }
}

/// Adds `n` to the integer under `key` by compare-and-set on its version, retrying
/// on conflicts up to [`ATTEMPTS`] times; returns the new value.
pub async fn cas_add(txn: &mut dyn Txn, key: &str, n: i64) -> Result<i64, CasError> {
    for _ in 0..ATTEMPTS {
        let (current, version) = read_int(txn, key).await?;
        let next = current.saturating_add(n);
        let guards = [(key.to_string(), version)];
        let writes = [(key.to_string(), next.to_string())];
        match txn.commit(&guards, &writes).await {
            Ok(true) => return Ok(next),
            Ok(false) => continue,
            Err(CallError::Refused(why)) => return Err(CasError::Failed(why)),
            Err(CallError::Unknown(why)) => return Err(CasError::Unknown(why)),
        }
    }
    Err(CasError::Failed(Value::kw("contended")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_seeded_and_mix_reads_with_small_adds() {
        let w = Counter { seed: 5 };
        let take = |worker| {
            let mut s = w.stream(worker);
            (0..200).map(|_| s.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(take(1), take(1));
        assert_ne!(take(1), take(2));
        let ops = take(1);
        assert!(ops.iter().any(|o| o.f == "read"));
        assert!(ops.iter().filter(|o| o.f == "add").all(|o| matches!(o.value, Value::Int(1..=5))));
        let opts = WorkloadOptions { ops_per_key: Some(5), ..WorkloadOptions::new(1, 3) };
        assert!(make(&opts).is_err());
    }
}
