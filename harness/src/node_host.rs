//! Where nodes run: the node-host seam, and the one process registry of a run.
//!
//! A system under test never spawns or signals processes itself; it asks a
//! [`NodeHost`] for the address of each node and to start the node's process. The
//! host remembers, per node, the process it runs and how it was started, so the
//! nemesis can kill, pause, resume, stop and restart a node through the same host
//! (by node, never by a stale pid), and teardown stops whatever runs.
//! [`LoopbackHost`] runs every node on this machine's loopback: node `i` (1-based)
//! listens on `127.0.N.(10+i)` (all of 127/8 is loopback on Linux), so every node
//! uses the same ports, and it keeps a pid file so a later run can sweep the
//! processes of a harness that was killed. The nemesis lab (one network namespace per
//! node, addresses in 198.18.0.0/15) implements the same trait ([`crate::lab_host`]).

use std::fs::{self, OpenOptions};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

pub use nemesis::ProcessSpec;
use nemesis::control::Acted;

/// The signals a host can deliver to a node process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSignal {
    /// SIGKILL: a crash.
    Kill,
    /// SIGTERM: please stop.
    Term,
    /// SIGSTOP: pause.
    Stop,
    /// SIGCONT: resume after a pause.
    Cont,
}

impl NodeSignal {
    fn nix(self) -> Signal {
        match self {
            NodeSignal::Kill => Signal::SIGKILL,
            NodeSignal::Term => Signal::SIGTERM,
            NodeSignal::Stop => Signal::SIGSTOP,
            NodeSignal::Cont => Signal::SIGCONT,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("node n{node}: cannot start {program}: {source}")]
    Spawn { node: usize, program: String, source: io::Error },
    #[error("node n{node}: cannot open its log {path}: {source}")]
    Log { node: usize, path: PathBuf, source: io::Error },
    #[error("pid {pid}: cannot send {signal:?}: {errno}")]
    Signal { pid: u32, signal: NodeSignal, errno: Errno },
    #[error("node n{node}: {message}")]
    Node { node: usize, message: String },
    /// The nemesis lab refused or failed.
    #[error("lab: {0}")]
    Lab(String),
}

/// Where nodes run, and what runs on them. Nodes are numbered from 0 in code and
/// named `n1..nN` for people. Every process verb answers whether it did something
/// (`Ok(false)`: nothing was running, or it was already in that state).
pub trait NodeHost: Send + Sync {
    /// A short name for logs and test.json (`loopback`, `lab`).
    fn kind(&self) -> &'static str;
    fn node_count(&self) -> usize;
    /// Where node `node` listens and where clients reach it.
    fn address(&self, node: usize) -> IpAddr;
    /// Starts `spec` as the node's process unless one is running, and remembers it
    /// for [`NodeHost::restart`]. Returns the server process's own pid.
    fn start(&self, node: usize, spec: ProcessSpec) -> Result<u32, HostError>;
    /// The pid of the node's process while it runs (`None` once it exited or was
    /// killed, or before it was started).
    fn pid(&self, node: usize) -> Option<u32>;
    /// SIGKILL, then waits until it is gone.
    fn kill(&self, node: usize) -> Result<bool, HostError>;
    /// SIGSTOP.
    fn pause(&self, node: usize) -> Result<bool, HostError>;
    /// SIGCONT.
    fn resume(&self, node: usize) -> Result<bool, HostError>;
    /// SIGCONT (a paused process cannot act on SIGTERM), SIGTERM, then SIGKILL after
    /// `grace`.
    fn stop(&self, node: usize, grace: Duration) -> Result<bool, HostError>;
    /// Starts the node's last process again (same command, same data) unless it runs.
    fn restart(&self, node: usize) -> Result<bool, HostError>;
    /// Whether a process was ever started on the node.
    fn started(&self, node: usize) -> bool;

    /// Stops every node, collecting every error rather than stopping at the first.
    fn stop_all(&self, grace: Duration) -> Vec<HostError> {
        (0..self.node_count()).filter_map(|n| self.stop(n, grace).err()).collect()
    }
}

/// A node host as the nemesis's process control: the nemesis kills, pauses and
/// restarts nodes through the same registry the system started them in.
pub struct HostProcesses(pub std::sync::Arc<dyn NodeHost>);

impl HostProcesses {
    fn act(
        &self,
        node: usize,
        verb: impl FnOnce(&dyn NodeHost) -> Result<bool, HostError>,
    ) -> nemesis::Result<Acted> {
        match verb(self.0.as_ref()) {
            Ok(true) => Ok(Acted::Done),
            Ok(false) if self.0.started(node) => Ok(Acted::Unchanged),
            Ok(false) => Ok(Acted::NoProcess),
            Err(e) => Err(nemesis::NemesisError::Invalid(e.to_string())),
        }
    }
}

impl nemesis::control::Processes for HostProcesses {
    fn kill(&self, node: usize) -> nemesis::Result<Acted> {
        self.act(node, |h| h.kill(node))
    }

