//! The `System` trait (Jepsen's DB with its Kill, Pause, Primary and LogFiles
//! parts): how to check a system is installed, start, stop, kill, pause and resume
//! its nodes, where their data and logs live, which node leads, and how to open a
//! client to a node.
//!
//! Systems run their nodes through a [`NodeHost`]; the
//! shared bookkeeping of node processes (pids, graceful stop, a pid file that lets a
//! later run sweep the leftovers of a killed harness) is [`ProcessTable`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::node_host::{HostError, NodeHost, NodeSignal, ProcessSpec, node_name};

/// What went wrong with a system.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// The program is missing; the message says how to install it.
    #[error("{0}")]
    NotInstalled(String),
    #[error(transparent)]
    Host(#[from] HostError),
    /// A node did not come up; carries the tail of its log.
    #[error("{0}")]
    Unhealthy(String),
    #[error("node n{node}: {message}")]
    Node { node: usize, message: String },
    #[error("{0}")]
    Other(String),
}

/// A system under test.
pub trait System: Send + Sync + 'static {
    type Client: Client;

    fn name(&self) -> &'static str;
    fn node_count(&self) -> usize;

    /// Checks the system's programs are installed and returns their version
    /// (`etcd 3.4.23`), or a [`SystemError::NotInstalled`] saying what to install.
    fn check_installed(&self) -> Result<String, SystemError>;

    /// Starts every node and waits until the cluster serves requests.
    fn setup(&self) -> impl Future<Output = Result<(), SystemError>> + Send;

    /// (Re)starts one node with its existing data (after a kill).
    fn start(&self, node: usize) -> Result<(), SystemError>;
    /// Crashes one node (SIGKILL).
    fn kill(&self, node: usize) -> Result<(), SystemError>;
    /// Pauses one node (SIGSTOP).
    fn pause(&self, node: usize) -> Result<(), SystemError>;
    /// Resumes a paused node (SIGCONT).
    fn resume(&self, node: usize) -> Result<(), SystemError>;
    /// Stops every node (graceful, then forced) and removes what should not be kept.
    /// Blocking: call it from a blocking thread.
    fn teardown(&self) -> Result<(), SystemError>;

    fn data_dir(&self, node: usize) -> PathBuf;
    fn log_files(&self, node: usize) -> Vec<PathBuf>;

    /// The node that currently leads, as far as the nodes say (`None`: no leader, or
    /// the nodes disagree / do not answer).
    fn leader(&self) -> impl Future<Output = Option<usize>> + Send;

    /// A client bound to `node`.
    fn client(&self, node: usize) -> Result<Self::Client, SystemError>;
}

/// One line of the pid file: enough for a later run to find and verify a leftover.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NodeProcess {
    pub node: String,
    pub pid: u32,
    /// A string that occurs in the process's command line (its data dir), so a
    /// sweep never kills an unrelated process that reused the pid.
    pub marker: String,
}

/// The node processes of one system: pids by node, start / kill / pause / stop, and a
/// pid file rewritten on every change.
pub struct ProcessTable {
    host: Arc<dyn NodeHost>,
    /// Per node: its pid and the marker its command line carries.
    pids: Mutex<Vec<Option<(u32, String)>>>,
    pid_file: Option<PathBuf>,
}

impl ProcessTable {
    pub fn new(host: Arc<dyn NodeHost>, pid_file: Option<PathBuf>) -> ProcessTable {
        let n = host.node_count();
        ProcessTable { host, pids: Mutex::new(vec![None; n]), pid_file }
    }

