//! The agent API: this node as a Consul agent. `/v1/agent/members` (gossip membership, plus
//! a `"State"` of `alive`/`suspect`/`dead`), `/v1/agent/self`, and the local services and
//! checks: `/v1/agent/service/{register,deregister/<id>}`, `/v1/agent/check/{register,
//! deregister/<id>,pass/<id>,warn/<id>,fail/<id>,update/<id>}`, `/v1/agent/{services,checks}`.
//!
//! Services and checks registered here belong to this node (Consul's agent-local state);
//! they are written to the replicated catalog through the leader (held while there is no
//! leader, see [`super::forward`]), and this node runs their HTTP and TCP checks
//! (`crate::checks`). Consul keeps them in the agent and syncs them to the catalog by
//! anti-entropy; here the catalog is the only copy, so a registration is visible
//! everywhere once it is acknowledged.
//!
//! `Status` of a member follows Serf's numbers: 1 alive (also while suspect, as Serf
//! reports), 4 failed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::catalog::CheckBody;
use super::catalog::ServiceBody;
use super::catalog::check_def;
use super::forward::DATACENTER;
use super::health::check_json;
use super::json_body;
use crate::gossip::MemberState;
use crate::state::CatalogCommand;
use crate::state::CheckStatus;
use crate::state::Command;
use crate::state::CommandResponse;

pub async fn members(State(ctx): State<Ctx>) -> Json<Vec<JsonValue>> {
    let list = ctx
        .gossip
        .members()
        .into_iter()
        .map(|m| {
            json!({
                "Name": crate::config::node_name(m.id),
                "Addr": m.addr.ip().to_string(),
                "Port": m.addr.port(),
                "Tags": { "role": "consul", "dc": DATACENTER, "id": m.id.to_string() },
                "Status": match m.state { MemberState::Dead => 4, _ => 1 },
                "State": m.state.as_str(),
            })
        })
        .collect();
    Json(list)
}

pub async fn agent_self(State(ctx): State<Ctx>) -> Json<JsonValue> {
    Json(json!({
        "Config": {
            "Datacenter": DATACENTER,
            "NodeName": ctx.cfg.node_name(),
            "NodeID": ctx.cfg.id.to_string(),
            "Server": true,
        },
        "Member": { "Name": ctx.cfg.node_name(), "Addr": ctx.node_ip(), "Port": ctx.node_port() },
    }))
}

/// Proposes a catalog change for this agent's node and answers Consul's empty 200.
async fn apply(ctx: &Ctx, cmd: CatalogCommand) -> Result<Response, ApiError> {
    let (index, resp) = ctx.propose_anywhere(Command::Catalog(cmd)).await?;
    // The agent's own view (`/v1/agent/services`) must show what it just acknowledged.
    ctx.wait_applied(index, std::time::Duration::from_secs(2)).await;
    match resp {
        CommandResponse::Catalog(Ok(())) => Ok(StatusCode::OK.into_response()),
        CommandResponse::Catalog(Err(e)) => Err(ApiError::BadRequest(e)),
        other => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
    }
}

fn run(r: Result<Response, ApiError>) -> Response {
    r.unwrap_or_else(|e| e.into_response())
}

/// `PUT /v1/agent/service/register`: the service and its checks (`Check`, `Checks`). A
/// service check's id defaults to `service:<id>` (`service:<id>:<n>` with several) and its
/// name to `Service '<name>' check`, as Consul's agent does.
pub async fn service_register(State(ctx): State<Ctx>, body: Bytes) -> Response {
    run(async {
        let b: ServiceBody = json_body(&body)?;
        let service = b.def();
        if service.service.is_empty() {
            return Err(ApiError::BadRequest("Missing service name".into()));
        }
        let bodies: Vec<CheckBody> = b.check.clone().into_iter().chain(b.checks.clone()).collect();
        let many = bodies.len() > 1;
        let mut checks = Vec::new();
        for (i, mut c) in bodies.into_iter().enumerate() {
            c.service_id = service.id.clone();
            let id = if many {
                format!("service:{}:{}", service.id, i + 1)
            } else {
                format!("service:{}", service.id)
            };
            checks.push(check_def(c, &id, &format!("Service '{}' check", service.service))?);
        }
        let cmd = CatalogCommand::Register {
            node: ctx.cfg.node_name(),
            address: ctx.node_ip(),
            service: Some(service),
            checks,
            now_ms: ctx.clock.now_ms(),
        };
        apply(&ctx, cmd).await
    }
    .await)
}

fn local<T>(ctx: &Ctx, f: impl FnOnce(&crate::state::StateData, &str) -> T) -> T {
    let me = ctx.cfg.node_name();
    ctx.read_state(|s| f(s, &me))
}

