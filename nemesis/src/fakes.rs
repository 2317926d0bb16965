//! In-memory controls for tests that need no root: a network that remembers what
//! is cut, dropped and delayed, node processes that are running, paused or dead,
//! and clocks with offsets. Each records every call, so a test can check what a
//! fault family did, and each can be told to fail, so a test can check what the
//! nemesis reports when a control breaks.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::clock::{ClockHook, ClockSupport};
use crate::control::{Acted, Controls, Membership, Network, Processes};
use crate::error::{NemesisError, Result};
use crate::latency::LinkDelay;
use crate::partition::Grudge;
use crate::probe::Verification;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the fake network holds now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetState {
    pub grudge: Grudge,
    pub loss: BTreeMap<(usize, usize), u8>,
    pub delays: BTreeMap<(usize, usize), LinkDelay>,
    /// Every call, in order: `set_partition`, `set_loss`, `set_delays`, `heal`,
    /// `verify_partition`.
    pub calls: Vec<&'static str>,
    /// Links the probes will report open whatever the grudge says (a leak).
    pub leaking: Vec<(usize, usize)>,
}

/// A network that does what it is told, and probes that measure it exactly
/// (except links set leaking).
#[derive(Debug, Default)]
pub struct FakeNetwork {
    state: Mutex<NetState>,
}

impl FakeNetwork {
    pub fn state(&self) -> NetState {
        lock(&self.state).clone()
    }

    /// Makes the probes see `link` open even when it is cut.
    pub fn leak(&self, link: (usize, usize)) {
        lock(&self.state).leaking.push(link);
    }

    /// Whether nothing is cut, dropped or delayed.
    pub fn is_healed(&self) -> bool {
        let s = lock(&self.state);
        s.grudge.is_empty() && s.loss.is_empty() && s.delays.is_empty()
    }
}

impl Network for FakeNetwork {
    fn set_partition(&self, grudge: &Grudge) -> Result<()> {
        let mut s = lock(&self.state);
        s.calls.push("set_partition");
        s.grudge = grudge.clone();
        Ok(())
    }

    fn set_loss(&self, loss: &BTreeMap<(usize, usize), u8>) -> Result<()> {
        let mut s = lock(&self.state);
        s.calls.push("set_loss");
        s.loss = loss.clone();
        Ok(())
    }

    fn set_delays(&self, delays: &BTreeMap<(usize, usize), LinkDelay>, _: u64) -> Result<()> {
        let mut s = lock(&self.state);
        s.calls.push("set_delays");
        s.delays = delays.clone();
        Ok(())
    }

    fn heal(&self) -> Result<()> {
        let mut s = lock(&self.state);
        s.calls.push("heal");
        s.grudge = Grudge::default();
        s.loss.clear();
        s.delays.clear();
        Ok(())
    }

    fn verify_partition(&self) -> Result<Verification> {
        let mut s = lock(&self.state);
        s.calls.push("verify_partition");
        let leaked = s.leaking.iter().copied().filter(|l| s.grudge.blocked.contains(l)).collect();
        Ok(Verification { leaked, broken: Vec::new() })
    }
}

/// One fake node's process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    Paused,
    Dead,
    /// Nothing was started on the node.
    Absent,
}

/// Node processes as states; `fail_on` makes every verb on a node fail.
#[derive(Debug)]
pub struct FakeProcesses {
    nodes: Mutex<Vec<ProcState>>,
    calls: Mutex<Vec<(String, usize)>>,
    failing: Mutex<Vec<usize>>,
}

impl FakeProcesses {
    /// `nodes` nodes, each running.
    pub fn running(nodes: usize) -> FakeProcesses {
        FakeProcesses {
            nodes: Mutex::new(vec![ProcState::Running; nodes]),
            calls: Mutex::new(Vec::new()),
            failing: Mutex::new(Vec::new()),
        }
    }

    pub fn states(&self) -> Vec<ProcState> {
        lock(&self.nodes).clone()
    }

    pub fn set(&self, node: usize, state: ProcState) {
        if let Some(s) = lock(&self.nodes).get_mut(node) {
            *s = state;
        }
    }

    /// Every verb called, with its node, in order (`kill`, `restart`, ...).
    pub fn calls(&self) -> Vec<(String, usize)> {
        lock(&self.calls).clone()
    }

    /// Every later verb on `node` fails (as a signal that may or may not land).
    pub fn fail_on(&self, node: usize) {
        lock(&self.failing).push(node);
    }