    fn pause(&self, node: usize) -> nemesis::Result<Acted> {
        self.act(node, |h| h.pause(node))
    }

    fn resume(&self, node: usize) -> nemesis::Result<Acted> {
        self.act(node, |h| h.resume(node))
    }

    fn stop(&self, node: usize, grace: Duration) -> nemesis::Result<Acted> {
        self.act(node, |h| h.stop(node, grace))
    }

    fn restart(&self, node: usize) -> nemesis::Result<Acted> {
        self.act(node, |h| h.restart(node))
    }
}

/// The node's human name, `n1` for node 0.
pub fn node_name(node: usize) -> String {
    format!("n{}", node + 1)
}

/// One line of the pid file: enough for a later run to find and verify a leftover.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeProcess {
    pub node: String,
    pub pid: u32,
    /// The process's command line, so a sweep never kills an unrelated process that
    /// reused the pid.
    pub marker: String,
}

/// What runs on one loopback node.
struct Slot {
    spec: ProcessSpec,
    /// The running child (`None` after it was killed, stopped or reaped).
    child: Option<Child>,
}

/// Nodes on loopback addresses `127.0.<net>.(10+i)`.
pub struct LoopbackHost {
    nodes: usize,
    net: u8,
    slots: Mutex<Vec<Option<Slot>>>,
    /// Rewritten on every start and exit (see the module docs).
    pid_file: Option<PathBuf>,
}

impl LoopbackHost {
    /// `net` picks the third octet, so that concurrent runs on one machine (tests)
    /// can use disjoint addresses with the same ports. At most 200 nodes.
    pub fn new(nodes: usize, net: u8) -> LoopbackHost {
        Self::build(nodes, net, None)
    }

    /// The same, keeping `pid_file` up to date.
    pub fn with_pid_file(nodes: usize, net: u8, pid_file: PathBuf) -> LoopbackHost {
        Self::build(nodes, net, Some(pid_file))
    }

    fn build(nodes: usize, net: u8, pid_file: Option<PathBuf>) -> LoopbackHost {
        let nodes = nodes.min(200);
        let slots = Mutex::new((0..nodes).map(|_| None).collect());
        LoopbackHost { nodes, net, slots, pid_file }
    }

