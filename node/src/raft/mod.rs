//! All of the openraft (0.9) glue, kept in one module so that a move to openraft 0.10 stays
//! contained: the type configuration, the redb-backed log and state machine
//! ([`store`]), the HTTP transport between peers ([`network`] as client, [`http`] as server
//! routes), and the leader lease ([`lease`]).
//!
//! The rest of the crate sees [`RaftNode`]: propose a [`Command`], ask who leads, wait for a
//! linearizable read point, and read the replicated state.

pub mod http;
pub mod lease;
pub mod network;
pub mod store;

use std::collections::BTreeMap;
// `declare_raft_types!` in 0.9 expands to a bare `Cursor` (a hygiene bug in the macro).
use std::io::Cursor;
use std::sync::Arc;
use std::sync::RwLock;
use std::time::Duration;

use openraft::BasicNode;
use openraft::ServerState;

use crate::clock::Clock;
use crate::state::Command;
use crate::state::CommandResponse;
use crate::state::StateData;

openraft::declare_raft_types!(
    /// The node's Raft types: u64 ids, peers addressed by their HTTP address.
    pub TypeConfig:
        D = Command,
        R = CommandResponse,
        NodeId = u64,
        Node = BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

pub type Raft = openraft::Raft<TypeConfig>;
pub type NodeId = u64;

/// Why a proposal or a read point failed.
#[derive(Debug, thiserror::Error)]
pub enum RaftOpError {
    /// This node is not the leader; `leader` is who it thinks leads (if anyone).
    #[error("not the leader (leader: {leader:?})")]
    NotLeader { leader: Option<(NodeId, String)> },
    /// A read-index round did not hear from a quorum in time (a slow or unreachable peer);
    /// nothing changed, and a later round may succeed.
    #[error("raft: {0}")]
    QuorumNotReached(String),
    /// The outcome is unknown (e.g. leadership lost mid-way, or Raft shut down).
    #[error("raft: {0}")]
    Other(String),
}

/// How long one snapshot chunk (and the install of the whole snapshot, at the last chunk)
/// may take before the leader gives up and starts the transfer again.
const SNAPSHOT_CHUNK_TIMEOUT_MS: u64 = 10_000;

/// Timing knobs of the Raft instance.
#[derive(Debug, Clone, Copy)]
pub struct RaftTiming {
    pub heartbeat_ms: u64,
    pub election_timeout_min_ms: u64,
    pub election_timeout_max_ms: u64,
    /// Snapshot every this many applied entries.
    pub snapshot_logs: u64,
}

/// A running Raft member plus the shared view of its applied state.
#[derive(Clone)]
pub struct RaftNode {
    pub id: NodeId,
    pub raft: Raft,
    pub state: Arc<RwLock<StateData>>,
    /// The last applied log index; changes wake blocking queries.
    pub applied: tokio::sync::watch::Receiver<u64>,
    pub lease: lease::LeaseTracker,
    /// When this node last accepted an append from a leader (Consul's `LastContact`).
    pub last_contact: Arc<std::sync::Mutex<Option<std::time::Instant>>>,
}

impl RaftNode {
    /// Opens (or creates) the store under `data_dir` and starts Raft. Does not bootstrap.
    pub async fn start(
        id: NodeId,
        data_dir: &std::path::Path,
        timing: RaftTiming,
        fsync: bool,
        clock: Clock,
    ) -> anyhow::Result<RaftNode> {
        let config = openraft::Config {
            cluster_name: "faultline".into(),
            heartbeat_interval: timing.heartbeat_ms,
            election_timeout_min: timing.election_timeout_min_ms,
            election_timeout_max: timing.election_timeout_max_ms,
            // Snapshots keep the log (and restart replay) short on long runs.
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(timing.snapshot_logs),
            // Keep a tail of the log behind the snapshot so briefly lagging followers catch up
            // from the log; far-behind ones get the snapshot.
            max_in_snapshot_log_to_keep: timing.snapshot_logs / 10,
            // Snapshots travel in 1 MiB chunks (base64 on the wire, well under the peer body
            // limit); each chunk, and the install at the last one, may take this long.
            snapshot_max_chunk_size: network::SNAPSHOT_CHUNK,
            install_snapshot_timeout: SNAPSHOT_CHUNK_TIMEOUT_MS,
            ..Default::default()
        };
        let config = Arc::new(config.validate()?);
        let db = store::open_db(&data_dir.join("raft.redb"))?;
        let (log_store, state_machine) = store::open(db, data_dir, fsync)?;
        let state = state_machine.shared_state();
        let applied = state_machine.applied_watch();
        let network = network::HttpNetwork::new()?;
        let raft = Raft::new(id, config, network, log_store, state_machine).await?;
        // The lease is shorter than openraft's follower-side lease (election_timeout_max, during
        // which no follower votes for anyone else): it is election_timeout_min minus a margin
        // for scheduling delays and clock-rate differences.
        let lease_ms = timing.election_timeout_min_ms.saturating_sub(
            (timing.election_timeout_min_ms / 5).max(2 * timing.heartbeat_ms).max(50),
        );
        let lease = lease::LeaseTracker::start(
            raft.clone(),
            Duration::from_millis(lease_ms),
            Duration::from_millis(timing.heartbeat_ms),
            clock,
        );
        let last_contact = Arc::new(std::sync::Mutex::new(None));
        Ok(RaftNode { id, raft, state, applied, lease, last_contact })
    }

    /// Bootstraps a fresh cluster with these voters; a no-op on an already initialised store.
    pub async fn bootstrap(&self, peers: &BTreeMap<NodeId, String>) -> anyhow::Result<()> {
        let members: BTreeMap<NodeId, BasicNode> =
            peers.iter().map(|(id, addr)| (*id, BasicNode { addr: addr.clone() })).collect();
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            Err(openraft::error::RaftError::APIError(
                openraft::error::InitializeError::NotAllowed(_),
            )) => Ok(()),
            Err(e) => Err(anyhow::anyhow!("bootstrap failed: {e}")),
        }
    }

    /// Proposes `cmd` and waits until it is committed and applied here.
    pub async fn propose(&self, cmd: Command) -> Result<(u64, CommandResponse), RaftOpError> {
        match self.raft.client_write(cmd).await {
            Ok(resp) => Ok((resp.log_id.index, resp.data)),
            Err(e) => Err(write_error(e)),
        }
    }

    /// Read-index: returns once this leader has confirmed leadership with a quorum and applied
    /// everything committed before the call (openraft's `ensure_linearizable`).
    pub async fn linearizable_barrier(&self) -> Result<(), RaftOpError> {
        match self.raft.ensure_linearizable().await {
            Ok(_) => Ok(()),
            Err(openraft::error::RaftError::APIError(
                openraft::error::CheckIsLeaderError::ForwardToLeader(f),
            )) => Err(RaftOpError::NotLeader {
                leader: f.leader_id.zip(f.leader_node.map(|n| n.addr)),
            }),
            Err(openraft::error::RaftError::APIError(
                openraft::error::CheckIsLeaderError::QuorumNotEnough(q),
            )) => Err(RaftOpError::QuorumNotReached(q.to_string())),
            Err(e) => Err(RaftOpError::Other(e.to_string())),
        }
    }

    /// Milliseconds since this node last accepted an append from a leader (u64::MAX if never).
    pub fn last_contact_ms(&self) -> u64 {
        match self.last_contact.lock().ok().and_then(|g| *g) {
            Some(t) => t.elapsed().as_millis() as u64,
            None => u64::MAX,
        }
    }

    /// Whether this node believes it is the leader (it may be deposed without knowing).
    pub fn believes_leader(&self) -> bool {
        let m = self.raft.metrics().borrow().clone();
        m.state == ServerState::Leader && m.current_leader == Some(self.id)
    }

    /// Whether this leader has applied an entry of its own term, so its local state includes
    /// every entry committed by earlier leaders.
    pub fn applied_own_term(&self) -> bool {
        let m = self.raft.metrics().borrow().clone();
        m.last_applied.is_some_and(|l| l.leader_id.term == m.current_term)
    }

    /// The leader this node knows of: (id, HTTP address).
    pub fn leader(&self) -> Option<(NodeId, String)> {
        let m = self.raft.metrics().borrow().clone();
        let id = m.current_leader?;
        let addr = m.membership_config.membership().get_node(&id).map(|n| n.addr.clone())?;
        Some((id, addr))
    }

    /// Voters of the current membership: (id, HTTP address).
    pub fn voters(&self) -> Vec<(NodeId, String)> {
        let m = self.raft.metrics().borrow().clone();
        let membership = m.membership_config.membership();
        membership
            .voter_ids()
            .filter_map(|id| membership.get_node(&id).map(|n| (id, n.addr.clone())))
            .collect()
    }

    /// Adds `id` as a learner, waits for it to catch up, then makes it a voter.
    pub async fn join(&self, id: NodeId, addr: String) -> Result<(), RaftOpError> {
        self.raft.add_learner(id, BasicNode { addr }, true).await.map_err(write_error)?;
        let mut voters: std::collections::BTreeSet<NodeId> =
            self.voters().into_iter().map(|(id, _)| id).collect();
        voters.insert(id);
        self.raft.change_membership(voters, false).await.map_err(write_error)?;
        Ok(())
    }

    /// Removes `id` from the voters (and from the cluster).
    pub async fn leave(&self, id: NodeId) -> Result<(), RaftOpError> {
        let voters: std::collections::BTreeSet<NodeId> =
            self.voters().into_iter().map(|(v, _)| v).filter(|v| *v != id).collect();
        self.raft.change_membership(voters, false).await.map_err(write_error)?;
        Ok(())
    }
}

/// A write's error: "not the leader" (nothing was proposed here, so the request may be
/// held and retried: see `api::forward`), or anything else.
fn write_error(
    e: openraft::error::RaftError<NodeId, openraft::error::ClientWriteError<NodeId, BasicNode>>,
) -> RaftOpError {
    match e {
        openraft::error::RaftError::APIError(
            openraft::error::ClientWriteError::ForwardToLeader(f),
        ) => RaftOpError::NotLeader { leader: f.leader_id.zip(f.leader_node.map(|n| n.addr)) },
        e => RaftOpError::Other(e.to_string()),
    }
}
