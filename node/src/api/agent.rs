//! `/v1/agent/members` (gossip membership as this node sees it, Consul's shape plus a
//! `"State"` of `alive`/`suspect`/`dead`) and `/v1/agent/self`.
//!
//! `Status` follows Serf's numbers: 1 alive (also while suspect, as Serf reports), 4 failed.

use axum::Json;
use axum::extract::State;
use serde_json::Value as JsonValue;
use serde_json::json;

use super::Ctx;
use crate::gossip::MemberState;

pub async fn members(State(ctx): State<Ctx>) -> Json<Vec<JsonValue>> {
    let list = ctx
        .gossip
        .members()
        .into_iter()
        .map(|m| {
            json!({
                "Name": format!("node-{}", m.id),
                "Addr": m.addr.ip().to_string(),
                "Port": m.addr.port(),
                "Tags": { "role": "consul", "id": m.id.to_string() },
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
            "Datacenter": "dc1",
            "NodeName": ctx.cfg.node_name(),
            "NodeID": ctx.cfg.id.to_string(),
            "Server": true,
        },
        "Member": { "Name": ctx.cfg.node_name(), "Addr": ctx.cfg.advertise },
    }))
}
