//! The catalog: `PUT /v1/catalog/{register,deregister}`, `GET /v1/catalog/{services,
//! service/<name>,nodes,node/<node>,datacenters}`, and the parsing of service and check
//! definitions shared with the agent endpoints ([`super::agent`]).
//!
//! Bodies are Consul's (`{"Node","Address","Service":{...},"Check":{...},"Checks":[...]}`),
//! field names case-insensitive ([`super::json`]). A check's TTL comes from `"TTL"` or
//! `"Definition":{"TTL":...}`; HTTP/TCP checks from `HTTP`/`TCP` with `Interval`, `Timeout`
//! and `DeregisterCriticalServiceAfter` (top level, as the agent API takes them, or inside
//! `Definition`, as the catalog API does).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::forward::DATACENTER;
use super::json_body;
use super::parse_duration;
use crate::state::CatalogCommand;
use crate::state::CatalogService;
use crate::state::CheckStatus;
use crate::state::Command;
use crate::state::CommandResponse;
use crate::state::StateData;
use crate::state::catalog::CheckDef;
use crate::state::catalog::CheckDefinition;
use crate::state::catalog::ServiceDef;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RegisterBody {
    #[serde(default)]
    node: String,
    #[serde(default)]
    address: String,
    #[serde(default)]
    datacenter: String,
    service: Option<ServiceBody>,
    check: Option<CheckBody>,
    #[serde(default)]
    checks: Vec<CheckBody>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ServiceBody {
    #[serde(rename = "ID", default)]
    pub id: String,
    /// `Service` in the catalog API, `Name` in the agent API.
    #[serde(default)]
    pub service: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    pub check: Option<CheckBody>,
    #[serde(default)]
    pub checks: Vec<CheckBody>,
}

impl ServiceBody {
    pub fn def(&self) -> ServiceDef {
        let service =
            if self.service.is_empty() { self.name.clone() } else { self.service.clone() };
        ServiceDef {
            id: if self.id.is_empty() { service.clone() } else { self.id.clone() },
            service,
            tags: self.tags.clone(),
            address: self.address.clone(),
            port: self.port,
            meta: self.meta.clone(),
        }
    }
}

#[derive(Deserialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct CheckBody {
    #[serde(rename = "CheckID", default)]
    pub check_id: String,
    /// The agent API's spelling of `CheckID`.
    #[serde(rename = "ID", default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    pub status: Option<String>,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub output: String,
    #[serde(rename = "ServiceID", default)]
    pub service_id: String,
    #[serde(rename = "TTL")]
    pub ttl: Option<String>,
    #[serde(rename = "HTTP", default)]
    pub http: String,
    #[serde(default)]
    pub method: String,
    #[serde(rename = "TCP", default)]
    pub tcp: String,
    pub interval: Option<JsonValue>,
    pub timeout: Option<JsonValue>,
    pub deregister_critical_service_after: Option<JsonValue>,
    pub definition: Option<Box<CheckBody>>,
}

/// A duration as Consul's JSON has them: a Go duration string, or nanoseconds.
fn duration_ms(what: &str, v: &Option<JsonValue>) -> Result<Option<u64>, ApiError> {
    match v {
        None | Some(JsonValue::Null) => Ok(None),
        Some(JsonValue::Number(n)) => Ok(Some(n.as_u64().unwrap_or(0) / 1_000_000)),
        Some(JsonValue::String(s)) if s.is_empty() => Ok(None),
        Some(JsonValue::String(s)) => parse_duration(s)
            .map(|d| Some(d.as_millis() as u64))
            .map_err(|e| ApiError::BadRequest(format!("Request decode failed: {what}: {e}"))),
        Some(other) => Err(ApiError::BadRequest(format!("Request decode failed: {what}: {other}"))),
    }
}

