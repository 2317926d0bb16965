//! The faultline harness: the command line, the run controller, the generator
//! runtime, and the systems under test.
//!
//! # Layout
//! - [`cli`]: the clap definitions and dispatch; [`options`]: `faultline test`'s
//!   options (what `test.json` records), with [`fault_options`] (targets, loss,
//!   delay, skew, the leader-aware schedule).
//! - [`exit`]: Jepsen's exit codes.
//! - [`commands`]: one module per subcommand family (`history`, `check`, `lab`,
//!   `test`, `analyze`, `replay`, `report`, `serve`, `test-all`, `list`).
//! - [`controller`]: one run in phases (plan, open, environment, record, run,
//!   teardown, analyse, write), choosing from the registries it is given.
//! - [`node_host`]: where nodes run and the one process registry of a run (the
//!   loopback host); [`lab_host`]: the same seam on the nemesis crate's lab.
//! - [`lab_nemesis`]: the nemesis crate's seeded fault schedule as the runtime's
//!   nemesis hook.
//! - [`system`]: the `System` trait, `SystemDef` and capabilities; [`client`]: the
//!   HTTP plumbing clients share (the client APIs are `workloads::api`).
//! - [`systems`]: one file per system, and the systems registry.
//! - [`runtime`]: workers, phases, the recorder, the nemesis seam, progress.
//! - [`store`]: run directories, `test.json`, `results.json`, the `latest` links and
//!   the sweep of a killed run's leftovers.
//! - [`analysis`]: from a recorded history to a verdict.
//! - [`result_views`]: checker outcomes adapted to the results crate's view types.
//! - [`catalog`]: the bug catalog (`catalog.json`) and `test-all --profile`.
//! - [`fuzzing`]: the property the command-line fuzz target checks.
//!
//! # Adding a system
//! One file under `systems/` with a [`system::System`], its client's API
//! implementations ([`workloads::api`]) and a [`system::SystemDef`]; one line in
//! [`systems::ALL`]. Nodes are started only through the [`node_host::NodeHost`] it is
//! given, so it runs on loopback and in the lab alike.
//!
//! # Errors
//! Commands return [`exit::Failure`]: unusable input (254) or a harness crash (255),
//! each with a message that names the file, line or node. Library parts return
//! thiserror enums ([`system::SystemError`], [`node_host::HostError`]).

pub mod analysis;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod commands;
pub mod controller;
pub mod exit;
pub mod fault_options;
pub mod fuzzing;
pub mod lab_host;
pub mod lab_nemesis;
pub mod node_host;
pub mod options;
pub mod result_views;
pub mod runtime;
pub mod store;
pub mod system;
pub mod systems;
