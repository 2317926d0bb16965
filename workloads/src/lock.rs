//! The lock workload: Jepsen's mutex test over a few lock keys, with clients that
//! sometimes lose their session.
//!
//! Every worker repeats: pick one of `locks` keys at random, `acquire` it, then
//! `release` it (the release goes out whatever the acquire's outcome; a release of a
//! lock the worker does not hold is refused and recorded as `fail`). Keys are shared by
//! all workers, so acquires contend.
//!
//! About one acquire in `dead_session_every` is a *session loss*: its value is
//! `"dead-session"`, and a client of a session-based lock service first destroys its
//! own session (modelling a client whose session expired) and then acquires with it.
//! A correct service refuses; one that grants it breaks the lock contract, which the
//! `session-lock` model (a mutex that also knows dead sessions take nothing) catches.
//! Checked per key. A service that hands out fencing tokens (etcd's lock key
//! revision) records each grant's token as the acquire's value, and the model then
//! also applies the `fenced-lock` rule: tokens only grow.
//!
//! A holder holds for the pause the runtime leaves between its operations
//! (`--concurrency / --rate` on average, up to twice that): a low rate gives long
//! holds, which a pause of the holder's node longer than its lease turns into two
//! holders at once on a lease-based lock service (Jepsen's etcd lock finding).

use history::Value;
use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::api::{Api, BoxFuture, Client, Completion, Holder};
use crate::{Invocation, OpStream, Workload, WorkloadDef, WorkloadError, WorkloadOptions};

/// The lock workload in the registry.
pub static WORKLOAD: WorkloadDef = WorkloadDef {
    name: "lock",
    summary: "acquire / release of shared session locks, some acquires with a lost session",
    needs: &[Api::Locks],
    checker: "session-lock",
    make,
};

fn make(options: &WorkloadOptions) -> Result<Box<dyn Workload>, WorkloadError> {
    if options.ops_per_key.is_some() {
        return Err(WorkloadError::BadOption(
            "--ops-per-key is for workloads over rotating keys; lock keeps its keys".into(),
        ));
    }
    Ok(Box::new(Lock::new(options.seed, options.concurrency, LockOptions::default())?))
}

/// The value of an acquire that must be sent with a freshly destroyed session.
pub const DEAD_SESSION: &str = "dead-session";

/// Tuning of the lock workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOptions {
    /// How many lock keys the workers share.
    pub locks: i64,
    /// About one acquire in this many loses its session first (0: never).
    pub dead_session_every: u32,
}

impl Default for LockOptions {
    fn default() -> Self {
        LockOptions { locks: 3, dead_session_every: 5 }
    }
}

/// The lock workload for one seed.
#[derive(Debug, Clone)]
pub struct Lock {
    seed: u64,
    options: LockOptions,
}

impl Lock {
    pub fn new(seed: u64, concurrency: usize, options: LockOptions) -> Result<Lock, WorkloadError> {
        if concurrency == 0 {
            return Err(WorkloadError::BadOption("concurrency must be at least 1".into()));
        }
        if options.locks < 1 {
            return Err(WorkloadError::BadOption("lock: locks must be at least 1".into()));
        }
        Ok(Lock { seed, options })
    }
}

impl Workload for Lock {
    fn stream(&self, worker: usize) -> Box<dyn OpStream> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        // One ChaCha stream per worker: independent of every other worker's draws.
        rng.set_stream(worker as u64);
        Box::new(LockStream { rng, options: self.options.clone(), holding: None })
    }

    fn invoke<'a>(
        &'a self,
        op: &'a Invocation,
        client: &'a mut dyn Client,
    ) -> BoxFuture<'a, Completion> {
        Box::pin(perform(op, client))
    }
}

/// The lock's name in the store: `lock/<key>`.
fn lock_name(key: &Option<Value>) -> String {
    match key {
        Some(Value::Str(s)) => format!("lock/{s}"),
        Some(other) => format!("lock/{other}"),
        None => "lock/default".to_string(),
    }
}

