//! Where nodes run: the node-host seam.
//!
//! A system under test never spawns or signals processes itself; it asks a
//! [`NodeHost`] for the address of each node and to spawn, signal and reap node
//! processes by pid. [`LoopbackHost`] runs every node on this machine's loopback:
//! node `i` (1-based) listens on `127.0.N.(10+i)` (all of 127/8 is loopback on
//! Linux), so every node uses the same ports. The nemesis lab (one network namespace
//! per node, addresses in 198.18.0.0/15) implements the same trait, so a system runs
//! unchanged on either.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// A process to run as one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// stdout and stderr are appended here (kept across restarts).
    pub log: PathBuf,
}

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

/// What went wrong on a node host.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("node n{node}: cannot start {program}: {source}")]
    Spawn { node: usize, program: String, source: io::Error },
    #[error("node n{node}: cannot open its log {path}: {source}")]
    Log { node: usize, path: PathBuf, source: io::Error },
    #[error("pid {pid}: cannot send {signal:?}: {errno}")]
    Signal { pid: u32, signal: NodeSignal, errno: Errno },
    #[error("pid {pid}: cannot wait for it: {source}")]
    Wait { pid: u32, source: io::Error },
    /// The nemesis lab refused or failed.
    #[error("lab: {0}")]
    Lab(String),
}

/// Where nodes run. Nodes are numbered from 0 in code and named `n1..nN` for people.
pub trait NodeHost: Send + Sync {
    /// A short name for logs and test.json (`loopback`, `lab`).
    fn kind(&self) -> &'static str;
    fn node_count(&self) -> usize;
    /// Where node `node` listens and where clients reach it.
    fn address(&self, node: usize) -> IpAddr;
    /// Starts a process for `node`; returns the pid of the server process itself.
    fn spawn(&self, node: usize, spec: &ProcessSpec) -> Result<u32, HostError>;
    /// Delivers a signal to a node process. A process that is already gone is not an
    /// error for [`NodeSignal::Kill`] / [`NodeSignal::Term`] (it is stopped either way).
    fn signal(&self, pid: u32, signal: NodeSignal) -> Result<(), HostError>;
    /// Waits up to `timeout` for `pid` to exit, reaping it; `true` once it is gone.
    fn wait_exit(&self, pid: u32, timeout: Duration) -> Result<bool, HostError>;
}

/// The node's human name, `n1` for node 0.
pub fn node_name(node: usize) -> String {
    format!("n{}", node + 1)
}

/// Nodes on loopback addresses `127.0.<net>.(10+i)`.
pub struct LoopbackHost {
    nodes: usize,
    net: u8,
    /// Children we spawned and have not reaped yet, by pid.
    children: Mutex<HashMap<u32, Child>>,
}

impl LoopbackHost {
    /// `net` picks the third octet, so that concurrent runs on one machine (tests)
    /// can use disjoint addresses with the same ports. At most 200 nodes.
    pub fn new(nodes: usize, net: u8) -> LoopbackHost {
        LoopbackHost { nodes: nodes.min(200), net, children: Mutex::new(HashMap::new()) }
    }

    fn children(&self) -> std::sync::MutexGuard<'_, HashMap<u32, Child>> {
        // A panic while holding this lock leaves the map usable: recover it.
        self.children.lock().unwrap_or_else(|p| p.into_inner())
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

    fn spawn(&self, node: usize, spec: &ProcessSpec) -> Result<u32, HostError> {
        let log = open_log(node, &spec.log)?;
        let log2 = log.try_clone().map_err(|source| HostError::Log {
            node: node + 1,
            path: spec.log.clone(),
            source,
        })?;
        let child = Command::new(&spec.program)
            .args(&spec.args)
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            // Its own process group: a Ctrl-C at the harness's terminal reaches the
            // harness, which then stops the nodes in order, not the nodes directly.
            .process_group(0)
            .spawn()
            .map_err(|source| HostError::Spawn {
                node: node + 1,
                program: spec.program.display().to_string(),
                source,
            })?;
        let pid = child.id();
        self.children().insert(pid, child);
        Ok(pid)
    }

    fn signal(&self, pid: u32, sig: NodeSignal) -> Result<(), HostError> {
        signal_pid(pid, sig)
    }

    fn wait_exit(&self, pid: u32, timeout: Duration) -> Result<bool, HostError> {
        let deadline = Instant::now() + timeout;
        loop {
            {
                let mut children = self.children();
                match children.get_mut(&pid) {
                    Some(child) => match child.try_wait() {
                        Ok(Some(_)) => {
                            children.remove(&pid);
                            return Ok(true);
                        }
                        Ok(None) => {}
                        Err(source) => return Err(HostError::Wait { pid, source }),
                    },
                    // Not our child (or already reaped): ask the kernel.
                    None => {
                        if !pid_alive(pid) {
                            return Ok(true);
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for LoopbackHost {
    /// The last line of defence (a panic between start and teardown): no node process
    /// outlives its host.
    fn drop(&mut self) {
        for (_, mut child) in self.children().drain() {
            let _ = child.kill();
            let _ = child.wait();
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

    #[test]
    fn loopback_addresses_and_process_control() {
        let host = LoopbackHost::new(3, 0);
        assert_eq!(host.address(0).to_string(), "127.0.0.11");
        assert_eq!(host.address(2).to_string(), "127.0.0.13");
        let dir = tempfile::tempdir().unwrap();
        let spec = ProcessSpec {
            program: "sleep".into(),
            args: vec!["30".into()],
            env: vec![],
            log: dir.path().join("n1/sleep.log"),
        };
        let pid = host.spawn(0, &spec).unwrap();
        assert!(pid_alive(pid));
        // Read the command line until it shows: never assert on a scheduling race.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !pid_cmdline(pid).contains("sleep 30") && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(pid_cmdline(pid).contains("sleep 30"), "{:?}", pid_cmdline(pid));
        host.signal(pid, NodeSignal::Stop).unwrap();
        host.signal(pid, NodeSignal::Cont).unwrap();
        assert!(!host.wait_exit(pid, Duration::from_millis(50)).unwrap());
        host.signal(pid, NodeSignal::Kill).unwrap();
        assert!(host.wait_exit(pid, Duration::from_secs(5)).unwrap());
        assert!(!pid_alive(pid));
        // Killing a gone process is not an error; pausing one is.
        host.signal(pid, NodeSignal::Kill).unwrap();
        assert!(host.signal(pid, NodeSignal::Stop).is_err());
    }

    #[test]
    fn spawn_of_a_missing_program_names_the_node() {
        let host = LoopbackHost::new(1, 0);
        let dir = tempfile::tempdir().unwrap();
        let spec = ProcessSpec {
            program: "/nonexistent/etcd".into(),
            args: vec![],
            env: vec![],
            log: dir.path().join("x.log"),
        };
        let err = host.spawn(0, &spec).unwrap_err().to_string();
        assert!(err.contains("n1") && err.contains("/nonexistent/etcd"), "{err}");
    }
}
