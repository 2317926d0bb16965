//! KV entries and KV transactions (Consul's `/v1/kv` and `/v1/txn` semantics).
//!
//! Every KV write, including a plain `PUT /v1/kv/<key>`, is a transaction of [`TxnOp`]s that
//! applies all-or-nothing: the first failing operation rolls back the ones before it, as in
//! Consul's `/v1/txn`.

use serde::Deserialize;
use serde::Serialize;

use super::Dirty;
use super::StateData;

/// One key as Consul stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    pub key: String,
    #[serde(with = "super::b64")]
    pub value: Vec<u8>,
    pub flags: u64,
    pub create_index: u64,
    pub modify_index: u64,
    /// How many times a session acquired the lock on this key.
    pub lock_index: u64,
    /// The session holding the lock, if any.
    pub session: Option<String>,
}

/// One transaction operation (Consul's KV verbs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TxnOp {
    Set {
        key: String,
        #[serde(with = "super::b64")]
        value: Vec<u8>,
        flags: Option<u64>,
    },
    /// Set only if the key's ModifyIndex is `index` (0: only if the key is absent).
    Cas {
        key: String,
        #[serde(with = "super::b64")]
        value: Vec<u8>,
        flags: Option<u64>,
        index: u64,
    },
    Lock {
        key: String,
        #[serde(with = "super::b64")]
        value: Vec<u8>,
        flags: Option<u64>,
        session: String,
    },
    Unlock {
        key: String,
        #[serde(with = "super::b64")]
        value: Vec<u8>,
        flags: Option<u64>,
        session: String,
    },
    Get {
        key: String,
    },
    GetTree {
        prefix: String,
    },
    CheckIndex {
        key: String,
        index: u64,
    },
    CheckSession {
        key: String,
        session: String,
    },
    CheckNotExists {
        key: String,
    },
    Delete {
        key: String,
    },
    DeleteTree {
        prefix: String,
    },
    DeleteCas {
        key: String,
        index: u64,
    },
}

impl TxnOp {
    /// The key (or prefix) this operation names.
    pub fn key(&self) -> &str {
        match self {
            TxnOp::Set { key, .. }
            | TxnOp::Cas { key, .. }
            | TxnOp::Lock { key, .. }
            | TxnOp::Unlock { key, .. }
            | TxnOp::Get { key }
            | TxnOp::CheckIndex { key, .. }
            | TxnOp::CheckSession { key, .. }
            | TxnOp::CheckNotExists { key }
            | TxnOp::Delete { key }
            | TxnOp::DeleteCas { key, .. } => key,
            TxnOp::GetTree { prefix } | TxnOp::DeleteTree { prefix } => prefix,
        }
    }

    /// The size of the value this operation writes (0 for reads, checks and deletes).
    pub fn value_len(&self) -> usize {
        match self {
            TxnOp::Set { value, .. }
            | TxnOp::Cas { value, .. }
            | TxnOp::Lock { value, .. }
            | TxnOp::Unlock { value, .. } => value.len(),
            _ => 0,
        }
    }
}

/// Why a transaction did not apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnError {
    pub op_index: usize,
    pub kind: TxnErrorKind,
    pub what: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnErrorKind {
    /// A condition did not hold (cas index, lock held, lock-delay, missing key): Consul
    /// answers `false` to the single-key endpoints.
    Conflict,
    /// The named session does not exist: Consul answers 500 "invalid session".
    InvalidSession,
}

/// The result of a transaction: the entries its operations returned, or the first error.
pub type TxnOutcome = Result<Vec<KvEntry>, TxnError>;

/// The `txn-unchecked-reads` bug: `ops` without the index checks on keys that no op of
/// the transaction writes (only the write set is validated).
pub(super) fn without_read_checks(ops: &[TxnOp]) -> Vec<TxnOp> {
    let reads_only = |op: &TxnOp| {
        matches!(op, TxnOp::CheckIndex { .. } | TxnOp::CheckNotExists { .. })
            && !ops.iter().any(|w| {
                w.key() == op.key()
                    && !matches!(
                        w,
                        TxnOp::Get { .. }
                            | TxnOp::GetTree { .. }
                            | TxnOp::CheckIndex { .. }
                            | TxnOp::CheckSession { .. }
                            | TxnOp::CheckNotExists { .. }
                    )
            })
    };
    ops.iter().filter(|op| !reads_only(op)).cloned().collect()
}

