//! The node-host seam on the nemesis lab: node `i` runs in its own network namespace
//! at `198.18.0.(i+1)`, spawned and signalled through the lab (which records every
//! process in its on-disk marker, so a crashed run's processes are swept by the
//! next lab). Clients reach the nodes from the lab's switch namespace: the run's
//! tokio threads enter it when they start ([`enter_switch_on_runtime_threads`]) and
//! the controlling thread enters it for the run ([`SwitchGuard`]).

use std::collections::HashMap;
use std::fs::File;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nemesis::{Lab, ProcHandle};
use nix::sched::{CloneFlags, setns};

use crate::node_host::{
    HostError, NodeHost, NodeSignal, ProcessSpec, open_log, pid_alive, signal_pid,
};

/// Nodes in a lab.
pub struct LabHost {
    lab: Lab,
    /// The pid each spawn returned, to its lab handle (which stays valid across the
    /// nemesis's restarts, whose pids differ).
    handles: Mutex<HashMap<u32, ProcHandle>>,
}

impl LabHost {
    pub fn new(lab: Lab) -> LabHost {
        LabHost { lab, handles: Mutex::new(HashMap::new()) }
    }

    pub fn lab(&self) -> &Lab {
        &self.lab
    }

    fn handle(&self, pid: u32) -> Option<ProcHandle> {
        self.handles.lock().unwrap_or_else(|p| p.into_inner()).get(&pid).copied()
    }
}

fn lab_error(pid: u32, signal: NodeSignal, e: nemesis::NemesisError) -> HostError {
    HostError::Lab(format!("pid {pid}: {signal:?}: {e}"))
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

    fn spawn(&self, node: usize, spec: &ProcessSpec) -> Result<u32, HostError> {
        drop(open_log(node, &spec.log)?); // creates its folder; the lab appends to it
        let program = spec.program.display().to_string();
        let mut lab_spec = nemesis::ProcessSpec::new(program.clone(), &[]).log(spec.log.clone());
        lab_spec.args = spec.args.clone();
        lab_spec.env = spec.env.clone();
        let spawn_err = |e: String| HostError::Spawn {
            node: node + 1,
            program: program.clone(),
            source: std::io::Error::other(e),
        };
        let handle = self.lab.spawn_in(node, lab_spec).map_err(|e| spawn_err(e.to_string()))?;
        let pid = self.lab.pid(handle).ok_or_else(|| spawn_err("exited at once".into()))?;
        self.handles.lock().unwrap_or_else(|p| p.into_inner()).insert(pid, handle);
        Ok(pid)
    }

    fn signal(&self, pid: u32, signal: NodeSignal) -> Result<(), HostError> {
        let Some(h) = self.handle(pid) else { return signal_pid(pid, signal) };
        let result = match signal {
            NodeSignal::Kill => self.lab.kill(h),
            NodeSignal::Term => self.lab.stop(h, Duration::from_secs(1)),
            NodeSignal::Stop => self.lab.pause(h),
            NodeSignal::Cont => self.lab.resume(h),
        };
        result.map(|_| ()).map_err(|e| lab_error(pid, signal, e))
    }

    fn wait_exit(&self, pid: u32, timeout: Duration) -> Result<bool, HostError> {
        let deadline = Instant::now() + timeout;
        loop {
            let gone = match self.handle(pid) {
                Some(h) => self.lab.pid(h).is_none(),
                None => !pid_alive(pid),
            };
            if gone {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
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
