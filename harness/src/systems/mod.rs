//! The systems under test, one file each: [`builtin`] (faultline's own Consul-like
//! node, the default), [`etcd`] (Debian's etcd 3.4, a real Raft KV store) and
//! [`memory`] (an in-process linearizable register store, for testing and
//! benchmarking the harness itself).

pub mod builtin;
pub mod builtin_lock;
pub mod etcd;
pub mod memory;

use serde::{Deserialize, Serialize};

/// How reads are served. The builtin node names them as Consul does: `consistent`
/// (= linearizable), `default` (the leader answers while its lease holds) and `stale`
/// (= serializable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Through the leader's quorum (etcd's default): linearizable.
    #[default]
    #[value(alias = "consistent")]
    Linearizable,
    /// From the local node's state: may be stale (etcd's `serializable`, Consul's
    /// `stale`).
    #[value(alias = "stale")]
    Serializable,
    /// Consul's default mode: the leader answers from its state while its lease
    /// holds (builtin only; etcd has no such mode).
    Default,
}
