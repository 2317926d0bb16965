//! The Raft log and the state machine, durable in one redb database.
//!
//! - `raft_log`: log index -> JSON entry. Each `append` call is one write transaction,
//!   committed with [`Durability::Immediate`] (fsync) before openraft is told it is flushed,
//!   so nothing is acknowledged that a crash could lose. Under the `no-fsync` bug switch the
//!   commit is [`Durability::None`]: it survives only until the next crash.
//! - `meta`: the vote (always fsynced), the purged log id, and the state machine's small
//!   tables (sessions, catalog, indexes, last applied, membership, snapshot).
//! - `sm_kv`: the state machine's KV table, one row per key, rewritten only for touched keys.
//!
//! The current snapshot lives beside the database in `snapshot.bin` (see [`save_snapshot`]).
//!
//! Every apply batch is one write transaction with the same durability as the log. Mixing
//! non-durable and durable redb commits was tried (non-durable applies, made durable by the
//! next fsynced append) and lost acknowledged writes in the crash test, so in normal mode
//! every commit is fsynced. Under `no-fsync` both log and state machine commits skip it.

use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::path::Path;
use std::sync::Arc;
use std::sync::RwLock;

use openraft::Entry;
use openraft::EntryPayload;
use openraft::LogId;
use openraft::LogState;
use openraft::OptionalSend;
use openraft::RaftLogReader;
use openraft::RaftSnapshotBuilder;
use openraft::Snapshot;
use openraft::SnapshotMeta;
use openraft::StorageError;
use openraft::StorageIOError;
use openraft::StoredMembership;
use openraft::Vote;
use openraft::storage::LogFlushed;
use openraft::storage::RaftLogStorage;
use openraft::storage::RaftStateMachine;
use redb::Database;
use redb::Durability;
use redb::ReadableDatabase;
use redb::ReadableTable;
use redb::TableDefinition;
use serde::Deserialize;
use serde::Serialize;

use super::NodeId;
use super::TypeConfig;
use crate::state::CommandResponse;
use crate::state::Dirty;
use crate::state::StateData;

const LOG: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_log");
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const SM_KV: TableDefinition<&str, &[u8]> = TableDefinition::new("sm_kv");

type StorageResult<T> = Result<T, StorageError<NodeId>>;

/// Opens the database, creating its file and tables if needed.
pub fn open_db(path: &Path) -> anyhow::Result<Arc<Database>> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let db = Database::create(path)
        .map_err(|e| anyhow::anyhow!("cannot open {}: {e}", path.display()))?;
    let tx = db.begin_write()?;
    tx.open_table(LOG)?;
    tx.open_table(META)?;
    tx.open_table(SM_KV)?;
    tx.commit()?;
    Ok(Arc::new(db))
}

/// The log store and state machine over one database; snapshots go to files in `dir`.
pub fn open(
    db: Arc<Database>,
    dir: &Path,
    fsync: bool,
) -> anyhow::Result<(LogStore, StateMachineStore)> {
    let log = LogStore {
        db: db.clone(),
        durability: if fsync { Durability::Immediate } else { Durability::None },
    };
    let sm = StateMachineStore::load(db, dir.to_path_buf(), log.durability)?;
    Ok((log, sm))
}

fn get_meta<T: for<'de> Deserialize<'de>>(db: &Database, key: &str) -> anyhow::Result<Option<T>> {
    let tx = db.begin_read()?;
    let t = tx.open_table(META)?;
    match t.get(key)? {
        Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
        None => Ok(None),
    }
}

fn put_meta<T: Serialize>(
    t: &mut redb::Table<&str, &[u8]>,
    key: &str,
    value: &T,
) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec(value)?;
    t.insert(key, bytes.as_slice())?;
    Ok(())
}

fn write_meta<T: Serialize>(
    db: &Database,
    key: &str,
    value: &T,
    durability: Durability,
) -> anyhow::Result<()> {
    let mut tx = db.begin_write()?;
    tx.set_durability(durability)?;
    {
        let mut t = tx.open_table(META)?;
        put_meta(&mut t, key, value)?;
    }
    tx.commit()?;
    Ok(())
}

/// Converts any error into the shape openraft's storage errors carry.
fn boxed(e: impl std::fmt::Display) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
    durability: Durability,
}

