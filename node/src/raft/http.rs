//! The peer-facing HTTP routes (`POST /raft/{append,vote,snapshot}`): each hands the request
//! to the local Raft and returns its `Result` as JSON, which [`super::network`] decodes.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use openraft::raft::AppendEntriesRequest;
use openraft::raft::InstallSnapshotRequest;
use openraft::raft::VoteRequest;

use super::NodeId;
use super::Raft;
use super::TypeConfig;

pub fn routes(raft: Raft) -> Router {
    Router::new()
        .route("/raft/append", post(append))
        .route("/raft/vote", post(vote))
        .route("/raft/snapshot", post(snapshot))
        .with_state(raft)
}

async fn append(
    State(raft): State<Raft>,
    Json(req): Json<AppendEntriesRequest<TypeConfig>>,
) -> Json<serde_json::Value> {
    Json(to_json(raft.append_entries(req).await))
}

async fn vote(
    State(raft): State<Raft>,
    Json(req): Json<VoteRequest<NodeId>>,
) -> Json<serde_json::Value> {
    Json(to_json(raft.vote(req).await))
}

async fn snapshot(
    State(raft): State<Raft>,
    Json(req): Json<InstallSnapshotRequest<TypeConfig>>,
) -> Json<serde_json::Value> {
    Json(to_json(raft.install_snapshot(req).await))
}

fn to_json<T: serde::Serialize>(v: T) -> serde_json::Value {
    serde_json::to_value(v)
        .unwrap_or_else(|e| serde_json::json!({ "Err": { "Fatal": e.to_string() } }))
}
