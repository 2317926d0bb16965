//! The register workload: Jepsen's linearizable register over independent keys.
//!
//! Workers are split into groups of `threads_per_key`. A group works on one key until
//! the key has had about `ops_per_key` operations (each worker of the group issues its
//! share), then the group moves on to a fresh key. Keeping the number of operations
//! per key bounded keeps each key's linearizability check small, however long the
//! run is; many keys make the history large but each check cheap.
//!
//! Operations, as Jepsen's etcd suite logs them (values are small so that cas often
//! succeeds and reads often see a contended value):
//! - `read` with value `nil`; the completion carries the value read (or `nil`);
//! - `write v`;
//! - `cas [from to]`: set to `to` only if the register holds `from`.
//!
//! Keys are integers: group `g` (of `G` groups) uses keys `g, g+G, g+2G, ...`, so no
//! two groups ever share a key.

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, Client, Completion};
use crate::{
    Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions, key_text,
    parse_value, value_text,
};

/// The register workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "register",
    summary: "Jepsen's linearizable register: read, write and cas over rotating \
              independent keys",
    needs: &[Api::Kv],
    checker: "cas-register",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    let mut register = RegisterOptions::default();
    if let Some(n) = options.ops_per_key {
        register.ops_per_key = n;
    }
    Ok(Box::new(Register::new(options.seed, options.concurrency, register)?))
}

/// Tuning of the register workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterOptions {
    /// Workers that share one key at a time (Jepsen's etcd suite uses 10 with a
    /// larger cluster; 5 keeps per-key checks fast with `info` operations around).
    pub threads_per_key: usize,
    /// About how many operations one key gets before its group moves on.
    pub ops_per_key: usize,
    /// Values are drawn from `0..values`.
    pub values: i64,
}

impl Default for RegisterOptions {
    fn default() -> Self {
        RegisterOptions { threads_per_key: 5, ops_per_key: 100, values: 5 }
    }
}

/// The register workload for one seed and concurrency.
#[derive(Debug, Clone)]
pub struct Register {
    seed: u64,
    concurrency: usize,
    options: RegisterOptions,
}

impl Register {
    pub fn new(
        seed: u64,
        concurrency: usize,
        options: RegisterOptions,
    ) -> Result<Register, WorkloadError> {
        if concurrency == 0 {
            return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
        }
        if options.threads_per_key == 0 || options.ops_per_key == 0 || options.values < 1 {
            return Err(WorkloadError::BadOption(
                "register: threads_per_key, ops_per_key and values must be at least 1".into(),
            ));
        }
        Ok(Register { seed, concurrency, options })
    }

    fn groups(&self) -> usize {
        self.concurrency.div_ceil(self.options.threads_per_key)
    }

    /// The concrete stream type (the trait method boxes it).
    pub fn register_stream(&self, worker: usize) -> RegisterStream {
        let tpk = self.options.threads_per_key;
        let group = worker / tpk;
        let group_size = tpk.min(self.concurrency - group * tpk);
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        // One ChaCha stream per worker: independent of every other worker's draws.
        rng.set_stream(worker as u64);
        RegisterStream {
            rng,
            values: self.options.values,
            key: group as i64,
            key_step: self.groups() as i64,
            per_key: self.options.ops_per_key.div_ceil(group_size),
            issued_on_key: 0,
        }
    }
}

impl Workload for Register {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        Box::new(self.register_stream(worker))
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(perform(op, client))
    }
}

/// One register operation through the client's [`crate::api::Kv`] API: a read returns
/// the value (nil when absent), a write the value written, a cas `[from to]`
/// succeeds (`ok`) or finds another value (`fail`, `:mismatch`).
async fn perform(op: &Invocation, client: &mut dyn Client) -> Completion {
    let Some(kv) = client.kv() else { return Completion::missing(op, Api::Kv) };
    let key = key_text(&op.key, "register");
    let outcome = match op.f {
        "read" => kv.get(&key).await.map(|v| v.as_deref().map_or(Value::Nil, parse_value)),
        "write" => kv.put(&key, &value_text(&op.value)).await.map(|()| op.value.clone()),
        "cas" => {
            let Some([from, to]) = op.value.as_list().and_then(|l| <&[Value; 2]>::try_from(l).ok())
            else {
                return Completion::fail(op, format!("cas needs [from to], got {}", op.value));
            };
            match kv.cas(&key, &value_text(from), &value_text(to)).await {
                Ok(true) => Ok(op.value.clone()),
                Ok(false) => return Completion::fail(op, Value::kw("mismatch")),
                Err(e) => Err(e),
            }
        }
        other => return Completion::fail(op, format!("register: unknown f {other:?}")),
    };
    match outcome {
        Ok(value) => Completion::ok(value),
        Err(e) => Completion::of_error(op, e),
    }
}

