//! `/v1/status/leader` (the leader's address as a JSON string, `""` when none is known) and
//! `/v1/status/peers` (the voters' addresses), answered from this node's own Raft view.

use axum::Json;
use axum::extract::State;

use super::Ctx;

pub async fn leader(State(ctx): State<Ctx>) -> Json<String> {
    Json(ctx.raft.leader().map(|(_, addr)| addr).unwrap_or_default())
}

pub async fn peers(State(ctx): State<Ctx>) -> Json<Vec<String>> {
    Json(ctx.raft.voters().into_iter().map(|(_, addr)| addr).collect())
}