    fn slots(&self) -> MutexGuard<'_, Vec<Option<Slot>>> {
        // A panic while holding this lock leaves the table usable: recover it.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn check(&self, node: usize) -> Result<(), HostError> {
        if node < self.nodes {
            Ok(())
        } else {
            Err(HostError::Node { node: node + 1, message: format!("of {} nodes", self.nodes) })
        }
    }

    /// The running child's pid, reaping it when it has exited.
    fn live_pid(slot: &mut Slot) -> Option<u32> {
        let child = slot.child.as_mut()?;
        match child.try_wait() {
            Ok(None) => Some(child.id()),
            _ => {
                slot.child = None;
                None
            }
        }
    }

    fn signal_node(&self, node: usize, sig: NodeSignal) -> Result<Option<u32>, HostError> {
        self.check(node)?;
        let mut slots = self.slots();
        let Some(pid) = slots[node].as_mut().and_then(Self::live_pid) else { return Ok(None) };
        signal_pid(pid, sig)?;
        Ok(Some(pid))
    }

    /// Waits up to `timeout` for the node's process to exit (reaping it).
    fn wait_gone(&self, node: usize, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            let gone = self.slots()[node].as_mut().and_then(Self::live_pid).is_none();
            if gone {
                self.write_pid_file();
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn spawn(&self, node: usize, spec: &ProcessSpec) -> Result<Child, HostError> {
        let (out, err) = match &spec.log {
            Some(path) => {
                let log = open_log(node, path)?;
                let log2 = log.try_clone().map_err(|source| HostError::Log {
                    node: node + 1,
                    path: path.clone(),
                    source,
                })?;
                (Stdio::from(log), Stdio::from(log2))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args).envs(spec.env.iter().map(|(k, v)| (k, v)));
        if let Some(cwd) = &spec.cwd {
            cmd.current_dir(cwd);
        }
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            // Its own process group: a Ctrl-C at the harness's terminal reaches the
            // harness, which then stops the nodes in order, not the nodes directly.
            .process_group(0)
            .spawn()
            .map_err(|source| HostError::Spawn {
                node: node + 1,
                program: spec.program.clone(),
                source,
            })
    }

    fn write_pid_file(&self) {
        let Some(path) = &self.pid_file else { return };
        let procs: Vec<NodeProcess> = self
            .slots()
            .iter_mut()
            .enumerate()
            .filter_map(|(i, slot)| {
                let slot = slot.as_mut()?;
                let pid = Self::live_pid(slot)?;
                let marker = std::iter::once(slot.spec.program.as_str())
                    .chain(slot.spec.args.iter().map(String::as_str))
                    .collect::<Vec<_>>()
                    .join(" ");
                Some(NodeProcess { node: node_name(i), pid, marker })
            })
            .collect();
        if let Ok(text) = serde_json::to_string_pretty(&procs) {
            // Write then rename: a harness killed mid-write leaves the old file whole.
            let tmp = path.with_extension("tmp");
            if fs::write(&tmp, text).is_ok() {
                let _ = fs::rename(&tmp, path);
            }
        }
    }
}

/// Opens a node log for appending, creating its folder.
pub fn open_log(node: usize, path: &Path) -> Result<fs::File, HostError> {
    let log_err = |source| HostError::Log { node: node + 1, path: path.to_path_buf(), source };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(log_err)?;
    }
    OpenOptions::new().create(true).append(true).open(path).map_err(log_err)
}

impl NodeHost for LoopbackHost {
    fn kind(&self) -> &'static str {
        "loopback"
    }

    fn node_count(&self) -> usize {
        self.nodes
    }

    fn address(&self, node: usize) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(127, 0, self.net, 11 + node as u8))
    }

    fn start(&self, node: usize, spec: ProcessSpec) -> Result<u32, HostError> {
        self.check(node)?;
        let mut slots = self.slots();
        if let Some(pid) = slots[node].as_mut().and_then(Self::live_pid) {
            return Ok(pid);
        }
        let child = self.spawn(node, &spec)?;
        let pid = child.id();
        slots[node] = Some(Slot { spec, child: Some(child) });
        drop(slots);
        self.write_pid_file();
        Ok(pid)
    }

    fn pid(&self, node: usize) -> Option<u32> {
        self.slots().get_mut(node)?.as_mut().and_then(Self::live_pid)
    }

    fn kill(&self, node: usize) -> Result<bool, HostError> {
        if self.signal_node(node, NodeSignal::Kill)?.is_none() {
            return Ok(false);
        }
        if !self.wait_gone(node, Duration::from_secs(5)) {
            return Err(HostError::Node {
                node: node + 1,
                message: "survived SIGKILL for 5 s".into(),
            });
        }
        Ok(true)
    }

    fn pause(&self, node: usize) -> Result<bool, HostError> {
        Ok(self.signal_node(node, NodeSignal::Stop)?.is_some())
    }

    fn resume(&self, node: usize) -> Result<bool, HostError> {
        Ok(self.signal_node(node, NodeSignal::Cont)?.is_some())
    }

    fn stop(&self, node: usize, grace: Duration) -> Result<bool, HostError> {
        if self.signal_node(node, NodeSignal::Cont)?.is_none() {
            return Ok(false);
        }
        self.signal_node(node, NodeSignal::Term)?;
        if !self.wait_gone(node, grace) {
            return self.kill(node);
        }
        Ok(true)
    }

    fn restart(&self, node: usize) -> Result<bool, HostError> {
        self.check(node)?;
        let spec = {
            let mut slots = self.slots();
            let Some(slot) = slots[node].as_mut() else { return Ok(false) };
            if Self::live_pid(slot).is_some() {
                return Ok(false);
            }
            slot.spec.clone()
        };
        self.start(node, spec)?;
        Ok(true)
    }

    fn started(&self, node: usize) -> bool {
        self.slots().get(node).is_some_and(Option::is_some)
    }

    fn stop_all(&self, grace: Duration) -> Vec<HostError> {
        // SIGTERM all first so the graceful waits overlap.
        for node in 0..self.nodes {
            let _ = self.signal_node(node, NodeSignal::Cont);
            let _ = self.signal_node(node, NodeSignal::Term);
        }
        let errors = (0..self.nodes).filter_map(|n| self.stop(n, grace).err()).collect();
        if let Some(path) = &self.pid_file {
            let _ = fs::remove_file(path);
        }
        errors
    }
}

