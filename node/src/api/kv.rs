//! `/v1/kv/<key>`: Consul's KV endpoint.
//!
//! - `GET` returns `[{"Key","Value"(base64),"Flags","CreateIndex","ModifyIndex","LockIndex",
//!   "Session"}]` with `X-Consul-Index`, 404 when absent; `?recurse` for a prefix, `?keys`
//!   (with `?separator`) for key names, `?raw` for the bare value; read modes and blocking
//!   queries as in [`super`].
//! - `PUT` stores the body; `?flags`, `?cas=<ModifyIndex>` (0: only if absent),
//!   `?acquire=<session>`, `?release=<session>`; answers `true` or `false`.
//! - `DELETE` (`?recurse`, `?cas`) answers `true` or `false`.

use axum::Json;
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use crate::config::Bug;
use crate::state::Command;
use crate::state::CommandResponse;
use crate::state::Dirty;
use crate::state::KvEntry;
use crate::state::TxnOp;
use crate::state::TxnOutcome;
use crate::state::b64;
use crate::state::kv::TxnErrorKind;

/// Consul's JSON for one entry.
pub fn entry_json(e: &KvEntry) -> JsonValue {
    let mut v = json!({
        "LockIndex": e.lock_index,
        "Key": e.key,
        "Flags": e.flags,
        "Value": if e.value.is_empty() { JsonValue::Null } else { JsonValue::String(b64::encode(&e.value)) },
        "CreateIndex": e.create_index,
        "ModifyIndex": e.modify_index,
    });
    if let Some(s) = &e.session {
        v["Session"] = JsonValue::String(s.clone());
    }
    v
}

pub async fn get(
    State(ctx): State<Ctx>,
    Path(key): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    read(ctx, key, p).await.unwrap_or_else(|e| e.into_response())
}

pub async fn get_root(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    read(ctx, String::new(), p).await.unwrap_or_else(|e| e.into_response())
}

pub async fn put(
    State(ctx): State<Ctx>,
    Path(key): Path<String>,
    Query(p): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    async move { write(ctx, key, p, value_body(&headers, body).await?).await }
        .await
        .unwrap_or_else(|e| e.into_response())
}

pub async fn put_root(
    State(ctx): State<Ctx>,
    Query(p): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    async move { write(ctx, String::new(), p, value_body(&headers, body).await?).await }
        .await
        .unwrap_or_else(|e| e.into_response())
}

/// Consul's `kv_max_value_size` default (512 KiB): larger values are refused.
pub const KV_MAX_VALUE_SIZE: usize = 512 * 1024;

fn too_large(size: usize) -> ApiError {
    // Consul's KVSPut message, word for word.
    ApiError::TooLarge(format!(
        "Request body({size} bytes) too large, max size: {KV_MAX_VALUE_SIZE} bytes. See \
         https://developer.hashicorp.com/docs/agent/config/config-files#kv_max_value_size."
    ))
}

/// A KV value: refused with 413 when its Content-Length (or, without one, its actual size)
/// is over [`KV_MAX_VALUE_SIZE`], before anything is proposed.
async fn value_body(headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if let Some(n) = declared
        && n > KV_MAX_VALUE_SIZE
    {
        return Err(too_large(n));
    }
    let bytes = axum::body::to_bytes(body, KV_MAX_VALUE_SIZE + 1)
        .await
        .map_err(|_| too_large(KV_MAX_VALUE_SIZE + 1))?;
    if bytes.len() > KV_MAX_VALUE_SIZE {
        return Err(too_large(bytes.len()));
    }
    Ok(bytes)
}

pub async fn delete(
    State(ctx): State<Ctx>,
    Path(key): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    remove(ctx, key, p).await.unwrap_or_else(|e| e.into_response())
}

pub async fn delete_root(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    remove(ctx, String::new(), p).await.unwrap_or_else(|e| e.into_response())
}

#[derive(PartialEq)]
enum Answer {
    Entries(Vec<KvEntry>),
    Keys(Vec<String>),
}

async fn read(ctx: Ctx, key: String, p: Params) -> Result<Response, ApiError> {
    let recurse = p.contains_key("recurse");
    let keys = p.contains_key("keys");
    let separator = p.get("separator").cloned().unwrap_or_default();
    let (index, answer) = ctx
        .blocking_read(&p, |s| {
            if keys {
                let mut names: Vec<String> = Vec::new();
                for k in s.keys_with_prefix(&key) {
                    // With a separator, keys below the next separator collapse into one prefix.
                    let name = match separator.is_empty() {
                        true => k,
                        false => match k[key.len()..].find(&separator) {
                            Some(pos) => k[..key.len() + pos + separator.len()].to_owned(),
                            None => k,
                        },
                    };
                    if names.last() != Some(&name) {
                        names.push(name);
                    }
                }
                (s.prefix_index(&key), Answer::Keys(names))
            } else if recurse {
                (s.prefix_index(&key), Answer::Entries(s.entries_with_prefix(&key)))
            } else {
                // Consul's KVS.Get answers the KV table's index, whether the key exists or
                // not; a blocking GET still wakes only when this key changes.
                (s.indexes.kv, Answer::Entries(s.kv.get(&key).cloned().into_iter().collect()))
            }
        })
        .await?;
    let resp = match answer {
        // Consul: no keys under the root is an empty list, under a prefix a 404.
        Answer::Keys(k) if k.is_empty() && !key.is_empty() => StatusCode::NOT_FOUND.into_response(),
        Answer::Keys(k) => Json(k).into_response(),
        Answer::Entries(e) if e.is_empty() => StatusCode::NOT_FOUND.into_response(),
        Answer::Entries(e) if p.contains_key("raw") => {
            ([(axum::http::header::CONTENT_TYPE, "text/plain")], e[0].value.clone()).into_response()
        }
        Answer::Entries(e) => Json(e.iter().map(entry_json).collect::<Vec<_>>()).into_response(),
    };
    Ok(ctx.with_meta(index, &p, resp))
}