impl StateData {
    pub(super) fn apply_txn(
        &mut self,
        index: u64,
        ops: &[TxnOp],
        now_ms: u64,
        check_session: bool,
        dirty: &mut Dirty,
    ) -> TxnOutcome {
        // Undo log: the first-seen prior value of every key this transaction touches.
        let mut undo: Vec<(String, Option<KvEntry>)> = Vec::new();
        let mut results = Vec::new();
        for (op_index, op) in ops.iter().enumerate() {
            let step = self.apply_op(index, op, now_ms, check_session, &mut undo, &mut results);
            if let Err((kind, what)) = step {
                for (key, prior) in undo.into_iter().rev() {
                    match prior {
                        Some(e) => self.kv.insert(key, e),
                        None => self.kv.remove(&key),
                    };
                }
                return Err(TxnError { op_index, kind, what });
            }
        }
        // As in Consul, only a real change moves the table index: rewriting a key with the
        // same value, flags and session, or deleting an absent key, changes nothing.
        let mut changed = false;
        for (key, prior) in undo {
            if self.kv.get(&key) != prior.as_ref() {
                changed = true;
                if prior.is_some() && !self.kv.contains_key(&key) {
                    self.tombstone(key.clone(), index);
                }
                dirty.kv_keys.insert(key);
            }
        }
        if changed {
            self.indexes.kv = index;
            dirty.graveyard = true;
        }
        Ok(results)
    }

    /// Remembers that `key` was deleted at `index` (Consul's KV graveyard), so a prefix
    /// read's index still moves when a key under it is deleted. Old tombstones are dropped
    /// once there are many (Consul reaps them after a while too).
    fn tombstone(&mut self, key: String, index: u64) {
        const MAX_TOMBSTONES: usize = 10_000;
        self.graveyard.insert(key, index);
        if self.graveyard.len() > MAX_TOMBSTONES {
            let mut indexes: Vec<u64> = self.graveyard.values().copied().collect();
            indexes.sort_unstable();
            let cut = indexes[indexes.len() / 2];
            self.graveyard.retain(|_, i| *i > cut);
        }
    }

