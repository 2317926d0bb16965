//! An in-process store: every node is the same mutex-protected map, so it is
//! linearizable by construction. It starts instantly and never fails, which makes it
//! the system for testing the harness itself (determinism, recording, the CLI) and
//! for benchmarking the runtime without a network in the way. It has no processes,
//! so it cannot be faulted.
//!
//! Its bug switches are negative controls, each a bug some checker must catch:
//! - `stale-reads` gives every client its own copy of the keys, refreshed (with the
//!   value before the change) by its writes and by every [`REFRESH_EVERY`]th read:
//!   reads go stale (`memory-stale` is the same system with the switch on);
//! - `lost-writes` acknowledges every [`LOSE_EVERY`]th write (put, successful cas,
//!   commit) without applying it: `set`, `set-full`, `counter` and `unique-ids`
//!   must come out invalid;
//! - `partial-commits` applies only the first write of every
//!   [`PARTIAL_EVERY`]th commit of several keys, and acknowledges it: a
//!   non-atomic transaction, which `bank` must catch.
//! - `stale-snapshot` breaks transaction isolation the way a store that hands out
//!   old snapshots does: a client's transactions read the snapshot taken when its
//!   previous transaction ended, and a commit checks only the versions of the keys
//!   it writes (first-committer-wins on the write set, as snapshot isolation does),
//!   not of the keys it only read. Reads go stale (a strict-serializable violation)
//!   and two transactions can each read what the other overwrites (write skew,
//!   G2-item), which Elle's checkers must catch.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use workloads::api::{Api, BoxFuture, CallError, Client, Kv, Txn, Versioned};

use crate::node_host::node_name;
use crate::system::{
    BugSwitch, Capabilities, ClockMethod, MembershipMethod, NodeEnv, Nodes, System, SystemConfig,
    SystemDef, SystemError,
};
use crate::systems::ReadMode;

const STALE_READS: BugSwitch = BugSwitch {
    name: "stale-reads",
    summary: "each client reads its own copy, refreshed only now and then",
};

const STALE_SNAPSHOT: BugSwitch = BugSwitch {
    name: "stale-snapshot",
    summary: "transactions read the client's previous snapshot and commit checking only \
              the keys they write (write skew)",
};

const LOST_WRITES: BugSwitch =
    BugSwitch { name: "lost-writes", summary: "every 5th acknowledged write is never applied" };

const PARTIAL_COMMITS: BugSwitch = BugSwitch {
    name: "partial-commits",
    summary: "every 3rd multi-key commit applies only its first write",
};

/// `lost-writes` drops every this many acknowledged writes.
pub const LOSE_EVERY: u64 = 5;

/// `partial-commits` tears every this many commits of several keys.
pub const PARTIAL_EVERY: u64 = 3;

const CAPS: Capabilities = Capabilities {
    apis: &[Api::Kv, Api::Txn],
    read_modes: &[ReadMode::Linearizable],
    bugs: &[STALE_READS, LOST_WRITES, PARTIAL_COMMITS, STALE_SNAPSHOT],
    clock: ClockMethod::Unsupported("the memory system runs inside the harness: no clock to move"),
    membership: MembershipMethod::Unsupported(
        "the memory system runs inside the harness: no members",
    ),
    nodes: Nodes::InProcess,
    lease_ttl: None,
};

/// The in-process store in the registry.
pub static SYSTEM: SystemDef = SystemDef {
    name: "memory",
    summary: "an in-process linearizable store, for testing the harness itself",
    caps: CAPS,
    make,
};

/// The same with the stale-read bug switched on: a negative control that must come
/// out invalid.
pub static STALE: SystemDef = SystemDef {
    name: "memory-stale",
    summary: "the in-process store with stale reads (memory --node-bug stale-reads)",
    caps: Capabilities { bugs: &[], ..CAPS },
    make: make_stale,
};

fn make(config: &SystemConfig, env: NodeEnv) -> Result<Box<dyn System>, SystemError> {
    let on = |bug: BugSwitch| config.bugs.iter().any(|b| b == bug.name);
    Ok(Box::new(Memory {
        nodes: env.host.node_count().max(1),
        stale_reads: on(STALE_READS),
        bugs: WriteBugs { lost_writes: on(LOST_WRITES), partial_commits: on(PARTIAL_COMMITS) },
        stale_snapshot: on(STALE_SNAPSHOT),
        ..Memory::new(1)
    }))
}

fn make_stale(config: &SystemConfig, env: NodeEnv) -> Result<Box<dyn System>, SystemError> {
    let mut config = config.clone();
    config.bugs.push(STALE_READS.name.to_string());
    make(&config, env)
}

