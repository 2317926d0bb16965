//! Leader forwarding, as Consul servers do it: a request that needs the leader (a write, or a
//! read that is not `?stale`) reaching a node that does not believe it leads is proxied to the
//! leader it knows of, and the leader's answer is relayed unchanged. A forwarded request
//! carries `X-Faultline-Forwarded-By` and is never forwarded twice.

use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::extract::Request;
use axum::extract::State;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::RAFT_TIMEOUT;
use super::parse_duration;

const FORWARDED_BY: &str = "X-Faultline-Forwarded-By";
const MAX_BODY: usize = 16 << 20;

/// Paths served by the leader unless `?stale`.
const LEADER_PREFIXES: &[&str] = &[
    "/v1/kv/",
    "/v1/txn",
    "/v1/session/",
    "/v1/catalog/",
    "/v1/health/",
    "/v1/agent/check/",
    "/v1/faultline/join",
    "/v1/operator/",
];

fn needs_leader(req: &Request, params: &Params) -> bool {
    let path = req.uri().path();
    if !LEADER_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return false;
    }
    !(req.method() == Method::GET && params.contains_key("stale"))
}

pub async fn to_leader(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let params: Params = Query::<Params>::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
    if !needs_leader(&req, &params)
        || req.headers().contains_key(FORWARDED_BY)
        || ctx.raft.believes_leader()
    {
        return next.run(req).await;
    }
    let Some((leader_id, addr)) = ctx.raft.leader() else {
        return ApiError::NoLeader.into_response();
    };
    if leader_id == ctx.cfg.id {
        return next.run(req).await;
    }
    let timeout = match (params.get("index"), params.get("wait")) {
        (Some(_), w) => {
            w.and_then(|w| parse_duration(w).ok()).unwrap_or(Duration::from_secs(300))
                + Duration::from_secs(15)
        }
        (None, _) => RAFT_TIMEOUT + Duration::from_secs(5),
    };
    match forward(&ctx, &addr, req, timeout).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn forward(
    ctx: &Ctx,
    addr: &str,
    req: Request,
    timeout: Duration,
) -> Result<Response, ApiError> {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = req.method().clone();
    let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|e| ApiError::BadRequest(format!("cannot read request body: {e}")))?;
    let sent = ctx
        .http
        .request(method, format!("http://{addr}{path}"))
        .header(FORWARDED_BY, ctx.cfg.id.to_string())
        .timeout(timeout)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_connect() {
                ApiError::NoLeader
            } else {
                ApiError::Internal(format!("rpc error: forwarding to leader {addr}: {e}"))
            }
        })?;
    let status = sent.status();
    let headers = sent.headers().clone();
    let bytes = sent
        .bytes()
        .await
        .map_err(|e| ApiError::Internal(format!("rpc error: reading leader's reply: {e}")))?;
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    for name in ["content-type", "x-consul-index", "x-consul-knownleader"] {
        if let Some(v) = headers.get(name) {
            resp.headers_mut().insert(name, v.clone());
        }
    }
    Ok(resp)
}
