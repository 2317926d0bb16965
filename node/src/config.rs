//! Command-line flags of `faultline-node` and the bug switches.
//!
//! # Bug switches (test fixtures, off by default)
//! Each re-creates a known class of real bug so the harness can prove it detects it. They are
//! only ever enabled by an explicit `--bug NAME`; the node logs every enabled switch at start
//! with a warning, and reports them in `GET /v1/faultline/status`.
//! - `stale-default-reads`: default-mode reads are served by any node that believes it leads,
//!   without checking the leader lease (Consul's 2014 stale-read bug).
//! - `ack-before-commit`: KV writes and transactions are answered from the leader's local
//!   state before Raft commits them (the write may then be lost).
//! - `no-fsync`: acknowledged log appends are not fsynced (redb `Durability::None`), so a
//!   crash of every node can lose them.
//! - `lock-no-session-check`: a lock acquire does not check that the session is alive.
//! - `txn-unchecked-reads`: a transaction's `check-index` / `check-not-exists` on keys it
//!   does not also write are skipped: it validates only its write set, as stores that
//!   give snapshot isolation where serializability was promised do, so two transactions
//!   that each read what the other writes both commit (write skew, Elle's G2-item).
//! - `watch-stale-wake`: a blocking query woken by a change answers with the state it read
//!   before the change, under the new `X-Consul-Index`: a watcher resuming from that index
//!   never learns of the change it was woken for.
//! - `health-leader-only`: TTL check updates (`/v1/agent/check/pass|warn|fail|update`) are
//!   applied to the leader's state only, never through Raft: followers (and a next leader)
//!   keep the old health.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Bug {
    StaleDefaultReads,
    AckBeforeCommit,
    NoFsync,
    LockNoSessionCheck,
    TxnUncheckedReads,
    WatchStaleWake,
    HealthLeaderOnly,
}

impl Bug {
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleDefaultReads => "stale-default-reads",
            Bug::AckBeforeCommit => "ack-before-commit",
            Bug::NoFsync => "no-fsync",
            Bug::LockNoSessionCheck => "lock-no-session-check",
            Bug::TxnUncheckedReads => "txn-unchecked-reads",
            Bug::WatchStaleWake => "watch-stale-wake",
            Bug::HealthLeaderOnly => "health-leader-only",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--peers entry {0:?} is not ID=HOST:PORT")]
    BadPeer(String),
    #[error("--peers must include this node's own id {0}")]
    SelfNotInPeers(u64),
    #[error("--election-timeout-ms ({election}) must be at least 3x --heartbeat-ms ({heartbeat})")]
    Timing { election: u64, heartbeat: u64 },
}

/// `faultline-node`: faultline's builtin Consul-like node.
#[derive(Debug, Clone, Parser)]
#[command(name = "faultline-node", version)]
pub struct NodeArgs {
    /// This node's Raft id (a positive integer, unique in the cluster).
    #[arg(long)]
    pub id: u64,
    /// HTTP address to listen on (API and Raft); gossip uses the same address over UDP.
    #[arg(long, default_value = "127.0.0.1:8500")]
    pub bind: SocketAddr,
    /// The address peers and clients should use for this node, if not --bind.
    #[arg(long)]
    pub advertise: Option<String>,
    /// The initial cluster: `1=127.0.0.1:7001,2=127.0.0.1:7002,...` (include this node).
    #[arg(long, value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Do not bootstrap: wait to be added by an existing cluster (`PUT /v1/faultline/join`).
    #[arg(long)]
    pub join: bool,
    /// Where the Raft log and state live (created if missing).
    #[arg(long)]
    pub data_dir: PathBuf,
    /// Raft heartbeat interval.
    #[arg(long, default_value_t = 100)]
    pub heartbeat_ms: u64,
    /// Minimum Raft election timeout (the maximum is twice this). The leader lease is
    /// shorter than this by a margin.
    #[arg(long, default_value_t = 500)]
    pub election_timeout_ms: u64,
    /// Take a snapshot (and later purge the log before it) every this many applied entries.
    #[arg(long, default_value_t = 10_000)]
    pub snapshot_logs: u64,
    /// The shortest session TTL accepted (Consul's `session_ttl_min`, default 10s).
    #[arg(long, default_value = "10s", value_parser = parse_ms)]
    pub session_ttl_min: u64,
    /// Enable a bug switch (repeatable). Test fixtures only: see the crate docs.
    #[arg(long = "bug", value_enum)]
    pub bugs: Vec<Bug>,
}

/// The validated configuration the node runs with.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub id: u64,
    pub bind: SocketAddr,
    pub advertise: String,
    pub peers: BTreeMap<u64, String>,
    pub join: bool,
    pub data_dir: PathBuf,
    pub heartbeat_ms: u64,
    pub election_timeout_ms: u64,
    pub snapshot_logs: u64,
    pub session_ttl_min_ms: u64,
    pub bugs: BTreeSet<Bug>,
}

/// A Go-style duration (`10s`, `500ms`, `1m`) in milliseconds, for flags.
fn parse_ms(s: &str) -> Result<u64, String> {
    crate::api::parse_duration(s).map(|d| d.as_millis() as u64)
}

impl NodeConfig {
    pub fn from_args(args: NodeArgs) -> Result<NodeConfig, ConfigError> {
        let mut peers = BTreeMap::new();
        for p in &args.peers {
            let (id, addr) = p.split_once('=').ok_or_else(|| ConfigError::BadPeer(p.clone()))?;
            let id: u64 = id.trim().parse().map_err(|_| ConfigError::BadPeer(p.clone()))?;
            if addr.parse::<SocketAddr>().is_err() {
                return Err(ConfigError::BadPeer(p.clone()));
            }
            peers.insert(id, addr.trim().to_owned());
        }
        let advertise = args.advertise.clone().unwrap_or_else(|| args.bind.to_string());
        if peers.is_empty() {
            peers.insert(args.id, advertise.clone());
        }
        if !args.join && !peers.contains_key(&args.id) {
            return Err(ConfigError::SelfNotInPeers(args.id));
        }
        if args.election_timeout_ms < 3 * args.heartbeat_ms {
            return Err(ConfigError::Timing {
                election: args.election_timeout_ms,
                heartbeat: args.heartbeat_ms,
            });
        }
        Ok(NodeConfig {
            id: args.id,
            bind: args.bind,
            advertise,
            peers,
            join: args.join,
            data_dir: args.data_dir,
            heartbeat_ms: args.heartbeat_ms,
            election_timeout_ms: args.election_timeout_ms,
            snapshot_logs: args.snapshot_logs.max(1),
            session_ttl_min_ms: args.session_ttl_min,
            bugs: args.bugs.into_iter().collect(),
        })
    }

    pub fn has_bug(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    /// Consul-style node name.
    pub fn node_name(&self) -> String {
        node_name(self.id)
    }
}

/// The catalog (and gossip) name of the node with Raft id `id`.
pub fn node_name(id: u64) -> String {
    format!("node-{id}")
}
