//! The unique-ids workload: Jepsen's unique-id test. Every operation is a
//! `generate`, whose `ok` carries a fresh id; checked by `unique-ids` (no id
//! returned twice).
//!
//! The ids come from a guarded counter: [`crate::counter::cas_add`] of 1 to one key
//! (read it with its version, commit the next value guarded on that version, retry
//! on conflicts), the new value being the id. On etcd that is a `txn` comparing
//! `mod_revision`, on Consul `/v1/txn` with `check-index`; a store that loses an
//! acknowledged write, or lets two commits pass the same guard, hands out an id
//! twice.

use history::Value;

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The unique-ids workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "unique-ids",
    summary: "Jepsen's unique-ids: generate ids from a compare-and-set counter",
    needs: &[Api::Txn],
    checker: "unique-ids",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is for workloads over rotating keys; unique-ids uses one counter".into(),
        ));
    }
    if options.concurrency == 0 {
        return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
    }
    Ok(Box::new(UniqueIds))
}

/// The store key of the id counter.
pub const KEY: &str = "unique-ids";

/// The unique-ids workload.
#[derive(Debug, Clone, Copy)]
pub struct UniqueIds;

impl Workload for UniqueIds {
    fn stream(&self, _worker: usize) -> Box<dyn OpStream> {
        Box::new(Generate)
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move {
            let Some(txn) = client.txn() else { return Completion::missing(op, Api::Txn) };
            match op.f {
                "generate" => match crate::counter::cas_add(txn, KEY, 1).await {
                    Ok(id) => Completion::ok(Value::Int(id)),
                    Err(e) => e.completion(op),
                },
                other => Completion::fail(op, format!("unique-ids: unknown f {other:?}")),
            }
        })
    }
}

struct Generate;

impl OpStream for Generate {
    fn next_op(&mut self) -> Invocation {
        Invocation { f: "generate", key: None, value: Value::Nil }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        Vec::new()
    }
}
