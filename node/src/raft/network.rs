//! Raft RPCs to peers over HTTP (JSON bodies), through one shared reqwest client.
//!
//! A connection failure is reported as `Unreachable` (openraft backs off), a timeout or a
//! broken reply as a network error, and an error the peer's Raft returned as a remote error.
//!
//! # Bounded appends
//! openraft 0.9 bounds an append by entry count only (`max_payload_entries`) and gives it
//! the heartbeat interval to complete. Large entries (values up to 512 KiB, batches of them)
//! would then make one append too big to finish in time, or bigger than the peer's body
//! limit, and the leader would resend the same batch forever. So an append is bounded here
//! by bytes too: the log reader already returns at most about [`APPEND_BYTES`]
//! (see [`super::store`]); if a request is still larger, or the peer answered 413, this
//! connection returns openraft's `PayloadTooLarge` with a smaller entry count, which
//! openraft acts on at once (it retries with that many entries for the next few appends).
//! One entry is always sent: a single entry too large for the peer is reported as a network
//! error naming its size.
//!
//! A large append may still take longer than the heartbeat interval (a slow disk, a loaded
//! machine). It is not abandoned then: a large append runs as its own task with a deadline
//! scaled to its size ([`large_append_deadline`]), and when openraft, after its timeout,
//! sends the same entries again (same term, same `prev_log_id`), the new call waits for the
//! append already on the wire instead of sending it again, and reports what it achieved
//! (`PartialSuccess` when the new request asked for more), after a fresh empty append at the
//! matched position confirms the peer still acknowledges this leader now (openraft counts a
//! success as an acknowledgement at the time the call started). So a batch is transferred
//! once, not resent forever.
//!
//! Snapshot chunks travel with their data in base64 ([`SnapshotChunk`]), not as a JSON array
//! of numbers (up to four times the size).

// openraft's `RPCError` is the error type its `RaftNetwork` trait requires; it is large.
#![allow(clippy::result_large_err)]

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use openraft::BasicNode;
use openraft::error::InstallSnapshotError;
use openraft::error::NetworkError;
use openraft::error::PayloadTooLarge;
use openraft::error::RPCError;
use openraft::error::RaftError;
use openraft::error::RemoteError;
use openraft::error::Unreachable;
use openraft::network::RPCOption;
use openraft::network::RaftNetwork;
use openraft::network::RaftNetworkFactory;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::InstallSnapshotResponse;
use openraft::raft::VoteRequest;
use openraft::raft::VoteResponse;
use serde::Deserialize;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use super::NodeId;
use super::TypeConfig;

/// The size an append request aims to stay under (JSON bytes). One entry may exceed it.
pub const APPEND_BYTES: usize = 1 << 20;

/// The peer routes' body limit: far above [`APPEND_BYTES`] and a snapshot chunk, so a
/// sender within its bounds is never refused.
pub const PEER_BODY_LIMIT: usize = 64 << 20;

/// The snapshot chunk size (raw bytes; about a third more once in base64).
pub const SNAPSHOT_CHUNK: u64 = 1 << 20;

/// A snapshot chunk on the wire: openraft's `InstallSnapshotRequest` with the data as
/// base64.
#[derive(Serialize, Deserialize)]
pub struct SnapshotChunk {
    pub vote: openraft::Vote<NodeId>,
    pub meta: openraft::SnapshotMeta<NodeId, BasicNode>,
    pub offset: u64,
    #[serde(with = "crate::state::b64")]
    pub data: Vec<u8>,
    pub done: bool,
}

impl From<InstallSnapshotRequest<TypeConfig>> for SnapshotChunk {
    fn from(r: InstallSnapshotRequest<TypeConfig>) -> SnapshotChunk {
        SnapshotChunk { vote: r.vote, meta: r.meta, offset: r.offset, data: r.data, done: r.done }
    }
}

impl From<SnapshotChunk> for InstallSnapshotRequest<TypeConfig> {
    fn from(c: SnapshotChunk) -> InstallSnapshotRequest<TypeConfig> {
        InstallSnapshotRequest {
            vote: c.vote,
            meta: c.meta,
            offset: c.offset,
            data: c.data,
            done: c.done,
        }
    }
}

/// Creates one connection per peer target, all sharing the same HTTP client (and its pool).
#[derive(Clone)]
pub struct HttpNetwork {
    client: reqwest::Client,
}

impl HttpNetwork {
    pub fn new() -> anyhow::Result<HttpNetwork> {
        let client = reqwest::Client::builder().no_proxy().tcp_nodelay(true).build()?;
        Ok(HttpNetwork { client })
    }
}

