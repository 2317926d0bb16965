//! faultline's own endpoints (not Consul's), for the harness and for people poking a lab:
//!
//! - `GET /v1/faultline/clock` -> `{"OffsetMs","NowMs"}`; `PUT /v1/faultline/clock?offset_ms=N`
//!   steps the injected clock to N ms from real time (negative: behind). Used by the clock
//!   nemesis; it moves session TTLs, lock-delay, check TTLs and the leader lease.
//! - `GET /v1/faultline/status` -> this node's Raft view: id, state, term, leader, last
//!   applied index, whether the lease holds, enabled bug switches, clock offset.
//! - `PUT /v1/faultline/join?id=N&addr=HOST:PORT`: adds a node (started with `--join`) as a
//!   learner, then as a voter. `DELETE /v1/operator/raft/peer?id=N` removes a voter (Consul's
//!   endpoint for the same).

use axum::Json;
use axum::extract::Query;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::Response;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use crate::config::Bug;

fn clock_json(ctx: &Ctx) -> JsonValue {
    json!({ "OffsetMs": ctx.clock.offset_ms(), "NowMs": ctx.clock.now_ms() })
}

pub async fn get_clock(State(ctx): State<Ctx>) -> Json<JsonValue> {
    Json(clock_json(&ctx))
}

pub async fn set_clock(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    let Some(raw) = p.get("offset_ms") else {
        return ApiError::BadRequest("missing ?offset_ms=N".into()).into_response();
    };
    match raw.parse::<i64>() {
        Ok(ms) => {
            tracing::warn!(offset_ms = ms, "clock offset changed");
            ctx.clock.set_offset_ms(ms);
            Json(clock_json(&ctx)).into_response()
        }
        Err(_) => ApiError::BadRequest(format!("bad offset_ms {raw:?}")).into_response(),
    }
}

pub async fn status(State(ctx): State<Ctx>) -> Json<JsonValue> {
    let m = ctx.raft.raft.metrics().borrow().clone();
    Json(json!({
        "ID": ctx.cfg.id,
        "Addr": ctx.cfg.advertise,
        "State": format!("{:?}", m.state),
        "Term": m.current_term,
        "Leader": m.current_leader,
        "LastLogIndex": m.last_log_index,
        "LastApplied": m.last_applied.map(|l| l.index),
        "Snapshot": m.snapshot.map(|l| l.index),
        "Purged": m.purged.map(|l| l.index),
        "LeaseHeld": ctx.raft.believes_leader() && ctx.raft.lease.holds(),
        "LeaseMs": ctx.raft.lease.lease().as_millis() as u64,
        "Bugs": ctx.cfg.bugs.iter().map(|b| b.name()).collect::<Vec<_>>(),
        "ClockOffsetMs": ctx.clock.offset_ms(),
    }))
}

fn id_param(p: &Params) -> Result<u64, ApiError> {
    p.get("id")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| ApiError::BadRequest("missing or bad ?id=N".into()))
}

pub async fn join(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    let id = match id_param(&p) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let Some(addr) = p.get("addr").filter(|a| a.parse::<std::net::SocketAddr>().is_ok()) else {
        return ApiError::BadRequest("missing or bad ?addr=HOST:PORT".into()).into_response();
    };
    match ctx.raft.join(id, addr.clone()).await {
        Ok(()) => Json(true).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `PUT /v1/faultline/propose` (internal): proposes a JSON [`crate::state::Command`] on the
/// leader and answers its JSON [`crate::state::CommandResponse`]. Agent-local endpoints use
/// it through [`super::Node::propose_anywhere`]. Under the `health-leader-only` bug a check
/// update is applied to the leader's own state instead, never replicated.
pub async fn propose(State(ctx): State<Ctx>, body: axum::body::Bytes) -> Response {
    let cmd: crate::state::Command = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return ApiError::BadRequest(format!("bad command: {e}")).into_response(),
    };
    let health_update = matches!(
        &cmd,
        crate::state::Command::Catalog(crate::state::CatalogCommand::UpdateCheck { .. })
    );
    if health_update && ctx.cfg.has_bug(Bug::HealthLeaderOnly) && ctx.raft.believes_leader() {
        // The bug: the leader changes its own state and tells no one.
        let index = *ctx.raft.applied.borrow();
        let mut state = ctx.raft.state.write().unwrap_or_else(|p| p.into_inner());
        let resp = state.apply(index, &cmd, &mut crate::state::Dirty::default());
        return Json(json!({ "Index": index, "Response": resp })).into_response();
    }
    match ctx.propose(cmd).await {
        Ok((index, resp)) => Json(json!({ "Index": index, "Response": resp })).into_response(),
        Err(e) => e.into_response(),
    }
}

pub async fn leave(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    let id = match id_param(&p) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match ctx.raft.leave(id).await {
        Ok(()) => Json(true).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}
