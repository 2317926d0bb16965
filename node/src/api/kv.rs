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
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::with_index;
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
    body: Bytes,
) -> Response {
    write(ctx, key, p, body).await.unwrap_or_else(|e| e.into_response())
}

pub async fn put_root(State(ctx): State<Ctx>, Query(p): Query<Params>, body: Bytes) -> Response {
    write(ctx, String::new(), p, body).await.unwrap_or_else(|e| e.into_response())
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
                (s.indexes.kv, Answer::Keys(names))
            } else if recurse {
                (s.indexes.kv, Answer::Entries(s.entries_with_prefix(&key)))
            } else {
                match s.kv.get(&key) {
                    Some(e) => (e.modify_index, Answer::Entries(vec![e.clone()])),
                    None => (s.indexes.kv, Answer::Entries(vec![])),
                }
            }
        })
        .await?;
    let leader = ctx.raft.leader().is_some();
    let resp = match answer {
        Answer::Keys(k) if k.is_empty() => StatusCode::NOT_FOUND.into_response(),
        Answer::Keys(k) => Json(k).into_response(),
        Answer::Entries(e) if e.is_empty() => StatusCode::NOT_FOUND.into_response(),
        Answer::Entries(e) if p.contains_key("raw") => e[0].value.clone().into_response(),
        Answer::Entries(e) => Json(e.iter().map(entry_json).collect::<Vec<_>>()).into_response(),
    };
    Ok(with_index(index, leader, resp))
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
    let flags = parse_u64(&p, "flags")?;
    let value = body.to_vec();
    let op = match (p.get("acquire"), p.get("release"), parse_u64(&p, "cas")?) {
        (Some(_), Some(_), _) => {
            return Err(ApiError::BadRequest("Conflicting flags: acquire and release".into()));
        }
        (Some(session), None, _) => TxnOp::Lock { key, value, flags, session: session.clone() },
        (None, Some(session), _) => TxnOp::Unlock { key, value, flags, session: session.clone() },
        (None, None, Some(index)) => TxnOp::Cas { key, value, flags, index },
        (None, None, None) => TxnOp::Set { key, value, flags },
    };
    single_op_answer(run_txn(&ctx, vec![op]).await?)
}

async fn remove(ctx: Ctx, key: String, p: Params) -> Result<Response, ApiError> {
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
