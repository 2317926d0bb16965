//! The builtin node's [`Election`] API: Consul's leader election recipe, a lock key
//! acquired with a session, the leader's name as its value.
//!
//! - **campaign**: one `/v1/txn` of `lock` (with the worker's session, see
//!   [`super::builtin_lock`]; the value is the candidate) and `get` of the key. 200:
//!   elected, the term is the key's `LockIndex` (Consul's lock sequencer: it grows
//!   with every new holder). 409: someone holds it, nothing changed. Other failures
//!   after sending: unknown.
//! - **confirm**: a `?consistent` read of the key: still leader while it carries this
//!   worker's session and the candidate's name. The session is renewed first when it
//!   is old, so leadership does not lapse between confirms.
//! - **resign**: `PUT /v1/kv/<key>?release=<session>`; only an answer makes the worker
//!   sure again.
//! - **leader**: a read of the key in the run's read mode: the holder's name and
//!   `LockIndex`, or nobody when no session holds it.
//!
//! A campaign or resign without a known outcome (an error after sending, or cut short by
//! the op timeout) leaves the worker unsure whether its session holds the key. Consul's
//! lock is re-entrant (an acquire by the holding session succeeds and keeps the
//! `LockIndex`), so the next tenure would silently inherit the old one's leadership
//! and term. The next campaign therefore abandons that session first (destroyed in
//! the background, which releases what it holds) and campaigns with a fresh one.
//!
//! A leader whose node is declared dead by gossip loses its session (it is tied to the
//! node's `serfHealth`), and with it the lock: another candidate can then be elected.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value as Json, json};
use workloads::api::{BoxFuture, CallError, Election};

use super::builtin::BuiltinClient;
use crate::client::{Reply, exchange};

/// The key of an election.
fn election_key(election: &str) -> String {
    format!("election/{election}")
}

/// An entry's value (decoded), session and `LockIndex`.
fn holder(e: &Json) -> Option<(String, Option<String>, u64)> {
    let value = match e.get("Value") {
        Some(Json::String(b64)) => String::from_utf8_lossy(&B64.decode(b64).ok()?).into_owned(),
        _ => String::new(),
    };
    let session = e.get("Session").and_then(Json::as_str).map(str::to_string);
    let lock_index = e.get("LockIndex").and_then(Json::as_u64)?;
    Some((value, session, lock_index))
}

impl BuiltinClient {
    /// The election key as read with `query`: `Ok(None)` absent.
    async fn election_entry(
        &self,
        key: &str,
        query: &str,
    ) -> Result<Option<(String, Option<String>, u64)>, CallError> {
        let reply = exchange(self.http.get(format!("{}/v1/kv/{key}{query}", self.base))).await;
        match &reply {
            Reply::Answer { status: 404, .. } => Ok(None),
            Reply::Answer { status: 200, body } => {
                let json: Json = serde_json::from_str(body)
                    .map_err(|e| CallError::refused(format!("unreadable {body:?}: {e}")))?;
                json.get(0)
                    .and_then(holder)
                    .map(Some)
                    .ok_or_else(|| CallError::refused(format!("no entry in {body:?}")))
            }
            other => Err(other.read_error()),
        }
    }

    async fn campaign_once(
        &mut self,
        election: &str,
        candidate: &str,
    ) -> Result<Option<u64>, CallError> {
        let key = election_key(election);
        if self.election_unsure.contains(&key) {
            self.abandon_session();
        }
        let session = self.session().await.map_err(CallError::refused)?;
        // Until the answer is read: a cancelled campaign may still take effect.
        self.election_unsure.insert(key.clone());
        let ops = json!([
            { "KV": { "Verb": "lock", "Key": key, "Value": B64.encode(candidate), "Session": session } },
            { "KV": { "Verb": "get", "Key": key } },
        ]);
        let reply = exchange(self.http.put(format!("{}/v1/txn", self.base)).json(&ops)).await;
        match &reply {
            Reply::Answer { status: 200, body } => {
                let json: Json = serde_json::from_str(body)
                    .map_err(|e| CallError::unknown(format!("unreadable {body:?}: {e}")))?;
                let term = json
                    .get("Results")
                    .and_then(Json::as_array)
                    .and_then(|r| r.iter().rev().find_map(|x| x.get("KV").and_then(holder)))
                    .filter(|(v, s, _)| v == candidate && s.as_deref() == Some(session.as_str()))
                    .map(|(_, _, lock_index)| lock_index)
                    .ok_or_else(|| {
                        CallError::unknown(format!("elected, but no term in {body:?}"))
                    })?;
                self.election_unsure.remove(&key);
                Ok(Some(term))
            }
            // Rolled back: held by someone else (or the session is gone).
            Reply::Answer { status: 409, .. } => {
                self.election_unsure.remove(&key);
                Ok(None)
            }
            Reply::NotSent(_) => {
                self.election_unsure.remove(&key);
                Err(reply.write_error())
            }
            other => Err(other.write_error()),
        }
    }

    /// Forgets the worker's session and destroys it in the background (best effort:
    /// unrenewed, it expires within its TTL anyway).
    fn abandon_session(&mut self) {
        let Some(id) = self.locks.forget_session() else { return };
        let req = self.http.put(format!("{}/v1/session/destroy/{id}", self.base));
        tokio::spawn(async move {
            let _ = exchange(req).await;
        });
    }

    async fn confirm_once(
        &mut self,
        election: &str,
        candidate: &str,
    ) -> Result<Option<u64>, CallError> {
        // Best effort: a renewal that fails shows up as a lost session below.
        let session = self.session().await.ok();
        let entry = self.election_entry(&election_key(election), "?consistent").await?;
        Ok(match (entry, session) {
            (Some((value, Some(s), term)), Some(mine)) if value == candidate && s == mine => {
                Some(term)
            }
            _ => None,
        })
    }

    async fn resign_once(&mut self, election: &str, candidate: &str) -> Result<bool, CallError> {
        let key = election_key(election);
        // Unsure from here: even a resign never sent leaves the session perhaps holding.
        self.election_unsure.insert(key.clone());
        let session = self.session().await.map_err(CallError::refused)?;
        let url = format!("{}/v1/kv/{key}?release={session}", self.base);
        let outcome = match exchange(self.http.put(url).body(candidate.to_string())).await {
            Reply::Answer { status: 200, body } => match body.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(CallError::unknown(format!("unexpected reply {other:?}"))),
            },
            other => return Err(other.write_error()),
        };
        if outcome.is_ok() {
            self.election_unsure.remove(&key);
        }
        outcome
    }
}

impl Election for BuiltinClient {
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
        candidate: &'a str,
    ) -> BoxFuture<'a, Result<bool, CallError>> {
        Box::pin(self.resign_once(election, candidate))
    }

    fn leader<'a>(
        &'a mut self,
        election: &'a str,
    ) -> BoxFuture<'a, Result<Option<(String, u64)>, CallError>> {
        Box::pin(async move {
            let entry = self.election_entry(&election_key(election), self.read_query).await?;
            Ok(entry.and_then(|(value, session, term)| session.map(|_| (value, term))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_holder_of_an_election_key() {
        let e: Json = serde_json::from_str(
            r#"{"Key":"election/e","Value":"dzEtMw==","LockIndex":4,"Session":"abc"}"#,
        )
        .unwrap();
        assert_eq!(holder(&e), Some(("w1-3".into(), Some("abc".into()), 4)));
        let free: Json = serde_json::from_str(r#"{"Key":"election/e","LockIndex":4}"#).unwrap();
        assert_eq!(holder(&free), Some((String::new(), None, 4)));
    }
}