impl Drop for LoopbackHost {
    /// The last line of defence (a panic between start and teardown): no node process
    /// outlives its host.
    fn drop(&mut self) {
        for slot in self.slots().iter_mut().flatten() {
            if let Some(mut child) = slot.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// Sends a signal to a pid; a gone process is fine for kill/term.
pub fn signal_pid(pid: u32, sig: NodeSignal) -> Result<(), HostError> {
    let Ok(raw) = i32::try_from(pid) else {
        return Err(HostError::Signal { pid, signal: sig, errno: Errno::EINVAL });
    };
    match signal::kill(Pid::from_raw(raw), sig.nix()) {
        Ok(()) => Ok(()),
        Err(Errno::ESRCH) if matches!(sig, NodeSignal::Kill | NodeSignal::Term) => Ok(()),
        Err(errno) => Err(HostError::Signal { pid, signal: sig, errno }),
    }
}

/// Whether a process with this pid exists (zombies count as gone).
pub fn pid_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state is the field after the parenthesised command name.
        Ok(stat) => {
            stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z")
        }
        Err(_) => false,
    }
}

/// A process's command line, arguments joined by spaces (empty if gone).
pub fn pid_cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|c| *c == 0)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sleeper(dir: &Path) -> ProcessSpec {
        ProcessSpec::new("sleep", &["30"]).log(dir.join("n1/sleep.log"))
    }

    #[test]
    fn loopback_addresses_and_process_control_by_node() {
        let host = LoopbackHost::new(3, 0);
        assert_eq!(host.address(0).to_string(), "127.0.0.11");
        assert_eq!(host.address(2).to_string(), "127.0.0.13");
        let dir = tempfile::tempdir().unwrap();
        let pid = host.start(0, sleeper(dir.path())).unwrap();
        assert!(pid_alive(pid));
        assert_eq!(host.pid(0), Some(pid));
        // A second start of a running node is the same process.
        assert_eq!(host.start(0, sleeper(dir.path())).unwrap(), pid);
        // Read the command line until it shows: never assert on a scheduling race.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !pid_cmdline(pid).contains("sleep 30") && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(pid_cmdline(pid).contains("sleep 30"), "{:?}", pid_cmdline(pid));
        assert!(host.pause(0).unwrap());
        assert!(host.resume(0).unwrap());
        assert!(host.kill(0).unwrap());
        assert!(!pid_alive(pid));
        assert_eq!(host.pid(0), None);
        // Nothing runs: the verbs say so, and are not errors.
        assert!(!host.kill(0).unwrap());
        assert!(!host.pause(0).unwrap());
        assert!(!host.pause(1).unwrap(), "never started");
        // Restart runs the same command again, under a new pid.
        assert!(host.restart(0).unwrap());
        let again = host.pid(0).expect("restarted");
        assert_ne!(again, pid);
        assert!(!host.restart(0).unwrap(), "already running");
        assert!(host.stop(0, Duration::from_millis(500)).unwrap());
        assert_eq!(host.pid(0), None);
        assert!(host.kill(7).is_err(), "no node n8");
    }

    #[test]
    fn the_pid_file_follows_the_processes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("node-pids.json");
        let host = LoopbackHost::with_pid_file(2, 0, file.clone());
        let pid = host.start(1, sleeper(dir.path())).unwrap();
        let procs: Vec<NodeProcess> =
            serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(procs, vec![NodeProcess { node: "n2".into(), pid, marker: "sleep 30".into() }]);
        host.kill(1).unwrap();
        let procs: Vec<NodeProcess> =
            serde_json::from_str(&fs::read_to_string(&file).unwrap()).unwrap();
        assert!(procs.is_empty());
        assert!(host.stop_all(Duration::from_millis(100)).is_empty());
        assert!(!file.exists());
    }

    #[test]
    fn spawn_of_a_missing_program_names_the_node() {
        let host = LoopbackHost::new(1, 0);
        let dir = tempfile::tempdir().unwrap();
        let spec = ProcessSpec::new("/nonexistent/etcd", &[]).log(dir.path().join("x.log"));
        let err = host.start(0, spec).unwrap_err().to_string();
        assert!(err.contains("n1") && err.contains("/nonexistent/etcd"), "{err}");
    }
}
