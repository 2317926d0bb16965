//! The builtin node's lock client (the `lock` workload): Consul sessions and
//! `PUT /v1/kv/<key>?acquire=<session>` / `?release=<session>`.
//!
//! Each worker keeps one session (TTL 10 s, `Behavior: release`, no lock-delay),
//! created on first use and renewed when it is more than [`RENEW_AFTER`] old, so it
//! never expires under a lock the history says is held. A `dead-session` acquire
//! destroys the worker's session first and, once the node confirmed the destroy,
//! acquires with it: a correct node answers 500 `invalid session` (`fail`); the
//! `lock-no-session-check` bug grants it. The next acquire creates a fresh session.
//!
//! Outcomes: `true` ok, `false` fail (the node refused), 500 `invalid session` fail
//! (rejected before anything changed), a request never sent fail; anything else after
//! the request left is `info`, and the lock is then remembered as possibly held by that
//! session so the release goes out with it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use history::Value;
use serde_json::Value as Json;
use workloads::Invocation;
use workloads::lock::DEAD_SESSION;

use super::builtin::{BuiltinClient, Reply};
use crate::client::Completion;

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

fn lock_path(key: &Option<Value>) -> String {
    match key {
        Some(Value::Int(k)) => format!("lock/{k}"),
        Some(Value::Str(s)) => format!("lock/{s}"),
        Some(other) => format!("lock/{other}"),
        None => "lock/default".to_string(),
    }
}

fn is_invalid_session(e: &str) -> bool {
    e.starts_with("HTTP 500") && e.contains("invalid session")
}

impl BuiltinClient {
    /// The worker's live session, created or renewed as needed. `Err` says why not;
    /// no lock request was sent then.
    async fn session(&mut self) -> Result<String, String> {
        if let Some((id, at)) = &self.locks.current {
            if at.elapsed() < RENEW_AFTER {
                return Ok(id.clone());
            }
            let url = format!("{}/v1/session/renew/{id}", self.base);
            match self.send(self.http.put(url)).await {
                Reply::Body(_) => {
                    let id = id.clone();
                    self.locks.current = Some((id.clone(), Instant::now()));
                    return Ok(id);
                }
                // Expired: its locks are gone with it; start over.
                Reply::NotFound => self.locks.current = None,
                Reply::ServerError(e) | Reply::NotSent(e) | Reply::Unknown(e) => {
                    return Err(format!("renewing session {id}: {e}"));
                }
            }
        }
        let url = format!("{}/v1/session/create", self.base);
        let body = format!(r#"{{"TTL":"{SESSION_TTL}","Behavior":"release","LockDelay":"0s"}}"#);
        let text = match self.send(self.http.put(url).body(body)).await {
            Reply::Body(text) => text,
            Reply::NotFound => return Err("creating a session: 404".into()),
            Reply::ServerError(e) | Reply::NotSent(e) | Reply::Unknown(e) => {
                return Err(format!("creating a session: {e}"));
            }
        };
        let id = serde_json::from_str::<Json>(&text)
            .ok()
            .and_then(|j| j.get("ID").and_then(Json::as_str).map(str::to_string))
            .ok_or_else(|| format!("no session ID in {text:?}"))?;
        self.locks.current = Some((id.clone(), Instant::now()));
        Ok(id)
    }

    /// Destroys the worker's session (`dead-session`): returns its id once the node
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
        match self.send(self.http.put(url)).await {
            Reply::Body(b) if b.trim() == "true" => Ok(id),
            Reply::Body(b) => Err(format!("destroying session {id}: unexpected reply {b:?}")),
            Reply::NotFound => Err(format!("destroying session {id}: 404")),
            Reply::ServerError(e) | Reply::NotSent(e) | Reply::Unknown(e) => {
                Err(format!("destroying session {id}: {e}"))
            }
        }
    }

    pub(super) async fn acquire(&mut self, op: &Invocation) -> Completion {
        let dead = matches!(&op.value, Value::Str(s) if s == DEAD_SESSION);
        let session = if dead { self.lose_session().await } else { self.session().await };
        let session = match session {
            Ok(s) => s,
            // No acquire was sent.
            Err(e) => return Completion::fail(op, e),
        };
        let path = lock_path(&op.key);
        // Remembered before sending: if the runtime's op timeout cancels this call, the
        // acquire may still take effect and the release must go out with this session.
        let fresh = !self.locks.held.contains_key(&path);
        if fresh {
            self.locks.held.insert(path.clone(), session.clone());
        }
        let url = format!("{}/v1/kv/{path}?acquire={session}", self.base);
        let refused = |locks: &mut LockState| {
            if fresh {
                locks.held.remove(&path);
            }
        };
        match self.send(self.http.put(url)).await {
            Reply::Body(body) => match body.trim() {
                "true" => {
                    self.locks.held.insert(path, session);
                    Completion::ok(op.value.clone())
                }
                "false" => {
                    refused(&mut self.locks);
                    Completion::fail(op, Value::kw("held"))
                }
                other => Completion::info(op, format!("unexpected reply {other:?}")),
            },
            Reply::NotSent(e) => {
                refused(&mut self.locks);
                Completion::fail(op, e)
            }
            Reply::ServerError(e) if is_invalid_session(&e) => {
                refused(&mut self.locks);
                Completion::fail(op, Value::kw("invalid-session"))
            }
            Reply::ServerError(e) | Reply::Unknown(e) => Completion::info(op, e),
            Reply::NotFound => Completion::info(op, "unexpected 404 to a PUT"),
        }
    }

    pub(super) async fn release(&mut self, op: &Invocation) -> Completion {
        let path = lock_path(&op.key);
        let Some(session) = self.locks.held.get(&path).cloned() else {
            return Completion::fail(op, Value::kw("not-held"));
        };
        let url = format!("{}/v1/kv/{path}?release={session}", self.base);
        match self.send(self.http.put(url)).await {
            Reply::Body(body) => match body.trim() {
                "true" => {
                    self.locks.held.remove(&path);
                    Completion::ok(op.value.clone())
                }
                // The node says this session does not hold it: nothing to release.
                "false" => {
                    self.locks.held.remove(&path);
                    Completion::fail(op, Value::kw("not-held"))
                }
                other => Completion::info(op, format!("unexpected reply {other:?}")),
            },
            Reply::NotSent(e) => Completion::fail(op, e),
            Reply::ServerError(e) | Reply::Unknown(e) => Completion::info(op, e),
            Reply::NotFound => Completion::info(op, "unexpected 404 to a PUT"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_paths_and_invalid_session_errors() {
        assert_eq!(lock_path(&Some(Value::Int(2))), "lock/2");
        assert_eq!(lock_path(&None), "lock/default");
        assert!(is_invalid_session("HTTP 500: invalid session \"abc\""));
        assert!(!is_invalid_session("HTTP 500: No cluster leader"));
    }
}