/// A check definition, with Consul's defaults: the id is `CheckID` (or `ID`), else the name;
/// a new check is `critical` until it first passes.
pub fn check_def(c: CheckBody, default_id: &str, default_name: &str) -> Result<CheckDef, ApiError> {
    // The catalog API nests the definition; the agent API has the fields at the top level.
    let inner = c.definition.clone().map(|d| *d).unwrap_or_default();
    let pick = |a: &String, b: &String| if a.is_empty() { b.clone() } else { a.clone() };
    let ttl = c.ttl.clone().or(inner.ttl.clone());
    let ttl_ms = duration_ms("TTL", &ttl.map(JsonValue::String))?;
    let http = pick(&c.http, &inner.http);
    let tcp = pick(&c.tcp, &inner.tcp);
    let interval_ms = duration_ms("Interval", &c.interval.clone().or(inner.interval.clone()))?;
    let timeout_ms = duration_ms("Timeout", &c.timeout.clone().or(inner.timeout.clone()))?;
    let deregister = duration_ms(
        "DeregisterCriticalServiceAfter",
        &c.deregister_critical_service_after
            .clone()
            .or(inner.deregister_critical_service_after.clone()),
    )?;
    if (!http.is_empty() || !tcp.is_empty()) && interval_ms.unwrap_or(0) == 0 {
        return Err(ApiError::BadRequest(
            "Invalid check: HTTP and TCP checks must have an interval".into(),
        ));
    }
    let status = match c.status.as_deref() {
        None | Some("") => CheckStatus::Critical,
        Some(s) => CheckStatus::parse(s)
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid check status: {s:?}")))?,
    };
    let name = if c.name.is_empty() { default_name.to_owned() } else { c.name.clone() };
    let mut check_id = pick(&c.check_id, &c.id);
    if check_id.is_empty() {
        check_id = if default_id.is_empty() { name.clone() } else { default_id.to_owned() };
    }
    if check_id.is_empty() {
        return Err(ApiError::BadRequest("Must provide a CheckID or Name".into()));
    }
    Ok(CheckDef {
        check_id,
        name,
        status,
        service_id: c.service_id,
        ttl_ms,
        notes: c.notes,
        output: c.output,
        definition: CheckDefinition {
            http,
            method: pick(&c.method, &inner.method),
            tcp,
            interval_ms: interval_ms.unwrap_or(0),
            // Consul's default check timeout.
            timeout_ms: timeout_ms.unwrap_or(10_000),
            deregister_critical_after_ms: deregister,
        },
    })
}

/// Proposes a catalog change through the leader and answers Consul's `true`.
pub async fn apply(ctx: &Ctx, cmd: CatalogCommand) -> Result<Response, ApiError> {
    match ctx.propose(Command::Catalog(cmd)).await? {
        (_, CommandResponse::Catalog(Ok(()))) => Ok(Json(true).into_response()),
        (_, CommandResponse::Catalog(Err(e))) => Err(ApiError::Internal(e)),
        (_, other) => Err(ApiError::Internal(format!("unexpected response {other:?}"))),
    }
}

fn check_dc(dc: &str) -> Result<(), ApiError> {
    if dc.is_empty() || dc == DATACENTER { Ok(()) } else { Err(ApiError::NoPathToDatacenter) }
}

