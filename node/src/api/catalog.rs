//! Catalog and health: `/v1/catalog/{register,deregister,services,service/<name>,nodes}`,
//! `/v1/health/service/<name>[?passing]`, and TTL check heartbeats
//! `/v1/agent/check/{pass,warn,fail}/<id>` and `/v1/agent/check/update/<id>`.
//!
//! Register bodies are Consul's (`{"Node","Address","Service":{...},"Check":{...},
//! "Checks":[...]}`). A check gets a TTL from `"Definition":{"TTL":"10s"}` (or a top-level
//! `"TTL"`); check heartbeats are replicated through Raft (Consul keeps them agent-local and
//! syncs them), and a heartbeat names the check by id on whichever node it was registered.

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::json_body;
use super::parse_duration;
use super::with_index;
use crate::state::CatalogCommand;
use crate::state::CatalogService;
use crate::state::CheckStatus;
use crate::state::Command;
use crate::state::CommandResponse;
use crate::state::HealthCheck;
use crate::state::StateData;
use crate::state::catalog::CheckDef;
use crate::state::catalog::ServiceDef;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterBody {
    node: String,
    #[serde(default)]
    address: String,
    service: Option<ServiceBody>,
    check: Option<CheckBody>,
    #[serde(default)]
    checks: Vec<CheckBody>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceBody {
    #[serde(rename = "ID", default)]
    id: String,
    service: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    address: String,
    #[serde(default)]
    port: u16,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CheckBody {
    #[serde(rename = "CheckID", default)]
    check_id: String,
    #[serde(default)]
    name: String,
    status: Option<String>,
    #[serde(rename = "ServiceID", default)]
    service_id: String,
    #[serde(rename = "TTL")]
    ttl: Option<String>,
    definition: Option<CheckDefinition>,
}

#[derive(Deserialize)]
struct CheckDefinition {
    #[serde(rename = "TTL")]
    ttl: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeregisterBody {
    node: String,
    #[serde(rename = "ServiceID")]
    service_id: Option<String>,
    #[serde(rename = "CheckID")]
    check_id: Option<String>,
}

fn check_def(c: CheckBody) -> Result<CheckDef, ApiError> {
    let ttl = c.ttl.or(c.definition.and_then(|d| d.ttl));
    let ttl_ms = match ttl.as_deref() {
        None | Some("") => None,
        Some(s) => Some(
            parse_duration(s)
                .map_err(|e| ApiError::BadRequest(format!("invalid check TTL {s:?}: {e}")))?
                .as_millis() as u64,
        ),
    };
    let status = match c.status.as_deref() {
        None | Some("") => CheckStatus::Critical,
        Some(s) => CheckStatus::parse(s)
            .ok_or_else(|| ApiError::BadRequest(format!("invalid check status {s:?}")))?,
    };
    let check_id = if c.check_id.is_empty() { c.name.clone() } else { c.check_id };
    if check_id.is_empty() {
        return Err(ApiError::BadRequest("Must provide a CheckID or Name".into()));
    }
    Ok(CheckDef { check_id, name: c.name, status, service_id: c.service_id, ttl_ms })
}

async fn apply(ctx: &Ctx, cmd: CatalogCommand) -> Result<Response, ApiError> {
    match ctx.propose(Command::Catalog(cmd)).await? {
        (index, CommandResponse::Catalog(Ok(()))) => Ok(with_index(index, true, Json(true))),
        (_, CommandResponse::Catalog(Err(e))) => Err(ApiError::BadRequest(e)),
        (_, other) => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
    }
}

pub async fn register(State(ctx): State<Ctx>, body: Bytes) -> Response {
    async {
        let b: RegisterBody = json_body(&body)?;
        let mut checks = Vec::new();
        for c in b.check.into_iter().chain(b.checks) {
            checks.push(check_def(c)?);
        }
        let service = b.service.map(|s| ServiceDef {
            id: s.id,
            service: s.service,
            tags: s.tags,
            address: s.address,
            port: s.port,
        });
        let cmd = CatalogCommand::Register {
            node: b.node,
            address: b.address,
            service,
            checks,
            now_ms: ctx.clock.now_ms(),
        };
        apply(&ctx, cmd).await
    }
    .await
    .unwrap_or_else(|e: ApiError| e.into_response())
}

pub async fn deregister(State(ctx): State<Ctx>, body: Bytes) -> Response {
    async {
        let b: DeregisterBody = json_body(&body)?;
        apply(
            &ctx,
            CatalogCommand::Deregister {
                node: b.node,
                service_id: b.service_id,
                check_id: b.check_id,
            },
        )
        .await
    }
    .await
    .unwrap_or_else(|e: ApiError| e.into_response())
}

fn service_json(s: &StateData, svc: &CatalogService) -> JsonValue {
    let address = s.catalog.nodes.get(&svc.node).map(|n| n.address.clone()).unwrap_or_default();
    json!({
        "ID": "",
        "Node": svc.node,
        "Address": address,
        "Datacenter": "dc1",
        "ServiceID": svc.id,
        "ServiceName": svc.service,
        "ServiceTags": svc.tags,
        "ServiceAddress": svc.address,
        "ServicePort": svc.port,
        "CreateIndex": svc.create_index,
        "ModifyIndex": svc.modify_index,
    })
}

fn check_json(k: &HealthCheck) -> JsonValue {
    json!({
        "Node": k.node,
        "CheckID": k.check_id,
        "Name": k.name,
        "Status": k.status.as_str(),
        "Notes": "",
        "Output": k.output,
        "ServiceID": k.service_id,
        "ServiceName": k.service_name,
        "CreateIndex": k.create_index,
        "ModifyIndex": k.modify_index,
    })
}

fn services_named<'a>(s: &'a StateData, name: &'a str) -> impl Iterator<Item = &'a CatalogService> {
    s.catalog.services.values().flat_map(|m| m.values()).filter(move |svc| svc.service == name)
}

async fn read_json(ctx: Ctx, p: Params, f: impl Fn(&StateData) -> JsonValue) -> Response {
    match ctx.blocking_read(&p, |s| (s.indexes.catalog, f(s))).await {
        Ok((index, v)) => with_index(index, ctx.raft.leader().is_some(), Json(v)),
        Err(e) => e.into_response(),
    }
}

pub async fn services(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    read_json(ctx, p, |s| {
        let mut out = serde_json::Map::new();
        for svc in s.catalog.services.values().flat_map(|m| m.values()) {
            let tags = out.entry(svc.service.clone()).or_insert_with(|| json!([]));
            if let Some(list) = tags.as_array_mut() {
                for t in &svc.tags {
                    if !list.iter().any(|x| x == t) {
                        list.push(json!(t));
                    }
                }
            }
        }
        JsonValue::Object(out)
    })
    .await
}

pub async fn service(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let tag = p.get("tag").cloned();
    read_json(ctx, p, move |s| {
        let list: Vec<JsonValue> = services_named(s, &name)
            .filter(|svc| tag.as_ref().is_none_or(|t| svc.tags.contains(t)))
            .map(|svc| service_json(s, svc))
            .collect();
        JsonValue::Array(list)
    })
    .await
}

pub async fn nodes(State(ctx): State<Ctx>, Query(p): Query<Params>) -> Response {
    read_json(ctx, p, |s| {
        let list: Vec<JsonValue> = s
            .catalog
            .nodes
            .values()
            .map(|n| {
                json!({"ID": "", "Node": n.node, "Address": n.address, "Datacenter": "dc1",
                       "CreateIndex": n.create_index, "ModifyIndex": n.modify_index})
            })
            .collect();
        JsonValue::Array(list)
    })
    .await
}

/// `/v1/health/service/<name>`: each instance with its node and checks (node-level checks
/// plus the service's own); `?passing` keeps only instances whose checks all pass.
pub async fn health_service(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let passing = p.contains_key("passing");
    read_json(ctx, p, move |s| {
        let mut list = Vec::new();
        for svc in services_named(s, &name) {
            let checks: Vec<&HealthCheck> = s
                .catalog
                .checks
                .get(&svc.node)
                .map(|m| {
                    m.values()
                        .filter(|k| k.service_id.is_empty() || k.service_id == svc.id)
                        .collect()
                })
                .unwrap_or_default();
            if passing && checks.iter().any(|k| k.status != CheckStatus::Passing) {
                continue;
            }
            let node = s.catalog.nodes.get(&svc.node);
            list.push(json!({
                "Node": {
                    "Node": svc.node,
                    "Address": node.map(|n| n.address.clone()).unwrap_or_default(),
                    "Datacenter": "dc1",
                },
                "Service": {
                    "ID": svc.id, "Service": svc.service, "Tags": svc.tags,
                    "Address": svc.address, "Port": svc.port,
                    "CreateIndex": svc.create_index, "ModifyIndex": svc.modify_index,
                },
                "Checks": checks.iter().map(|k| check_json(k)).collect::<Vec<_>>(),
            }));
        }
        JsonValue::Array(list)
    })
    .await
}

async fn update_check(ctx: Ctx, id: String, status: CheckStatus, output: String) -> Response {
    let cmd = CatalogCommand::UpdateCheck {
        node: None,
        check_id: id,
        status,
        output,
        now_ms: ctx.clock.now_ms(),
    };
    match ctx.propose(Command::Catalog(cmd)).await {
        Ok((_, CommandResponse::Catalog(Ok(())))) => ().into_response(),
        Ok((_, CommandResponse::Catalog(Err(e)))) => ApiError::NotFound(e).into_response(),
        Ok((_, other)) => {
            ApiError::Internal(format!("unexpected response {other:?}")).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn note(p: &Params) -> String {
    p.get("note").cloned().unwrap_or_default()
}

pub async fn check_pass(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    update_check(ctx, id, CheckStatus::Passing, note(&p)).await
}

pub async fn check_warn(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    update_check(ctx, id, CheckStatus::Warning, note(&p)).await
}

pub async fn check_fail(
    State(ctx): State<Ctx>,
    Path(id): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    update_check(ctx, id, CheckStatus::Critical, note(&p)).await
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UpdateBody {
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
        Some(status) => update_check(ctx, id, status, b.output).await,
        None => {
            ApiError::BadRequest(format!("Invalid check status: {:?}", b.status)).into_response()
        }
    }
}
