//! The set workload: Jepsen's set test. Workers add distinct integers to one set;
//! after the faults are healed, every worker reads the whole set once (Jepsen's
//! final read). Checked by the `set` checker: an acknowledged element missing from
//! the last read is lost.
//!
//! The set lives under a key prefix of the store, one key per element (`set/e17`
//! holding `17`), through the [`crate::api::Txn`] API:
//! - `add e`: a guarded create of the element's key (`commit` guarded on the key
//!   being absent, version 0). Elements are never added twice (worker `w` of `c`
//!   adds `w, w + c, w + 2c, ...`), so a guard failure means the key exists already
//!   and nothing changed: `fail` with `:exists`.
//! - `read`: a scan of the prefix; the completion holds the elements, sorted.
//!
//! So the workload runs unchanged on every system that offers `Txn` (etcd's `txn`
//! with a `mod_revision` compare of 0, Consul's `/v1/txn` with
//! `check-not-exists`), and [`crate::set_full`] uses the same two operations.

use history::Value;

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::{
    Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions, parse_value,
};

/// The set workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "set",
    summary: "Jepsen's set: add distinct elements (a guarded create per element key), then \
              one final read of the whole set",
    needs: &[Api::Txn],
    checker: "set",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is for workloads over rotating keys; set uses one set".into(),
        ));
    }
    Ok(Box::new(Set::new(options.concurrency)?))
}

/// Where the set's element keys live.
pub const PREFIX: &str = "set/";

/// The set workload.
#[derive(Debug, Clone)]
pub struct Set {
    concurrency: usize,
}

impl Set {
    pub fn new(concurrency: usize) -> Result<Set, WorkloadError> {
        if concurrency == 0 {
            return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
        }
        Ok(Set { concurrency })
    }
}

impl Workload for Set {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        Box::new(SetStream { next: worker as i64, step: self.concurrency as i64 })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(perform(op, client, PREFIX))
    }
}

/// One worker's adds: its own arithmetic progression, so no two workers add the
/// same element and a replay adds the same ones.
#[derive(Debug)]
struct SetStream {
    next: i64,
    step: i64,
}

impl OpStream for SetStream {
    fn next_op(&mut self) -> Invocation {
        let e = self.next;
        self.next += self.step;
        Invocation { f: "add", key: None, value: Value::Int(e) }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![Invocation { f: "read", key: None, value: Value::Nil }]
    }
}

/// The key of element `e` of the set under `prefix`.
pub fn element_key(prefix: &str, e: &Value) -> String {
    format!("{prefix}e{e}")
}

/// An `add` (guarded create of the element's key) or a `read` (scan of `prefix`)
/// through the client's `Txn` API.
pub(crate) async fn perform(op: &Invocation, client: &mut dyn Client, prefix: &str) -> Completion {
    let Some(txn) = client.txn() else { return Completion::missing(op, Api::Txn) };
    match op.f {
        "add" => {
            let key = element_key(prefix, &op.value);
            let guards = [(key.clone(), 0)];
            let writes = [(key, crate::value_text(&op.value))];
            match txn.commit(&guards, &writes).await {
                Ok(true) => Completion::ok(op.value.clone()),
                Ok(false) => Completion::fail(op, Value::kw("exists")),
                Err(e) => Completion::of_error(op, e),
            }
        }
        "read" => match txn.scan(prefix).await {
            Ok(found) => {
                let mut elements: Vec<Value> = found.iter().map(|(_, v)| parse_value(v)).collect();
                elements.sort();
                Completion::ok(Value::List(elements))
            }
            Err(e) => Completion::of_error(op, e),
        },
        other => Completion::fail(op, format!("set: unknown f {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_add_disjoint_progressions_and_read_once_at_the_end() {
        let w = Set::new(3).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for worker in 0..3 {
            let mut s = w.stream(worker);
            for _ in 0..50 {
                let op = s.next_op();
                assert_eq!(op.f, "add");
                assert!(seen.insert(op.value.clone()), "{} added twice", op.value);
            }
            assert_eq!(s.final_ops(), vec![Invocation { f: "read", key: None, value: Value::Nil }]);
        }
        assert_eq!(seen.len(), 150);
        assert_eq!(element_key(PREFIX, &Value::Int(17)), "set/e17");
        assert!(Set::new(0).is_err());
        let opts = WorkloadOptions { ops_per_key: Some(5), ..WorkloadOptions::new(1, 3) };
        assert!(make(&opts).is_err());
    }
}