    /// Consul's index for a read under `prefix`: the highest ModifyIndex of the entries
    /// and tombstones under it, or the KV table's index when there are none (or the prefix
    /// is empty).
    pub fn prefix_index(&self, prefix: &str) -> u64 {
        if prefix.is_empty() {
            return self.indexes.kv;
        }
        let live = self
            .kv
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e.modify_index)
            .max()
            .unwrap_or(0);
        let dead = self
            .graveyard
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0);
        match live.max(dead) {
            0 => self.indexes.kv,
            i => i,
        }
    }

    /// Applies one op; `Ok(true)` when it wrote.
    fn apply_op(
        &mut self,
        index: u64,
        op: &TxnOp,
        now_ms: u64,
        check_session: bool,
        undo: &mut Vec<(String, Option<KvEntry>)>,
        results: &mut Vec<KvEntry>,
    ) -> Result<bool, (TxnErrorKind, String)> {
        use TxnErrorKind::Conflict;
        let conflict = |what: String| Err((Conflict, what));
        match op {
            TxnOp::Set { key, value, flags } => {
                self.write(index, key, value, *flags, undo, results, |e| e);
                Ok(true)
            }
            TxnOp::Cas { key, value, flags, index: want } => {
                let current = self.kv.get(key).map(|e| e.modify_index).unwrap_or(0);
                if current != *want {
                    return conflict(format!(
                        "failed to set key {key:?}, index is stale (have {current}, want {want})"
                    ));
                }
                self.write(index, key, value, *flags, undo, results, |e| e);
                Ok(true)
            }
            TxnOp::Lock { key, value, flags, session } => {
                if session.is_empty() {
                    return Err((TxnErrorKind::InvalidSession, "missing session".into()));
                }
                if check_session && !self.sessions.by_id.contains_key(session) {
                    return Err((
                        TxnErrorKind::InvalidSession,
                        format!("invalid session {session:?}"),
                    ));
                }
                if let Some(until) = self.sessions.lock_delays.get(key)
                    && *until > now_ms
                {
                    return conflict(format!("key {key:?} is in lock-delay until {until} ms"));
                }
                let held_by = self.kv.get(key).and_then(|e| e.session.clone());
                match held_by {
                    Some(holder) if &holder != session => {
                        conflict(format!("key {key:?} is locked by session {holder:?}"))
                    }
                    Some(_) => {
                        self.write(index, key, value, *flags, undo, results, |e| e);
                        Ok(true)
                    }
                    None => {
                        let sid = session.clone();
                        self.write(index, key, value, *flags, undo, results, |mut e| {
                            e.session = Some(sid);
                            e.lock_index += 1;
                            e
                        });
                        Ok(true)
                    }
                }
            }
            TxnOp::Unlock { key, value, flags, session } => {
                if session.is_empty() {
                    return Err((TxnErrorKind::InvalidSession, "missing session".into()));
                }
                let held_by = self.kv.get(key).and_then(|e| e.session.clone());
                if held_by.as_deref() != Some(session.as_str()) {
                    return conflict(format!("key {key:?} is not locked by session {session:?}"));
                }
                self.write(index, key, value, *flags, undo, results, |mut e| {
                    e.session = None;
                    e
                });
                Ok(true)
            }
            TxnOp::Get { key } => match self.kv.get(key) {
                Some(e) => {
                    results.push(e.clone());
                    Ok(false)
                }
                None => conflict(format!("key {key:?} doesn't exist")),
            },
            TxnOp::GetTree { prefix } => {
                results.extend(
                    self.kv
                        .range(prefix.clone()..)
                        .take_while(|(k, _)| k.starts_with(prefix.as_str()))
                        .map(|(_, e)| e.clone()),
                );
                Ok(false)
            }
            TxnOp::CheckIndex { key, index: want } => match self.kv.get(key) {
                Some(e) if e.modify_index == *want => {
                    results.push(without_value(e));
                    Ok(false)
                }
                Some(e) => conflict(format!(
                    "failed index check for key {key:?}, current modify index {} != {want}",
                    e.modify_index
                )),
                None => conflict(format!("failed to check index, key {key:?} doesn't exist")),
            },
            TxnOp::CheckSession { key, session } => match self.kv.get(key) {
                Some(e) if e.session.as_deref() == Some(session.as_str()) => {
                    results.push(without_value(e));
                    Ok(false)
                }
                Some(e) => conflict(format!(
                    "failed session check for key {key:?}, current session {:?} != {session:?}",
                    e.session.as_deref().unwrap_or("")
                )),
                None => conflict(format!("failed to check session, key {key:?} doesn't exist")),
            },
            TxnOp::CheckNotExists { key } => match self.kv.contains_key(key) {
                true => conflict(format!("key {key:?} exists")),
                false => Ok(false),
            },
            TxnOp::Delete { key } => {
                self.remove(key, undo);
                Ok(true)
            }
            TxnOp::DeleteCas { key, index: want } => {
                // Consul: a cas delete of an absent key succeeds (there is nothing to delete).
                let Some(current) = self.kv.get(key).map(|e| e.modify_index) else {
                    return Ok(false);
                };
                if current != *want {
                    return conflict(format!("failed to delete key {key:?}, index is stale"));
                }
                self.remove(key, undo);
                Ok(true)
            }
            TxnOp::DeleteTree { prefix } => {
                let keys: Vec<String> = self.keys_with_prefix(prefix);
                for key in keys {
                    self.remove(&key, undo);
                }
                Ok(true)
            }
        }
    }

    /// Creates or updates `key`, keeping its lock, then lets `edit` adjust the lock fields.
    #[allow(clippy::too_many_arguments)]
    fn write(
        &mut self,
        index: u64,
        key: &str,
        value: &[u8],
        flags: Option<u64>,
        undo: &mut Vec<(String, Option<KvEntry>)>,
        results: &mut Vec<KvEntry>,
        edit: impl FnOnce(KvEntry) -> KvEntry,
    ) {
        let prior = self.kv.get(key).cloned();
        if !undo.iter().any(|(k, _)| k == key) {
            undo.push((key.to_owned(), prior.clone()));
        }
        let base = match prior {
            Some(mut e) => {
                e.value = value.to_vec();
                e.flags = flags.unwrap_or(e.flags);
                e.modify_index = index;
                e
            }
            None => KvEntry {
                key: key.to_owned(),
                value: value.to_vec(),
                flags: flags.unwrap_or(0),
                create_index: index,
                modify_index: index,
                lock_index: 0,
                session: None,
            },
        };
        let mut entry = edit(base);
        // An identical rewrite keeps the entry as it was, indexes included (Consul's
        // kvsSetTxn skips the write when the entry is unchanged).
        if let Some(old) = self.kv.get(key)
            && (KvEntry { modify_index: old.modify_index, ..entry.clone() }) == *old
        {
            entry.modify_index = old.modify_index;
        }
        results.push(without_value(&entry));
        self.kv.insert(key.to_owned(), entry);
    }

    fn remove(&mut self, key: &str, undo: &mut Vec<(String, Option<KvEntry>)>) {
        let prior = self.kv.remove(key);
        if !undo.iter().any(|(k, _)| k == key) {
            undo.push((key.to_owned(), prior));
        }
    }

    /// Keys starting with `prefix`, in order.
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<String> {
        self.kv
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Entries starting with `prefix`, in order.
    pub fn entries_with_prefix(&self, prefix: &str) -> Vec<KvEntry> {
        self.kv
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e.clone())
            .collect()
    }
}