/// The keys, each with its value and the version of its last write.
#[derive(Debug, Default, Clone)]
struct Store {
    keys: HashMap<String, (String, u64)>,
    /// The version of the last write (versions only grow).
    version: u64,
    /// Acknowledged writes and multi-key commits so far (for the bug switches).
    acknowledged: u64,
    multi_key_commits: u64,
}

impl Store {
    fn read(&self, key: &str) -> Versioned {
        match self.keys.get(key) {
            Some((v, version)) => Versioned { value: Some(v.clone()), version: *version },
            None => Versioned { value: None, version: 0 },
        }
    }

    fn write(&mut self, key: &str, value: &str) {
        self.version += 1;
        self.keys.insert(key.to_string(), (value.to_string(), self.version));
    }

    /// One acknowledged write operation of `writes`, as the bug switches have it:
    /// applied whole, applied in part (`partial-commits`), or not at all
    /// (`lost-writes`).
    fn apply(&mut self, bugs: WriteBugs, writes: &[(&str, &str)]) {
        self.acknowledged += 1;
        if bugs.lost_writes && self.acknowledged.is_multiple_of(LOSE_EVERY) {
            return;
        }
        let mut writes = writes;
        if writes.len() > 1 {
            self.multi_key_commits += 1;
            if bugs.partial_commits && self.multi_key_commits.is_multiple_of(PARTIAL_EVERY) {
                writes = &writes[..1];
            }
        }
        for (key, value) in writes {
            self.write(key, value);
        }
    }
}

/// The write bugs switched on (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
struct WriteBugs {
    lost_writes: bool,
    partial_commits: bool,
}

type Shared = Arc<Mutex<Store>>;

/// The in-process store with `nodes` (identical) nodes.
pub struct Memory {
    nodes: usize,
    store: Shared,
    stale_reads: bool,
    bugs: WriteBugs,
    stale_snapshot: bool,
}

impl Memory {
    pub fn new(nodes: usize) -> Memory {
        Memory {
            nodes: nodes.max(1),
            store: Arc::default(),
            stale_reads: false,
            bugs: WriteBugs::default(),
            stale_snapshot: false,
        }
    }

    /// The same store with the stale-read bug (see the module docs).
    pub fn with_stale_reads(nodes: usize) -> Memory {
        Memory { stale_reads: true, ..Memory::new(nodes) }
    }

    /// The same store with the stale-snapshot bug (see the module docs).
    pub fn with_stale_snapshots(nodes: usize) -> Memory {
        Memory { stale_snapshot: true, ..Memory::new(nodes) }
    }

    /// A client of the store, as its concrete type (tests wrap it).
    pub fn memory_client(&self, node: usize) -> MemoryClient {
        MemoryClient {
            store: self.store.clone(),
            node: node_name(node % self.nodes),
            stale: self.stale_reads.then(HashMap::new),
            reads: 0,
            bugs: self.bugs,
            snapshot: self
                .stale_snapshot
                .then(|| self.store.lock().map(|s| s.clone()).unwrap_or_default()),
        }
    }
}

/// How often a buggy client refreshes its copy: every this many reads.
const REFRESH_EVERY: u64 = 4;

impl System for Memory {
    fn version(&self) -> Result<String, SystemError> {
        Ok(format!("in-process, faultline {}", env!("CARGO_PKG_VERSION")))
    }

    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>> {
        Box::pin(async { Ok(()) })
    }

    fn teardown(&self) -> Result<(), SystemError> {
        Ok(())
    }

    fn leader(&self) -> BoxFuture<'_, Option<usize>> {
        Box::pin(async { Some(0) })
    }

    fn client(&self, node: usize) -> Result<Box<dyn Client>, SystemError> {
        Ok(Box::new(self.memory_client(node)))
    }
}

/// A client of the in-process store.
pub struct MemoryClient {
    store: Shared,
    node: String,
    /// The buggy client's own copy of the keys it touched.
    stale: Option<HashMap<String, Versioned>>,
    reads: u64,
    bugs: WriteBugs,
    /// The stale-snapshot client's snapshot, taken when its last transaction ended.
    snapshot: Option<Store>,
}

impl MemoryClient {
    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The stale-snapshot client takes a new snapshot (its transaction ended).
    fn retake_snapshot(&mut self) {
        if self.snapshot.is_some() {
            let now = self.store().clone();
            self.snapshot = Some(now);
        }
    }

