//! `/v1/session/*`: Consul's sessions.
//!
//! - `PUT /v1/session/create` with an optional body `{"Name","Node","TTL":"10s",
//!   "LockDelay":"15s" (or nanoseconds),"Behavior":"release"|"delete","NodeChecks":[...]}`
//!   (field names case-insensitive) answers `{"ID"}`. As in Consul's HTTP handler, `Node`
//!   defaults to the node the client talked to and the checks to `["serfHealth"]`; the TTL
//!   must be 0 or within `session_ttl_min` (10 s, `--session-ttl-min`) and 24 h, and the
//!   session expires 2 TTLs after its last renewal, by the leader's injected clock.
//! - `PUT /v1/session/destroy/<id>` answers `true`; `PUT /v1/session/renew/<id>` answers the
//!   session in a list, or 404; `GET /v1/session/info/<id>`, `/v1/session/node/<node>` and
//!   `/v1/session/list`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
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
use super::catalog::agent_node;
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
    /// Consul's older name for `NodeChecks`.
    checks: Option<Vec<String>>,
    node_checks: Option<Vec<String>>,
    service_checks: Option<Vec<JsonValue>>,
}

/// Consul's `SessionTTLMax`.
const TTL_MAX_MS: u64 = 24 * 3600 * 1000;

pub fn session_json(s: &Session) -> JsonValue {
    json!({
        "ID": s.id,
        "Name": s.name,
        "Node": s.node,
        "LockDelay": s.lock_delay_ms * 1_000_000,
        "Behavior": match s.behavior { Behavior::Release => "release", Behavior::Delete => "delete" },
        "TTL": s.ttl_ms.map(format_duration).unwrap_or_default(),
        "NodeChecks": s.node_checks,
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

pub async fn create(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    async {
        let b: CreateBody = if body.is_empty() { CreateBody::default() } else { json_body(&body)? };
        let ttl_ms = match b.ttl.as_deref() {
            None | Some("") => None,
            Some(s) => {
                let d = parse_duration(s)
                    .map_err(|e| ApiError::Internal(format!("Session TTL '{s}' invalid: {e}")))?;
                let ms = d.as_millis() as u64;
                let min = ctx.cfg.session_ttl_min_ms;
                // Consul's Session.Apply rule and message (the TTL printed in nanoseconds).
                if ms != 0 && (ms < min || ms > TTL_MAX_MS) {
                    return Err(ApiError::Internal(format!(
                        "Invalid Session TTL '{}', must be between [{}={}]",
                        d.as_nanos(),
                        go_duration(min),
                        go_duration(TTL_MAX_MS)
                    )));
                }
                (ms != 0).then_some(ms)
            }
        };
        if b.service_checks.as_ref().is_some_and(|c| !c.is_empty()) {
            return Err(ApiError::BadRequest(
                "ServiceChecks are not supported by this node (use NodeChecks)".into(),
            ));
        }
        let node_checks =
            b.node_checks.or(b.checks).unwrap_or_else(|| vec![crate::serf::SERF_CHECK.to_owned()]);
        let behavior = match b.behavior.as_deref() {
            None | Some("") | Some("release") => Behavior::Release,
            Some("delete") => Behavior::Delete,
            Some(o) => return Err(ApiError::Internal(format!("Invalid Behavior setting '{o}'"))),
        };
        let lock_delay_ms = match &b.lock_delay {
            None => DEFAULT_LOCK_DELAY_MS,
            Some(v) => lock_delay_ms(v)?,
        };
        let id = new_uuid();
        let cmd = Command::Session(SessionCommand::Create {
            id: id.clone(),
            name: b.name,
            node: b.node.filter(|n| !n.is_empty()).unwrap_or_else(|| agent_node(&ctx, &headers)),
            lock_delay_ms,
            behavior,
            ttl_ms,
            node_checks,
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
        Ok((index, list)) => ctx.with_meta(index, &p, Json(list)),
        Err(e) => e.into_response(),
    }
}

pub async fn node(
    State(ctx): State<Ctx>,
    Path(node): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let read = ctx
        .blocking_read(&p, |s| {
            let on_node: Vec<JsonValue> =
                s.sessions.by_id.values().filter(|x| x.node == node).map(session_json).collect();
            (s.indexes.sessions, on_node)
        })
        .await;
    match read {
        Ok((index, list)) => ctx.with_meta(index, &p, Json(list)),
        Err(e) => e.into_response(),
    }
}

/// Formats milliseconds the way Go's `time.Duration` prints (`10s`, `24h0m0s`, `1m30s`).
fn go_duration(ms: u64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m) = (ms / 3_600_000, (ms / 60_000) % 60);
    let secs = (ms % 60_000) as f64 / 1000.0;
    match (h, m) {
        (0, 0) => format!("{secs}s"),
        (0, m) => format!("{m}m{secs}s"),
        (h, m) => format!("{h}h{m}m{secs}s"),
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
        Ok((index, list)) => ctx.with_meta(index, &p, Json(list)),
        Err(e) => e.into_response(),
    }
}
