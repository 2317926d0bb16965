//! The Consul-style HTTP API: routing, read modes, blocking queries, errors, and the shared
//! plumbing the per-area handlers use (one file per area: [`kv`], [`txn`], [`session`],
//! [`catalog`], [`health`], [`status`], [`agent`], [`faultline`]).
//!
//! Requests that need the leader (writes, and reads that are not `?stale`) are forwarded to
//! the leader by [`forward`] when this node does not believe it leads, as Consul servers do.

pub mod agent;
pub mod batch;
pub mod catalog;
pub mod faultline;
pub mod forward;
pub mod health;
pub mod json;
pub mod kv;
pub mod session;
pub mod status;
pub mod txn;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use axum::Router;
use axum::http::HeaderValue;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::delete;
use axum::routing::get;
use axum::routing::put;

use crate::clock::Clock;
use crate::config::Bug;
use crate::config::NodeConfig;
use crate::gossip::Gossip;
use crate::raft::RaftNode;
use crate::raft::RaftOpError;
use crate::state::Command;
use crate::state::CommandResponse;
use crate::state::StateData;

/// How long a write or a consistent read may wait for Raft before the node answers 500
/// (outcome unknown for a write).
pub const RAFT_TIMEOUT: Duration = Duration::from_secs(5);
/// Consul's default and maximum `wait` for blocking queries.
const DEFAULT_WAIT: Duration = Duration::from_secs(300);
const MAX_WAIT: Duration = Duration::from_secs(600);

/// Everything a handler needs.
pub struct Node {
    pub cfg: NodeConfig,
    pub raft: RaftNode,
    pub clock: Clock,
    pub gossip: Gossip,
    /// For forwarding requests to the leader.
    pub http: reqwest::Client,
    /// Group commit of concurrent writes.
    pub batcher: batch::Batcher,
}

pub type Ctx = Arc<Node>;

pub fn router(ctx: Ctx) -> Router {
    Router::new()
        .route("/v1/kv/", get(kv::get_root).put(kv::put_root).delete(kv::delete_root))
        .route("/v1/kv/{*key}", get(kv::get).put(kv::put).delete(kv::delete))
        .route("/v1/txn", put(txn::put))
        .route("/v1/session/create", put(session::create))
        .route("/v1/session/destroy/{id}", put(session::destroy))
        .route("/v1/session/renew/{id}", put(session::renew))
        .route("/v1/session/info/{id}", get(session::info))
        .route("/v1/session/node/{node}", get(session::node))
        .route("/v1/session/list", get(session::list))
        .route("/v1/catalog/register", put(catalog::register))
        .route("/v1/catalog/deregister", put(catalog::deregister))
        .route("/v1/catalog/datacenters", get(catalog::datacenters))
        .route("/v1/catalog/services", get(catalog::services))
        .route("/v1/catalog/service/{name}", get(catalog::service))
        .route("/v1/catalog/nodes", get(catalog::nodes))
        .route("/v1/catalog/node/{node}", get(catalog::node))
        .route("/v1/health/service/{name}", get(health::service))
        .route("/v1/health/checks/{name}", get(health::checks))
        .route("/v1/health/state/{state}", get(health::state))
        .route("/v1/health/node/{node}", get(health::node))
        .route("/v1/agent/service/register", put(agent::service_register))
        .route("/v1/agent/service/deregister/{id}", put(agent::service_deregister))
        .route("/v1/agent/check/register", put(agent::check_register))
        .route("/v1/agent/check/deregister/{id}", put(agent::check_deregister))
        .route("/v1/agent/check/pass/{id}", put(agent::check_pass))
        .route("/v1/agent/check/warn/{id}", put(agent::check_warn))
        .route("/v1/agent/check/fail/{id}", put(agent::check_fail))
        .route("/v1/agent/check/update/{id}", put(agent::check_update))
        .route("/v1/agent/services", get(agent::services))
        .route("/v1/agent/checks", get(agent::checks))
        .route("/v1/agent/members", get(agent::members))
        .route("/v1/agent/self", get(agent::agent_self))
        .route("/v1/status/leader", get(status::leader))
        .route("/v1/status/peers", get(status::peers))
        .route("/v1/faultline/clock", get(faultline::get_clock).put(faultline::set_clock))
        .route("/v1/faultline/status", get(faultline::status))
        .route("/v1/faultline/join", put(faultline::join))
        .route("/v1/faultline/propose", put(faultline::propose))
        .route("/v1/operator/raft/peer", delete(faultline::leave))
        .fallback(unknown_endpoint)
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), forward::to_leader))
        .with_state(ctx)
}

