//! `/v1/session/*`: Consul's sessions.
//!
//! - `PUT /v1/session/create` with an optional body `{"Name","Node","TTL":"10s",
//!   "LockDelay":"15s" (or nanoseconds),"Behavior":"release"|"delete"}` answers `{"ID"}`.
//!   Unlike Consul, any positive TTL is accepted (Consul requires 10s..24h), so tests can
//!   run fast; the TTL is enforced by the leader's injected clock, not doubled.
//! - `PUT /v1/session/destroy/<id>` answers `true`; `PUT /v1/session/renew/<id>` answers the
//!   session in a list, or 404; `GET /v1/session/info/<id>` and `/v1/session/list`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use rand::RngExt;
use serde::Deserialize;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::format_duration;
use super::json_body;
use super::parse_duration;
use super::with_index;
use crate::state::Behavior;
use crate::state::Command;
use crate::state::CommandResponse;
use crate::state::Session;
use crate::state::SessionCommand;

/// Consul's default lock-delay.
const DEFAULT_LOCK_DELAY_MS: u64 = 15_000;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct CreateBody {
    #[serde(default)]
    name: String,
    node: Option<String>,
    #[serde(rename = "TTL")]
    ttl: Option<String>,
    lock_delay: Option<JsonValue>,
    behavior: Option<String>,
}

pub fn session_json(s: &Session) -> JsonValue {
    json!({
        "ID": s.id,
        "Name": s.name,
        "Node": s.node,
        "LockDelay": s.lock_delay_ms * 1_000_000,
        "Behavior": match s.behavior { Behavior::Release => "release", Behavior::Delete => "delete" },
        "TTL": s.ttl_ms.map(format_duration).unwrap_or_default(),
        "NodeChecks": [],
        "ServiceChecks": null,
        "CreateIndex": s.create_index,
        "ModifyIndex": s.modify_index,
    })
}

fn new_uuid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])
}

fn lock_delay_ms(v: &JsonValue) -> Result<u64, ApiError> {
    match v {
        // A bare number is nanoseconds (Go's time.Duration), as Consul's API reads it.
        JsonValue::Number(n) => Ok(n.as_u64().unwrap_or(0) / 1_000_000),
        JsonValue::String(s) => parse_duration(s)
            .map(|d| d.as_millis() as u64)
            .map_err(|e| ApiError::BadRequest(format!("Request decode failed: LockDelay: {e}"))),
        _ => Err(ApiError::BadRequest("Request decode failed: LockDelay".into())),
    }
}

pub async fn create(State(ctx): State<Ctx>, body: Bytes) -> Response {
    async {
        let b: CreateBody = if body.is_empty() { CreateBody::default() } else { json_body(&body)? };
        let ttl_ms = match b.ttl.as_deref() {
            None | Some("") => None,
            Some(s) => {
                let d = parse_duration(s)
                    .map_err(|e| ApiError::BadRequest(format!("Invalid Session TTL '{s}': {e}")))?;
                if d.is_zero() {
                    return Err(ApiError::BadRequest(format!("Invalid Session TTL '{s}'")));
                }
                Some(d.as_millis() as u64)
            }
        };
        let behavior = match b.behavior.as_deref() {
            None | Some("") | Some("release") => Behavior::Release,
            Some("delete") => Behavior::Delete,
            Some(o) => return Err(ApiError::BadRequest(format!("Invalid Behavior setting '{o}'"))),
        };
        let lock_delay_ms = match &b.lock_delay {
            None => DEFAULT_LOCK_DELAY_MS,
            Some(v) => lock_delay_ms(v)?,
        };
        let id = new_uuid();
        let cmd = Command::Session(SessionCommand::Create {
            id: id.clone(),
            name: b.name,
            node: b.node.unwrap_or_else(|| ctx.cfg.node_name()),
            lock_delay_ms,
            behavior,
            ttl_ms,
            now_ms: ctx.clock.now_ms(),
        });
        match ctx.propose(cmd).await? {
            (index, CommandResponse::Session(Ok(_))) => {
                Ok(with_index(index, true, Json(json!({ "ID": id }))))
            }
            (_, CommandResponse::Session(Err(e))) => Err(ApiError::Internal(e)),
            (_, other) => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
        }
    }
    .await
    .unwrap_or_else(|e: ApiError| e.into_response())
}

pub async fn destroy(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    let cmd = Command::Session(SessionCommand::Destroy { id, now_ms: ctx.clock.now_ms() });
    match ctx.propose(cmd).await {
        Ok((index, _)) => with_index(index, true, Json(true)),
        Err(e) => e.into_response(),
    }
}

pub async fn renew(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    let cmd =
        Command::Session(SessionCommand::Renew { id: id.clone(), now_ms: ctx.clock.now_ms() });
    match ctx.propose(cmd).await {
        Ok((index, CommandResponse::Session(Ok(Some(s))))) => {
            with_index(index, true, Json(vec![session_json(&s)]))
        }
        Ok((_, CommandResponse::Session(Ok(None)))) => {
            (StatusCode::NOT_FOUND, format!("Session id '{id}' not found")).into_response()
        }
        Ok((_, other)) => {
            ApiError::Internal(format!("unexpected response {other:?}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

pub async fn info(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let read = ctx
        .blocking_read(&p, |s| {
            let found: Vec<JsonValue> =
                s.sessions.by_id.get(&id).map(session_json).into_iter().collect();
            (s.indexes.sessions, found)
        })
        .await;
    match read {
        Ok((index, list)) => with_index(index, ctx.raft.leader().is_some(), Json(list)),
        Err(e) => e.into_response(),
    }
}

pub async fn list(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    let read = ctx
        .blocking_read(&p, |s| {
            let all: Vec<JsonValue> = s.sessions.by_id.values().map(session_json).collect();
            (s.indexes.sessions, all)
        })
        .await;
    match read {
        Ok((index, list)) => with_index(index, ctx.raft.leader().is_some(), Json(list)),
        Err(e) => e.into_response(),
    }
}