    pub fn host(&self) -> &Arc<dyn NodeHost> {
        &self.host
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Option<(u32, String)>>> {
        self.pids.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn pid(&self, node: usize) -> Option<u32> {
        self.lock().get(node).and_then(|p| p.as_ref().map(|(pid, _)| *pid))
    }

    /// Starts `node` unless it is running. `marker` must occur in the command line.
    pub fn start(&self, node: usize, spec: &ProcessSpec, marker: &str) -> Result<u32, SystemError> {
        if let Some(pid) = self.pid(node)
            && !self.host.wait_exit(pid, Duration::ZERO)?
        {
            return Ok(pid);
        }
        let pid = self.host.spawn(node, spec)?;
        self.lock()[node] = Some((pid, marker.to_string()));
        self.write_pid_file();
        Ok(pid)
    }

    /// Whether the node's process has exited (it crashed, or was never started).
    pub fn exited(&self, node: usize) -> Result<bool, SystemError> {
        match self.pid(node) {
            Some(pid) => Ok(self.host.wait_exit(pid, Duration::ZERO)?),
            None => Ok(true),
        }
    }

    pub fn signal(&self, node: usize, signal: NodeSignal) -> Result<(), SystemError> {
        match self.pid(node) {
            Some(pid) => Ok(self.host.signal(pid, signal)?),
            None => Err(SystemError::Node { node: node + 1, message: "is not running".into() }),
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&self, node: usize) -> Result<(), SystemError> {
        if let Some(pid) = self.pid(node) {
            self.host.signal(pid, NodeSignal::Kill)?;
            self.host.wait_exit(pid, Duration::from_secs(5))?;
            self.lock()[node] = None;
        }
        Ok(())
    }

    /// SIGCONT (a paused process cannot act on SIGTERM), SIGTERM, then SIGKILL after
    /// `grace`.
    pub fn stop(&self, node: usize, grace: Duration) -> Result<(), SystemError> {
        let Some(pid) = self.pid(node) else { return Ok(()) };
        let _ = self.host.signal(pid, NodeSignal::Cont);
        self.host.signal(pid, NodeSignal::Term)?;
        if !self.host.wait_exit(pid, grace)? {
            self.host.signal(pid, NodeSignal::Kill)?;
            if !self.host.wait_exit(pid, Duration::from_secs(5))? {
                return Err(SystemError::Node {
                    node: node + 1,
                    message: format!("pid {pid} survived SIGKILL for 5 s"),
                });
            }
        }
        self.lock()[node] = None;
        Ok(())
    }

    /// Stops every node, collecting every error rather than stopping at the first.
    pub fn stop_all(&self, grace: Duration) -> Vec<SystemError> {
        let n = self.lock().len();
        let mut errors = Vec::new();
        // SIGTERM all first so the graceful waits overlap.
        for node in 0..n {
            if let Some(pid) = self.pid(node) {
                let _ = self.host.signal(pid, NodeSignal::Cont);
                let _ = self.host.signal(pid, NodeSignal::Term);
            }
        }
        for node in 0..n {
            if let Err(e) = self.stop(node, grace) {
                errors.push(e);
            }
        }
        if let Some(path) = &self.pid_file {
            let _ = std::fs::remove_file(path);
        }
        errors
    }

    /// Waits until `probe` answers for every node. Fails early, with the end of its
    /// log, when a node's process exits; after `timeout`, with each sick node's last
    /// error. `what` names a node process in messages (`etcd member`).
    pub async fn wait_healthy<F, Fut>(
        &self,
        what: &str,
        log_of: impl Fn(usize) -> PathBuf,
        timeout: Duration,
        probe: F,
    ) -> Result<(), SystemError>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let n = self.lock().len();
        let deadline = std::time::Instant::now() + timeout;
        let mut healthy = vec![false; n];
        let mut last_error = vec![String::new(); n];
        while healthy.iter().any(|h| !h) {
            for node in 0..n {
                if healthy[node] {
                    continue;
                }
                if self.exited(node)? {
                    let log = log_of(node);
                    return Err(SystemError::Unhealthy(format!(
                        "{what} {} exited during setup; the end of {}:\n{}",
                        node_name(node),
                        log.display(),
                        log_tail(&log, 15)
                    )));
                }
                match probe(node).await {
                    Ok(()) => healthy[node] = true,
                    Err(e) => last_error[node] = e,
                }
            }
            if std::time::Instant::now() > deadline {
                let sick: Vec<String> = (0..n)
                    .filter(|i| !healthy[*i])
                    .map(|i| format!("{}: {}", node_name(i), last_error[i]))
                    .collect();
                return Err(SystemError::Unhealthy(format!(
                    "{what}s not healthy after {timeout:?}: {}",
                    sick.join("; ")
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Teardown: stops every node, then removes the given data directories; reports
    /// every failure, not just the first.
    pub fn stop_and_remove(
        &self,
        grace: Duration,
        data_dirs: impl IntoIterator<Item = PathBuf>,
    ) -> Result<(), SystemError> {
        let mut errors: Vec<String> = self.stop_all(grace).iter().map(|e| e.to_string()).collect();
        for dir in data_dirs {
            if dir.exists()
                && let Err(e) = std::fs::remove_dir_all(&dir)
            {
                errors.push(format!("cannot remove {}: {e}", dir.display()));
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(SystemError::Other(errors.join("; "))) }
    }

    fn write_pid_file(&self) {
        let Some(path) = &self.pid_file else { return };
        let procs: Vec<NodeProcess> = self
            .lock()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                p.as_ref().map(|(pid, marker)| NodeProcess {
                    node: node_name(i),
                    pid: *pid,
                    marker: marker.clone(),
                })
            })
            .collect();
        if let Ok(text) = serde_json::to_string_pretty(&procs) {
            // Write then rename: a harness killed mid-write leaves the old file whole.
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, text).is_ok() {
                let _ = std::fs::rename(&tmp, path);
            }
        }
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
