//! The replicated state machine's data and its transitions, free of IO.
//!
//! Everything a Raft entry can change lives in [`StateData`]; [`StateData::apply`] is the one
//! function that changes it. It is deterministic: the time an operation needs (session TTLs,
//! lock-delay, check TTLs) travels inside the command, stamped by the proposing leader's
//! injected clock, so every replica computes the same state from the same log. The openraft
//! glue (`crate::raft`) persists it; the HTTP API (`crate::api`) reads it.
//!
//! Indices follow Consul: every record carries the Raft log index that created it
//! (`create_index`) and last modified it (`modify_index`), and each table (KV, sessions,
//! catalog) remembers the last index that touched it, for `X-Consul-Index` and blocking reads.

pub mod catalog;
pub mod kv;
pub mod session;

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use serde::Deserialize;
use serde::Serialize;

pub use catalog::CatalogCommand;
pub use catalog::CatalogNode;
pub use catalog::CatalogService;
pub use catalog::CheckStatus;
pub use catalog::HealthCheck;
pub use kv::KvEntry;
pub use kv::TxnError;
pub use kv::TxnOp;
pub use kv::TxnOutcome;
pub use session::Behavior;
pub use session::Session;
pub use session::SessionCommand;

/// One replicated command: what a client asked the leader to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// KV operations, applied all-or-nothing (a plain `PUT /v1/kv` is a one-op transaction).
    Txn {
        ops: Vec<TxnOp>,
        /// The proposing leader's clock, for lock-delay.
        now_ms: u64,
        /// False only under the `lock-no-session-check` bug switch.
        check_session: bool,
        /// True only under the `txn-unchecked-reads` bug switch (absent from older logs).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        unchecked_reads: bool,
    },
    Session(SessionCommand),
    Catalog(CatalogCommand),
    /// Several independent client commands proposed as one Raft entry (group commit: the
    /// leader fsyncs once for all of them). Each applies on its own, in order, at the
    /// entry's index, with its own response.
    Batch(Vec<Command>),
}

/// What applying a command produced, returned to the client that proposed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub enum CommandResponse {
    /// Blank and membership entries.
    #[default]
    None,
    Txn(TxnOutcome),
    Session(Result<Option<Session>, String>),
    Catalog(Result<(), String>),
    Batch(Vec<CommandResponse>),
}

/// What one apply call touched, so the store persists only that.
#[derive(Debug, Default)]
pub struct Dirty {
    pub kv_keys: BTreeSet<String>,
    pub graveyard: bool,
    pub sessions: bool,
    pub catalog: bool,
}

/// The whole replicated state. Serialised as a whole only for snapshots.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateData {
    pub kv: BTreeMap<String, KvEntry>,
    /// Deleted key -> the index that deleted it (Consul's tombstones), for prefix indexes.
    #[serde(default)]
    pub graveyard: BTreeMap<String, u64>,
    pub sessions: SessionTable,
    pub catalog: catalog::Catalog,
    pub indexes: TableIndexes,
}

/// Sessions and the lock-delays their invalidation left behind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionTable {
    pub by_id: BTreeMap<String, Session>,
    /// key -> clock time (ms) before which the key cannot be acquired again.
    pub lock_delays: BTreeMap<String, u64>,
}

/// The last Raft index that changed each table (Consul's per-table index).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableIndexes {
    pub kv: u64,
    pub sessions: u64,
    pub catalog: u64,
}

impl Command {
    /// Roughly how many bytes this command adds to a log entry: its KV values (the bulk of
    /// any large command) plus a small fixed cost per operation.
    pub fn approx_bytes(&self) -> usize {
        const PER_OP: usize = 128;
        match self {
            Command::Txn { ops, .. } => ops.iter().map(|op| op.value_len() + PER_OP).sum(),
            Command::Batch(cmds) => cmds.iter().map(Command::approx_bytes).sum(),
            Command::Session(_) | Command::Catalog(_) => PER_OP * 4,
        }
    }
}

impl StateData {
    /// Applies one committed command at Raft log index `index`.
    pub fn apply(&mut self, index: u64, cmd: &Command, dirty: &mut Dirty) -> CommandResponse {
        match cmd {
            Command::Txn { ops, now_ms, check_session, unchecked_reads: false } => {
                CommandResponse::Txn(self.apply_txn(index, ops, *now_ms, *check_session, dirty))
            }
            Command::Txn { ops, now_ms, check_session, unchecked_reads: true } => {
                let ops = kv::without_read_checks(ops);
                CommandResponse::Txn(self.apply_txn(index, &ops, *now_ms, *check_session, dirty))
            }
            Command::Session(c) => CommandResponse::Session(self.apply_session(index, c, dirty)),
            Command::Catalog(c) => CommandResponse::Catalog(self.apply_catalog(index, c, dirty)),
            Command::Batch(cmds) => {
                CommandResponse::Batch(cmds.iter().map(|c| self.apply(index, c, dirty)).collect())
            }
        }
    }
}

/// Base64 (standard alphabet, padded) for byte values, as Consul's JSON uses.
pub mod b64 {
    use base64::Engine;
    use serde::Deserialize;
    use serde::Deserializer;
    use serde::Serializer;

    pub fn encode(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    pub fn decode(s: &str) -> Result<Vec<u8>, base64::DecodeError> {
        base64::engine::general_purpose::STANDARD.decode(s)
    }

    /// Base64 needs no JSON escaping, so the quoted string is handed to serde_json as a raw
    /// value: its per-character escape scan is the slowest step of writing a large value
    /// (log entries, snapshots and peer RPCs all carry values this way).
    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        use serde::Serialize;
        let mut quoted = String::with_capacity(bytes.len() * 4 / 3 + 6);
        quoted.push('"');
        base64::engine::general_purpose::STANDARD.encode_string(bytes, &mut quoted);
        quoted.push('"');
        match serde_json::value::RawValue::from_string(quoted) {
            Ok(raw) => raw.serialize(s),
            Err(_) => s.serialize_str(&encode(bytes)),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        decode(&s).map_err(serde::de::Error::custom)
    }
}
