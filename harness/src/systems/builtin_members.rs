//! The builtin node's [`Members`] API: `GET /v1/agent/members`, the gossip view of the
//! node the client talks to. Members are named by the run's node names: the node with
//! Raft id `k` (`node-k` in Consul's catalog) is `n<k>`.

use serde_json::Value as Json;
use workloads::api::{BoxFuture, CallError, MemberState, Members};

use super::builtin::BuiltinClient;
use crate::client::{Reply, exchange};
use crate::node_host::node_name;

/// `[{"Name": "node-2", "State": "alive", ...}]` as (run node name, state).
fn parse_members(body: &str) -> Result<Vec<(String, MemberState)>, String> {
    let list: Json = serde_json::from_str(body).map_err(|e| format!("unreadable {body:?}: {e}"))?;
    let mut out = Vec::new();
    for m in list.as_array().ok_or_else(|| format!("not a list: {body:?}"))? {
        let name = m.get("Name").and_then(Json::as_str).ok_or_else(|| format!("no Name in {m}"))?;
        let id: usize = name
            .strip_prefix("node-")
            .and_then(|k| k.parse().ok())
            .filter(|k| *k > 0)
            .ok_or_else(|| format!("a member name that is not node-<id>: {name:?}"))?;
        let state = match m.get("State").and_then(Json::as_str) {
            Some("alive") => MemberState::Alive,
            Some("suspect") => MemberState::Suspect,
            Some("dead") => MemberState::Dead,
            other => return Err(format!("member {name}: unknown state {other:?}")),
        };
        out.push((node_name(id - 1), state));
    }
    Ok(out)
}

impl Members for BuiltinClient {
    fn members<'a>(&'a mut self) -> BoxFuture<'a, Result<Vec<(String, MemberState)>, CallError>> {
        Box::pin(async move {
            let reply = exchange(self.http.get(format!("{}/v1/agent/members", self.base))).await;
            match &reply {
                Reply::Answer { status: 200, body } => {
                    parse_members(body).map_err(CallError::refused)
                }
                other => Err(other.read_error()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_by_run_node_names() {
        let body = r#"[{"Name":"node-1","State":"alive"},{"Name":"node-3","State":"dead"}]"#;
        assert_eq!(
            parse_members(body).unwrap(),
            vec![("n1".into(), MemberState::Alive), ("n3".into(), MemberState::Dead)]
        );
        assert!(parse_members(r#"[{"Name":"x","State":"alive"}]"#).is_err());
    }
}