impl RaftNetworkFactory<TypeConfig> for HttpNetwork {
    type Network = PeerConnection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerConnection {
        PeerConnection {
            target,
            addr: node.addr.clone(),
            client: self.client.clone(),
            pending: None,
        }
    }
}

pub struct PeerConnection {
    target: NodeId,
    addr: String,
    client: reqwest::Client,
    /// The large append on the wire (or finished but not yet reported).
    pending: Option<Pending>,
}

type AppendOutcome = Result<
    Result<AppendEntriesResponse<NodeId>, ()>,
    RPCError<NodeId, BasicNode, RaftError<NodeId>>,
>;

/// A large append running as its own task.
struct Pending {
    vote: openraft::Vote<NodeId>,
    prev: Option<openraft::LogId<NodeId>>,
    last: Option<openraft::LogId<NodeId>>,
    entries: usize,
    bytes: usize,
    /// The outcome, once the task finished; `done` turns true then.
    slot: Arc<Mutex<Option<AppendOutcome>>>,
    done: watch::Receiver<bool>,
}

/// Appends at least this big run as their own task (see the module docs).
const LARGE_APPEND: usize = 64 << 10;

/// How long a large append may take: a second plus two per MiB.
fn large_append_deadline(bytes: usize, hard_ttl: Duration) -> Duration {
    hard_ttl.max(Duration::from_millis(1000 + (bytes as u64 * 2000) / (1 << 20)))
}

type RpcResult<Resp, Err> = Result<Resp, RPCError<NodeId, BasicNode, RaftError<NodeId, Err>>>;

fn network_error(msg: String) -> NetworkError {
    NetworkError::new(&std::io::Error::other(msg))
}

/// Posts `body` (already JSON) to a peer and decodes its `Result`. A 413 comes back as
/// `Ok(Err(()))` so the caller can shrink what it sends.
async fn post<Resp, Err>(
    client: reqwest::Client,
    target: NodeId,
    addr: String,
    path: &'static str,
    body: Vec<u8>,
    timeout: Duration,
) -> Result<Result<Resp, ()>, RPCError<NodeId, BasicNode, RaftError<NodeId, Err>>>
where
    Resp: DeserializeOwned,
    Err: std::error::Error + DeserializeOwned,
{
    {
        let url = format!("http://{addr}/raft/{path}");
        let sent = client
            .post(url)
            .timeout(timeout)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) if e.is_connect() => return Err(RPCError::Unreachable(Unreachable::new(&e))),
            Err(e) => return Err(RPCError::Network(NetworkError::new(&e))),
        };
        let status = resp.status();
        if status == reqwest::StatusCode::PAYLOAD_TOO_LARGE {
            return Ok(Err(()));
        }
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            return Err(RPCError::Network(network_error(format!(
                "peer {target} answered {status} to /raft/{path}: {}",
                text.trim()
            ))));
        }
        let body: Result<Resp, RaftError<NodeId, Err>> =
            resp.json().await.map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        body.map(Ok).map_err(|e| RPCError::RemoteError(RemoteError::new(target, e)))
    }
}

impl PeerConnection {
    async fn call<Req, Resp, Err>(
        &self,
        path: &'static str,
        req: &Req,
        option: &RPCOption,
    ) -> RpcResult<Resp, Err>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
        Err: std::error::Error + DeserializeOwned,
    {
        let body = serde_json::to_vec(req)
            .map_err(|e| RPCError::Network(network_error(format!("encoding /raft/{path}: {e}"))))?;
        let size = body.len();
        let sent = post(
            self.client.clone(),
            self.target,
            self.addr.clone(),
            path,
            body,
            option.hard_ttl(),
        );
        match sent.await? {
            Ok(r) => Ok(r),
            Err(()) => Err(RPCError::Network(network_error(format!(
                "peer {} refused a {size}-byte /raft/{path} request as too large (413)",
                self.target
            )))),
        }
    }
}

/// How many leading entries of `sizes` fit in `budget` bytes (at least one).
fn entries_within(sizes: &[usize], budget: usize) -> usize {
    let mut total = 0;
    for (i, s) in sizes.iter().enumerate() {
        total += s;
        if total > budget && i > 0 {
            return i;
        }
    }
    sizes.len().max(1)
}