/// Query parameters; Consul's flags (`?recurse`, `?stale`) arrive with an empty value.
pub type Params = HashMap<String, String>;

/// An API failure, answered the way Consul answers it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    /// 413, with Consul's message for the limit that was hit.
    #[error("{0}")]
    TooLarge(String),
    /// `?dc=` (or a body's `Datacenter`) names a datacenter other than this one.
    #[error("No path to datacenter")]
    NoPathToDatacenter,
    /// No leader is known, or the leader could not be reached.
    #[error("No cluster leader")]
    NoLeader,
    /// Raft did not answer in time: for a write, the outcome is unknown.
    #[error("rpc error: timed out waiting for raft (outcome unknown)")]
    Timeout,
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::NoLeader
            | ApiError::Timeout
            | ApiError::Internal(_)
            | ApiError::NoPathToDatacenter => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let retry = matches!(self, ApiError::NoLeader);
        let mut resp = (status, self.to_string()).into_response();
        if retry {
            // Nothing was proposed: [`forward`] may hold the request and try again.
            resp.headers_mut().insert(forward::RETRYABLE, HeaderValue::from_static("no-leader"));
        }
        resp
    }
}

impl From<RaftOpError> for ApiError {
    fn from(e: RaftOpError) -> ApiError {
        match e {
            RaftOpError::NotLeader { .. } => ApiError::NoLeader,
            RaftOpError::QuorumNotReached(s) | RaftOpError::Other(s) => {
                ApiError::Internal(format!("rpc error: {s}"))
            }
        }
    }
}

/// Consul's read consistency modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    Default,
    Consistent,
    Stale,
}

impl ReadMode {
    pub fn from_params(p: &Params) -> Result<ReadMode, ApiError> {
        match (p.contains_key("consistent"), p.contains_key("stale")) {
            (true, true) => Err(ApiError::BadRequest(
                "Cannot specify ?stale with ?consistent, conflicting semantics.".into(),
            )),
            (true, false) => Ok(ReadMode::Consistent),
            (false, true) => Ok(ReadMode::Stale),
            (false, false) => Ok(ReadMode::Default),
        }
    }
}

impl Node {
    /// Makes the local state fit to answer a read in `mode` (see the crate docs):
    /// `stale` reads anything local; `consistent` does a read-index round; `default` reads
    /// locally while the leader lease holds, else falls back to a read-index round.
    pub async fn read_barrier(&self, mode: ReadMode) -> Result<(), ApiError> {
        match mode {
            ReadMode::Stale => Ok(()),
            ReadMode::Consistent => self.linearizable().await,
            ReadMode::Default => {
                if self.cfg.has_bug(Bug::StaleDefaultReads) && self.raft.believes_leader() {
                    return Ok(()); // The bug: trust the belief, skip the lease.
                }
                if self.raft.believes_leader()
                    && self.raft.lease.holds()
                    && self.raft.applied_own_term()
                {
                    return Ok(());
                }
                self.linearizable().await
            }
        }
    }