pub async fn register(State(ctx): State<Ctx>, body: Bytes) -> Response {
    async {
        let b: RegisterBody = json_body(&body)?;
        check_dc(&b.datacenter)?;
        if b.node.is_empty() {
            return Err(ApiError::BadRequest("Must provide node".into()));
        }
        let service = b.service.as_ref().map(ServiceBody::def);
        let mut checks = Vec::new();
        for c in b.check.into_iter().chain(b.checks) {
            checks.push(check_def(c, "", "")?);
        }
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

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeregisterBody {
    #[serde(default)]
    node: String,
    #[serde(default)]
    datacenter: String,
    #[serde(rename = "ServiceID")]
    service_id: Option<String>,
    #[serde(rename = "CheckID")]
    check_id: Option<String>,
}

pub async fn deregister(State(ctx): State<Ctx>, body: Bytes) -> Response {
    async {
        let b: DeregisterBody = json_body(&body)?;
        check_dc(&b.datacenter)?;
        if b.node.is_empty() {
            return Err(ApiError::BadRequest("Must provide node".into()));
        }
        let cmd = CatalogCommand::Deregister {
            node: b.node,
            service_id: b.service_id,
            check_id: b.check_id,
            now_ms: ctx.clock.now_ms(),
        };
        apply(&ctx, cmd).await
    }
    .await
    .unwrap_or_else(|e: ApiError| e.into_response())
}

pub fn service_json(s: &StateData, svc: &CatalogService) -> JsonValue {
    let address = s.catalog.nodes.get(&svc.node).map(|n| n.address.clone()).unwrap_or_default();
    json!({
        "ID": "",
        "Node": svc.node,
        "Address": address,
        "Datacenter": DATACENTER,
        "TaggedAddresses": null,
        "NodeMeta": {},
        "ServiceKind": "",
        "ServiceID": svc.id,
        "ServiceName": svc.service,
        "ServiceTags": svc.tags,
        "ServiceAddress": svc.address,
        "ServiceMeta": svc.meta,
        "ServicePort": svc.port,
        "ServiceEnableTagOverride": false,
        "CreateIndex": svc.create_index,
        "ModifyIndex": svc.modify_index,
    })
}

/// A service as `/v1/health/service` and `/v1/catalog/node` show it.
pub fn node_service_json(svc: &CatalogService) -> JsonValue {
    json!({
        "ID": svc.id, "Service": svc.service, "Tags": svc.tags, "Address": svc.address,
        "Meta": svc.meta, "Port": svc.port, "EnableTagOverride": false,
        "Weights": { "Passing": 1, "Warning": 1 },
        "CreateIndex": svc.create_index, "ModifyIndex": svc.modify_index,
    })
}

pub fn node_json(s: &StateData, node: &str) -> JsonValue {
    match s.catalog.nodes.get(node) {
        Some(n) => json!({
            "ID": "", "Node": n.node, "Address": n.address, "Datacenter": DATACENTER,
            "TaggedAddresses": { "lan": n.address, "wan": n.address }, "Meta": {},
            "CreateIndex": n.create_index, "ModifyIndex": n.modify_index,
        }),
        None => JsonValue::Null,
    }
}

pub fn services_named<'a>(
    s: &'a StateData,
    name: &'a str,
) -> impl Iterator<Item = &'a CatalogService> {
    s.catalog.services.values().flat_map(|m| m.values()).filter(move |svc| svc.service == name)
}

/// A blocking catalog read: (index, answer) from `f`, with Consul's query headers.
pub async fn read_json(ctx: Ctx, p: Params, f: impl Fn(&StateData) -> JsonValue) -> Response {
    match ctx.blocking_read(&p, |s| (s.indexes.catalog, f(s))).await {
        Ok((index, v)) => ctx.with_meta(index, &p, Json(v)),
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
        JsonValue::Array(s.catalog.nodes.keys().map(|n| node_json(s, n)).collect())
    })
    .await
}

/// `/v1/catalog/node/<node>`: `{"Node":{...},"Services":{id: {...}}}`, or `null` for an
/// unknown node (as Consul answers).
pub async fn node(
    State(ctx): State<Ctx>,
    Path(node): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    read_json(ctx, p, move |s| {
        if !s.catalog.nodes.contains_key(&node) {
            return JsonValue::Null;
        }
        let services: serde_json::Map<String, JsonValue> = s
            .catalog
            .services
            .get(&node)
            .map(|m| m.iter().map(|(id, svc)| (id.clone(), node_service_json(svc))).collect())
            .unwrap_or_default();
        json!({ "Node": node_json(s, &node), "Services": services })
    })
    .await
}

pub async fn datacenters() -> Json<Vec<&'static str>> {
    Json(vec![DATACENTER])
}

/// The id of the node the client talked to, as a catalog node name.
pub fn agent_node(ctx: &Ctx, headers: &HeaderMap) -> String {
    crate::config::node_name(super::forward::origin(headers).unwrap_or(ctx.cfg.id))
}
