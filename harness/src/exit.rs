//! Exit codes, Jepsen's, so CI scripts carry over.
//!
//! `0` valid, `1` invalid, `2` unknown, `254` bad arguments or unusable input, `255`
//! the harness crashed or could not set up. A crash is never green. A `faultline
//! test` ended by SIGINT or SIGTERM exits as a shell reports a process the signal
//! killed: `130` and `143` (128 + the signal), after writing what it recorded.

use std::fmt;

/// What the process exits with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    Valid = 0,
    Invalid = 1,
    Unknown = 2,
    /// Ended by SIGINT (Ctrl-C), its results written.
    Interrupted = 130,
    /// Ended by SIGTERM, its results written.
    Terminated = 143,
    BadInput = 254,
    Crash = 255,
}

impl Exit {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The exit of a verdict: 0, 1 or 2.
    pub fn of(verdict: checkers::Verdict) -> Exit {
        match verdict {
            checkers::Verdict::Valid => Exit::Valid,
            checkers::Verdict::Invalid => Exit::Invalid,
            checkers::Verdict::Unknown => Exit::Unknown,
        }
    }
}

/// Why a command could not produce a verdict.
#[derive(Debug)]
pub struct Failure {
    pub exit: Exit,
    pub message: String,
}

impl Failure {
    pub fn bad_input(message: impl fmt::Display) -> Failure {
        Failure { exit: Exit::BadInput, message: message.to_string() }
    }

    pub fn crash(message: impl fmt::Display) -> Failure {
        Failure { exit: Exit::Crash, message: message.to_string() }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type CmdResult = Result<Exit, Failure>;