    /// A read-index round. A round that did not hear from a quorum in time (openraft gives
    /// each peer one heartbeat interval) is tried again until [`RAFT_TIMEOUT`], as Consul's
    /// `VerifyLeader` waits for the quorum rather than failing on a slow peer.
    async fn linearizable(&self) -> Result<(), ApiError> {
        let deadline = Instant::now() + RAFT_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.raft.linearizable_barrier()).await {
                Ok(Err(RaftOpError::QuorumNotReached(e))) if Instant::now() < deadline => {
                    tracing::debug!(error = %e, "read-index round short of a quorum; again");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(r) => return r.map_err(ApiError::from),
                Err(_) => return Err(ApiError::Timeout),
            }
        }
    }

    /// Proposes `cmd` through Raft (group-committed with concurrent writes) and waits for its
    /// result.
    pub async fn propose(&self, cmd: Command) -> Result<(u64, CommandResponse), ApiError> {
        self.batcher.propose(cmd).await
    }

    /// Proposes `cmd` through whichever node leads, from any node: a call to this node's own
    /// `PUT /v1/faultline/propose`, which [`forward`] sends to the leader (and holds while
    /// there is none). For agent-local endpoints and background work (checks, the serf
    /// reconciler), which must not fail on a follower.
    pub async fn propose_anywhere(&self, cmd: Command) -> Result<(u64, CommandResponse), ApiError> {
        let url = format!("http://{}/v1/faultline/propose", self.cfg.advertise);
        let sent = self
            .http
            .put(url)
            .timeout(forward::RPC_HOLD_TIMEOUT + RAFT_TIMEOUT + Duration::from_secs(5))
            .json(&cmd)
            .send()
            .await
            .map_err(|e| ApiError::Internal(format!("rpc error: proposing: {e}")))?;
        let status = sent.status();
        let text = sent
            .text()
            .await
            .map_err(|e| ApiError::Internal(format!("rpc error: reading the reply: {e}")))?;
        if !status.is_success() {
            return Err(match status {
                StatusCode::INTERNAL_SERVER_ERROR if text == ApiError::NoLeader.to_string() => {
                    ApiError::NoLeader
                }
                _ => ApiError::Internal(text),
            });
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Reply {
            index: u64,
            response: CommandResponse,
        }
        let r: Reply = serde_json::from_str(&text)
            .map_err(|e| ApiError::Internal(format!("rpc error: bad reply {text:?}: {e}")))?;
        Ok((r.index, r.response))
    }

    /// Waits (up to `within`) until this node has applied `index`, so that its local view
    /// (the agent endpoints read it) includes a change the leader acknowledged.
    pub async fn wait_applied(&self, index: u64, within: Duration) {
        let mut applied = self.raft.applied.clone();
        let _ = tokio::time::timeout(within, applied.wait_for(|a| *a >= index)).await;
    }

    /// This node's advertised IP (no port), as the catalog lists it.
    pub fn node_ip(&self) -> String {
        self.cfg
            .advertise
            .rsplit_once(':')
            .map(|(h, _)| h.to_owned())
            .unwrap_or_else(|| self.cfg.advertise.clone())
    }

    /// This node's advertised port.
    pub fn node_port(&self) -> u16 {
        self.cfg.advertise.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).unwrap_or(0)
    }

    /// Runs `f` on the local state.
    pub fn read_state<T>(&self, f: impl FnOnce(&StateData) -> T) -> T {
        let guard = self.raft.state.read().unwrap_or_else(|p| p.into_inner());
        f(&guard)
    }

    /// A blocking query (`?index=N&wait=D`), as Consul's `blockingQuery` runs one: after the
    /// read barrier, the answer comes at once when its index is above `N` (or without
    /// `?index`); otherwise the query waits until *what it reads* changes (Consul wakes it on
    /// the watch channels of the rows it read, not on any write), or until `wait` (default
    /// 5 m, at most 10 m) runs out, and answers with the state then. `f` computes (index,
    /// answer); "what it reads changed" is the answer changing. The index is never below 1
    /// (Consul's rule, so a client never spins on index 0).
    pub async fn blocking_read<T: PartialEq>(
        &self,
        params: &Params,
        f: impl Fn(&StateData) -> (u64, T),
    ) -> Result<(u64, T), ApiError> {
        let mode = ReadMode::from_params(params)?;
        self.read_barrier(mode).await?;
        let min_index: u64 = match params.get("index") {
            Some(s) => s.parse().map_err(|_| ApiError::BadRequest(format!("bad index {s:?}")))?,
            None => 0,
        };
        let wait = match params.get("wait") {
            Some(s) => parse_duration(s)
                .map_err(|e| ApiError::BadRequest(format!("bad wait {s:?}: {e}")))?
                .min(MAX_WAIT),
            None => DEFAULT_WAIT,
        };
        let deadline = Instant::now() + wait;
        let mut applied = self.raft.applied.clone();
        applied.borrow_and_update();
        let (index, first) = self.read_state(&f);
        if min_index == 0 || index > min_index {
            return Ok((index.max(1), first));
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let woke = tokio::time::timeout(left, applied.changed()).await;
            applied.borrow_and_update();
            let (index, answer) = self.read_state(&f);
            if answer != first && self.cfg.has_bug(Bug::WatchStaleWake) {
                // The bug: the change woke the query, but it answers what it read before.
                return Ok((index.max(1), first));
            }
            if answer != first || woke.is_err() || Instant::now() >= deadline {
                return Ok((index.max(1), answer));
            }
        }
    }

    /// Consul's query-meta headers on a read this node answered: `X-Consul-Index`,
    /// `X-Consul-KnownLeader`, `X-Consul-LastContact` (ms since this node last heard from the
    /// leader; 0 on the leader) and `X-Consul-Effective-Consistency`.
    pub fn with_meta(&self, index: u64, params: &Params, resp: impl IntoResponse) -> Response {
        let mut resp = with_index(index, self.raft.leader().is_some(), resp);
        let last_contact =
            if self.raft.believes_leader() { 0 } else { self.raft.last_contact_ms() };
        let consistency = match ReadMode::from_params(params) {
            Ok(ReadMode::Stale) => "stale",
            Ok(ReadMode::Consistent) => "consistent",
            _ => "leader",
        };
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&last_contact.to_string()) {
            h.insert("X-Consul-LastContact", v);
        }
        h.insert("X-Consul-Effective-Consistency", HeaderValue::from_static(consistency));
        resp
    }
}