impl LogStore {
    /// The entries in `range`, stopping once they add up to more than `budget` stored bytes
    /// (always at least one entry when the range is not empty).
    fn read_range(
        &self,
        range: impl RangeBounds<u64>,
        budget: usize,
    ) -> anyhow::Result<Vec<Entry<TypeConfig>>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(LOG)?;
        let mut out = Vec::new();
        let mut bytes = 0usize;
        for row in t.range(range)? {
            let (_, v) = row?;
            bytes += v.value().len();
            if bytes > budget && !out.is_empty() {
                break;
            }
            out.push(serde_json::from_slice(v.value())?);
        }
        Ok(out)
    }

    fn last_entry_id(&self) -> anyhow::Result<Option<LogId<NodeId>>> {
        let tx = self.db.begin_read()?;
        let t = tx.open_table(LOG)?;
        match t.last()? {
            Some((_, v)) => {
                let e: Entry<TypeConfig> = serde_json::from_slice(v.value())?;
                Ok(Some(e.log_id))
            }
            None => Ok(None),
        }
    }

    fn append_sync(&self, entries: Vec<Entry<TypeConfig>>) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(self.durability)?;
        {
            let mut t = tx.open_table(LOG)?;
            for e in entries {
                let bytes = serde_json::to_vec(&e)?;
                t.insert(e.log_id.index, bytes.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes log rows in `range` (and, for a purge, records what was purged), fsynced.
    fn remove_sync(
        &self,
        range: impl RangeBounds<u64>,
        purged: Option<LogId<NodeId>>,
    ) -> anyhow::Result<()> {
        let tx = self.db.begin_write()?;
        {
            let mut t = tx.open_table(LOG)?;
            t.retain_in(range, |_, _| false)?;
            if let Some(p) = purged {
                let mut m = tx.open_table(META)?;
                put_meta(&mut m, "last_purged", &p)?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        self.read_range(range, usize::MAX).map_err(|e| StorageIOError::read_logs(&boxed(e)).into())
    }

    /// What replication sends in one append: bounded by bytes as well as by openraft's
    /// entry count (see [`super::network`]), so large values cannot make an append too big
    /// to finish within the heartbeat interval.
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> StorageResult<Vec<Entry<TypeConfig>>> {
        self.read_range(start..end, super::network::APPEND_BYTES / 16 * 15)
            .map_err(|e| StorageIOError::read_logs(&boxed(e)).into())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> StorageResult<LogState<TypeConfig>> {
        let read = || -> anyhow::Result<LogState<TypeConfig>> {
            let last_purged: Option<LogId<NodeId>> = get_meta(&self.db, "last_purged")?;
            let last = self.last_entry_id()?.or(last_purged);
            Ok(LogState { last_purged_log_id: last_purged, last_log_id: last })
        };
        read().map_err(|e| StorageIOError::read_logs(&boxed(e)).into())
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> StorageResult<()> {
        // The vote is always fsynced, even under `no-fsync`: that bug is about acknowledged
        // writes, and a forgotten vote breaks election safety instead.
        write_meta(&self.db, "vote", vote, Durability::Immediate)
            .map_err(|e| StorageIOError::write_vote(&boxed(e)).into())
    }

    async fn read_vote(&mut self) -> StorageResult<Option<Vote<NodeId>>> {
        get_meta(&self.db, "vote").map_err(|e| StorageIOError::read_vote(&boxed(e)).into())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> StorageResult<()>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let entries: Vec<_> = entries.into_iter().collect();
        let res = self.append_sync(entries);
        match res {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(e) => {
                let err = boxed(&e);
                callback.log_io_completed(Err(boxed(&e)));
                Err(StorageIOError::write_logs(&err).into())
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.remove_sync(log_id.index.., None)
            .map_err(|e| StorageIOError::write_logs(&boxed(e)).into())
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> StorageResult<()> {
        self.remove_sync(..=log_id.index, Some(log_id))
            .map_err(|e| StorageIOError::write_logs(&boxed(e)).into())
    }
}

type Meta = SnapshotMeta<NodeId, openraft::BasicNode>;

/// Stores a snapshot in `dir/snapshot.bin` (the meta's length, the meta as JSON, then the
/// data), written to a temporary file, fsynced and renamed over the old one. A file, not a
/// redb table: writing tens of MB in a redb transaction would hold redb's single writer
/// lock, stalling every log append and apply meanwhile.
fn save_snapshot(dir: &Path, meta: &Meta, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let meta = serde_json::to_vec(meta)?;
    let tmp = dir.join("snapshot.bin.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(&(meta.len() as u64).to_le_bytes())?;
    f.write_all(&meta)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, dir.join("snapshot.bin"))?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

fn load_snapshot(dir: &Path) -> anyhow::Result<Option<(Meta, Vec<u8>)>> {
    let path = dir.join("snapshot.bin");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let bad = || anyhow::anyhow!("{}: truncated snapshot file", path.display());
    let len: [u8; 8] = bytes.get(..8).and_then(|b| b.try_into().ok()).ok_or_else(bad)?;
    let len = usize::try_from(u64::from_le_bytes(len))?;
    let meta = bytes.get(8..8 + len).ok_or_else(bad)?;
    let meta: Meta = serde_json::from_slice(meta)?;
    Ok(Some((meta, bytes[8 + len..].to_vec())))
}

#[derive(Clone)]
pub struct StateMachineStore {
    db: Arc<Database>,
    dir: std::path::PathBuf,
    state: Arc<RwLock<StateData>>,
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, openraft::BasicNode>,
    applied_tx: Arc<tokio::sync::watch::Sender<u64>>,
    snapshot_seq: u64,
    durability: Durability,
}

impl StateMachineStore {
    fn load(
        db: Arc<Database>,
        dir: std::path::PathBuf,
        durability: Durability,
    ) -> anyhow::Result<StateMachineStore> {
        let mut state = StateData::default();
        {
            let tx = db.begin_read()?;
            let t = tx.open_table(SM_KV)?;
            for row in t.iter()? {
                let (k, v) = row?;
                state.kv.insert(k.value().to_owned(), serde_json::from_slice(v.value())?);
            }
        }
        state.sessions = get_meta(&db, "sm_sessions")?.unwrap_or_default();
        state.catalog = get_meta(&db, "sm_catalog")?.unwrap_or_default();
        state.indexes = get_meta(&db, "sm_indexes")?.unwrap_or_default();
        state.graveyard = get_meta(&db, "sm_graveyard")?.unwrap_or_default();
        let last_applied: Option<LogId<NodeId>> = get_meta(&db, "sm_last_applied")?.flatten();
        let membership = get_meta(&db, "sm_membership")?.unwrap_or_default();
        let snapshot_seq = get_meta(&db, "snapshot_seq")?.unwrap_or(0);
        let (applied_tx, _) =
            tokio::sync::watch::channel(last_applied.map(|l| l.index).unwrap_or(0));
        Ok(StateMachineStore {
            db,
            dir,
            state: Arc::new(RwLock::new(state)),
            last_applied,
            membership,
            applied_tx: Arc::new(applied_tx),
            snapshot_seq,
            durability,
        })
    }

    pub fn shared_state(&self) -> Arc<RwLock<StateData>> {
        self.state.clone()
    }

    pub fn applied_watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied_tx.subscribe()
    }

    fn read_state(&self) -> std::sync::RwLockReadGuard<'_, StateData> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, StateData> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists what one apply batch touched, in one (non-fsynced) transaction.
    fn persist(&self, dirty: &Dirty) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(self.durability)?;
        {
            let state = self.read_state();
            let mut kv = tx.open_table(SM_KV)?;
            for key in &dirty.kv_keys {
                match state.kv.get(key) {
                    Some(e) => {
                        let bytes = serde_json::to_vec(e)?;
                        kv.insert(key.as_str(), bytes.as_slice())?;
                    }
                    None => {
                        kv.remove(key.as_str())?;
                    }
                }
            }
            let mut m = tx.open_table(META)?;
            if dirty.sessions {
                put_meta(&mut m, "sm_sessions", &state.sessions)?;
            }
            if dirty.catalog {
                put_meta(&mut m, "sm_catalog", &state.catalog)?;
            }
            if dirty.graveyard {
                put_meta(&mut m, "sm_graveyard", &state.graveyard)?;
            }
            put_meta(&mut m, "sm_indexes", &state.indexes)?;
            put_meta(&mut m, "sm_last_applied", &self.last_applied)?;
            put_meta(&mut m, "sm_membership", &self.membership)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces the whole state machine with a snapshot's contents.
    fn replace_all(&self, data: StateData) -> anyhow::Result<()> {
        let mut tx = self.db.begin_write()?;
        tx.set_durability(Durability::Immediate)?;
        {
            let mut kv = tx.open_table(SM_KV)?;
            kv.retain(|_, _| false)?;
            for (k, e) in &data.kv {
                let bytes = serde_json::to_vec(e)?;
                kv.insert(k.as_str(), bytes.as_slice())?;
            }
            let mut m = tx.open_table(META)?;
            put_meta(&mut m, "sm_sessions", &data.sessions)?;
            put_meta(&mut m, "sm_catalog", &data.catalog)?;
            put_meta(&mut m, "sm_graveyard", &data.graveyard)?;
            put_meta(&mut m, "sm_indexes", &data.indexes)?;
            put_meta(&mut m, "sm_last_applied", &self.last_applied)?;
            put_meta(&mut m, "sm_membership", &self.membership)?;
        }
        tx.commit()?;
        *self.write_state() = data;
        Ok(())
    }

    fn publish_applied(&self) {
        let idx = self.last_applied.map(|l| l.index).unwrap_or(0);
        self.applied_tx.send_replace(idx);
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachineStore {
    async fn build_snapshot(&mut self) -> StorageResult<Snapshot<TypeConfig>> {
        // Copy the state under the lock and serialise it outside, so applies (and the reads
        // waiting on them) are not held up while a large state is encoded.
        let copy = self.read_state().clone();
        let data = serde_json::to_vec(&copy).map_err(|e| StorageIOError::read_state_machine(&e))?;
        drop(copy);
        self.snapshot_seq += 1;
        let snapshot_id = match self.last_applied {
            Some(l) => format!("{}-{}-{}", l.leader_id, l.index, self.snapshot_seq),
            None => format!("--{}", self.snapshot_seq),
        };
        let meta = SnapshotMeta {
            last_log_id: self.last_applied,
            last_membership: self.membership.clone(),
            snapshot_id,
        };
        save_snapshot(&self.dir, &meta, &data)
            .and_then(|()| {
                write_meta(&self.db, "snapshot_seq", &self.snapshot_seq, self.durability)
            })
            .map_err(|e| StorageIOError::write_snapshot(Some(meta.signature()), &boxed(e)))?;
        Ok(Snapshot { meta, snapshot: Box::new(Cursor::new(data)) })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachineStore {
    type SnapshotBuilder = StateMachineStore;

    async fn applied_state(
        &mut self,
    ) -> StorageResult<(Option<LogId<NodeId>>, StoredMembership<NodeId, openraft::BasicNode>)> {
        Ok((self.last_applied, self.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> StorageResult<Vec<CommandResponse>>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut dirty = Dirty::default();
        let mut responses = Vec::new();
        {
            let shared = self.state.clone();
            let mut state = shared.write().unwrap_or_else(|p| p.into_inner());
            for entry in entries {
                self.last_applied = Some(entry.log_id);
                let resp = match entry.payload {
                    EntryPayload::Blank => CommandResponse::None,
                    EntryPayload::Normal(cmd) => state.apply(entry.log_id.index, &cmd, &mut dirty),
                    EntryPayload::Membership(m) => {
                        self.membership = StoredMembership::new(Some(entry.log_id), m);
                        CommandResponse::None
                    }
                };
                responses.push(resp);
            }
        }
        self.persist(&dirty).map_err(|e| StorageIOError::write_state_machine(&boxed(e)))?;
        self.publish_applied();
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> StorageResult<Box<Cursor<Vec<u8>>>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, openraft::BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> StorageResult<()> {
        let bytes = snapshot.into_inner();
        let sig = Some(meta.signature());
        let data: StateData = serde_json::from_slice(&bytes)
            .map_err(|e| StorageIOError::read_snapshot(sig.clone(), &e))?;
        self.last_applied = meta.last_log_id;
        self.membership = meta.last_membership.clone();
        self.replace_all(data)
            .map_err(|e| StorageIOError::write_snapshot(sig.clone(), &boxed(e)))?;
        save_snapshot(&self.dir, meta, &bytes)
            .map_err(|e| StorageIOError::write_snapshot(sig, &boxed(e)))?;
        self.publish_applied();
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> StorageResult<Option<Snapshot<TypeConfig>>> {
        let stored =
            load_snapshot(&self.dir).map_err(|e| StorageIOError::read_snapshot(None, &boxed(e)))?;
        Ok(stored.map(|(meta, data)| Snapshot { meta, snapshot: Box::new(Cursor::new(data)) }))
    }
}