/// Consul returns written entries without their value.
fn without_value(e: &KvEntry) -> KvEntry {
    KvEntry {
        key: e.key.clone(),
        value: Vec::new(),
        flags: e.flags,
        create_index: e.create_index,
        modify_index: e.modify_index,
        lock_index: e.lock_index,
        session: e.session.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str, v: &str) -> TxnOp {
        TxnOp::Set { key: key.into(), value: v.as_bytes().to_vec(), flags: None }
    }

    fn txn(s: &mut StateData, index: u64, ops: Vec<TxnOp>) -> TxnOutcome {
        s.apply_txn(index, &ops, 0, true, &mut Dirty::default())
    }

    #[test]
    fn cas_zero_only_when_absent_and_index_must_match() {
        let mut s = StateData::default();
        let cas = |i, v: &str| TxnOp::Cas {
            key: "k".into(),
            value: v.as_bytes().to_vec(),
            flags: None,
            index: i,
        };
        assert!(txn(&mut s, 5, vec![cas(0, "v")]).is_ok());
        assert_eq!(s.kv["k"].modify_index, 5);
        assert!(txn(&mut s, 6, vec![cas(0, "w")]).is_err());
        assert!(txn(&mut s, 7, vec![cas(4, "w")]).is_err());
        assert!(txn(&mut s, 8, vec![cas(5, "w")]).is_ok());
        assert_eq!(s.kv["k"].create_index, 5);
        assert_eq!(s.kv["k"].modify_index, 8);
        assert_eq!(s.indexes.kv, 8);
    }

    /// Consul's kvsSetTxn: rewriting a key with what it already holds changes nothing, not
    /// even the indexes; deleting an absent key neither. A delete leaves a tombstone that
    /// keeps the prefix's index.
    #[test]
    fn identical_rewrites_and_absent_deletes_keep_the_indexes() {
        let mut s = StateData::default();
        assert!(txn(&mut s, 3, vec![set("a/k", "v")]).is_ok());
        assert!(txn(&mut s, 4, vec![set("a/k", "v")]).is_ok());
        assert_eq!((s.kv["a/k"].modify_index, s.indexes.kv), (3, 3));
        assert!(txn(&mut s, 5, vec![TxnOp::Delete { key: "nope".into() }]).is_ok());
        assert_eq!(s.indexes.kv, 3);
        assert!(txn(&mut s, 6, vec![set("a/k", "w")]).is_ok());
        assert_eq!((s.kv["a/k"].modify_index, s.indexes.kv), (6, 6));
        assert!(txn(&mut s, 7, vec![set("b/x", "1")]).is_ok());
        assert_eq!(s.prefix_index("a/"), 6);
        assert!(txn(&mut s, 8, vec![TxnOp::Delete { key: "a/k".into() }]).is_ok());
        assert_eq!(s.prefix_index("a/"), 8);
        assert_eq!(s.prefix_index("b/"), 7);
        assert_eq!(s.prefix_index("zzz/"), 8);
    }

    #[test]
    fn a_failing_op_rolls_back_the_whole_transaction() {
        let mut s = StateData::default();
        txn(&mut s, 1, vec![set("a", "1")]).unwrap();
        let err = txn(
            &mut s,
            2,
            vec![set("a", "2"), set("b", "2"), TxnOp::CheckNotExists { key: "a".into() }],
        )
        .unwrap_err();
        assert_eq!(err.op_index, 2);
        assert_eq!(s.kv["a"].value, b"1");
        assert!(!s.kv.contains_key("b"));
        assert_eq!(s.indexes.kv, 1);
    }

    #[test]
    fn batched_commands_apply_in_order_each_with_its_own_outcome() {
        use crate::state::Command;
        use crate::state::CommandResponse;
        let mut s = StateData::default();
        let cas0 = |v: &str| Command::Txn {
            ops: vec![TxnOp::Cas { key: "k".into(), value: v.into(), flags: None, index: 0 }],
            now_ms: 0,
            check_session: true,
            unchecked_reads: false,
        };
        let r = s.apply(9, &Command::Batch(vec![cas0("a"), cas0("b")]), &mut Dirty::default());
        let CommandResponse::Batch(rs) = r else { panic!("not a batch response: {r:?}") };
        assert!(matches!(rs[0], CommandResponse::Txn(Ok(_))));
        assert!(matches!(rs[1], CommandResponse::Txn(Err(_))));
        assert_eq!(s.kv["k"].value, b"a");
        assert_eq!(s.kv["k"].modify_index, 9);
    }

    #[test]
    fn unchecked_reads_skip_checks_on_keys_only_read() {
        use crate::state::{Command, CommandResponse};
        let mut s = StateData::default();
        txn(&mut s, 1, vec![set("a", "1"), set("b", "1")]).unwrap();
        // Write b guarded on a's (stale) index 0 and b's current index 1.
        let ops = vec![
            TxnOp::CheckIndex { key: "a".into(), index: 7 },
            TxnOp::CheckIndex { key: "b".into(), index: 1 },
            set("b", "2"),
        ];
        let cmd = |unchecked_reads| Command::Txn {
            ops: ops.clone(),
            now_ms: 0,
            check_session: true,
            unchecked_reads,
        };
        let r = s.apply(2, &cmd(false), &mut Dirty::default());
        assert!(matches!(r, CommandResponse::Txn(Err(_))), "{r:?}");
        assert_eq!(s.kv["b"].value, b"1");
        let r = s.apply(3, &cmd(true), &mut Dirty::default());
        assert!(matches!(r, CommandResponse::Txn(Ok(_))), "{r:?}");
        assert_eq!(s.kv["b"].value, b"2");
        // The write set is still checked.
        let stale_b = vec![TxnOp::CheckIndex { key: "b".into(), index: 1 }, set("b", "3")];
        let cmd =
            Command::Txn { ops: stale_b, now_ms: 0, check_session: true, unchecked_reads: true };
        let r = s.apply(4, &cmd, &mut Dirty::default());
        assert!(matches!(r, CommandResponse::Txn(Err(_))), "{r:?}");
        assert_eq!(s.kv["b"].value, b"2");
    }

    #[test]
    fn locks_need_a_live_session_unless_the_bug_is_on() {
        let mut s = StateData::default();
        let lock =
            TxnOp::Lock { key: "l".into(), value: vec![], flags: None, session: "nope".into() };
        let err = txn(&mut s, 1, vec![lock.clone()]).unwrap_err();
        assert_eq!(err.kind, TxnErrorKind::InvalidSession);
        let r = s.apply_txn(2, &[lock], 0, false, &mut Dirty::default());
        assert!(r.is_ok());
        assert_eq!(s.kv["l"].session.as_deref(), Some("nope"));
        assert_eq!(s.kv["l"].lock_index, 1);
    }
}
