//! Processes in a lab's nodes, by handle: spawn (recorded in the marker before
//! anyone can lose track of it), kill, graceful stop, pause, resume, restart with
//! the same spec. The signals themselves are in [`crate::process`].

use std::time::Duration;

use nix::sys::signal::Signal;

use crate::control::{Acted, Processes};
use crate::error::{NemesisError, Result};
use crate::lab::{Lab, ProcHandle, lock};
use crate::process::{self, ProcessSpec};
use crate::state::ProcessRecord;

impl Lab {
    /// Starts `spec` inside node `node`'s namespace and records it in the marker
    /// (so a crash of this process still leads to its removal).
    pub fn spawn_in(&self, node: usize, spec: ProcessSpec) -> Result<ProcHandle> {
        let ns = self.node_ns(node)?;
        self.start_record(None, node, &ns, spec)
    }

    /// Starts a process and records it, holding the marker's lock throughout so
    /// concurrent spawns get distinct ids and the marker never misses a pid.
    fn start_record(
        &self,
        existing: Option<usize>,
        node: usize,
        ns: &str,
        spec: ProcessSpec,
    ) -> Result<ProcHandle> {
        let mut state = lock(&self.inner.state);
        let id = existing.unwrap_or(state.processes.len());
        let child = process::spawn(ns, &spec)?;
        let pid = child.id();
        // `ip netns exec` execs in place: pid and start time are the server's.
        let start_time = crate::state::proc_start_time(pid).unwrap_or(0);
        let record = ProcessRecord { id, node, spec, pid: Some(pid), start_time };
        match state.processes.get_mut(id) {
            Some(slot) => *slot = record,
            None => state.processes.push(record),
        }
        lock(&self.inner.children).insert(id, child);
        state.save()?;
        Ok(ProcHandle { id, node })
    }

    fn record(&self, h: ProcHandle) -> Result<ProcessRecord> {
        lock(&self.inner.state)
            .processes
            .get(h.id)
            .cloned()
            .ok_or_else(|| NemesisError::Invalid(format!("no process {} in this lab", h.id)))
    }

    /// Every process handle spawned on `node`.
    pub fn processes_on(&self, node: usize) -> Vec<ProcHandle> {
        lock(&self.inner.state)
            .processes
            .iter()
            .filter(|p| p.node == node)
            .map(|p| ProcHandle { id: p.id, node: p.node })
            .collect()
    }

    /// The pid of a running process (None once it was killed or exited).
    pub fn pid(&self, h: ProcHandle) -> Option<u32> {
        let rec = self.record(h).ok()?;
        let pid = rec.pid?;
        if let Some(child) = lock(&self.inner.children).get_mut(&h.id)
            && let Ok(Some(_)) = child.try_wait()
        {
            return None;
        }
        process::is_same_process(pid, rec.start_time).then_some(pid)
    }

    /// Whether the process is stopped (SIGSTOP).
    pub fn is_paused(&self, h: ProcHandle) -> bool {
        self.pid(h)
            .is_some_and(|pid| matches!(crate::state::proc_state(pid), Some('T') | Some('t')))
    }

    /// SIGKILL, then wait until it is gone. Returns false when it was not running.
    pub fn kill(&self, h: ProcHandle) -> Result<bool> {
        let Some(pid) = self.pid(h) else { return Ok(false) };
        let rec = self.record(h)?;
        let sent = process::signal_checked(pid, rec.start_time, Signal::SIGKILL)?;
        self.wait_exit(h, pid, rec.start_time, Duration::from_secs(5))?;
        Ok(sent)
    }

    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    pub fn stop(&self, h: ProcHandle, grace: Duration) -> Result<bool> {
        let Some(pid) = self.pid(h) else { return Ok(false) };
        let rec = self.record(h)?;
        // A paused process cannot handle SIGTERM: let it run first.
        process::signal_checked(pid, rec.start_time, Signal::SIGCONT)?;
        process::signal_checked(pid, rec.start_time, Signal::SIGTERM)?;
        if self.wait_exit(h, pid, rec.start_time, grace).is_err() {
            process::signal_checked(pid, rec.start_time, Signal::SIGKILL)?;
            self.wait_exit(h, pid, rec.start_time, Duration::from_secs(5))?;
        }
        Ok(true)
    }

    fn wait_exit(&self, h: ProcHandle, pid: u32, start: u64, timeout: Duration) -> Result<()> {
        let mut children = lock(&self.inner.children);
        if process::wait_gone(pid, start, children.get_mut(&h.id), timeout) {
            children.remove(&h.id);
            Ok(())
        } else {
            Err(NemesisError::Invalid(format!("pid {pid} still running after {timeout:?}")))
        }
    }

    /// SIGSTOP, waiting until the kernel reports it stopped.
    pub fn pause(&self, h: ProcHandle) -> Result<bool> {
        let Some(pid) = self.pid(h) else { return Ok(false) };
        let rec = self.record(h)?;
        let sent = process::signal_checked(pid, rec.start_time, Signal::SIGSTOP)?;
        Ok(sent && process::wait_stopped(pid, Duration::from_secs(2)))
    }

    /// SIGCONT.
    pub fn resume(&self, h: ProcHandle) -> Result<bool> {
        let Some(pid) = self.pid(h) else { return Ok(false) };
        let rec = self.record(h)?;
        process::signal_checked(pid, rec.start_time, Signal::SIGCONT)
    }

    /// Starts the process again with the same spec (same command, same data) if it
    /// is not running. Returns false when it was still running.
    pub fn restart(&self, h: ProcHandle) -> Result<bool> {
        if self.pid(h).is_some() {
            return Ok(false);
        }
        let rec = self.record(h)?;
        self.restart_with(h, rec.spec)
    }

    /// Starts the process again under its handle with a new spec (a node started
    /// over with other flags, as a membership change does), if it is not running;
    /// later restarts use the new spec. Returns false when it was still running.
    pub fn restart_with(&self, h: ProcHandle, spec: ProcessSpec) -> Result<bool> {
        if self.pid(h).is_some() {
            return Ok(false);
        }
        let ns = self.node_ns(h.node)?;
        self.start_record(Some(h.id), h.node, &ns, spec)?;
        Ok(true)
    }
}

impl Lab {
    /// Runs `verb` on every process of `node`; stops at the first error (the
    /// remaining ones are untouched, and the caller says "indeterminate").
    fn on_node(&self, node: usize, verb: impl Fn(ProcHandle) -> Result<bool>) -> Result<Acted> {
        let handles = self.processes_on(node);
        if handles.is_empty() {
            return Ok(Acted::NoProcess);
        }
        let mut done = false;
        for h in handles {
            done |= verb(h)?;
        }
        Ok(if done { Acted::Done } else { Acted::Unchanged })
    }
}

/// Node-level process control for the nemesis: each verb acts on every process
/// spawned on the node (through the handle methods above).
impl Processes for Lab {
    fn kill(&self, node: usize) -> Result<Acted> {
        self.on_node(node, |h| Lab::kill(self, h))
    }

    fn pause(&self, node: usize) -> Result<Acted> {
        self.on_node(node, |h| Lab::pause(self, h))
    }

    fn resume(&self, node: usize) -> Result<Acted> {
        self.on_node(node, |h| Lab::resume(self, h))
    }

    fn stop(&self, node: usize, grace: Duration) -> Result<Acted> {
        self.on_node(node, |h| Lab::stop(self, h, grace))
    }

    fn restart(&self, node: usize) -> Result<Acted> {
        self.on_node(node, |h| Lab::restart(self, h))
    }
}