pub async fn service_deregister(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    run(async {
        let known = local(&ctx, |s, me| s.catalog.services.get(me).is_some_and(|m| m.contains_key(&id)));
        if !known {
            return Err(ApiError::NotFound(format!(
                "Unknown service ID {id:?}. Ensure that the service ID is passed, not the service name."
            )));
        }
        let node = ctx.cfg.node_name();
        let now_ms = ctx.clock.now_ms();
        apply(&ctx, CatalogCommand::Deregister { node, service_id: Some(id), check_id: None, now_ms })
            .await
    }
    .await)
}

pub async fn check_register(State(ctx): State<Ctx>, body: Bytes) -> Response {
    run(async {
        let c: CheckBody = json_body(&body)?;
        let def = check_def(c, "", "")?;
        let cmd = CatalogCommand::Register {
            node: ctx.cfg.node_name(),
            address: ctx.node_ip(),
            service: None,
            checks: vec![def],
            now_ms: ctx.clock.now_ms(),
        };
        apply(&ctx, cmd).await
    }
    .await)
}

fn unknown_check(id: &str) -> ApiError {
    ApiError::NotFound(format!(
        "Unknown check ID {id:?}. Ensure that the check ID is passed, not the check name."
    ))
}

pub async fn check_deregister(State(ctx): State<Ctx>, Path(id): Path<String>) -> Response {
    run(async {
        let known =
            local(&ctx, |s, me| s.catalog.checks.get(me).is_some_and(|m| m.contains_key(&id)));
        if !known {
            return Err(unknown_check(&id));
        }
        let node = ctx.cfg.node_name();
        let now_ms = ctx.clock.now_ms();
        apply(
            &ctx,
            CatalogCommand::Deregister { node, service_id: None, check_id: Some(id), now_ms },
        )
        .await
    }
    .await)
}

/// A TTL check's heartbeat on this agent: `pass`, `warn`, `fail` (`?note=` becomes the
/// output) and `update` (`{"Status","Output"}`). Only TTL checks take them, as in Consul.
async fn update(ctx: Ctx, id: String, status: CheckStatus, output: String) -> Response {
    run(async {
        let ttl = local(&ctx, |s, me| {
            s.catalog.checks.get(me).and_then(|m| m.get(&id)).map(|k| k.ttl_ms.is_some())
        });
        match ttl {
            None => return Err(unknown_check(&id)),
            Some(false) => {
                return Err(ApiError::Internal(format!(
                    "CheckID {id:?} does not have associated TTL"
                )));
            }
            Some(true) => {}
        }
        let cmd = CatalogCommand::UpdateCheck {
            node: Some(ctx.cfg.node_name()),
            check_id: id,
            status,
            output,
            now_ms: ctx.clock.now_ms(),
        };
        apply(&ctx, cmd).await
    }
    .await)
}

fn note(p: &Params) -> String {
    p.get("note").cloned().unwrap_or_default()
}

pub async fn check_pass(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    update(ctx, id, CheckStatus::Passing, note(&p)).await
}

pub async fn check_warn(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    update(ctx, id, CheckStatus::Warning, note(&p)).await
}

pub async fn check_fail(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    update(ctx, id, CheckStatus::Critical, note(&p)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateBody {
    #[serde(default)]
    status: String,
    #[serde(default)]
    output: String,
}

pub async fn check_update(State(ctx): State<Ctx>, Path(id): Path<String>, body: Bytes) -> Response {
    let b: UpdateBody = match json_body(&body) {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    match CheckStatus::parse(&b.status) {
        Some(status) => update(ctx, id, status, b.output).await,
        None => {
            ApiError::BadRequest(format!("Invalid check status: {:?}", b.status)).into_response()
        }
    }
}

/// `GET /v1/agent/services`: this node's services, by id.
pub async fn services(State(ctx): State<Ctx>) -> Json<JsonValue> {
    Json(local(&ctx, |s, me| {
        let mut out = serde_json::Map::new();
        for (id, svc) in s.catalog.services.get(me).into_iter().flatten() {
            out.insert(
                id.clone(),
                json!({
                    "ID": svc.id, "Service": svc.service, "Tags": svc.tags, "Meta": svc.meta,
                    "Port": svc.port, "Address": svc.address, "EnableTagOverride": false,
                    "Weights": { "Passing": 1, "Warning": 1 }, "Datacenter": DATACENTER,
                }),
            );
        }
        JsonValue::Object(out)
    }))
}

/// `GET /v1/agent/checks`: this node's checks, by id.
pub async fn checks(State(ctx): State<Ctx>) -> Json<JsonValue> {
    Json(local(&ctx, |s, me| {
        let mut out = serde_json::Map::new();
        for (id, k) in s.catalog.checks.get(me).into_iter().flatten() {
            out.insert(id.clone(), check_json(s, k));
        }
        JsonValue::Object(out)
    }))
}
