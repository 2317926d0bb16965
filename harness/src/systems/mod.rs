//! The systems under test, one file each, and their registry: [`builtin`]
//! (faultline's own Consul-like node, the default), [`etcd`] (Debian's etcd 3.4, a
//! real Raft KV store) and [`memory`] (an in-process store, for testing and
//! benchmarking the harness itself). [`cluster`] is what the process-per-node
//! systems share.
//!
//! # Adding a system
//! One file here: a [`crate::system::System`] (setup, teardown, clients), its client's
//! API implementations ([`workloads::api`]), and a [`crate::system::SystemDef`] static
//! saying what it can do. Then one line in [`ALL`]. The controller, `faultline list`,
//! `test-all` and the help text read the registry; nothing else names it.

pub mod builtin;
pub mod builtin_discovery;
pub mod builtin_election;
pub mod builtin_lock;
pub mod builtin_members;
pub mod builtin_membership;
pub mod builtin_txn;
pub mod builtin_watch;
pub mod cluster;
pub mod etcd;
pub mod etcd_election;
pub mod etcd_lease;
pub mod etcd_lock;
pub mod etcd_membership;
pub mod etcd_watch;
pub mod memory;

use serde::{Deserialize, Serialize};

use crate::system::SystemDef;

/// Every system, one line each; the first is `faultline test`'s default.
pub static ALL: &[&SystemDef] = &[&builtin::SYSTEM, &etcd::SYSTEM, &memory::SYSTEM, &memory::STALE];

/// The system called `name` among `defs`; the error lists the known ones.
pub fn find(defs: &[&'static SystemDef], name: &str) -> Result<&'static SystemDef, String> {
    defs.iter().copied().find(|d| d.name == name).ok_or_else(|| {
        let known: Vec<&str> = defs.iter().map(|d| d.name).collect();
        format!("unknown system {name:?} (known: {})", known.join(", "))
    })
}

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
    /// holds.
    Default,
}

impl ReadMode {
    /// The `--read-mode` word.
    pub fn name(self) -> &'static str {
        match self {
            ReadMode::Linearizable => "linearizable",
            ReadMode::Serializable => "serializable",
            ReadMode::Default => "default",
        }
    }
}
