//! The set-full workload: Jepsen's set test with reads all along, checked by
//! `set-full` (per element: stable, lost, never read, stale; visibility latencies).
//!
//! Operations are the [`crate::set`] workload's (`add` = a guarded create of the
//! element's key, `read` = a scan of the set's prefix), half adds and half reads,
//! drawn per worker from its seeded stream. A read returns the whole set, so sets
//! are kept bounded the way the register workload bounds its keys: workers are in
//! groups of [`SetFullOptions::threads_per_key`], and a group works on one set
//! (the key `k`, prefix `set-full/k<k>/`) until the set has had about
//! `ops_per_key` operations (`--ops-per-key`, default 300), then moves to a fresh
//! one. Each worker's final operation is a read of its current set.

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The set-full workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "set-full",
    summary: "Jepsen's set-full: adds of distinct elements and reads of the whole set all \
              along, over rotating sets (--ops-per-key)",
    needs: &[Api::Txn],
    checker: "set-full",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    let mut o = SetFullOptions::default();
    if let Some(n) = options.ops_per_key {
        o.ops_per_key = n;
    }
    Ok(Box::new(SetFull::new(options.seed, options.concurrency, o)?))
}

/// Tuning of the set-full workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetFullOptions {
    /// Workers sharing one set at a time.
    pub threads_per_key: usize,
    /// About how many operations one set gets before its group moves on.
    pub ops_per_key: usize,
    /// Percent of operations that are reads.
    pub read_percent: u32,
}

impl Default for SetFullOptions {
    fn default() -> Self {
        SetFullOptions { threads_per_key: 5, ops_per_key: 300, read_percent: 50 }
    }
}

/// The set-full workload for one seed and concurrency.
#[derive(Debug, Clone)]
pub struct SetFull {
    seed: u64,
    concurrency: usize,
    options: SetFullOptions,
}

impl SetFull {
    pub fn new(
        seed: u64,
        concurrency: usize,
        options: SetFullOptions,
    ) -> Result<SetFull, WorkloadError> {
        if concurrency == 0 {
            return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
        }
        if options.threads_per_key == 0 || options.ops_per_key == 0 || options.read_percent > 100 {
            return Err(WorkloadError::BadOption(
                "set-full: threads_per_key and ops_per_key must be at least 1, read_percent at \
                 most 100"
                    .into(),
            ));
        }
        Ok(SetFull { seed, concurrency, options })
    }
}

/// The prefix of set `key`'s element keys.
pub fn prefix(key: &Option<Value>) -> String {
    format!("set-full/{}/", crate::key_text(key, "set"))
}

impl Workload for SetFull {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        let tpk = self.options.threads_per_key;
        let group = worker / tpk;
        let group_size = tpk.min(self.concurrency - group * tpk);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(worker as u64);
        Box::new(SetFullStream {
            rng,
            read_percent: self.options.read_percent,
            next_element: worker as i64,
            element_step: self.concurrency as i64,
            key: group as i64,
            key_step: self.concurrency.div_ceil(tpk) as i64,
            per_key: self.options.ops_per_key.div_ceil(group_size),
            issued_on_key: 0,
        })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(async move { crate::set::perform(op, client, &prefix(&op.key)).await })
    }
}

#[derive(Debug)]
struct SetFullStream {
    rng: ChaCha8Rng,
    read_percent: u32,
    next_element: i64,
    element_step: i64,
    key: i64,
    key_step: i64,
    per_key: usize,
    issued_on_key: usize,
}

impl OpStream for SetFullStream {
    fn next_op(&mut self) -> Invocation {
        if self.issued_on_key == self.per_key {
            self.key += self.key_step;
            self.issued_on_key = 0;
        }
        self.issued_on_key += 1;
        let key = Some(Value::Int(self.key));
        if self.rng.random_range(0..100) < self.read_percent {
            Invocation { f: "read", key, value: Value::Nil }
        } else {
            let e = self.next_element;
            self.next_element += self.element_step;
            Invocation { f: "add", key, value: Value::Int(e) }
        }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![Invocation { f: "read", key: Some(Value::Int(self.key)), value: Value::Nil }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_seeded_mix_adds_and_reads_and_rotate_sets() {
        let w =
            SetFull::new(7, 10, SetFullOptions { ops_per_key: 20, ..Default::default() }).unwrap();
        let take = |worker| {
            let mut s = w.stream(worker);
            (0..100).map(|_| s.next_op()).collect::<Vec<_>>()
        };
        assert_eq!(take(3), take(3));
        assert_ne!(take(3), take(4));
        let ops = take(0);
        let adds = ops.iter().filter(|o| o.f == "add").count();
        assert!((20..80).contains(&adds), "{adds} adds of 100");
        let keys: std::collections::BTreeSet<_> = ops.iter().map(|o| o.key.clone()).collect();
        assert_eq!(keys.len(), 25, "4 ops per set per worker: {keys:?}");
        assert_eq!(prefix(&Some(Value::Int(3))), "set-full/k3/");
        assert!(SetFull::new(1, 0, SetFullOptions::default()).is_err());
    }
}
