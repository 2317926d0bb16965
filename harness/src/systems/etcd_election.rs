//! etcd's [`Election`] API: its election service through the JSON gateway
//! (`/v3/election/campaign|proclaim|resign|leader`), each candidacy on a lease of
//! [`ELECTION_TTL_S`] seconds kept alive in the background.
//!
//! - **campaign**: first `leader`: when someone leads, `Ok(None)` (nothing was sent
//!   that could change anything). Else grant a lease and `campaign` with the
//!   candidate's name as value. etcd's campaign waits until the candidate leads; it is
//!   given [`CAMPAIGN_WAIT`], after which the lease is revoked and the outcome is
//!   unknown (the candidate may have led for a moment). Elected: the term is the
//!   leader key's revision (`rev`, its create revision), which grows with every
//!   election.
//! - **confirm**: `proclaim` the same value with the leader key: etcd refuses it
//!   (`election: not leader`) once the key is gone, so a proclaim that succeeds shows
//!   the candidate led at that moment.
//! - **resign**: `resign` with the leader key, then the lease is revoked.
//! - **leader**: the election's leader key (its value and create revision), `None`
//!   for `election: no leader`.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};
use workloads::api::{BoxFuture, CallError, Election};

use super::etcd::{EtcdClient, Gateway, decode_text};
use super::etcd_lease::Hold;
use crate::client::Reply;

/// A candidacy's lease time to live, in seconds.
pub const ELECTION_TTL_S: u64 = 3;
/// How long a campaign may wait to be elected before it gives up.
pub const CAMPAIGN_WAIT: Duration = Duration::from_millis(1000);

/// An election's name in etcd: under `election/`, as on builtin, so that its keys
/// (etcd keeps a candidacy at `<name>/<lease>`, the leader being the oldest) never
/// share a prefix with the workloads' own keys.
fn election_name(election: &str) -> String {
    B64.encode(format!("election/{election}"))
}

fn says(reply: &Reply, words: &str) -> bool {
    matches!(reply, Reply::Answer { body, .. } if body.contains(words))
}

impl EtcdClient {
    async fn current_leader(&self, election: &str) -> Result<Option<(String, u64)>, CallError> {
        match self.post("/v3/election/leader", json!({ "name": election_name(election) })).await {
            Gateway::Body(j) => {
                let kv = j.get("kv").ok_or_else(|| CallError::refused(format!("no kv in {j}")))?;
                let value = decode_text(kv.get("value").and_then(Json::as_str).unwrap_or(""))
                    .map_err(CallError::refused)?;
                let rev = kv
                    .get("create_revision")
                    .and_then(Json::as_str)
                    .and_then(|r| r.parse().ok())
                    .ok_or_else(|| CallError::refused(format!("no create_revision in {kv}")))?;
                Ok(Some((value, rev)))
            }
            Gateway::Failed(r) if says(&r, "election: no leader") => Ok(None),
            Gateway::Failed(r) => Err(r.read_error()),
        }
    }

    /// The leader key a hold's campaign returned, as the election API takes it back.
    fn leader_key(election: &str, hold: &Hold) -> Option<Json> {
        Some(json!({
            "name": election_name(election),
            "key": hold.key.clone()?,
            "rev": hold.token?.to_string(),
            "lease": hold.lease.id,
        }))
    }

    async fn campaign_once(
        &mut self,
        election: &str,
        candidate: &str,
    ) -> Result<Option<u64>, CallError> {
        if let Some(old) = self.elections.0.remove(election) {
            self.revoke_later(old.lease.id.clone());
        }
        if self
            .current_leader(election)
            .await
            .map_err(|e| match e {
                CallError::Refused(w) | CallError::Unknown(w) => CallError::Refused(w),
            })?
            .is_some()
        {
            return Ok(None);
        }
        let lease = self.grant_lease(ELECTION_TTL_S).await?;
        let kept = self.keep_alive(lease.clone(), ELECTION_TTL_S);
        self.elections.0.insert(election.into(), Hold { lease: kept, token: None, key: None });
        let body = json!({ "name": election_name(election), "lease": lease, "value": B64.encode(candidate) });
        let req = self.http.post(format!("{}/v3/election/campaign", self.base)).json(&body);
        let reply = crate::client::exchange(req.timeout(CAMPAIGN_WAIT)).await;
        let leader = match &reply {
            Reply::Answer { status: 200, body } => {
                serde_json::from_str::<Json>(body).ok().and_then(|j| j.get("leader").cloned())
            }
            _ => None,
        };
        let elected = leader.as_ref().and_then(|l| {
            let key = l.get("key").and_then(Json::as_str)?.to_string();
            let rev = l.get("rev").and_then(Json::as_str)?.parse::<u64>().ok()?;
            Some((key, rev))
        });
        match (elected, &reply) {
            (Some((key, rev)), _) => {
                if let Some(h) = self.elections.0.get_mut(election) {
                    h.key = Some(key);
                    h.token = Some(rev);
                }
                Ok(Some(rev))
            }
            (None, Reply::NotSent(_)) => {
                self.elections.0.remove(election);
                Err(reply.write_error())
            }
            (None, _) => {
                // Gave up (or lost the answer): end the candidacy; it may have led.
                self.elections.0.remove(election);
                let _ = self.revoke_now(&lease).await;
                Err(CallError::unknown(format!("campaign gave up: {}", reply.describe())))
            }
        }
    }

    async fn confirm_once(
        &mut self,
        election: &str,
        candidate: &str,
    ) -> Result<Option<u64>, CallError> {
        let Some(hold) = self.elections.0.get(election) else { return Ok(None) };
        let Some(leader) = Self::leader_key(election, hold) else { return Ok(None) };
        let term = hold.token;
        let body = json!({ "leader": leader, "value": B64.encode(candidate) });
        match self.post("/v3/election/proclaim", body).await {
            Gateway::Body(_) => Ok(term),
            Gateway::Failed(r) if says(&r, "not leader") => {
                if let Some(old) = self.elections.0.remove(election) {
                    self.revoke_later(old.lease.id.clone());
                }
                Ok(None)
            }
            Gateway::Failed(r) => Err(r.write_error()),
        }
    }

    async fn resign_once(&mut self, election: &str) -> Result<bool, CallError> {
        let Some(hold) = self.elections.0.remove(election) else { return Ok(false) };
        let leader = Self::leader_key(election, &hold);
        let id = hold.lease.id.clone();
        drop(hold); // renewal stops
        let outcome = match leader {
            None => Ok(false),
            Some(leader) => {
                match self.post("/v3/election/resign", json!({ "leader": leader })).await {
                    Gateway::Body(_) => Ok(true),
                    Gateway::Failed(r) if says(&r, "not leader") => Ok(false),
                    Gateway::Failed(r) => Err(r.write_error()),
                }
            }
        };
        self.revoke_later(id);
        outcome
    }
}

impl Election for EtcdClient {
    fn campaign<'a>(
        &'a mut self,
        election: &'a str,
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, CallError>> {
        Box::pin(self.campaign_once(election, candidate))
    }

    fn confirm<'a>(
        &'a mut self,
        election: &'a str,
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<Option<u64>, CallError>> {
        Box::pin(self.confirm_once(election, candidate))
    }

    fn resign<'a>(
        &'a mut self,
        election: &'a str,
        _candidate: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.resign_once(election))
    }

    fn leader<'a>(
        &'a mut self,
        election: &'a str,
    ) -> BoxFuture<'a, Result<Option<(String, u64)>, CallError>> {
        Box::pin(self.current_leader(election))
    }
}