/// One lock operation through the client's [`crate::api::Locks`] API: an acquire is
/// `ok` when granted (its value the grant's fencing token when the service hands one
/// out, as etcd's lock key revision) and `fail` (`:held`) when someone else holds the
/// lock; a release is `ok` when it released and `fail` (`:not-held`) when this client
/// held nothing.
async fn perform(op: &Invocation, client: &mut dyn Client) -> Completion {
    let Some(locks) = client.locks() else { return Completion::missing(op, Api::Locks) };
    let lock = lock_name(&op.key);
    let (outcome, refusal) = match op.f {
        "acquire" => {
            let dead = matches!(&op.value, Value::Str(s) if s == DEAD_SESSION);
            let holder = if dead { Holder::Lost } else { Holder::Live };
            (locks.acquire(&lock, holder).await, "held")
        }
        "release" => (locks.release(&lock).await, "not-held"),
        other => return Completion::fail(op, format!("lock: unknown f {other:?}")),
    };
    match outcome {
        // A service with fencing tokens: the grant's token is what the acquire returned.
        Ok(true) if op.f == "acquire" => match locks.fencing_token(&lock) {
            Some(token) => Completion::ok(Value::Int(token as i64)),
            None => Completion::ok(op.value.clone()),
        },
        Ok(true) => Completion::ok(op.value.clone()),
        Ok(false) => Completion::fail(op, Value::kw(refusal)),
        Err(e) => Completion::of_error(op, e),
    }
}

/// One worker's operations: acquire, release, acquire, release, ...
#[derive(Debug)]
struct LockStream {
    rng: ChaCha8Rng,
    options: LockOptions,
    /// The key whose release comes next.
    holding: Option<i64>,
}

impl OpStream for LockStream {
    fn next_op(&mut self) -> Invocation {
        if let Some(key) = self.holding.take() {
            return Invocation { f: "release", key: Some(Value::Int(key)), value: Value::Nil };
        }
        let key = self.rng.random_range(0..self.options.locks);
        self.holding = Some(key);
        let every = self.options.dead_session_every;
        let dead = every > 0 && self.rng.random_range(0..every) == 0;
        let value = if dead { Value::Str(DEAD_SESSION.into()) } else { Value::Nil };
        Invocation { f: "acquire", key: Some(Value::Int(key)), value }
    }

    fn final_ops(&self) -> Vec<Invocation> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(stream: &mut dyn OpStream, n: usize) -> Vec<Invocation> {
        (0..n).map(|_| stream.next_op()).collect()
    }

    #[test]
    fn acquire_then_release_of_the_same_key() {
        let w = Lock::new(7, 5, LockOptions::default()).unwrap();
        let ops = take(&mut *w.stream(2), 400);
        let mut dead = 0;
        for pair in ops.chunks(2) {
            assert_eq!((pair[0].f, pair[1].f), ("acquire", "release"));
            assert_eq!(pair[0].key, pair[1].key);
            assert!(matches!(pair[0].key, Some(Value::Int(0..=2))));
            if pair[0].value == Value::Str(DEAD_SESSION.into()) {
                dead += 1;
            } else {
                assert_eq!(pair[0].value, Value::Nil);
            }
        }
        // About one in five of 200 acquires.
        assert!((15..=70).contains(&dead), "{dead} dead-session acquires");
    }

    #[test]
    fn deterministic_per_seed_and_worker() {
        let w = Lock::new(7, 5, LockOptions::default()).unwrap();
        let a = take(&mut *w.stream(1), 300);
        assert_eq!(a, take(&mut *w.stream(1), 300));
        assert_ne!(a, take(&mut *w.stream(2), 300));
        let other = Lock::new(8, 5, LockOptions::default()).unwrap();
        assert_ne!(a, take(&mut *other.stream(1), 300));
    }

    #[test]
    fn lock_names() {
        assert_eq!(lock_name(&Some(Value::Int(2))), "lock/2");
        assert_eq!(lock_name(&None), "lock/default");
    }

    #[test]
    fn no_dead_sessions_when_switched_off() {
        let opts = LockOptions { locks: 1, dead_session_every: 0 };
        let w = Lock::new(1, 2, opts).unwrap();
        assert!(take(&mut *w.stream(0), 100).iter().all(|op| op.value == Value::Nil));
        assert!(Lock::new(1, 0, LockOptions::default()).is_err());
        assert!(Lock::new(1, 1, LockOptions { locks: 0, dead_session_every: 1 }).is_err());
    }
}