    /// The buggy client refreshes its copy of `key` from the store.
    fn refresh(&mut self, key: &str) {
        let current = self.store().read(key);
        if let Some(copy) = &mut self.stale {
            copy.insert(key.to_string(), current);
        }
    }

    /// A read as this client sees it: the store's, or (buggy) its copy's, refreshed
    /// every [`REFRESH_EVERY`]th read.
    fn read_one(&mut self, key: &str) -> Versioned {
        if self.stale.is_none() {
            return self.store().read(key);
        }
        self.reads += 1;
        if self.reads.is_multiple_of(REFRESH_EVERY) {
            self.refresh(key);
        }
        self.stale
            .as_ref()
            .and_then(|c| c.get(key).cloned())
            .unwrap_or(Versioned { value: None, version: 0 })
    }
}

impl Client for MemoryClient {
    fn node(&self) -> &str {
        &self.node
    }

    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }

    fn txn(&mut self) -> Option<&mut dyn Txn> {
        Some(self)
    }
}

impl Kv for MemoryClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        Box::pin(async move { Ok(self.read_one(key).value) })
    }

    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            self.refresh(key);
            let bugs = self.bugs;
            self.store().apply(bugs, &[(key, value)]);
            Ok(())
        })
    }

    fn cas<'a>(
        &'a mut self,
        key: &'a str,
        from: &'a str,
        to: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(async move {
            self.refresh(key);
            let bugs = self.bugs;
            let mut store = self.store();
            let holds = store.read(key).value.is_some_and(|v| v == from);
            if holds {
                store.apply(bugs, &[(key, to)]);
            }
            Ok(holds)
        })
    }
}

impl Txn for MemoryClient {
    fn read<'a>(
        &'a mut self,
        keys: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Versioned>, CallError>> {
        Box::pin(async move {
            if self.stale.is_some() {
                return Ok(keys.iter().map(|k| self.read_one(k)).collect());
            }
            if let Some(snapshot) = &self.snapshot {
                let found = keys.iter().map(|k| snapshot.read(k)).collect();
                // A read-only transaction ends here; one that writes ends at its commit.
                self.retake_snapshot();
                return Ok(found);
            }
            let store = self.store();
            Ok(keys.iter().map(|k| store.read(k)).collect())
        })
    }

    fn scan<'a>(
        &'a mut self,
        prefix: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, CallError>> {
        Box::pin(async move {
            let store = self.store();
            let mut found: Vec<(String, String)> = store
                .keys
                .iter()
                .filter(|(k, _)| k.starts_with(prefix))
                .map(|(k, (v, _))| (k.clone(), v.clone()))
                .collect();
            found.sort();
            Ok(found)
        })
    }

    fn commit<'a>(
        &'a mut self,
        guards: &'a [(String, u64)],
        writes: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(async move {
            for (key, _) in writes {
                self.refresh(key);
            }
            let bugs = self.bugs;
            let only_written = self.snapshot.is_some();
            let mut store = self.store();
            let checked =
                guards.iter().filter(|(k, _)| !only_written || writes.iter().any(|(w, _)| w == k));
            let holds = !checked.into_iter().any(|(k, version)| store.read(k).version != *version);
            if holds {
                let writes: Vec<(&str, &str)> =
                    writes.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                store.apply(bugs, &writes);
            }
            drop(store);
            self.retake_snapshot();
            Ok(holds)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The write bugs do what their summaries say, and nothing without them.
    #[test]
    fn lost_writes_drop_every_fifth_write_partial_commits_tear_every_third() {
        let mut lost = Store::default();
        let bugs = WriteBugs { lost_writes: true, partial_commits: false };
        for i in 1..=10 {
            lost.apply(bugs, &[(&format!("k{i}"), "v")]);
        }
        let missing: Vec<u64> =
            (1..=10).filter(|i| lost.read(&format!("k{i}")).value.is_none()).collect();
        assert_eq!(missing, vec![5, 10]);
        let mut torn = Store::default();
        let bugs = WriteBugs { lost_writes: false, partial_commits: true };
        for i in 1..=3 {
            torn.apply(bugs, &[(&format!("a{i}"), "1"), (&format!("b{i}"), "2")]);
        }
        assert!(torn.read("a3").value.is_some() && torn.read("b3").value.is_none());
        assert!(torn.read("b2").value.is_some());
        let mut fine = Store::default();
        for i in 1..=10 {
            fine.apply(WriteBugs::default(), &[(&format!("k{i}"), "v"), (&format!("j{i}"), "v")]);
        }
        assert_eq!(fine.keys.len(), 20);
    }
}