/// Adds Consul's index and leader headers to a response.
pub fn with_index(index: u64, known_leader: bool, resp: impl IntoResponse) -> Response {
    let mut resp = resp.into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&index.max(1).to_string()) {
        h.insert("X-Consul-Index", v);
    }
    h.insert(
        "X-Consul-KnownLeader",
        HeaderValue::from_static(if known_leader { "true" } else { "false" }),
    );
    resp
}

/// Consul's answer to a path under `/v1/` that is no API endpoint (its HTTP index handler).
pub async fn unknown_endpoint(uri: axum::http::Uri) -> Response {
    let text = if uri.path().contains("/v1/") {
        "Invalid URL path: not a recognized HTTP API endpoint\n"
    } else {
        "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'\n"
    };
    (StatusCode::NOT_FOUND, text).into_response()
}

/// Parses Go-style durations as Consul accepts them: `10s`, `1m30s`, `500ms`, `2h`; a bare
/// number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return Ok(Duration::from_secs_f64(secs.max(0.0)));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return Err(format!("invalid duration {s:?}"));
        }
        let n: f64 = rest[..num_end].parse().map_err(|_| format!("invalid duration {s:?}"))?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            u => return Err(format!("unknown unit {u:?} in duration {s:?}")),
        };
        total += n * scale;
        rest = &rest[unit_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

/// Formats a duration the way Go prints simple ones (`10s`, `1.5s`, `250ms`).
pub fn format_duration(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms > 1000 {
        format!("{}s", ms as f64 / 1000.0)
    } else {
        format!("{ms}ms")
    }
}

/// Parses a JSON body Consul's way (field names case-insensitive; see [`json`]).
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    json::body(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("10x").is_err());
        assert!(parse_duration("s").is_err());
        assert_eq!(format_duration(10_000), "10s");
        assert_eq!(format_duration(250), "250ms");
    }
}
