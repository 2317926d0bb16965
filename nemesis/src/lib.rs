//! The lab and its faults.
//!
//! A [`Lab`] is a set of network namespaces, one per node, joined by a bridge in a
//! switch namespace, with an nftables table there that cuts links. On top of it
//! the nemesis injects faults and records what it really did.
//!
//! # Layout
//! - [`lab`]: building and removing a lab; processes inside it (spawn, kill,
//!   pause, resume, stop, restart).
//! - [`netns`]: running a thread inside a namespace (clients, probes, delayers).
//! - [`state`], [`cleanup`]: the on-disk marker, teardown on drop / panic / signals,
//!   and the sweep of crashed runs' leftovers.
//! - [`partition`]: partitions as data (grudges) computed from Jepsen's shapes.
//! - [`netfilter`]: the nftables scripts; [`faults`]: applying network faults;
//!   [`latency`]: the NFQUEUE delayer; [`probe`]: measuring reachability.
//! - [`clock`]: clock skew (libfaketime, or a hook for injected clocks).
//! - [`schedule`]: seeded fault schedules as data; [`runner`]: playing one in real
//!   time; [`inject`]: applying faults,
//!   heal-all, and the nemesis operations written to the history.
//! - [`prereq`]: what the machine needs, and what to do when it lacks it.
//!
//! # Errors
//! Every fallible call returns [`NemesisError`], which names the command, node or
//! file involved.

pub mod cleanup;
pub mod clock;
pub mod error;
pub mod exec;
pub mod faults;
pub mod inject;
pub mod lab;
pub mod latency;
pub mod netfilter;
pub mod netns;
pub mod partition;
pub mod prereq;
pub mod probe;
pub mod process;
pub mod runner;
pub mod schedule;
pub mod state;

pub use error::{NemesisError, Result};
pub use lab::{Lab, LabConfig, ProcHandle};
pub use partition::{Grudge, PartitionShape, PartitionSpec};
pub use process::ProcessSpec;
