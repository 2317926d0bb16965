//! Leader forwarding and leader-change hiding, as Consul servers do it.
//!
//! A request that needs the leader (a write, or a read that is not `?stale`) reaching a node
//! that does not believe it leads is proxied to the leader it knows of, and the leader's
//! answer is relayed unchanged. A forwarded request carries `X-Faultline-Forwarded-By`
//! (the id of the node the client talked to: an agent-side default such as a session's
//! `Node` is that node's) and is never forwarded twice.
//!
//! While there is no leader, the request is held, not failed: Consul's `forward()` "gates
//! the request until there is a leader", checking again after a random stagger of up to
//! `rpc_hold_timeout / 16` for up to `rpc_hold_timeout` (7 s by default), and only then
//! answers `500 No cluster leader`. The same hold covers a leader that could not be reached
//! (the request was not sent) and a leader that answered "no leader" before proposing
//! anything (marked with [`RETRYABLE`]): both are safe to retry, as Consul's `canRetry`
//! says for `ErrNoLeader`. A write whose outcome is unknown (a Raft timeout) is never
//! retried.
//!
//! `?dc=` naming another datacenter is answered as Consul answers it with no WAN path:
//! `500 No path to datacenter`.

use std::time::Duration;
use std::time::Instant;

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::Query;
use axum::extract::Request;
use axum::extract::State;
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use rand::RngExt;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::RAFT_TIMEOUT;
use super::parse_duration;

pub const FORWARDED_BY: &str = "X-Faultline-Forwarded-By";
/// On a 500 "No cluster leader" that is safe to retry (nothing was proposed).
pub const RETRYABLE: &str = "X-Faultline-Retryable";
const MAX_BODY: usize = 16 << 20;
/// Consul's `rpc_hold_timeout` default.
pub const RPC_HOLD_TIMEOUT: Duration = Duration::from_secs(7);
/// This node's datacenter.
pub const DATACENTER: &str = "dc1";

/// Paths served by the leader unless `?stale`.
const LEADER_PREFIXES: &[&str] = &[
    "/v1/kv/",
    "/v1/txn",
    "/v1/session/",
    "/v1/catalog/",
    "/v1/health/",
    "/v1/faultline/join",
    "/v1/faultline/propose",
    "/v1/operator/",
];

fn needs_leader(req: &Request, params: &Params) -> bool {
    let path = req.uri().path();
    if path == "/v1/catalog/datacenters" {
        return false;
    }
    if !LEADER_PREFIXES.iter().any(|p| path.starts_with(p)) {
        return false;
    }
    !(req.method() == Method::GET && params.contains_key("stale"))
}

/// The id of the node the client talked to (this one, or the one that forwarded).
pub fn origin(headers: &axum::http::HeaderMap) -> Option<u64> {
    headers.get(FORWARDED_BY)?.to_str().ok()?.parse().ok()
}

fn stagger() -> Duration {
    let max = (RPC_HOLD_TIMEOUT / 16).as_millis() as u64;
    Duration::from_millis(rand::rng().random_range(10..=max.max(10)))
}

fn rebuild(parts: &Parts, body: &Bytes) -> Request {
    let mut req = Request::new(Body::from(body.clone()));
    *req.method_mut() = parts.method.clone();
    *req.uri_mut() = parts.uri.clone();
    *req.version_mut() = parts.version;
    *req.headers_mut() = parts.headers.clone();
    *req.extensions_mut() = parts.extensions.clone();
    req
}

fn retryable(resp: &Response) -> bool {
    resp.headers().contains_key(RETRYABLE)
}

pub async fn to_leader(State(ctx): State<Ctx>, req: Request, next: Next) -> Response {
    let params: Params = Query::<Params>::try_from_uri(req.uri()).map(|q| q.0).unwrap_or_default();
    if let Some(dc) = params.get("dc")
        && !dc.is_empty()
        && dc != DATACENTER
    {
        return ApiError::NoPathToDatacenter.into_response();
    }
    if !needs_leader(&req, &params) || req.headers().contains_key(FORWARDED_BY) {
        return next.run(req).await;
    }
    let too_big = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .is_some_and(|n| n > MAX_BODY);
    if too_big && ctx.raft.believes_leader() {
        // The handler refuses it by its Content-Length (413) without reading it.
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::TooLarge(format!(
                "Request body too large, max size: {MAX_BODY} bytes"
            ))
            .into_response();
        }
    };
    let timeout = match (params.get("index"), params.get("wait")) {
        (Some(_), w) => {
            w.and_then(|w| parse_duration(w).ok()).unwrap_or(Duration::from_secs(300))
                + Duration::from_secs(15)
        }
        (None, _) => RAFT_TIMEOUT + Duration::from_secs(5),
    };
    let first = Instant::now();
    loop {
        let resp = if ctx.raft.believes_leader() {
            Some(next.clone().run(rebuild(&parts, &body)).await)
        } else {
            match ctx.raft.leader() {
                Some((id, _)) if id == ctx.cfg.id => {
                    Some(next.clone().run(rebuild(&parts, &body)).await)
                }
                Some((_, addr)) => match forward(&ctx, &addr, &parts, &body, timeout).await {
                    Ok(resp) => Some(resp),
                    // Not sent (the leader is unreachable): safe to retry.
                    Err(ApiError::NoLeader) => None,
                    Err(e) => Some(e.into_response()),
                },
                None => None,
            }
        };
        let held_long_enough = first.elapsed() >= RPC_HOLD_TIMEOUT;
        match resp {
            Some(r) if !retryable(&r) || held_long_enough => return r,
            None if held_long_enough => return ApiError::NoLeader.into_response(),
            _ => tokio::time::sleep(stagger()).await,
        }
    }
}

/// An error with its sources, for messages that must say what really failed.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

async fn forward(
    ctx: &Ctx,
    addr: &str,
    parts: &Parts,
    body: &Bytes,
    timeout: Duration,
) -> Result<Response, ApiError> {
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let mut req = ctx
        .http
        .request(parts.method.clone(), format!("http://{addr}{path}"))
        .header(FORWARDED_BY, ctx.cfg.id.to_string())
        .timeout(timeout)
        .body(body.clone());
    for (name, value) in &parts.headers {
        if name == axum::http::header::HOST || name == axum::http::header::CONTENT_LENGTH {
            continue;
        }
        req = req.header(name, value);
    }
    // Consul's canRetry: a request that never reached the leader is safe to retry, and so
    // is any read whose answer was lost (a leader that died during a blocking query).
    let read = parts.method == Method::GET;
    let sent = req.send().await.map_err(|e| {
        if e.is_connect() || read {
            ApiError::NoLeader
        } else {
            ApiError::Internal(format!("rpc error: forwarding to leader {addr}: {}", chain(&e)))
        }
    })?;
    let status = sent.status();
    let headers = sent.headers().clone();
    let bytes = sent.bytes().await.map_err(|e| {
        if read {
            ApiError::NoLeader
        } else {
            ApiError::Internal(format!("rpc error: reading leader's reply: {}", chain(&e)))
        }
    })?;
    let mut resp = Response::new(Body::from(bytes));
    *resp.status_mut() = status;
    for (name, value) in &headers {
        let n = name.as_str();
        if n == "content-type" || n.starts_with("x-consul-") || n == "x-faultline-retryable" {
            resp.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(resp)
}
