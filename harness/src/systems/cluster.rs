//! What every system that runs one server process per node shares: each node's
//! folder under the run directory (`n1/data`, `n1/<log>`), checking the program is
//! installed, starting every node and waiting until each answers a probe, and
//! teardown (stop every node, remove the data directories). A system keeps only what
//! is its own: the command line of a node, its probe, and its client.

use std::future::Future;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::node_host::{NodeHost, ProcessSpec, node_name};
use crate::system::{NodeEnv, SystemError, log_tail};

/// How a cluster's processes are run and stopped.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// What one process is called in messages (`etcd member`).
    pub what: &'static str,
    /// The log file's name in each node's folder (`etcd.log`).
    pub log_name: &'static str,
    /// How long setup waits for every node to answer its probe.
    pub health_timeout: Duration,
    /// How long teardown waits after SIGTERM before SIGKILL.
    pub stop_grace: Duration,
    /// Remove the data directories at teardown.
    pub remove_data: bool,
}

/// One process per node, on a node host, with its files under the run directory.
pub struct Cluster {
    env: NodeEnv,
    options: ClusterOptions,
}

impl Cluster {
    pub fn new(env: NodeEnv, options: ClusterOptions) -> Cluster {
        Cluster { env, options }
    }

    pub fn host(&self) -> &Arc<dyn NodeHost> {
        &self.env.host
    }

    pub fn node_count(&self) -> usize {
        self.env.host.node_count()
    }

    pub fn address(&self, node: usize) -> IpAddr {
        self.env.host.address(node)
    }

    pub fn node_dir(&self, node: usize) -> PathBuf {
        self.env.run_dir.join(node_name(node))
    }

    pub fn data_dir(&self, node: usize) -> PathBuf {
        self.node_dir(node).join("data")
    }

    pub fn log_file(&self, node: usize) -> PathBuf {
        self.node_dir(node).join(self.options.log_name)
    }

    /// Creates each node's folder, starts `spec(node)` on every node, and waits until
    /// `probe(node)` answers `Ok` for all of them. Fails early, with the end of its
    /// log, when a node's process exits; after the health timeout, with each sick
    /// node's last error.
    pub async fn start_all<F, Fut>(
        &self,
        spec: impl Fn(usize) -> ProcessSpec,
        probe: F,
    ) -> Result<(), SystemError>
    where
        F: Fn(usize) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let n = self.node_count();
        for node in 0..n {
            let dir = self.node_dir(node);
            std::fs::create_dir_all(&dir).map_err(|e| SystemError::Node {
                node: node + 1,
                message: format!("cannot create {}: {e}", dir.display()),
            })?;
            self.env.host.start(node, spec(node).log(self.log_file(node)))?;
        }
        let what = self.options.what;
        let timeout = self.options.health_timeout;
        let deadline = Instant::now() + timeout;
        let mut healthy = vec![false; n];
        let mut last_error = vec![String::new(); n];
        while healthy.iter().any(|h| !h) {
            for node in 0..n {
                if healthy[node] {
                    continue;
                }
                if self.env.host.pid(node).is_none() {
                    let log = self.log_file(node);
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
            if Instant::now() > deadline {
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

    /// Stops every node, then removes the data directories (if asked); reports every
    /// failure, not just the first.
    pub fn teardown(&self) -> Result<(), SystemError> {
        let mut errors: Vec<String> =
            self.env.host.stop_all(self.options.stop_grace).iter().map(|e| e.to_string()).collect();
        if self.options.remove_data {
            for dir in (0..self.node_count()).map(|n| self.data_dir(n)) {
                if dir.exists()
                    && let Err(e) = std::fs::remove_dir_all(&dir)
                {
                    errors.push(format!("cannot remove {}: {e}", dir.display()));
                }
            }
        }
        if errors.is_empty() { Ok(()) } else { Err(SystemError::Other(errors.join("; "))) }
    }

    pub fn log_files(&self, node: usize) -> Vec<PathBuf> {
        vec![self.log_file(node)]
    }
}

/// Runs `binary --version` and reads its version with `parse` (given stdout); any
/// failure is [`SystemError::NotInstalled`] with `install` (what to do about it).
pub fn program_version(
    binary: &Path,
    install: &str,
    parse: impl Fn(&str) -> Option<String>,
) -> Result<String, SystemError> {
    let missing = |why: String| SystemError::NotInstalled(format!("{why}: {install}"));
    if !binary.exists() {
        return Err(missing(format!("{} does not exist", binary.display())));
    }
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .map_err(|e| missing(format!("{} does not run: {e}", binary.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    match parse(&text) {
        Some(version) if out.status.success() => Ok(version),
        _ => Err(missing(format!(
            "{} --version printed {:?} {}",
            binary.display(),
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ))),
    }
}

/// Stops a node removed from the cluster's membership and wipes its data, so that it
/// may only come back as a new member (the membership hooks of builtin and etcd).
pub(crate) fn retire(
    host: &dyn NodeHost,
    data_dirs: &[std::path::PathBuf],
    stop_grace: std::time::Duration,
    node: usize,
) -> nemesis::Result<()> {
    host.stop(node, stop_grace).map_err(|e| nemesis::NemesisError::Command {
        command: format!("stopping removed n{}", node + 1),
        status: "failed".into(),
        stderr: e.to_string(),
    })?;
    match data_dirs.get(node) {
        Some(dir) if dir.exists() => std::fs::remove_dir_all(dir)
            .map_err(|e| nemesis::NemesisError::io(format!("wiping {}", dir.display()), e)),
        _ => Ok(()),
    }
}
