//! The node-host seam on the nemesis lab: node `i` runs in its own network namespace
//! at `198.18.0.(i+1)`, started, signalled and restarted through the lab (which
//! records every process in its on-disk marker, so a crashed run's processes are
//! swept by the next lab). Clients reach the nodes from the lab's switch namespace: the run's
//! tokio threads enter it when they start ([`runtime_in_switch`]) and
//! the controlling thread enters it for the run ([`SwitchGuard`]).

use std::fs::File;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use nemesis::{Lab, ProcHandle};
use nix::sched::{CloneFlags, setns};

use crate::node_host::{HostError, NodeHost, ProcessSpec, open_log};

/// Nodes in a lab. The lab itself is the process registry (it records every process
/// in its on-disk marker and restarts one with the same spec); this host only keeps
/// the handle of each node's process.
pub struct LabHost {
    lab: Lab,
    handles: Mutex<Vec<Option<ProcHandle>>>,
}

impl LabHost {
    pub fn new(lab: Lab) -> LabHost {
        let handles = Mutex::new(vec![None; lab.node_count()]);
        LabHost { lab, handles }
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    fn handle(&self, node: usize) -> Option<ProcHandle> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner()).get(node).copied().flatten()
    }

    fn on(
        &self,
        node: usize,
        verb: &str,
        f: impl FnOnce(&Lab, ProcHandle) -> nemesis::Result<bool>,
    ) -> Result<bool, HostError> {
        match self.handle(node) {
            Some(h) => {
                f(&self.lab, h).map_err(|e| HostError::Lab(format!("{verb} n{}: {e}", node + 1)))
            }
            None => Ok(false),
        }
    }
}

impl NodeHost for LabHost {
    fn kind(&self) -> &'static str {
        "lab"
    }

    fn node_count(&self) -> usize {
        self.lab.node_count()
    }

    fn address(&self, node: usize) -> IpAddr {
        IpAddr::V4(nemesis::lab::node_addr(node))
    }

    fn start(&self, node: usize, spec: ProcessSpec) -> Result<u32, HostError> {
        if let Some(pid) = self.pid(node) {
            return Ok(pid);
        }
        if let Some(log) = &spec.log {
            drop(open_log(node, log)?); // creates its folder; the lab appends to it
        }
        let program = spec.program.clone();
        let spawn_err = |e: String| HostError::Spawn {
            node: node + 1,
            program: program.clone(),
            source: std::io::Error::other(e),
        };
        // A node started before keeps its handle (one process per node, however
        // often it is started over with another spec).
        let handle = match self.handle(node) {
            Some(h) => {
                self.lab.restart_with(h, spec).map_err(|e| spawn_err(e.to_string()))?;
                h
            }
            None => self.lab.spawn_in(node, spec).map_err(|e| spawn_err(e.to_string()))?,
        };
        self.handles.lock().unwrap_or_else(|p| p.into_inner())[node] = Some(handle);
        self.lab.pid(handle).ok_or_else(|| spawn_err("exited at once".into()))
    }

    fn pid(&self, node: usize) -> Option<u32> {
        self.lab.pid(self.handle(node)?)
    }

    fn kill(&self, node: usize) -> Result<bool, HostError> {
        self.on(node, "kill", |lab, h| lab.kill(h))
    }

    fn pause(&self, node: usize) -> Result<bool, HostError> {
        self.on(node, "pause", |lab, h| lab.pause(h))
    }

    fn resume(&self, node: usize) -> Result<bool, HostError> {
        self.on(node, "resume", |lab, h| lab.resume(h))
    }

    fn stop(&self, node: usize, grace: Duration) -> Result<bool, HostError> {
        self.on(node, "stop", |lab, h| lab.stop(h, grace))
    }

    fn started(&self, node: usize) -> bool {
        self.handle(node).is_some()
    }

    fn restart(&self, node: usize) -> Result<bool, HostError> {
        if self.pid(node).is_some() {
            return Ok(false);
        }
        self.on(node, "restart", |lab, h| lab.restart(h))
    }
}

/// Puts the calling thread into the lab's switch namespace until dropped.
pub struct SwitchGuard {
    original: File,
}

impl SwitchGuard {
    pub fn enter(lab: &Lab) -> Result<SwitchGuard, HostError> {
        let original = File::open("/proc/thread-self/ns/net")
            .map_err(|e| HostError::Lab(format!("cannot open this thread's namespace: {e}")))?;
        nemesis::netns::enter(&lab.switch_ns())
            .map_err(|e| HostError::Lab(format!("cannot enter the lab's switch namespace: {e}")))?;
        Ok(SwitchGuard { original })
    }
}

impl Drop for SwitchGuard {
    fn drop(&mut self) {
        let _ = setns(&self.original, CloneFlags::CLONE_NEWNET);
    }
}

/// A tokio runtime whose threads (workers and blocking pool) all live in the
/// lab's switch namespace, so every socket a client opens reaches the nodes.
pub fn runtime_in_switch(lab: &Lab) -> std::io::Result<tokio::runtime::Runtime> {
    let ns = lab.switch_ns();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(move || {
            if let Err(e) = nemesis::netns::enter(&ns) {
                eprintln!("faultline: a runtime thread could not enter {ns}: {e}");
            }
        })
        .build()
}
