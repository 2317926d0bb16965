//! etcd leases for the lock and election APIs: granted with a TTL, kept alive in the
//! background (as etcd's own clients do) through the client's member, revoked when
//! done.
//!
//! The keep-alive task renews every eighth of the TTL, each renewal bounded by half
//! the TTL, so a lease survives a member that stops answering for up to most of its
//! TTL; past that etcd's leader expires it (and with it the keys it holds)
//! while the client may still believe it holds them. That is etcd's documented
//! weakness (and what Jepsen's 2020 etcd analysis showed with process pauses): the
//! harness does not paper over it.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value as Json, json};
use tokio::task::JoinHandle;
use workloads::api::CallError;

use super::etcd::{EtcdClient, Gateway};

/// A lease kept alive until this value is dropped (the keep-alive task stops; the
/// lease then expires within its TTL unless revoked first).
pub struct KeptLease {
    /// The lease ID (int64, as the gateway spells it: a string).
    pub id: String,
    task: JoinHandle<()>,
}

impl Drop for KeptLease {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a client holds through a lease: a lock or a leadership.
pub struct Hold {
    pub lease: KeptLease,
    /// The fencing token or term of the hold (the key's revision), once known.
    pub token: Option<u64>,
    /// The key the hold is on (the election's leader key), once known.
    pub key: Option<String>,
}

/// A client's holds, by lock or election name.
#[derive(Default)]
pub struct Holds(pub HashMap<String, Hold>);

impl EtcdClient {
    /// Grants a lease of `ttl_s` seconds. Any failure is `Refused`: nothing holds a
    /// lease nobody knows the ID of, and an orphan lease expires by itself.
    pub(super) async fn grant_lease(&self, ttl_s: u64) -> Result<String, CallError> {
        match self.post("/v3/lease/grant", json!({ "TTL": ttl_s.to_string() })).await {
            Gateway::Body(j) => j
                .get("ID")
                .and_then(Json::as_str)
                .map(str::to_string)
                .ok_or_else(|| CallError::refused(format!("no lease ID in {j}"))),
            Gateway::Failed(reply) => {
                Err(CallError::refused(format!("granting a lease: {}", reply.describe())))
            }
        }
    }

    /// Starts keeping `id` alive: a renewal every `ttl_s / 8`, each allowed half the
    /// TTL and none waiting for the one before, so that a member that answers again
    /// after a stall gets a renewal within an eighth of the TTL.
    pub(super) fn keep_alive(&self, id: String, ttl_s: u64) -> KeptLease {
        let every = Duration::from_millis(ttl_s * 1000 / 8);
        let patience = Duration::from_millis(ttl_s * 1000 / 2);
        let http = self.http.clone();
        let url = format!("{}/v3/lease/keepalive", self.base);
        let body = json!({ "ID": id });
        let task = tokio::spawn(async move {
            let mut renewals = tokio::task::JoinSet::new();
            loop {
                tokio::time::sleep(every).await;
                while renewals.try_join_next().is_some() {}
                let req = http.post(&url).json(&body).timeout(patience);
                renewals.spawn(async move {
                    let _ = req.send().await;
                });
            }
        });
        KeptLease { id, task }
    }

    /// Revokes a lease in the background (best effort: it expires anyway).
    pub(super) fn revoke_later(&self, id: String) {
        let http = self.http.clone();
        let url = format!("{}/v3/lease/revoke", self.base);
        tokio::spawn(async move {
            let _ = http
                .post(url)
                .json(&json!({ "ID": id }))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
        });
    }

    /// Revokes a lease and says whether etcd confirmed it.
    pub(super) async fn revoke_now(&self, id: &str) -> Result<(), String> {
        match self.post("/v3/lease/revoke", json!({ "ID": id })).await {
            Gateway::Body(_) => Ok(()),
            Gateway::Failed(reply) => Err(format!("revoking lease {id}: {}", reply.describe())),
        }
    }
}

/// Whether a gateway failure is etcd saying the lease does not exist.
pub fn lease_not_found(reply: &crate::client::Reply) -> bool {
    matches!(reply, crate::client::Reply::Answer { body, .. } if body.contains("requested lease not found"))
}
