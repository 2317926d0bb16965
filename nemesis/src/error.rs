//! The crate's error type: every way building a lab or injecting a fault can fail,
//! each carrying what was attempted and on which node or namespace.

use std::io;

/// Errors of the lab and the nemesis.
#[derive(Debug, thiserror::Error)]
pub enum NemesisError {
    /// A prerequisite (privileges, a tool) is missing; the message says what to do.
    #[error("{0}")]
    Prerequisite(String),
    /// An external command (`ip`, `nft`, `iptables`) failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command { command: String, status: String, stderr: String },
    /// An OS call failed.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    /// A node name or index that the lab does not have.
    #[error("unknown node {0}")]
    UnknownNode(String),
    /// A fault that the system under test cannot honestly receive.
    #[error("fault unsupported: {0}")]
    Unsupported(String),
    /// Arguments that make no sense (a partition of one node, 120 % loss...).
    #[error("invalid fault: {0}")]
    Invalid(String),
    /// The lab's state file is missing or unreadable.
    #[error("lab state {path}: {message}")]
    State { path: String, message: String },
}

impl NemesisError {
    /// Wraps an I/O error with what was being done.
    pub fn io(what: impl Into<String>, source: io::Error) -> NemesisError {
        NemesisError::Io { what: what.into(), source }
    }
}

pub type Result<T, E = NemesisError> = std::result::Result<T, E>;
