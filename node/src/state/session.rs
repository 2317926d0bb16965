//! Sessions (Consul's `/v1/session`): creation, renewal, and invalidation, which releases or
//! deletes the locks a session holds and starts their lock-delay.
//!
//! TTL expiry is decided by the leader's clock: the leader proposes [`SessionCommand::Expire`]
//! with its time, and every replica invalidates the sessions whose deadline has passed by then.
//! As in Consul, the deadline is [`TTL_MULTIPLIER`] times the TTL after the last renewal
//! ("the contract is that a session is not expired before the TTL").
//!
//! A session is tied to its node and to health checks on it (`NodeChecks`, by default the
//! node's `serfHealth`), as Consul's state store does it: creating one needs the node
//! registered and every listed check present and not critical; when one of those checks
//! turns critical or is removed, or the node is deregistered, the session is invalidated.

use serde::Deserialize;
use serde::Serialize;

use super::Dirty;
use super::StateData;

/// What happens to a session's locked keys when it is invalidated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Behavior {
    #[default]
    Release,
    Delete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub name: String,
    pub node: String,
    pub lock_delay_ms: u64,
    pub behavior: Behavior,
    /// None: the session never expires by itself.
    pub ttl_ms: Option<u64>,
    /// Check ids on `node` the session depends on (Consul's `NodeChecks`).
    #[serde(default)]
    pub node_checks: Vec<String>,
    /// Clock time (ms) after which the leader invalidates the session.
    pub expires_at_ms: Option<u64>,
    pub create_index: u64,
    pub modify_index: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum SessionCommand {
    /// `id` is chosen by the proposing node so that every replica agrees on it.
    Create {
        id: String,
        name: String,
        node: String,
        lock_delay_ms: u64,
        behavior: Behavior,
        ttl_ms: Option<u64>,
        #[serde(default)]
        node_checks: Vec<String>,
        now_ms: u64,
    },
    Renew {
        id: String,
        now_ms: u64,
    },
    Destroy {
        id: String,
        now_ms: u64,
    },
    /// Invalidate every session whose deadline is before `now_ms`.
    Expire {
        now_ms: u64,
    },
}

/// Consul's `SessionTTLMultiplier`: a session expires this many TTLs after its last renewal.
pub const TTL_MULTIPLIER: u64 = 2;

impl StateData {
    /// Invalidates the sessions that depend on check `check_id` of `node` (or on `node`
    /// itself when `check_id` is None), as Consul does when such a check turns critical or
    /// goes away.
    pub(super) fn invalidate_sessions_on(
        &mut self,
        index: u64,
        node: &str,
        check_id: Option<&str>,
        now_ms: u64,
        dirty: &mut Dirty,
    ) {
        let ids: Vec<String> = self
            .sessions
            .by_id
            .values()
            .filter(|s| {
                s.node == node && check_id.is_none_or(|c| s.node_checks.iter().any(|k| k == c))
            })
            .map(|s| s.id.clone())
            .collect();
        for id in ids {
            self.invalidate_session(index, &id, now_ms, dirty);
        }
    }

    pub(super) fn apply_session(
        &mut self,
        index: u64,
        cmd: &SessionCommand,
        dirty: &mut Dirty,
    ) -> Result<Option<Session>, String> {
        match cmd {
            SessionCommand::Create {
                id,
                name,
                node,
                lock_delay_ms,
                behavior,
                ttl_ms,
                node_checks,
                now_ms,
            } => {
                if self.sessions.by_id.contains_key(id) {
                    return Err(format!("session {id:?} already exists"));
                }
                // Consul's sessionCreateTxn checks, with its messages.
                if !self.catalog.nodes.contains_key(node) {
                    return Err("Missing node registration".into());
                }
                for check in node_checks {
                    match self.catalog.checks.get(node).and_then(|m| m.get(check)) {
                        None => return Err(format!("Missing check '{check}' registration")),
                        Some(k) if k.status == super::CheckStatus::Critical => {
                            return Err(format!("Check '{check}' is in critical state"));
                        }
                        Some(_) => {}
                    }
                }
                let s = Session {
                    id: id.clone(),
                    name: name.clone(),
                    node: node.clone(),
                    lock_delay_ms: *lock_delay_ms,
                    behavior: *behavior,
                    ttl_ms: *ttl_ms,
                    node_checks: node_checks.clone(),
                    expires_at_ms: ttl_ms.map(|t| now_ms + TTL_MULTIPLIER * t),
                    create_index: index,
                    modify_index: index,
                };
                self.sessions.by_id.insert(id.clone(), s.clone());
                self.touch_sessions(index, dirty);
                Ok(Some(s))
            }
            SessionCommand::Renew { id, now_ms } => {
                let Some(s) = self.sessions.by_id.get_mut(id) else {
                    return Ok(None);
                };
                s.expires_at_ms = s.ttl_ms.map(|t| now_ms + TTL_MULTIPLIER * t);
                let s = s.clone();
                self.touch_sessions(index, dirty);
                Ok(Some(s))
            }
            SessionCommand::Destroy { id, now_ms } => {
                let existed = self.invalidate_session(index, id, *now_ms, dirty);
                Ok(existed)
            }
            SessionCommand::Expire { now_ms } => {
                let expired: Vec<String> = self
                    .sessions
                    .by_id
                    .values()
                    .filter(|s| s.expires_at_ms.is_some_and(|t| t <= *now_ms))
                    .map(|s| s.id.clone())
                    .collect();
                for id in expired {
                    self.invalidate_session(index, &id, *now_ms, dirty);
                }
                Ok(None)
            }
        }
    }

