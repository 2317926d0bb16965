//! etcd's [`Locks`] API: a lease and a transaction, fenced by the lock key's revision.
//!
//! - **acquire**: grant a lease of the run's `--lease-ttl` seconds (default
//!   [`LOCK_TTL_S`], 2 s, as Jepsen's etcd lock test's `lease-ttl`) and start keeping it alive, then one txn: if the lock key does not
//!   exist (`create_revision == 0`), put it with the lease. Granted: the txn's
//!   revision (the lock key's create revision) is the hold's fencing token; every
//!   later grant of the key has a larger one. Not granted (someone holds it):
//!   `Ok(false)`, the lease revoked. A lease etcd no longer knows (`requested lease not
//!   found`): refused, nothing changed. Any other failure after sending is unknown,
//!   and the lease is kept alive: the lock may be held, and the release will free it.
//! - **acquire with a lost session** ([`Holder::Lost`]): grant a lease, revoke it (etcd
//!   confirms), then the same txn with it: etcd must refuse.
//! - **release**: stop renewing (whatever happens next, this holder's critical
//!   section is over, as in Jepsen's client), then a txn deleting the lock key if it
//!   is still held with this lease, then revoke the lease. `Ok(true)` whether the key
//!   was still ours or had already gone with an expired lease (the lock is not held
//!   by this client either way; Jepsen's rule); `Ok(false)` only when this client
//!   held nothing.
//!
//! The unsafety this exposes is etcd's own: a holder whose member stops answering
//! (paused, cut off) for longer than the lease keeps believing it holds the lock
//! after etcd has expired the lease and granted the lock to someone else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use history::Value;
use serde_json::{Value as Json, json};
use workloads::api::{BoxFuture, CallError, Holder, Locks};

use super::etcd::{EtcdClient, Gateway};
use super::etcd_lease::{Hold, lease_not_found};

/// The lock lease's time to live by default, in seconds (Jepsen's `lease-ttl`).
pub const LOCK_TTL_S: u64 = 2;

fn header_revision(j: &Json) -> Option<u64> {
    j.pointer("/header/revision").and_then(Json::as_str).and_then(|r| r.parse().ok())
}

impl EtcdClient {
    /// The put-if-absent txn with `lease`: `Ok(Some(revision))` granted, `Ok(None)`
    /// held by someone else.
    async fn try_lock(&self, path: &str, lease: &str) -> Result<Option<u64>, CallError> {
        let key = B64.encode(path);
        let body = json!({
            "compare": [{ "key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0" }],
            "success": [{ "requestPut": { "key": key, "value": B64.encode(&self.node), "lease": lease } }],
        });
        match self.post("/v3/kv/txn", body).await {
            Gateway::Body(j) if j.get("succeeded").and_then(Json::as_bool).unwrap_or(false) => {
                header_revision(&j)
                    .map(Some)
                    .ok_or_else(|| CallError::unknown(format!("granted, but no revision in {j}")))
            }
            Gateway::Body(_) => Ok(None),
            Gateway::Failed(reply) if lease_not_found(&reply) => {
                Err(CallError::refused(Value::kw("invalid-session")))
            }
            Gateway::Failed(reply) => Err(reply.write_error()),
        }
    }

    async fn acquire_lock(&mut self, path: &str, holder: Holder) -> Result<bool, CallError> {
        // An earlier hold left by an unknown acquire: let it go first.
        if let Some(old) = self.holds.0.remove(path) {
            self.revoke_later(old.lease.id.clone());
        }
        let lease = self.grant_lease(self.lock_ttl_s).await?;
        if holder == Holder::Lost {
            self.revoke_now(&lease).await.map_err(CallError::refused)?;
            return match self.try_lock(path, &lease).await? {
                // Granted to a dead lease: the service is broken; report what it said.
                Some(rev) => {
                    let kept = self.keep_alive(lease, self.lock_ttl_s);
                    self.holds
                        .0
                        .insert(path.into(), Hold { lease: kept, token: Some(rev), key: None });
                    Ok(true)
                }
                None => Ok(false),
            };
        }
        // Registered before the txn is sent: if the op times out, the release still
        // knows the lease.
        let kept = self.keep_alive(lease.clone(), self.lock_ttl_s);
        self.holds.0.insert(path.into(), Hold { lease: kept, token: None, key: None });
        match self.try_lock(path, &lease).await {
            Ok(Some(rev)) => {
                if let Some(h) = self.holds.0.get_mut(path) {
                    h.token = Some(rev);
                }
                Ok(true)
            }
            Ok(None) => {
                self.holds.0.remove(path);
                self.revoke_later(lease);
                Ok(false)
            }
            Err(CallError::Refused(why)) => {
                self.holds.0.remove(path);
                Err(CallError::Refused(why))
            }
            Err(unknown) => Err(unknown),
        }
    }

    async fn release_lock(&mut self, path: &str) -> Result<bool, CallError> {
        // Renewal stops here, whatever the answer.
        let Some(hold) = self.holds.0.remove(path) else { return Ok(false) };
        let key = B64.encode(path);
        let id = hold.lease.id.clone();
        drop(hold);
        let body = json!({
            "compare": [{ "key": key, "target": "LEASE", "result": "EQUAL", "lease": id }],
            "success": [{ "requestDeleteRange": { "key": key } }],
        });
        let outcome = match self.post("/v3/kv/txn", body).await {
            // Deleted, or already gone with the lease: not held by this client now.
            Gateway::Body(_) => Ok(true),
            Gateway::Failed(reply) => Err(reply.write_error()),
        };
        self.revoke_later(id);
        outcome
    }
}

impl Locks for EtcdClient {
    fn acquire<'a>(
        &'a mut self,
        lock: &'a str,
        holder: Holder,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.acquire_lock(lock, holder))
    }

    fn release<'a>(&'a mut self, lock: &'a str) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.release_lock(lock))
    }

    fn fencing_token(&self, lock: &str) -> Option<u64> {
        self.holds.0.get(lock).and_then(|h| h.token)
    }
}
