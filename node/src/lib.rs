//! `node`: faultline's builtin Consul-like node (binary `faultline-node`).
//!
//! A Raft-replicated (openraft 0.9) KV and service-discovery server with a subset of Consul's
//! HTTP API and Consul's semantics: KV with CAS, blocking reads and the three read modes
//! (`consistent`, `default` with a leader lease, `stale`), sessions and locks, transactions,
//! a catalog with TTL health checks, and SWIM gossip membership (foca). It is the default
//! system under test of `faultline test` and carries *bug switches* that re-create known real
//! bugs, so the harness can prove it detects them. It knows nothing of the harness.
//!
//! # Layout
//! - [`config`]: command-line flags and the bug switches.
//! - [`clock`]: the injected clock (offset settable at run time) for TTLs, leases, sessions.
//! - [`state`]: the replicated state and its transitions, IO-free (kv, session, catalog).
//! - [`raft`]: all openraft glue: types, redb store, peer transport, leader lease.
//! - [`gossip`]: SWIM membership and failure detection over UDP.
//! - [`api`]: the Consul-style HTTP API, one file per area.
//! - [`serf`]: the leader keeps the servers in the catalog (`serfHealth`, `consul`) from
//!   gossip.
//! - [`checks`]: this node runs its own HTTP and TCP health checks.
//! - [`server`]: wires everything together and runs the node.
//!
//! # Errors
//! Library code returns typed errors where callers branch on them ([`raft::RaftOpError`],
//! [`config::ConfigError`]); setup paths that only report use `anyhow`.

pub mod api;
pub mod checks;
pub mod clock;
pub mod config;
pub mod gossip;
pub mod raft;
pub mod serf;
pub mod server;
pub mod state;
