//! The marker every lab leaves on the machine: `/run/faultline/<prefix>/state.json`,
//! written *before* anything is created and rewritten as processes are spawned.
//!
//! It records who owns the lab (a live process, identified by pid and start time so
//! a recycled pid is not mistaken for the owner, or a user who brought it up with
//! `faultline lab up`), the namespaces it created and the processes it spawned.
//! A sweep only ever removes what such a file lists, and only when its owner
//! process is dead: leftovers are recognised by prefix *and* marker, never guessed.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{NemesisError, Result};

/// Where lab markers live; `FAULTLINE_RUN_DIR` overrides it (rootless runs, tests).
pub fn run_dir() -> PathBuf {
    std::env::var_os("FAULTLINE_RUN_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/run/faultline"))
}

/// Every lab prefix starts with this, so our namespaces are easy to tell apart.
pub const PREFIX_STEM: &str = "fl";

/// Who keeps a lab alive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Owner {
    /// A run: the lab dies with this process; stale once the process is gone.
    Process { pid: u32, start_time: u64 },
    /// A lab brought up by hand (`faultline lab up`); it lives until `lab down`.
    User { created_by_pid: u32 },
}

impl Owner {
    /// The calling process as owner.
    pub fn this_process() -> Owner {
        let pid = std::process::id();
        Owner::Process { pid, start_time: proc_start_time(pid).unwrap_or(0) }
    }

    /// Whether the owner process is gone (a user-owned lab is never stale).
    pub fn is_dead(&self) -> bool {
        match self {
            Owner::Process { pid, start_time } => proc_start_time(*pid) != Some(*start_time),
            Owner::User { .. } => false,
        }
    }
}

/// One node of a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// `n1`, `n2`, ...
    pub name: String,
    /// Its network namespace.
    pub ns: String,
    pub addr: Ipv4Addr,
}

/// One process the lab spawned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// Stable across restarts: the handle's id.
    pub id: usize,
    /// Index of the node (0-based).
    pub node: usize,
    pub spec: crate::process::ProcessSpec,
    /// The current pid, with its start time (clock ticks since boot) to detect reuse.
    pub pid: Option<u32>,
    pub start_time: u64,
}

/// The whole marker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabState {
    pub prefix: String,
    pub owner: Owner,
    pub switch_ns: String,
    pub switch_addr: Ipv4Addr,
    pub nodes: Vec<NodeRecord>,
    /// Client namespaces (for client partitions), named `c1`, `c2`, ...
    #[serde(default)]
    pub clients: Vec<NodeRecord>,
    pub processes: Vec<ProcessRecord>,
}

impl LabState {
    /// Every namespace of the lab: nodes and clients first, the switch last.
    pub fn namespaces(&self) -> Vec<String> {
        let mut all: Vec<String> =
            self.nodes.iter().chain(&self.clients).map(|n| n.ns.clone()).collect();
        all.push(self.switch_ns.clone());
        all
    }

    pub fn dir(&self) -> PathBuf {
        run_dir().join(&self.prefix)
    }

    /// Writes the marker atomically (temp file + rename), so a reader sees either
    /// the old or the new state, never half of one.
    pub fn save(&self) -> Result<()> {
        let dir = self.dir();
        let path = dir.join("state.json");
        let tmp = dir.join("state.json.tmp");
        let text = serde_json::to_string_pretty(self).map_err(|e| NemesisError::State {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, text)
            .map_err(|e| NemesisError::io(format!("writing {}", tmp.display()), e))?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| NemesisError::io(format!("renaming to {}", path.display()), e))
    }

    /// Reads the marker of lab `prefix`.
    pub fn load(prefix: &str) -> Result<LabState> {
        Self::load_path(&run_dir().join(prefix).join("state.json"))
    }

    pub fn load_path(path: &Path) -> Result<LabState> {
        let text = std::fs::read_to_string(path).map_err(|e| NemesisError::State {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        serde_json::from_str(&text).map_err(|e| NemesisError::State {
            path: path.display().to_string(),
            message: format!("not a faultline lab marker: {e}"),
        })
    }
}

/// Every lab marker on this machine, with the markers that could not be read
/// (reported, never acted on).
pub fn list_labs() -> (Vec<LabState>, Vec<NemesisError>) {
    let mut labs = Vec::new();
    let mut errors = Vec::new();
    let Ok(entries) = std::fs::read_dir(run_dir()) else { return (labs, errors) };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(PREFIX_STEM) {
            continue;
        }
        let path = entry.path().join("state.json");
        if !path.exists() {
            // Claimed but not yet written (or written by someone else): not ours to judge.
            continue;
        }
        match LabState::load_path(&path) {
            Ok(state) if state.prefix == name => labs.push(state),
            Ok(state) => errors.push(NemesisError::State {
                path: path.display().to_string(),
                message: format!("records prefix {:?}, not {name:?}; left alone", state.prefix),
            }),
            Err(e) => errors.push(e),
        }
    }
    labs.sort_by(|a, b| a.prefix.cmp(&b.prefix));
    (labs, errors)
}

/// A process's start time in clock ticks since boot (field 22 of `/proc/<pid>/stat`),
/// or `None` when there is no such process or it is a zombie (already dead).
pub fn proc_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); field 22 is at index 19.
    if fields.first() == Some(&"Z") || fields.first() == Some(&"X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The state letter of a process (`R`, `S`, `T` stopped, `Z` zombie...).
pub fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_a_made_up_one_is_dead() {
        let me = Owner::this_process();
        assert!(!me.is_dead());
        let Owner::Process { pid, start_time } = me else { panic!("not a process owner") };
        // Same pid, different start time: a recycled pid, so the owner is dead.
        assert!(Owner::Process { pid, start_time: start_time + 1 }.is_dead());
        assert!(!Owner::User { created_by_pid: 1 }.is_dead());
    }

    #[test]
    fn start_time_parses_names_with_parentheses() {
        assert!(proc_start_time(std::process::id()).is_some());
        assert!(proc_state(std::process::id()).is_some());
        assert_eq!(proc_start_time(u32::MAX), None);
    }
}
