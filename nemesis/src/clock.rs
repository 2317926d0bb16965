//! Clock skew per node.
//!
//! Three cases, chosen by the system under test ([`ClockSupport`]):
//! - **libfaketime** for programs that read time through libc (C, Rust, Python):
//!   the process starts with `LD_PRELOAD=libfaketime.so.1`,
//!   `FAKETIME_TIMESTAMP_FILE=<per-node file>` and `FAKETIME_NO_CACHE=1` (see
//!   [`Lab::faketime_env`]); writing an offset such as `+1.500` into the file moves
//!   that node's clock at once ([`Lab::set_faketime_offset`]).
//! - **an injected clock**: systems that take their offset some other way (the
//!   builtin node, over HTTP) implement [`ClockHook`].
//! - **unsupported**: Go programs such as etcd read time through the vDSO and
//!   ignore libfaketime, and time namespaces cannot move the wall clock, so the
//!   nemesis refuses clock faults for them rather than pretend.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{NemesisError, Result};
use crate::lab::Lab;

/// Sets a node's clock offset for systems whose clock is injected.
///
/// Implementations must make the offset take effect before returning (or return
/// an error): the nemesis records "installed" on `Ok`.
pub trait ClockHook: Send + Sync {
    /// Sets node `node`'s (0-based) clock to real time plus `offset_ms`
    /// (negative: behind). An offset of 0 restores the real clock.
    fn set_offset(&self, node: usize, offset_ms: i64) -> Result<()>;

    /// Node `node`'s offset as the node itself reports it, to verify a change
    /// (the builtin node's `GET /v1/faultline/clock`); `Ok(None)` when this hook
    /// cannot read it back.
    fn read_offset(&self, _node: usize) -> Result<Option<i64>> {
        Ok(None)
    }
}

/// How the system under test lets us skew clocks.
#[derive(Clone)]
pub enum ClockSupport {
    /// Its processes were started with [`Lab::faketime_env`].
    Libfaketime,
    Hook(Arc<dyn ClockHook>),
    /// Clock faults cannot work; the reason is shown when one is refused.
    Unsupported {
        reason: String,
    },
}

/// How a system's clock can be moved, as a system describes itself before any
/// run (a constant, unlike [`ClockSupport`], which holds the live hook).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockMethod {
    /// Its processes read time through libc and are started under libfaketime.
    Libfaketime,
    /// It takes an offset through a hook of its own (the builtin node's HTTP call).
    Injected,
    /// Clock faults cannot work on it, and why.
    Unsupported(&'static str),
}

impl ClockMethod {
    /// Whether a run offers clock control: libfaketime needs the lab's per-node
    /// timestamp files.
    pub fn offer(self, in_lab: bool) -> crate::control::Offer {
        use crate::control::Offer;
        match self {
            ClockMethod::Libfaketime if in_lab => Offer::Yes,
            ClockMethod::Libfaketime => {
                Offer::No("libfaketime clocks need the lab's per-node timestamp files".into())
            }
            ClockMethod::Injected => Offer::Yes,
            ClockMethod::Unsupported(reason) => Offer::No(reason.into()),
        }
    }
}

impl std::fmt::Debug for ClockSupport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockSupport::Libfaketime => f.write_str("Libfaketime"),
            ClockSupport::Hook(_) => f.write_str("Hook"),
            ClockSupport::Unsupported { reason } => write!(f, "Unsupported({reason})"),
        }
    }
}

/// Where Debian's `libfaketime` package puts the library.
const LIBFAKETIME_CANDIDATES: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
    "/usr/lib/faketime/libfaketime.so.1",
];

/// The libfaketime library, or an error saying how to install it.
pub fn libfaketime_path() -> Result<PathBuf> {
    LIBFAKETIME_CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()).ok_or_else(|| {
        NemesisError::Prerequisite(
            "clock skew through libfaketime needs the library: `apt-get install -y libfaketime`"
                .into(),
        )
    })
}

/// The text libfaketime reads from a timestamp file for an offset (seconds with
/// a sign, milliseconds precision: `+1.500`, `-30.000`).
pub fn offset_text(offset_ms: i64) -> String {
    let sign = if offset_ms < 0 { '-' } else { '+' };
    let abs = offset_ms.unsigned_abs();
    format!("{sign}{}.{:03}\n", abs / 1000, abs % 1000)
}

impl Lab {
    /// The timestamp file of node `node`.
    pub fn faketime_file(&self, node: usize) -> Result<PathBuf> {
        let name = self.state().nodes.get(node).map(|n| n.name.clone());
        let name = name.ok_or_else(|| NemesisError::UnknownNode(format!("index {node}")))?;
        Ok(self.state().dir().join(format!("clock-{name}")))
    }

    /// The environment that puts a process of node `node` under libfaketime, with
    /// its clock at real time until [`Lab::set_faketime_offset`] moves it. Add it to
    /// the node's [`crate::ProcessSpec`].
    pub fn faketime_env(&self, node: usize) -> Result<Vec<(String, String)>> {
        let lib = libfaketime_path()?;
        let file = self.faketime_file(node)?;
        std::fs::write(&file, offset_text(0))
            .map_err(|e| NemesisError::io(format!("writing {}", file.display()), e))?;
        Ok(vec![
            ("LD_PRELOAD".into(), lib.display().to_string()),
            ("FAKETIME_TIMESTAMP_FILE".into(), file.display().to_string()),
            ("FAKETIME_NO_CACHE".into(), "1".into()),
        ])
    }

    /// Whether some running process of node `node` reads its clock from the
    /// node's timestamp file (checked in its environment, `/proc/<pid>/environ`).
    pub fn faketime_active(&self, node: usize) -> Result<bool> {
        let file = self.faketime_file(node)?;
        let wanted = format!("FAKETIME_TIMESTAMP_FILE={}", file.display());
        Ok(self.processes_on(node).into_iter().filter_map(|h| self.pid(h)).any(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|&b| b == 0).any(|var| var == wanted.as_bytes()))
                .unwrap_or(false)
        }))
    }

    /// Moves node `node`'s libfaketime clock to real time plus `offset_ms`.
    /// Refused (`Unsupported`) when no running process of the node was started
    /// with [`Lab::faketime_env`]: writing the file would change nothing.
    pub fn set_faketime_offset(&self, node: usize, offset_ms: i64) -> Result<()> {
        if offset_ms != 0 && !self.faketime_active(node)? {
            return Err(NemesisError::Unsupported(format!(
                "no running process of n{} was started under libfaketime (Lab::faketime_env)",
                node + 1
            )));
        }
        let file = self.faketime_file(node)?;
        let tmp = file.with_extension("tmp");
        // Rename so a reading process never sees a half-written file.
        std::fs::write(&tmp, offset_text(offset_ms))
            .and_then(|()| std::fs::rename(&tmp, &file))
            .map_err(|e| NemesisError::io(format!("writing {}", file.display()), e))
    }
}

/// A lab moves libfaketime clocks by rewriting the node's timestamp file.
impl ClockHook for Lab {
    fn set_offset(&self, node: usize, offset_ms: i64) -> Result<()> {
        self.set_faketime_offset(node, offset_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_signed_seconds() {
        assert_eq!(offset_text(0), "+0.000\n");
        assert_eq!(offset_text(1500), "+1.500\n");
        assert_eq!(offset_text(-30_250), "-30.250\n");
    }
}
