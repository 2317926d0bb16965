//! The peer-facing HTTP routes (`POST /raft/{append,vote,snapshot}`): each hands the request
//! to the local Raft and returns its `Result` as JSON, which [`super::network`] decodes.
//!
//! Their body limit is [`PEER_BODY_LIMIT`] (the HTTP framework's default, 2 MiB, is smaller
//! than a legitimate append of large values); a body over it is answered 413, which the
//! sending leader acts on by sending fewer entries.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::State;
use axum::routing::post;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::AppendEntriesResponse;
use openraft::raft::VoteRequest;

use super::NodeId;
use super::Raft;
use super::RaftNode;
use super::TypeConfig;
use super::network::PEER_BODY_LIMIT;
use super::network::SnapshotChunk;

type LastContact = Arc<Mutex<Option<Instant>>>;

pub fn routes(node: &RaftNode) -> Router {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .layer(DefaultBodyLimit::max(PEER_BODY_LIMIT))
        .with_state((node.raft.clone(), node.last_contact.clone()))
}

async fn append(
    State((raft, last_contact)): State<(Raft, LastContact)>,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<serde_json::Value> {
    let n = req.entries.len();
    let started = Instant::now();
    let result = raft.append_entries(req).await;
    if started.elapsed() > std::time::Duration::from_millis(50) {
        tracing::debug!(entries = n, took = ?started.elapsed(), "slow append");
    }
    if matches!(
        result,
        Ok(AppendEntriesResponse::Success | AppendEntriesResponse::PartialSuccess(_))
    ) && let Ok(mut t) = last_contact.lock()
    {
        *t = Some(Instant::now());
    }
    Json(to_json(result))
}

async fn vote(
    State((raft, _)): State<(Raft, LastContact)>,
    Json(req): Json<VoteRequest<NodeId>>,
) -> Json<serde_json::Value> {
    Json(to_json(raft.vote(req).await))
}

async fn snapshot(
    State((raft, _)): State<(Raft, LastContact)>,
    Json(chunk): Json<SnapshotChunk>,
) -> Json<serde_json::Value> {
    Json(to_json(raft.install_snapshot(chunk.into()).await))
}

fn to_json<T: serde::Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v)
        .unwrap_or_else(|e| serde_json::json!({ "Err": { "Fatal": e.to_string() } }))
}