/// One worker's operations.
#[derive(Debug)]
pub struct RegisterStream {
    rng: ChaCha8Rng,
    values: i64,
    key: i64,
    key_step: i64,
    per_key: usize,
    issued_on_key: usize,
}

impl OpStream for RegisterStream {
    fn next_op(&mut self) -> Invocation {
        if self.issued_on_key == self.per_key {
            self.key += self.key_step;
            self.issued_on_key = 0;
        }
        self.issued_on_key += 1;
        let key = Some(Value::Int(self.key));
        match self.rng.random_range(0..3u8) {
            0 => Invocation { f: "read", key, value: Value::Nil },
            1 => Invocation { f: "write", key, value: Value::Int(self.draw_value()) },
            _ => {
                let from = self.draw_value();
                let to = self.draw_value();
                Invocation { f: "cas", key, value: Value::List(vec![from.into(), to.into()]) }
            }
        }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        vec![Invocation { f: "read", key: Some(Value::Int(self.key)), value: Value::Nil }]
    }
}

impl RegisterStream {
    fn draw_value(&mut self) -> i64 {
        self.rng.random_range(0..self.values)
    }

    /// The key this worker is on now.
    pub fn current_key(&self) -> i64 {
        self.key
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn take(stream: &mut dyn OpStream, n: usize) -> Vec<Invocation> {
        (0..n).map(|_| stream.next_op()).collect()
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let w = Register::new(7, 10, RegisterOptions::default()).unwrap();
        let a = take(&mut *w.stream(3), 500);
        let b = take(&mut *w.stream(3), 500);
        assert_eq!(a, b);
        let other = Register::new(8, 10, RegisterOptions::default()).unwrap();
        assert_ne!(a, take(&mut *other.stream(3), 500));
        // Different workers of one seed draw different streams.
        assert_ne!(a, take(&mut *w.stream(4), 500));
    }

    #[test]
    fn keys_are_bounded_and_never_shared_between_groups() {
        let opts = RegisterOptions { threads_per_key: 5, ops_per_key: 100, values: 5 };
        let w = Register::new(1, 12, opts).unwrap(); // groups of 5, 5 and 2
        let mut per_key: BTreeMap<i64, (usize, Vec<usize>)> = BTreeMap::new();
        for worker in 0..12 {
            let mut s = w.register_stream(worker);
            for _ in 0..400 {
                let op = s.next_op();
                let key = op.key.as_ref().and_then(Value::as_int).unwrap();
                let e = per_key.entry(key).or_default();
                e.0 += 1;
                if !e.1.contains(&(worker / 5)) {
                    e.1.push(worker / 5);
                }
            }
        }
        for (key, (count, groups)) in &per_key {
            assert_eq!(groups.len(), 1, "key {key} shared by groups {groups:?}");
            assert!(*count <= 100, "key {key} got {count} operations");
        }
        // 12 workers * 400 ops over at most 100 per key: many keys were used.
        assert!(per_key.len() >= 48);
    }

    #[test]
    fn operations_have_jepsen_shapes() {
        let w = Register::new(3, 5, RegisterOptions::default()).unwrap();
        let ops = take(&mut *w.stream(0), 300);
        let mut seen = BTreeMap::new();
        for op in &ops {
            *seen.entry(op.f).or_insert(0) += 1;
            match op.f {
                "read" => assert_eq!(op.value, Value::Nil),
                "write" => assert!(matches!(op.value, Value::Int(0..=4))),
                "cas" => {
                    let l = op.value.as_list().unwrap();
                    assert_eq!(l.len(), 2);
                    assert!(l.iter().all(|v| matches!(v, Value::Int(0..=4))));
                }
                other => panic!("unexpected f {other}"),
            }
        }
        assert_eq!(seen.len(), 3, "all of read, write, cas appear: {seen:?}");
    }

    #[test]
    fn bad_options_are_errors() {
        assert!(Register::new(1, 0, RegisterOptions::default()).is_err());
        let opts = RegisterOptions { threads_per_key: 0, ..RegisterOptions::default() };
        assert!(Register::new(1, 3, opts).is_err());
    }
}
