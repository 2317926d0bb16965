//! The builtin node's [`Discovery`] API: Consul's agent services with TTL checks, and
//! its health endpoint.
//!
//! - **register**: `PUT /v1/agent/service/register` on the client's node: the
//!   instance (`ID`) of the service with one TTL check (`service:<ID>`, TTL one hour,
//!   so it never lapses during a run) at the given `Status`. 200: done; 400: refused.
//! - **deregister**: `PUT /v1/agent/service/deregister/<ID>`. 404 (this agent does not
//!   know it): `Ok(false)`, nothing proposed.
//! - **set_health**: `PUT /v1/agent/check/pass|fail/service:<ID>`. 404 (unknown here)
//!   or 400 (the leader no longer has the check): `Ok(false)`, nothing changed.
//! - **instances**: `GET /v1/health/service/<name>` in the run's read mode. An
//!   instance's health is its own check's; `node_passing` says whether its node's
//!   checks (`serfHealth`) pass. The consistency is what the node says it served
//!   (`X-Consul-Effective-Consistency`).
//!
//! Any other failure after sending a change is unknown (a 5xx may come after the
//! change was committed).

use serde_json::{Value as Json, json};
use workloads::api::{BoxFuture, CallError, Consistency, Discovery, Health, Instance, ServiceView};

use super::builtin::BuiltinClient;
use crate::client::{Reply, exchange, exchange_with_headers};

/// A TTL long enough that no check lapses during a run.
const CHECK_TTL: &str = "1h";

fn check_id(instance: &str) -> String {
    format!("service:{instance}")
}

/// The instances of a `/v1/health/service` answer.
fn parse_instances(body: &str) -> Result<Vec<Instance>, String> {
    let list: Json = serde_json::from_str(body).map_err(|e| format!("unreadable {body:?}: {e}"))?;
    let mut out = Vec::new();
    for entry in list.as_array().ok_or_else(|| format!("not a list: {body:?}"))? {
        let id = entry
            .pointer("/Service/ID")
            .and_then(Json::as_str)
            .ok_or_else(|| format!("an entry without Service.ID: {entry}"))?;
        let checks = entry.get("Checks").and_then(Json::as_array).cloned().unwrap_or_default();
        let status_of = |c: &Json| c.get("Status").and_then(Json::as_str).unwrap_or("").to_string();
        let own = checks.iter().find(|c| c.get("ServiceID").and_then(Json::as_str) == Some(id));
        let health = match own.map(status_of).as_deref() {
            Some("passing") => Health::Passing,
            _ => Health::Critical,
        };
        let node_passing = checks
            .iter()
            .filter(|c| c.get("ServiceID").and_then(Json::as_str).unwrap_or("").is_empty())
            .all(|c| status_of(c) == "passing");
        out.push(Instance { id: id.to_string(), health, node_passing });
    }
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

impl BuiltinClient {
    async fn put_agent(&self, path: &str, body: Option<Json>) -> Reply {
        let mut req = self.http.put(format!("{}/v1/agent/{path}", self.base));
        if let Some(b) = body {
            req = req.json(&b);
        }
        exchange(req).await
    }

    async fn register_instance(
        &self,
        service: &str,
        instance: &str,
        health: Health,
    ) -> Result<(), CallError> {
        let body = json!({
            "ID": instance,
            "Name": service,
            "Check": { "CheckID": check_id(instance), "TTL": CHECK_TTL, "Status": health.name() },
        });
        match self.put_agent("service/register", Some(body)).await {
            Reply::Answer { status: 200, .. } => Ok(()),
            r @ Reply::Answer { status: 400, .. } => Err(CallError::refused(r.describe())),
            other => Err(other.write_error()),
        }
    }

    async fn deregister_instance(&self, instance: &str) -> Result<bool, CallError> {
        match self.put_agent(&format!("service/deregister/{instance}"), None).await {
            Reply::Answer { status: 200, .. } => Ok(true),
            Reply::Answer { status: 404, .. } => Ok(false),
            other => Err(other.write_error()),
        }
    }

    async fn flip(&self, instance: &str, health: Health) -> Result<bool, CallError> {
        let verb = match health {
            Health::Passing => "pass",
            Health::Critical => "fail",
        };
        match self.put_agent(&format!("check/{verb}/{}", check_id(instance)), None).await {
            Reply::Answer { status: 200, .. } => Ok(true),
            Reply::Answer { status: 404 | 400, .. } => Ok(false),
            other => Err(other.write_error()),
        }
    }

    async fn read_instances(&self, service: &str) -> Result<ServiceView, CallError> {
        let url = format!("{}/v1/health/service/{service}{}", self.base, self.read_query);
        let (reply, headers) =
            exchange_with_headers(self.http.get(url), &["X-Consul-Effective-Consistency"]).await;
        let body = match &reply {
            Reply::Answer { status: 200, body } => body,
            other => return Err(other.read_error()),
        };
        let instances = parse_instances(body).map_err(CallError::refused)?;
        let said = headers.first().cloned().flatten();
        let consistency = match said.as_deref().unwrap_or(self.read_query) {
            "consistent" | "?consistent" => Consistency::Consistent,
            "stale" | "?stale" => Consistency::Stale,
            _ => Consistency::Leader,
        };
        Ok(ServiceView { instances, consistency })
    }
}

impl Discovery for BuiltinClient {
    fn register<'a>(
        &'a mut self,
        service: &'a str,
        instance: &'a str,
        health: Health,
    ) -> BoxFuture<'a, Result<(), CallError>> {
        Box::pin(self.register_instance(service, instance, health))
    }

    fn deregister<'a>(
        &'a mut self,
        _service: &'a str,
        instance: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.deregister_instance(instance))
    }

    fn set_health<'a>(
        &'a mut self,
        _service: &'a str,
        instance: &'a str,
        health: Health,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.flip(instance, health))
    }

    fn instances<'a>(
        &'a mut self,
        service: &'a str,
    ) -> BoxFuture<'a, Result<ServiceView, CallError>> {
        Box::pin(self.read_instances(service))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instances_with_their_own_and_their_node_health() {
        let body = r#"[
          {"Node":{"Node":"node-1"},"Service":{"ID":"web-2","Service":"web"},
           "Checks":[{"CheckID":"serfHealth","ServiceID":"","Status":"passing"},
                     {"CheckID":"service:web-2","ServiceID":"web-2","Status":"critical"}]},
          {"Node":{"Node":"node-2"},"Service":{"ID":"web-0","Service":"web"},
           "Checks":[{"CheckID":"serfHealth","ServiceID":"","Status":"critical"},
                     {"CheckID":"service:web-0","ServiceID":"web-0","Status":"passing"}]}]"#;
        let got = parse_instances(body).unwrap();
        assert_eq!(
            got,
            vec![
                Instance { id: "web-0".into(), health: Health::Passing, node_passing: false },
                Instance { id: "web-2".into(), health: Health::Critical, node_passing: true },
            ]
        );
        assert!(parse_instances("{}").is_err());
    }
}
