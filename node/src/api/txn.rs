//! `PUT /v1/txn`: several KV operations applied atomically, in Consul's JSON shape.
//!
//! Body: `[{"KV": {"Verb": "set"|"cas"|"lock"|"unlock"|"get"|"get-tree"|"check-index"|
//! "check-session"|"check-not-exists"|"delete"|"delete-tree"|"delete-cas", "Key", "Value"
//! (base64), "Flags", "Index", "Session"}}, ...]`. Answers 200 `{"Results": [{"KV": ...}],
//! "Errors": null}` or 409 `{"Results": null, "Errors": [{"OpIndex", "What"}]}`. Every
//! transaction, read-only ones included, goes through Raft.

use axum::Json;
use axum::body::Body;
use axum::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::json_body;
use super::kv::KV_MAX_VALUE_SIZE;
use super::kv::entry_json;
use super::kv::run_txn;
use crate::state::TxnOp;
use crate::state::b64;

/// Consul's limit on operations per transaction.
const MAX_OPS: usize = 64;

#[derive(Deserialize)]
struct TxnItem {
    #[serde(rename = "KV")]
    kv: Option<KvOp>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KvOp {
    verb: String,
    #[serde(default)]
    key: String,
    value: Option<String>,
    flags: Option<u64>,
    #[serde(default)]
    index: u64,
    #[serde(default)]
    session: String,
}

fn to_op(i: usize, op: KvOp) -> Result<TxnOp, ApiError> {
    let value = match &op.value {
        Some(v) => b64::decode(v).map_err(|e| {
            ApiError::BadRequest(format!("operation {i}: Value is not base64: {e}"))
        })?,
        None => Vec::new(),
    };
    let KvOp { verb, key, flags, index, session, .. } = op;
    // Consul's txn KV op: an absent Flags is 0.
    let flags = Some(flags.unwrap_or(0));
    Ok(match verb.as_str() {
        "set" => TxnOp::Set { key, value, flags },
        "cas" => TxnOp::Cas { key, value, flags, index },
        "lock" => TxnOp::Lock { key, value, flags, session },
        "unlock" => TxnOp::Unlock { key, value, flags, session },
        "get" => TxnOp::Get { key },
        "get-tree" => TxnOp::GetTree { prefix: key },
        "check-index" => TxnOp::CheckIndex { key, index },
        "check-session" => TxnOp::CheckSession { key, session },
        "check-not-exists" => TxnOp::CheckNotExists { key },
        "delete" => TxnOp::Delete { key },
        "delete-tree" => TxnOp::DeleteTree { prefix: key },
        "delete-cas" => TxnOp::DeleteCas { key, index },
        v => return Err(ApiError::BadRequest(format!("operation {i}: unknown KV verb {v:?}"))),
    })
}

/// Consul's `txn_max_req_len` default (512 KiB), for the whole request body.
const MAX_REQ_LEN: usize = 512 * 1024;

pub async fn put(
    State(ctx): State<Ctx>,
    Query(p): Query<Params>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    handle(ctx, p, headers, body).await.unwrap_or_else(|e| e.into_response())
}

/// Consul's convertOps limits, with its messages: the body (by Content-Length, then while
/// reading), the number of operations, and each value (`kv_max_value_size`), all 413.
async fn handle(ctx: Ctx, p: Params, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let too_big =
        || ApiError::TooLarge(format!("Request body too large, max size: {MAX_REQ_LEN} bytes"));
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > MAX_REQ_LEN) {
        return Err(too_big());
    }
    let body = axum::body::to_bytes(body, MAX_REQ_LEN).await.map_err(|_| too_big())?;
    let items: Vec<TxnItem> =
        json_body(&body).map_err(|e| ApiError::BadRequest(format!("Failed to parse body: {e}")))?;
    if items.len() > MAX_OPS {
        return Err(ApiError::TooLarge(format!(
            "Transaction contains too many operations ({} > {MAX_OPS})",
            items.len()
        )));
    }
    let mut ops = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let kv = item.kv.ok_or_else(|| {
            ApiError::BadRequest(format!("operation {i}: only KV operations are supported"))
        })?;
        let op = to_op(i, kv)?;
        if op.value_len() > KV_MAX_VALUE_SIZE {
            return Err(ApiError::TooLarge(format!(
                "Value for key {:?} is too large ({} > {KV_MAX_VALUE_SIZE} bytes)",
                op.key(),
                op.value_len()
            )));
        }
        ops.push(op);
    }
    let index = *ctx.raft.applied.borrow();
    Ok(match run_txn(&ctx, ops).await? {
        Ok(entries) => {
            let results: Vec<_> = entries.iter().map(|e| json!({ "KV": entry_json(e) })).collect();
            ctx.with_meta(index, &p, Json(json!({ "Results": results, "Errors": null })))
        }
        Err(e) => ctx.with_meta(
            index,
            &p,
            (
                StatusCode::CONFLICT,
                Json(
                    json!({ "Results": null, "Errors": [{ "OpIndex": e.op_index, "What": e.what }] }),
                ),
            ),
        ),
    })
}
