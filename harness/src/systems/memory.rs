//! An in-process register store: every node is the same mutex-protected map, so it is
//! linearizable by construction. It starts instantly and never fails, which makes it
//! the system for testing the harness itself (determinism, recording, the CLI) and
//! for benchmarking the runtime without a network in the way. It has no processes,
//! so it cannot be killed or paused.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use history::Value;
use workloads::Invocation;

use crate::client::{Client, Completion};
use crate::node_host::node_name;
use crate::system::{System, SystemError};

type Registers = Arc<Mutex<HashMap<Value, Value>>>;

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
}

/// How often a buggy client refreshes its copy: every this many reads.
const REFRESH_EVERY: u64 = 4;

impl System for Memory {
    type Client = MemoryClient;

    fn name(&self) -> &'static str {
        if self.stale_reads { "memory-stale" } else { "memory" }
    }

    fn node_count(&self) -> usize {
        self.nodes
    }

    fn check_installed(&self) -> Result<String, SystemError> {
        Ok(format!("in-process, faultline {}", env!("CARGO_PKG_VERSION")))
    }

    async fn setup(&self) -> Result<(), SystemError> {
        Ok(())
    }

    fn start(&self, _node: usize) -> Result<(), SystemError> {
        Ok(())
    }

    fn kill(&self, _node: usize) -> Result<(), SystemError> {
        Err(SystemError::Other("the memory system has no processes to kill".into()))
    }

    fn pause(&self, _node: usize) -> Result<(), SystemError> {
        Err(SystemError::Other("the memory system has no processes to pause".into()))
    }

    fn resume(&self, _node: usize) -> Result<(), SystemError> {
        Ok(())
    }

    fn teardown(&self) -> Result<(), SystemError> {
        Ok(())
    }

    fn data_dir(&self, _node: usize) -> PathBuf {
        PathBuf::new()
    }

    fn log_files(&self, _node: usize) -> Vec<PathBuf> {
        Vec::new()
    }

    async fn leader(&self) -> Option<usize> {
        Some(0)
    }

    fn client(&self, node: usize) -> Result<MemoryClient, SystemError> {
        Ok(MemoryClient {
            registers: self.registers.clone(),
            node: node_name(node),
            stale: self.stale_reads.then(HashMap::new),
            reads: 0,
        })
    }
}

/// A client of the in-process store.
pub struct MemoryClient {
    registers: Registers,
    node: String,
    /// The buggy client's own copy of the registers.
    stale: Option<HashMap<Value, Value>>,
    reads: u64,
}

impl Client for MemoryClient {
    fn node(&self) -> &str {
        &self.node
    }

    async fn invoke(&mut self, op: &Invocation) -> Completion {
        let key = op.key.clone().unwrap_or(Value::Nil);
        let mut regs = self.registers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(copy) = &mut self.stale {
            // Refresh what this client is about to touch, except on most reads.
            self.reads += u64::from(op.f == "read");
            if op.f != "read" || self.reads.is_multiple_of(REFRESH_EVERY) {
                copy.insert(key.clone(), regs.get(&key).cloned().unwrap_or(Value::Nil));
            }
            if op.f == "read" {
                return Completion::ok(copy.get(&key).cloned().unwrap_or(Value::Nil));
            }
        }
        match op.f {
            "read" => Completion::ok(regs.get(&key).cloned().unwrap_or(Value::Nil)),
            "write" => {
                regs.insert(key, op.value.clone());
                Completion::ok(op.value.clone())
            }
            "cas" => match op.value.as_list() {
                Some([from, to]) if regs.get(&key) == Some(from) => {
                    regs.insert(key, to.clone());
                    Completion::ok(op.value.clone())
                }
                Some([_, _]) => Completion::fail(op, Value::kw("mismatch")),
                _ => Completion::fail(op, format!("cas needs [from to], got {}", op.value)),
            },
            other => Completion::fail(op, format!("memory client: unknown f {other:?}")),
        }
    }
}
