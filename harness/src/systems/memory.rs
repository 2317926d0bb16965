//! An in-process store: every node is the same mutex-protected map, so it is
//! linearizable by construction. It starts instantly and never fails, which makes it
//! the system for testing the harness itself (determinism, recording, the CLI) and
//! for benchmarking the runtime without a network in the way. It has no processes,
//! so it cannot be faulted.
//!
//! Its bug switch `stale-reads` gives every client its own copy of the keys, refreshed
//! (with the value before the change) by its writes and by every [`REFRESH_EVERY`]th
//! read: reads go stale, which the
//! checker must catch (`memory-stale` is the same system with the switch on).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use workloads::api::{Api, BoxFuture, CallError, Client, Kv};

use crate::node_host::node_name;
use crate::system::{
    BugSwitch, Capabilities, ClockMethod, NodeEnv, Nodes, System, SystemConfig, SystemDef,
    SystemError,
};
use crate::systems::ReadMode;

const STALE_READS: BugSwitch = BugSwitch {
    name: "stale-reads",
    summary: "each client reads its own copy, refreshed only now and then",
};

const CAPS: Capabilities = Capabilities {
    apis: &[Api::Kv],
    read_modes: &[ReadMode::Linearizable],
    bugs: &[STALE_READS],
    clock: ClockMethod::Unsupported("the memory system runs inside the harness: no clock to move"),
    nodes: Nodes::InProcess,
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
    let stale = config.bugs.iter().any(|b| b == STALE_READS.name);
    Ok(Box::new(Memory {
        nodes: env.host.node_count().max(1),
        stale_reads: stale,
        ..Memory::new(1)
    }))
}

fn make_stale(config: &SystemConfig, env: NodeEnv) -> Result<Box<dyn System>, SystemError> {
    let mut config = config.clone();
    config.bugs.push(STALE_READS.name.to_string());
    make(&config, env)
}

type Registers = Arc<Mutex<HashMap<String, String>>>;

/// The in-process store with `nodes` (identical) nodes.
pub struct Memory {
    nodes: usize,
    registers: Registers,
    stale_reads: bool,
}

impl Memory {
    pub fn new(nodes: usize) -> Memory {
        Memory { nodes: nodes.max(1), registers: Arc::default(), stale_reads: false }
    }

    /// The same store with the stale-read bug (see the module docs).
    pub fn with_stale_reads(nodes: usize) -> Memory {
        Memory { stale_reads: true, ..Memory::new(nodes) }
    }

    /// A client of the store, as its concrete type (tests wrap it).
    pub fn memory_client(&self, node: usize) -> MemoryClient {
        MemoryClient {
            registers: self.registers.clone(),
            node: node_name(node % self.nodes),
            stale: self.stale_reads.then(HashMap::new),
            reads: 0,
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
    registers: Registers,
    node: String,
    /// The buggy client's own copy of the registers.
    stale: Option<HashMap<String, String>>,
    reads: u64,
}

impl MemoryClient {
    fn registers(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.registers.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The buggy client refreshes its copy of `key` from the store.
    fn refresh(&mut self, key: &str) {
        let current = self.registers().get(key).cloned();
        if let Some(copy) = &mut self.stale {
            match current {
                Some(v) => copy.insert(key.to_string(), v),
                None => copy.remove(key),
            };
        }
    }
}

impl Client for MemoryClient {
    fn node(&self) -> &str {
        &self.node
    }

    fn kv(&mut self) -> Option<&mut dyn Kv> {
        Some(self)
    }
}

impl Kv for MemoryClient {
    fn get<'a>(&'a mut self, key: &'a str) -> BoxFuture<'a, Result<Option<String>, CallError>> {
        Box::pin(async move {
            if self.stale.is_some() {
                self.reads += 1;
                if self.reads.is_multiple_of(REFRESH_EVERY) {
                    self.refresh(key);
                }
                return Ok(self.stale.as_ref().and_then(|c| c.get(key).cloned()));
            }
            Ok(self.registers().get(key).cloned())
        })
    }

    fn put<'a>(&'a mut self, key: &'a str, value: &'a str) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(async move {
            self.refresh(key);
            self.registers().insert(key.to_string(), value.to_string());
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
            let mut regs = self.registers();
            let holds = regs.get(key).is_some_and(|v| v == from);
            if holds {
                regs.insert(key.to_string(), to.to_string());
            }
            Ok(holds)
        })
    }
}