fn parse_u64(p: &Params, name: &str) -> Result<Option<u64>, ApiError> {
    match p.get(name) {
        None => Ok(None),
        Some(s) => s
            .parse()
            .map(Some)
            .map_err(|_| ApiError::BadRequest(format!("Invalid {name} value {s:?}"))),
    }
}

async fn write(ctx: Ctx, key: String, p: Params, body: Bytes) -> Result<Response, ApiError> {
    if key.is_empty() {
        return Err(ApiError::BadRequest("Missing key name".into()));
    }
    // Consul: a PUT without ?flags stores Flags 0 (it does not keep the old flags).
    let flags = Some(parse_u64(&p, "flags")?.unwrap_or(0));
    let value = body.to_vec();
    conflicting(&p, &["cas", "acquire", "release"])?;
    let op = match (p.get("acquire"), p.get("release"), parse_u64(&p, "cas")?) {
        (Some(_), Some(_), _) => unreachable_conflict()?,
        (Some(session), None, _) => TxnOp::Lock { key, value, flags, session: session.clone() },
        (None, Some(session), _) => TxnOp::Unlock { key, value, flags, session: session.clone() },
        (None, None, Some(index)) => TxnOp::Cas { key, value, flags, index },
        (None, None, None) => TxnOp::Set { key, value, flags },
    };
    single_op_answer(run_txn(&ctx, vec![op]).await?)
}

/// Consul's `conflictingFlags`: at most one of these query flags (400 otherwise).
fn conflicting(p: &Params, flags: &[&str]) -> Result<(), ApiError> {
    if flags.iter().filter(|f| p.contains_key(**f)).count() > 1 {
        let mut given: Vec<String> = p.iter().map(|(k, v)| format!("{k}={v}")).collect();
        given.sort();
        return Err(ApiError::BadRequest(format!("Conflicting flags: {}\n", given.join("&"))));
    }
    Ok(())
}

fn unreachable_conflict() -> Result<TxnOp, ApiError> {
    Err(ApiError::BadRequest("Conflicting flags: acquire and release\n".into()))
}

async fn remove(ctx: Ctx, key: String, p: Params) -> Result<Response, ApiError> {
    conflicting(&p, &["recurse", "cas"])?;
    let op = match (p.contains_key("recurse"), parse_u64(&p, "cas")?) {
        (true, _) => TxnOp::DeleteTree { prefix: key },
        (false, Some(index)) => TxnOp::DeleteCas { key, index },
        (false, None) => {
            if key.is_empty() {
                return Err(ApiError::BadRequest("Missing key name".into()));
            }
            TxnOp::Delete { key }
        }
    };
    single_op_answer(run_txn(&ctx, vec![op]).await?)
}

/// Consul's single-key answers: `true`, `false` on a failed condition, 500 on a bad session.
fn single_op_answer(outcome: TxnOutcome) -> Result<Response, ApiError> {
    match outcome {
        Ok(_) => Ok(Json(true).into_response()),
        Err(e) if e.kind == TxnErrorKind::InvalidSession => Err(ApiError::Internal(e.what)),
        Err(_) => Ok(Json(false).into_response()),
    }
}

/// Runs KV operations as one Raft transaction. Under `ack-before-commit` the answer is
/// computed from the leader's local state and returned before Raft commits the write.
pub async fn run_txn(ctx: &Ctx, ops: Vec<TxnOp>) -> Result<TxnOutcome, ApiError> {
    let cmd = Command::Txn {
        ops,
        now_ms: ctx.clock.now_ms(),
        check_session: !ctx.cfg.has_bug(Bug::LockNoSessionCheck),
        unchecked_reads: ctx.cfg.has_bug(Bug::TxnUncheckedReads),
    };
    if ctx.cfg.has_bug(Bug::AckBeforeCommit) && ctx.raft.believes_leader() {
        let predicted = ctx.read_state(|s| {
            let mut scratch = s.clone();
            let next = *ctx.raft.applied.borrow() + 1;
            scratch.apply(next, &cmd, &mut Dirty::default())
        });
        let raft = ctx.raft.clone();
        tokio::spawn(async move {
            let _ = raft.propose(cmd).await; // The bug: nobody waits for the commit.
        });
        return match predicted {
            CommandResponse::Txn(t) => Ok(t),
            other => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
        };
    }
    match ctx.propose(cmd).await? {
        (_, CommandResponse::Txn(t)) => Ok(t),
        (_, other) => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
    }
}