impl RaftNetwork<TypeConfig> for PeerConnection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let n = rpc.entries.len();
        if n == 0 {
            return self.call("append", &rpc, &option).await;
        }
        let last = rpc.entries.last().map(|e| e.log_id);
        // The same entries (or a prefix of these) are already on the wire: wait for them.
        let joins = self
            .pending
            .as_ref()
            .is_some_and(|p| p.vote == rpc.vote && p.prev == rpc.prev_log_id && p.last <= last);
        if !joins {
            self.pending = None;
            let body = serde_json::to_vec(&rpc)
                .map_err(|e| RPCError::Network(network_error(format!("encoding append: {e}"))))?;
            if body.len() > APPEND_BYTES && n > 1 {
                let sizes: Vec<usize> = rpc
                    .entries
                    .iter()
                    .map(|e| serde_json::to_vec(e).map(|v| v.len()).unwrap_or(APPEND_BYTES))
                    .collect();
                let fit = entries_within(&sizes, APPEND_BYTES);
                if fit < n {
                    return Err(PayloadTooLarge::new_entries_hint(fit as u64).into());
                }
            }
            if body.len() < LARGE_APPEND {
                let sent = post(
                    self.client.clone(),
                    self.target,
                    self.addr.clone(),
                    "append",
                    body,
                    option.hard_ttl(),
                );
                return self.report(sent.await, n, last, last);
            }
            let bytes = body.len();
            let (tx, done) = watch::channel(false);
            let slot = Arc::new(Mutex::new(None));
            let fill = slot.clone();
            let task = post(
                self.client.clone(),
                self.target,
                self.addr.clone(),
                "append",
                body,
                large_append_deadline(bytes, option.hard_ttl()),
            );
            tokio::spawn(async move {
                let outcome: AppendOutcome = task.await;
                if let Ok(mut s) = fill.lock() {
                    *s = Some(outcome);
                }
                let _ = tx.send(true);
            });
            self.pending = Some(Pending {
                vote: rpc.vote,
                prev: rpc.prev_log_id,
                last,
                entries: n,
                bytes,
                slot,
                done,
            });
        }
        if joins {
            tracing::debug!(
                target = self.target,
                entries = n,
                "append: waiting for the one on the wire"
            );
        }
        let Some(p) = self.pending.as_mut() else {
            return Err(RPCError::Network(network_error("append lost".into())));
        };
        let _ = p.done.wait_for(|d| *d).await;
        let outcome = p.slot.lock().ok().and_then(|mut s| s.take()).unwrap_or_else(|| {
            Err(RPCError::Network(network_error("the append task ended without an outcome".into())))
        });
        let (entries, sent_last, bytes) = (p.entries, p.last, p.bytes);
        self.pending = None;
        if matches!(outcome, Ok(Err(()))) {
            tracing::warn!(target = self.target, entries, bytes, "peer refused append (413)");
        }
        let matched = match &outcome {
            Ok(Ok(AppendEntriesResponse::Success)) => Some(sent_last),
            Ok(Ok(AppendEntriesResponse::PartialSuccess(m))) => Some(*m),
            _ => None,
        };
        if let (true, Some(matched)) = (joins, matched) {
            // The peer acknowledged an append sent by an earlier call, before openraft
            // started this one; openraft takes a success as the peer's acknowledgement at this
            // call's start (its leader lease and read-index rounds count on that). So confirm
            // with a fresh, empty append at the matched position before reporting it.
            let confirm = AppendEntriesRequest::<TypeConfig> {
                vote: rpc.vote,
                prev_log_id: matched,
                leader_commit: rpc.leader_commit,
                entries: vec![],
            };
            return match self.call("append", &confirm, &option).await? {
                AppendEntriesResponse::Success if matched < last => {
                    Ok(AppendEntriesResponse::PartialSuccess(matched))
                }
                other => Ok(other),
            };
        }
        self.report(outcome, entries, sent_last, last)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call("snapshot", &SnapshotChunk::from(rpc), &option).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call("vote", &rpc, &option).await
    }
}

impl PeerConnection {
    /// Turns the outcome of an append of `entries` entries ending at `sent_last` into the
    /// answer to a request that asked to end at `asked_last`.
    fn report(
        &self,
        outcome: AppendOutcome,
        entries: usize,
        sent_last: Option<openraft::LogId<NodeId>>,
        asked_last: Option<openraft::LogId<NodeId>>,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        match outcome? {
            Ok(AppendEntriesResponse::Success) if sent_last < asked_last => {
                Ok(AppendEntriesResponse::PartialSuccess(sent_last))
            }
            Ok(resp) => Ok(resp),
            Err(()) if entries > 1 => {
                Err(PayloadTooLarge::new_entries_hint((entries / 2) as u64).into())
            }
            Err(()) => Err(RPCError::Network(network_error(format!(
                "peer {} refused a single log entry as too large (413)",
                self.target
            )))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::entries_within;

    #[test]
    fn entries_within_a_budget_always_takes_one() {
        assert_eq!(entries_within(&[10, 10, 10], 25), 2);
        assert_eq!(entries_within(&[30, 10], 25), 1);
        assert_eq!(entries_within(&[10, 10], 100), 2);
        assert_eq!(entries_within(&[], 100), 1);
    }
}