    /// Removes a session, releasing (or deleting) its locks and starting their lock-delay.
    fn invalidate_session(
        &mut self,
        index: u64,
        id: &str,
        now_ms: u64,
        dirty: &mut Dirty,
    ) -> Option<Session> {
        let s = self.sessions.by_id.remove(id)?;
        let held: Vec<String> = self
            .kv
            .values()
            .filter(|e| e.session.as_deref() == Some(id))
            .map(|e| e.key.clone())
            .collect();
        for key in held {
            match s.behavior {
                Behavior::Release => {
                    if let Some(e) = self.kv.get_mut(&key) {
                        e.session = None;
                        e.modify_index = index;
                    }
                }
                Behavior::Delete => {
                    self.kv.remove(&key);
                    self.graveyard.insert(key.clone(), index);
                    dirty.graveyard = true;
                }
            }
            if s.lock_delay_ms > 0 {
                self.sessions.lock_delays.insert(key.clone(), now_ms + s.lock_delay_ms);
            }
            dirty.kv_keys.insert(key);
            self.indexes.kv = index;
        }
        // Old lock-delays are history; drop them so the table stays small.
        self.sessions.lock_delays.retain(|_, until| *until > now_ms);
        self.touch_sessions(index, dirty);
        Some(s)
    }

    fn touch_sessions(&mut self, index: u64, dirty: &mut Dirty) {
        self.indexes.sessions = index;
        dirty.sessions = true;
    }

    /// Whether some session's deadline has passed at `now_ms` (the leader's reaper asks).
    pub fn has_expired_sessions(&self, now_ms: u64) -> bool {
        self.sessions.by_id.values().any(|s| s.expires_at_ms.is_some_and(|t| t <= now_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::TxnOp;

    fn create(s: &mut StateData, index: u64, behavior: Behavior, ttl: Option<u64>) {
        s.catalog.nodes.entry("node-1".into()).or_insert_with(|| crate::state::CatalogNode {
            node: "node-1".into(),
            address: "127.0.0.1".into(),
            create_index: 1,
            modify_index: 1,
        });
        let cmd = SessionCommand::Create {
            id: "s1".into(),
            name: "n".into(),
            node: "node-1".into(),
            lock_delay_ms: 1000,
            behavior,
            ttl_ms: ttl,
            node_checks: vec![],
            now_ms: 0,
        };
        s.apply_session(index, &cmd, &mut Dirty::default()).unwrap();
    }

    fn lock(s: &mut StateData, index: u64, now_ms: u64) -> bool {
        let op = TxnOp::Lock { key: "l".into(), value: vec![], flags: None, session: "s1".into() };
        s.apply_txn(index, &[op], now_ms, true, &mut Dirty::default()).is_ok()
    }

    #[test]
    fn expiry_releases_locks_and_starts_lock_delay() {
        let mut s = StateData::default();
        create(&mut s, 1, Behavior::Release, Some(10_000));
        assert!(lock(&mut s, 2, 0));
        // Consul's multiplier: not before 2 x TTL.
        assert!(!s.has_expired_sessions(19_999));
        assert!(s.has_expired_sessions(20_000));
        s.apply_session(3, &SessionCommand::Expire { now_ms: 10_000 }, &mut Dirty::default())
            .unwrap();
        assert_eq!(s.sessions.by_id.len(), 1, "not expired at 1 x TTL");
        s.apply_session(3, &SessionCommand::Expire { now_ms: 20_000 }, &mut Dirty::default())
            .unwrap();
        assert!(s.sessions.by_id.is_empty());
        assert_eq!(s.kv["l"].session, None);
        assert_eq!(s.kv["l"].modify_index, 3);
        // A new session cannot take the key during lock-delay, but can after it.
        create(&mut s, 4, Behavior::Release, None);
        assert!(!lock(&mut s, 5, 20_500));
        assert!(lock(&mut s, 6, 21_001));
        assert_eq!(s.kv["l"].lock_index, 2);
    }

    #[test]
    fn delete_behavior_removes_held_keys() {
        let mut s = StateData::default();
        create(&mut s, 1, Behavior::Delete, None);
        assert!(lock(&mut s, 2, 0));
        let destroy = SessionCommand::Destroy { id: "s1".into(), now_ms: 5 };
        assert!(s.apply_session(3, &destroy, &mut Dirty::default()).unwrap().is_some());
        assert!(!s.kv.contains_key("l"));
    }
}