    fn verb(&self, name: &str, node: usize, from: &[ProcState], to: ProcState) -> Result<Acted> {
        lock(&self.calls).push((name.to_string(), node));
        if lock(&self.failing).contains(&node) {
            return Err(NemesisError::Invalid(format!("{name} on n{} failed (fake)", node + 1)));
        }
        let mut nodes = lock(&self.nodes);
        let state = nodes
            .get_mut(node)
            .ok_or_else(|| NemesisError::UnknownNode(format!("index {node} (fake)")))?;
        Ok(match *state {
            ProcState::Absent => Acted::NoProcess,
            s if from.contains(&s) => {
                *state = to;
                Acted::Done
            }
            _ => Acted::Unchanged,
        })
    }
}

impl Processes for FakeProcesses {
    fn kill(&self, node: usize) -> Result<Acted> {
        self.verb("kill", node, &[ProcState::Running, ProcState::Paused], ProcState::Dead)
    }

    fn pause(&self, node: usize) -> Result<Acted> {
        self.verb("pause", node, &[ProcState::Running], ProcState::Paused)
    }

    fn resume(&self, node: usize) -> Result<Acted> {
        self.verb("resume", node, &[ProcState::Paused], ProcState::Running)
    }

    fn stop(&self, node: usize, _grace: Duration) -> Result<Acted> {
        self.verb("stop", node, &[ProcState::Running, ProcState::Paused], ProcState::Dead)
    }

    fn restart(&self, node: usize) -> Result<Acted> {
        self.verb("restart", node, &[ProcState::Dead], ProcState::Running)
    }
}

/// Clock offsets per node (absent: real time).
#[derive(Debug, Default)]
pub struct FakeClock {
    offsets: Mutex<BTreeMap<usize, i64>>,
}

impl FakeClock {
    pub fn offsets(&self) -> BTreeMap<usize, i64> {
        lock(&self.offsets).clone()
    }
}

impl ClockHook for FakeClock {
    fn set_offset(&self, node: usize, offset_ms: i64) -> Result<()> {
        let mut offsets = lock(&self.offsets);
        if offset_ms == 0 {
            offsets.remove(&node);
        } else {
            offsets.insert(node, offset_ms);
        }
        Ok(())
    }

    fn read_offset(&self, node: usize) -> Result<Option<i64>> {
        Ok(Some(lock(&self.offsets).get(&node).copied().unwrap_or(0)))
    }
}

/// Cluster members as a set: remove and add change it, and say when nothing changed.
#[derive(Debug)]
pub struct FakeMembership {
    members: Mutex<std::collections::BTreeSet<usize>>,
}

impl FakeMembership {
    /// Every one of `nodes` nodes a member.
    pub fn full(nodes: usize) -> FakeMembership {
        FakeMembership { members: Mutex::new((0..nodes).collect()) }
    }
}

impl Membership for FakeMembership {
    fn remove(&self, node: usize) -> Result<Acted> {
        Ok(if lock(&self.members).remove(&node) { Acted::Done } else { Acted::Unchanged })
    }

    fn add(&self, node: usize) -> Result<Acted> {
        Ok(if lock(&self.members).insert(node) { Acted::Done } else { Acted::Unchanged })
    }

    fn members(&self) -> Result<Vec<usize>> {
        Ok(lock(&self.members).iter().copied().collect())
    }
}

/// A fake network, processes, clock and membership, and the [`Controls`] over them.
pub struct FakeRun {
    pub network: Arc<FakeNetwork>,
    pub processes: Arc<FakeProcesses>,
    pub clock: Arc<FakeClock>,
    pub membership: Arc<FakeMembership>,
}

impl FakeRun {
    /// `nodes` running nodes on a clean network with real clocks.
    pub fn new(nodes: usize) -> FakeRun {
        FakeRun {
            network: Arc::new(FakeNetwork::default()),
            processes: Arc::new(FakeProcesses::running(nodes)),
            clock: Arc::new(FakeClock::default()),
            membership: Arc::new(FakeMembership::full(nodes)),
        }
    }

    /// Controls over all four.
    pub fn controls(&self) -> Controls {
        let nodes = self.processes.states().len();
        Controls::none(nodes)
            .with_network(self.network.clone())
            .with_processes(self.processes.clone())
            .with_clock(ClockSupport::Hook(self.clock.clone()))
            .with_membership(self.membership.clone())
    }

    /// Whether everything is back to normal: network clean, every node that had a
    /// process running, every clock real, every node a member.
    pub fn is_healed(&self) -> bool {
        let nodes = self.processes.states().len();
        self.network.is_healed()
            && self.membership.members().is_ok_and(|m| m.len() == nodes)
            && self
                .processes
                .states()
                .iter()
                .all(|s| matches!(s, ProcState::Running | ProcState::Absent))
            && self.clock.offsets().is_empty()
    }
}
