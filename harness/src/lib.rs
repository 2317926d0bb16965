//! The faultline harness: the command line, the run controller, the generator
//! runtime, and the `System` / `Client` traits with their implementations.
//!
//! # Layout
//! - [`cli`]: the clap definitions and dispatch.
//! - [`exit`]: Jepsen's exit codes.
//! - [`commands`]: one module per subcommand family (`history`, `check`, `lab`,
//!   `test`, `analyze`, `replay`; `report` writes `results.json` and the summary).
//! - [`node_host`]: where nodes run (the loopback host); [`lab_host`]: the same seam
//!   on the nemesis crate's lab (a network namespace per node).
//! - [`lab_nemesis`]: the nemesis crate's seeded fault schedule as the runtime's
//!   nemesis hook.
//! - [`system`] / [`client`]: the traits a system under test implements.
//! - [`systems`]: one file per system (`etcd`, `memory`).
//! - [`runtime`]: workers, phases, the recorder, the nemesis seam, progress.
//! - [`store`]: run directories, `test.json`, `results.json`, the `latest` links and
//!   the sweep of a killed run's leftovers.
//! - [`analysis`]: from a recorded history to a verdict (the workload's model from
//!   the `checkers` crate, split by key).
//! - [`result_views`]: checker outcomes adapted to the results crate's view types.
//!
//! # Adding a system
//! Implement [`system::System`] and [`client::Client`] in one file under
//! `systems/`, spawning nodes only through the [`node_host::NodeHost`] it is given
//! (so it runs on loopback and in the lab alike), then run it with
//! [`commands::test::run_with`] or add its name to [`commands::test::run_test`].
//!
//! # Errors
//! Commands return [`exit::Failure`]: unusable input (254) or a harness crash (255),
//! each with a message that names the file, line or node. Library parts return
//! thiserror enums ([`system::SystemError`], [`node_host::HostError`]).

pub mod analysis;
pub mod cli;
pub mod client;
pub mod commands;
pub mod exit;
pub mod lab_host;
pub mod lab_nemesis;
pub mod node_host;
pub mod result_views;
pub mod runtime;
pub mod store;
pub mod system;
pub mod systems;
