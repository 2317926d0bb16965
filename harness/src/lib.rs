//! The faultline harness: the command line, and (later) the run controller, the
//! generator runtime and the `System` / `Client` traits with their implementations.
//!
//! # Layout
//! - [`cli`]: the clap definitions and dispatch.
//! - [`exit`]: Jepsen's exit codes.
//! - [`commands`]: one module per subcommand family.
//! - [`result_views`]: checker outcomes adapted to the results crate's view types.
//!
//! # Errors
//! Commands return [`exit::Failure`]: unusable input (254) or a harness crash (255),
//! each with a message that names the file, line or node.

pub mod cli;
pub mod commands;
pub mod exit;
pub mod result_views;
