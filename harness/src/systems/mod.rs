//! The systems under test, one file each: [`etcd`] (Debian's etcd 3.4, a real Raft KV
//! store) and [`memory`] (an in-process linearizable register store, for testing and
//! benchmarking the harness itself).

pub mod etcd;
pub mod memory;

use serde::{Deserialize, Serialize};

/// How reads are served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Through the leader's quorum (etcd's default): linearizable.
    #[default]
    Linearizable,
    /// From the local node's state: may be stale (etcd's `serializable`).
    Serializable,
}
