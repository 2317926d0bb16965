//! Health: `GET /v1/health/{service/<name>[?passing],checks/<service>,state/<state>,
//! node/<node>}` in Consul's shapes. An instance's checks are its node's node-level checks
//! (`serfHealth` included) plus its own; `?passing` keeps instances whose checks all pass
//! (Consul treats `warning` as not passing there).

use axum::extract::Path;
use axum::extract::Query;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::response::Response;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::ApiError;
use super::Ctx;
use super::Params;
use super::catalog::node_json;
use super::catalog::node_service_json;
use super::catalog::read_json;
use super::catalog::services_named;
use crate::api::format_duration;
use crate::state::CheckStatus;
use crate::state::HealthCheck;
use crate::state::StateData;

pub fn check_json(s: &StateData, k: &HealthCheck) -> JsonValue {
    let tags = s
        .catalog
        .services
        .get(&k.node)
        .and_then(|m| m.get(&k.service_id))
        .map(|svc| svc.tags.clone())
        .unwrap_or_default();
    let d = &k.definition;
    let dur = |ms: u64| if ms == 0 { String::new() } else { format_duration(ms) };
    json!({
        "Node": k.node,
        "CheckID": k.check_id,
        "Name": k.name,
        "Status": k.status.as_str(),
        "Notes": k.notes,
        "Output": k.output,
        "ServiceID": k.service_id,
        "ServiceName": k.service_name,
        "ServiceTags": tags,
        "Type": d.kind(k.ttl_ms.is_some()),
        "Definition": {
            "HTTP": d.http, "Method": d.method, "TCP": d.tcp,
            "Interval": dur(d.interval_ms), "Timeout": dur(if d.is_active() { d.timeout_ms } else { 0 }),
            "DeregisterCriticalServiceAfter": dur(d.deregister_critical_after_ms.unwrap_or(0)),
        },
        "CreateIndex": k.create_index,
        "ModifyIndex": k.modify_index,
    })
}

fn all_checks(s: &StateData) -> impl Iterator<Item = &HealthCheck> {
    s.catalog.checks.values().flat_map(|m| m.values())
}

pub async fn service(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let passing = p.contains_key("passing");
    let tag = p.get("tag").cloned();
    read_json(ctx, p, move |s| {
        let mut list = Vec::new();
        for svc in services_named(s, &name) {
            if tag.as_ref().is_some_and(|t| !svc.tags.contains(t)) {
                continue;
            }
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
            list.push(json!({
                "Node": node_json(s, &svc.node),
                "Service": node_service_json(svc),
                "Checks": checks.iter().map(|k| check_json(s, k)).collect::<Vec<_>>(),
            }));
        }
        JsonValue::Array(list)
    })
    .await
}

/// `/v1/health/checks/<service>`: the checks of that service's instances.
pub async fn checks(
    State(ctx): State<Ctx>,
    Path(name): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    read_json(ctx, p, move |s| {
        JsonValue::Array(
            all_checks(s).filter(|k| k.service_name == name).map(|k| check_json(s, k)).collect(),
        )
    })
    .await
}

/// `/v1/health/state/<state>`: every check in that state (`any`: all of them).
pub async fn state(
    State(ctx): State<Ctx>,
    Path(state): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let want = match state.as_str() {
        "any" => None,
        other => match CheckStatus::parse(other) {
            Some(s) => Some(s),
            None => {
                return ApiError::BadRequest(format!("Invalid check state {other:?}"))
                    .into_response();
            }
        },
    };
    read_json(ctx, p, move |s| {
        JsonValue::Array(
            all_checks(s)
                .filter(|k| want.is_none_or(|w| k.status == w))
                .map(|k| check_json(s, k))
                .collect(),
        )
    })
    .await
}

/// `/v1/health/node/<node>`: every check on that node.
pub async fn node(
    State(ctx): State<Ctx>,
    Path(node): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    read_json(ctx, p, move |s| {
        JsonValue::Array(
            s.catalog
                .checks
                .get(&node)
                .map(|m| m.values().map(|k| check_json(s, k)).collect())
                .unwrap_or_default(),
        )
    })
    .await
}
