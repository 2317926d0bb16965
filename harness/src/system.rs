//! The `System` trait (Jepsen's DB with its Primary and LogFiles parts) and the
//! [`SystemDef`] every system is registered with.
//!
//! A system sets its nodes up and tears them down, says where their logs live, which
//! node leads, and opens a client to a node. That is all: its processes run on the
//! [`NodeHost`] it is given, which is the one process registry of a run (the nemesis
//! kills, pauses and restarts nodes through the host, never through the system), and
//! what it can do is stated once, as data, in its [`Capabilities`], which the
//! controller compares with what a run asks for before anything starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use nemesis::clock::ClockHook;
pub use nemesis::clock::ClockMethod;
use nemesis::control::Membership;
use workloads::api::{Api, BoxFuture, Client};

use crate::node_host::{HostError, NodeHost};
use crate::systems::ReadMode;

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

/// A running (or about to run) system under test.
pub trait System: Send + Sync + 'static {
    /// The programs' version (`etcd 3.4.23`), or [`SystemError::NotInstalled`] saying
    /// what to install. Called before setup.
    fn version(&self) -> Result<String, SystemError>;

    /// Starts every node and waits until the cluster serves requests.
    fn setup(&self) -> BoxFuture<'_, Result<(), SystemError>>;

    /// Stops every node and removes what should not be kept. Blocking: called from a
    /// blocking thread.
    fn teardown(&self) -> Result<(), SystemError>;

    /// A client bound to `node`.
    fn client(&self, node: usize) -> Result<Box<dyn Client>, SystemError>;

    /// The node that currently leads, as far as the nodes say (`None`: no leader, the
    /// nodes disagree or do not answer, or the system has no leader).
    fn leader(&self) -> BoxFuture<'_, Option<usize>> {
        Box::pin(async { None })
    }

    /// The node's log files (collected into the run directory already).
    fn log_files(&self, _node: usize) -> Vec<PathBuf> {
        Vec::new()
    }

    /// For a system whose clock is [`ClockMethod::Injected`]: how to move a node's
    /// clock.
    fn clock_hook(&self) -> Option<Arc<dyn ClockHook>> {
        None
    }

    /// For a system whose membership is [`MembershipMethod::Supported`]: how to
    /// remove a member and add it back (the membership nemesis).
    fn membership(&self) -> Option<Arc<dyn Membership>> {
        None
    }
}

/// Whether a system can remove members from its cluster and add them back (the
/// membership nemesis), and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipMethod {
    /// Through [`System::membership`].
    Supported,
    Unsupported(&'static str),
}

/// Whether a system has node processes the nemesis can fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nodes {
    /// One server process per node on the node host: it can be killed, paused,
    /// partitioned.
    Processes,
    /// Runs inside the harness: nothing to fault.
    InProcess,
}

/// A bug switch a system can start with (`--node-bug`): a known real bug re-created
/// so the harness can prove it finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BugSwitch {
    pub name: &'static str,
    pub summary: &'static str,
}

/// What a system can do, stated next to it and read by the controller and by
/// `faultline list`.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    /// The client APIs its clients offer (what workloads need).
    pub apis: &'static [Api],
    /// The read modes it can serve, the first being its default.
    pub read_modes: &'static [ReadMode],
    pub bugs: &'static [BugSwitch],
    pub clock: ClockMethod,
    pub membership: MembershipMethod,
    pub nodes: Nodes,
    /// The default TTL in seconds of the leases its locks hold, when a run can set
    /// it (`--lease-ttl`); `None`: its locks have no such lease.
    pub lease_ttl: Option<u64>,
}

/// The options a run gives a system (each system uses what applies to it; the
/// controller has checked them against its capabilities).
#[derive(Debug, Clone, PartialEq)]
pub struct SystemConfig {
    pub read_mode: ReadMode,
    /// Bug switches, each one of the system's [`Capabilities::bugs`].
    pub bugs: Vec<String>,
    /// Raft pre-vote, for systems that have it.
    pub pre_vote: bool,
    /// The lock leases' TTL in seconds (`--lease-ttl`; only for a system whose
    /// [`Capabilities::lease_ttl`] is set); `None`: the system's default.
    pub lease_ttl: Option<u64>,
}

/// Where a system's nodes run and where its files go.
#[derive(Clone)]
pub struct NodeEnv {
    pub host: Arc<dyn NodeHost>,
    /// The run directory: each node's folder (`n1/`, ...) with its data and logs.
    pub run_dir: PathBuf,
}

/// Builds a system for a run.
pub type MakeFn = fn(&SystemConfig, NodeEnv) -> Result<Box<dyn System>, SystemError>;

/// A system as the registry lists it.
pub struct SystemDef {
    /// The `--system` word.
    pub name: &'static str,
    pub summary: &'static str,
    pub caps: Capabilities,
    pub make: MakeFn,
}

impl std::fmt::Debug for SystemDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SystemDef").field("name", &self.name).finish_non_exhaustive()
    }
}

impl SystemDef {
    /// Whether its clients offer every API in `needs`; the first missing one if not.
    pub fn lacks(&self, needs: &[Api]) -> Option<Api> {
        needs.iter().copied().find(|api| !self.caps.apis.contains(api))
    }

    /// The bug switch called `name`, if it has one.
    pub fn bug(&self, name: &str) -> Option<&'static BugSwitch> {
        self.caps.bugs.iter().find(|b| b.name == name)
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
