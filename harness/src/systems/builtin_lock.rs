//! The builtin node's [`Locks`] API (what the `lock` workload drives): Consul sessions and
//! `PUT /v1/kv/<key>?acquire=<session>` / `?release=<session>`.
//!
//! Each worker keeps one session (TTL 10 s, `Behavior: release`, no lock-delay),
//! created on first use and renewed when it is more than [`RENEW_AFTER`] old, so it
//! never expires under a lock the history says is held. An acquire for a lost session
//! ([`Holder::Lost`]) destroys the worker's session first and, once the node confirmed the destroy,
//! acquires with it: a correct node answers 500 `invalid session` (`fail`); the
//! `lock-no-session-check` bug grants it. The next acquire creates a fresh session.
//!
//! `LockDelay` is `0s` on purpose: Consul's default (15 s) keeps a lock unacquirable
//! after its session is invalidated, a mitigation for holders that do not know they
//! lost it; this client tests the service's own contract (no lock for a dead session),
//! which a lock-delay would hide behind unavailability. Since issue 11 the node, like
//! Consul, invalidates a session about 4 s after its node's `serfHealth` goes critical
//! and releases its locks, so under partitions or pauses a worker may still believe it
//! holds a lock another worker was granted: that is Consul's documented behaviour (locks
//! are advisory), and a run with such faults should expect the session-lock model to
//! report it.
//!
//! Outcomes: `true` ok, `false` fail (the node refused), 500 `invalid session` fail
//! (rejected before anything changed), a request never sent fail; anything else after
//! the request left is `info`, and the lock is then remembered as possibly held by that
//! session so the release goes out with it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use history::Value;
use serde_json::Value as Json;
use workloads::api::{BoxFuture, CallError, Holder, Locks};

use super::builtin::BuiltinClient;
use crate::client::{Reply, exchange};

/// Session TTL: long against a hold (milliseconds), short enough that a crashed
/// worker's locks come free during a run.
pub const SESSION_TTL: &str = "10s";
/// A session older than this (since creation or renewal) is renewed before use.
pub const RENEW_AFTER: Duration = Duration::from_secs(2);

/// A worker's sessions and the locks it may hold.
#[derive(Debug, Default)]
pub struct LockState {
    /// The live session and when it was last created or renewed.
    current: Option<(String, Instant)>,
    /// Lock path → the session that holds it, or may (an `info` acquire or release).
    held: HashMap<String, String>,
}

impl LockState {
    /// Forgets the live session (the next use creates a fresh one); its id, if any.
    pub(super) fn forget_session(&mut self) -> Option<String> {
        self.current.take().map(|(id, _)| id)
    }
}

fn is_invalid_session(reply: &Reply) -> bool {
    matches!(reply, Reply::Answer { status: 500, body } if body.contains("invalid session"))
}

impl BuiltinClient {
    /// The worker's live session, created or renewed as needed. `Err` says why not;
    /// no lock request was sent then.
    pub(super) async fn session(&mut self) -> Result<String, String> {
        if let Some((id, at)) = &self.locks.current {
            if at.elapsed() < RENEW_AFTER {
                return Ok(id.clone());
            }
            let id = id.clone();
            let url = format!("{}/v1/session/renew/{id}", self.base);
            match exchange(self.http.put(url)).await {
                Reply::Answer { status: 200, .. } => {
                    self.locks.current = Some((id.clone(), Instant::now()));
                    return Ok(id);
                }
                // Expired: its locks are gone with it; start over.
                Reply::Answer { status: 404, .. } => self.locks.current = None,
                other => return Err(format!("renewing session {id}: {}", other.describe())),
            }
        }
        let url = format!("{}/v1/session/create", self.base);
        let body = format!(r#"{{"TTL":"{SESSION_TTL}","Behavior":"release","LockDelay":"0s"}}"#);
        let text = match exchange(self.http.put(url).body(body)).await {
            Reply::Answer { status: 200, body } => body,
            other => return Err(format!("creating a session: {}", other.describe())),
        };
        let id = serde_json::from_str::<Json>(&text)
            .ok()
            .and_then(|j| j.get("ID").and_then(Json::as_str).map(str::to_string))
            .ok_or_else(|| format!("no session ID in {text:?}"))?;
        self.locks.current = Some((id.clone(), Instant::now()));
        Ok(id)
    }

    /// Destroys the worker's session (a lost session): returns its id once the node
    /// confirmed the destroy.
    async fn lose_session(&mut self) -> Result<String, String> {
        let id = self.session().await?;
        if self.locks.held.values().any(|s| *s == id) {
            // Destroying it would release a lock the history may still hold.
            return Err("the session may still hold a lock".into());
        }
        // Forget it first: a cancelled destroy leaves no session we would reuse.
        self.locks.current = None;
        let url = format!("{}/v1/session/destroy/{id}", self.base);
        match exchange(self.http.put(url)).await {
            Reply::Answer { status: 200, body } if body.trim() == "true" => Ok(id),
            other => Err(format!("destroying session {id}: {}", other.describe())),
        }
    }

    async fn acquire_lock(&mut self, path: &str, holder: Holder) -> Result<bool, CallError> {
        let session = match holder {
            Holder::Live => self.session().await,
            Holder::Lost => self.lose_session().await,
        };
        // No acquire was sent.
        let session = session.map_err(CallError::refused)?;
        // Remembered before sending: if the runtime's op timeout cancels this call, the
        // acquire may still take effect and the release must go out with this session.
        let fresh = !self.locks.held.contains_key(path);
        if fresh {
            self.locks.held.insert(path.to_string(), session.clone());
        }
        let url = format!("{}/v1/kv/{path}?acquire={session}", self.base);
        let reply = exchange(self.http.put(url)).await;
        let outcome = match &reply {
            Reply::Answer { status: 200, body } => match body.trim() {
                "true" => Ok(true),
                "false" => Ok(false),
                other => Err(CallError::unknown(format!("unexpected reply {other:?}"))),
            },
            // Rejected before anything changed.
            r if is_invalid_session(r) => Err(CallError::refused(Value::kw("invalid-session"))),
            other => Err(other.write_error()),
        };
        match &outcome {
            Ok(true) => {
                self.locks.held.insert(path.to_string(), session);
            }
            Ok(false) | Err(CallError::Refused(_)) if fresh => {
                self.locks.held.remove(path);
            }
            _ => {}
        }
        outcome
    }

    async fn release_lock(&mut self, path: &str) -> Result<bool, CallError> {
        let Some(session) = self.locks.held.get(path).cloned() else { return Ok(false) };
        let url = format!("{}/v1/kv/{path}?release={session}", self.base);
        match exchange(self.http.put(url)).await {
            Reply::Answer { status: 200, body } => match body.trim() {
                "true" => {
                    self.locks.held.remove(path);
                    Ok(true)
                }
                // The node says this session does not hold it: nothing to release.
                "false" => {
                    self.locks.held.remove(path);
                    Ok(false)
                }
                other => Err(CallError::unknown(format!("unexpected reply {other:?}"))),
            },
            other => Err(other.write_error()),
        }
    }
}

impl Locks for BuiltinClient {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_session_errors_are_recognised() {
        let invalid = Reply::Answer { status: 500, body: "invalid session \"abc\"".into() };
        let leaderless = Reply::Answer { status: 500, body: "No cluster leader".into() };
        assert!(is_invalid_session(&invalid));
        assert!(!is_invalid_session(&leaderless));
    }
}
