//! What the nemesis acts through, and what a fault family needs from a run.
//!
//! A fault family never reaches for a lab or a pid itself: it acts through
//! [`Network`] (cut, drop and delay packets between nodes; heal; verify by probes),
//! [`Processes`] (kill, pause, resume, stop and restart *a node*, whatever processes
//! it runs), a clock hook ([`crate::clock::ClockHook`]) and a system's membership
//! hook ([`Membership`]: remove a member, add it back). [`Controls`] bundles the
//! ones a run has. The [`crate::Lab`] implements all three for the processes
//! spawned in it; a host that runs nodes without a lab (loopback) can implement
//! [`Processes`] alone, and then only process faults are offered.
//!
//! Before a run, each family's [`Needs`] is checked against the run's [`Offers`]
//! (`plan::check`), so a fault that cannot work is refused with the reason, never
//! pretended (Jepsen's rule: a nemesis reports what it really did).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use crate::clock::{ClockHook, ClockSupport};
use crate::error::{NemesisError, Result};
use crate::lab::Lab;
use crate::latency::LinkDelay;
use crate::partition::Grudge;
use crate::probe::Verification;

/// One kind of control a fault acts through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Control {
    /// Cutting, dropping and delaying packets between nodes.
    Network,
    /// Signalling and restarting node processes.
    Processes,
    /// Moving a node's clock.
    Clock,
    /// Removing members from the cluster and adding them back (the system's own
    /// reconfiguration).
    Membership,
}

impl Control {
    pub const ALL: [Control; 4] =
        [Control::Network, Control::Processes, Control::Clock, Control::Membership];

    /// What it is, for refusals: "network control (...)".
    pub fn describe(self) -> &'static str {
        match self {
            Control::Network => "network control (cutting, dropping or delaying packets)",
            Control::Processes => "process control (killing, pausing or restarting nodes)",
            Control::Clock => "clock control (moving a node's clock)",
            Control::Membership => {
                "membership control (removing members from the cluster and adding them back)"
            }
        }
    }
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Control::Network => "network",
            Control::Processes => "processes",
            Control::Clock => "clock",
            Control::Membership => "membership",
        })
    }
}

/// What a fault family needs from the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Needs {
    pub network: bool,
    pub processes: bool,
    pub clock: bool,
    pub membership: bool,
}

impl Needs {
    pub const NOTHING: Needs =
        Needs { network: false, processes: false, clock: false, membership: false };
    pub const NETWORK: Needs = Needs { network: true, ..Needs::NOTHING };
    pub const PROCESSES: Needs = Needs { processes: true, ..Needs::NOTHING };
    pub const CLOCK: Needs = Needs { clock: true, ..Needs::NOTHING };
    pub const MEMBERSHIP: Needs = Needs { membership: true, ..Needs::NOTHING };

    /// Whether `control` is needed.
    pub fn has(&self, control: Control) -> bool {
        match control {
            Control::Network => self.network,
            Control::Processes => self.processes,
            Control::Clock => self.clock,
            Control::Membership => self.membership,
        }
    }

    /// The controls needed, in a fixed order.
    pub fn controls(&self) -> Vec<Control> {
        Control::ALL.into_iter().filter(|c| self.has(*c)).collect()
    }
}

impl fmt::Display for Needs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<String> = self.controls().iter().map(Control::to_string).collect();
        if names.is_empty() { f.write_str("nothing") } else { f.write_str(&names.join(", ")) }
    }
}

/// Whether a run offers one control, and if not, why (said to the user).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    Yes,
    No(String),
}

impl Offer {
    pub fn is_yes(&self) -> bool {
        matches!(self, Offer::Yes)
    }
}

/// What a run offers the nemesis (the harness derives it from the system's
/// capabilities and where its nodes run).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offers {
    pub network: Offer,
    pub processes: Offer,
    pub clock: Offer,
    pub membership: Offer,
}

impl Offers {
    pub fn get(&self, control: Control) -> &Offer {
        match control {
            Control::Network => &self.network,
            Control::Processes => &self.processes,
            Control::Clock => &self.clock,
            Control::Membership => &self.membership,
        }
    }

    /// The first control `needs` asks for that is not offered, with the reason.
    pub fn lacks(&self, needs: Needs) -> Option<(Control, &str)> {
        needs.controls().into_iter().find_map(|c| match self.get(c) {
            Offer::Yes => None,
            Offer::No(why) => Some((c, why.as_str())),
        })
    }
}

/// What a process verb did on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acted {
    /// Done on at least one of the node's processes.
    Done,
    /// The node has processes, but none the verb changes (killing a dead one,
    /// resuming a running one, restarting a running one).
    Unchanged,
    /// Nothing was ever started on this node.
    NoProcess,
}

/// Node-level process control. Every call acts on all processes of `node`
/// (0-based) and returns once the effect is observable (a killed process is gone,
/// a paused one is stopped), or an error when it may or may not have happened.
pub trait Processes: Send + Sync {
    /// SIGKILL: a crash.
    fn kill(&self, node: usize) -> Result<Acted>;
    /// SIGSTOP: the node freezes, its sockets stay open.
    fn pause(&self, node: usize) -> Result<Acted>;
    /// SIGCONT after a pause.
    fn resume(&self, node: usize) -> Result<Acted>;
    /// SIGTERM, then SIGKILL if it has not exited after `grace`.
    fn stop(&self, node: usize, grace: Duration) -> Result<Acted>;
    /// Starts again, with the same command and data, whatever is not running.
    fn restart(&self, node: usize) -> Result<Acted>;
}

/// A system's own membership changes (Jepsen's membership nemesis: etcd's
/// `member remove` / `member add`, Consul's `leave` / `join`). Each call returns
/// once the change is committed as far as the system says, or an error when it
/// may or may not have happened.
pub trait Membership: Send + Sync {
    /// Removes `node` (0-based) from the cluster's members and stops it, so that
    /// it cannot come back with its old identity (its data is wiped).
    /// `Unchanged`: it was not a member.
    fn remove(&self, node: usize) -> Result<Acted>;
    /// Adds `node` back as a new member with empty data, and starts it.
    /// `Unchanged`: it already was a member.
    fn add(&self, node: usize) -> Result<Acted>;
    /// The nodes the cluster counts as members now (for verification).
    fn members(&self) -> Result<Vec<usize>>;
}

/// Network control between nodes. Each setter replaces its whole family of
/// network faults (an empty argument removes it) and applies it atomically.
pub trait Network: Send + Sync {
    /// Drops every packet on the grudge's directed links.
    fn set_partition(&self, grudge: &Grudge) -> Result<()>;
    /// Drops this percentage (1..=100) of the packets on each directed link.
    fn set_loss(&self, loss: &BTreeMap<(usize, usize), u8>) -> Result<()>;
    /// Delays the packets on each directed link; `seed` drives the jitter.
    fn set_delays(&self, delays: &BTreeMap<(usize, usize), LinkDelay>, seed: u64) -> Result<()>;
    /// Removes every network fault at once.
    fn heal(&self) -> Result<()>;
    /// Probes every directed link and compares with the partition in force.
    fn verify_partition(&self) -> Result<Verification>;
}

/// The controls one nemesis acts through.
#[derive(Clone)]
pub struct Controls {
    nodes: usize,
    network: Option<Arc<dyn Network>>,
    processes: Option<Arc<dyn Processes>>,
    membership: Option<Arc<dyn Membership>>,
    /// Never `Libfaketime` here: that is resolved to the lab's hook.
    clock: ClockSupport,
}

const NO_NETWORK: &str = "no network control: nodes outside a lab share one network";
const NO_PROCESSES: &str = "no process control: the system's nodes are not processes we run";
const NO_MEMBERSHIP: &str =
    "no membership control: the system gave no way to remove and add members";

impl Controls {
    /// No control at all (every fault is refused), for `nodes` nodes.
    pub fn none(nodes: usize) -> Controls {
        Controls {
            nodes,
            network: None,
            processes: None,
            membership: None,
            clock: ClockSupport::Unsupported { reason: "no clock control was given".into() },
        }
    }

    /// Everything a lab offers: its network, the processes spawned in it, and
    /// `clock` (libfaketime through the lab's per-node timestamp files).
    pub fn lab(lab: &Lab, clock: ClockSupport) -> Controls {
        let clock = match clock {
            ClockSupport::Libfaketime => ClockSupport::Hook(Arc::new(lab.clone())),
            other => other,
        };
        Controls {
            nodes: lab.node_count(),
            network: Some(Arc::new(lab.clone())),
            processes: Some(Arc::new(lab.clone())),
            membership: None,
            clock,
        }
    }

    pub fn with_network(mut self, network: Arc<dyn Network>) -> Controls {
        self.network = Some(network);
        self
    }

    pub fn with_processes(mut self, processes: Arc<dyn Processes>) -> Controls {
        self.processes = Some(processes);
        self
    }

    pub fn with_membership(mut self, membership: Arc<dyn Membership>) -> Controls {
        self.membership = Some(membership);
        self
    }

    /// How clocks are moved. Libfaketime needs the lab's timestamp files: outside
    /// [`Controls::lab`] it counts as unsupported.
    pub fn with_clock(mut self, clock: ClockSupport) -> Controls {
        self.clock = match clock {
            ClockSupport::Libfaketime => ClockSupport::Unsupported {
                reason: "libfaketime clocks need the lab's per-node timestamp files".into(),
            },
            other => other,
        };
        self
    }

    pub fn node_count(&self) -> usize {
        self.nodes
    }

    pub fn network(&self) -> Result<&dyn Network> {
        self.network.as_deref().ok_or_else(|| NemesisError::Unsupported(NO_NETWORK.into()))
    }

    pub fn processes(&self) -> Result<&dyn Processes> {
        self.processes.as_deref().ok_or_else(|| NemesisError::Unsupported(NO_PROCESSES.into()))
    }

    pub fn membership(&self) -> Result<&dyn Membership> {
        self.membership.as_deref().ok_or_else(|| NemesisError::Unsupported(NO_MEMBERSHIP.into()))
    }

    /// The clock hook, or `Unsupported` with the system's reason.
    pub fn clock(&self) -> Result<&dyn ClockHook> {
        match &self.clock {
            ClockSupport::Hook(hook) => Ok(hook.as_ref()),
            ClockSupport::Unsupported { reason } => Err(NemesisError::Unsupported(reason.clone())),
            ClockSupport::Libfaketime => Err(NemesisError::Unsupported(
                "libfaketime clocks need the lab's per-node timestamp files".into(),
            )),
        }
    }

    /// What these controls offer, with the reason for each one missing.
    pub fn offers(&self) -> Offers {
        let why = |r: Result<()>| match r {
            Ok(()) => Offer::Yes,
            Err(NemesisError::Unsupported(reason)) => Offer::No(reason),
            Err(e) => Offer::No(e.to_string()),
        };
        Offers {
            network: why(self.network().map(|_| ())),
            processes: why(self.processes().map(|_| ())),
            clock: why(self.clock().map(|_| ())),
            membership: why(self.membership().map(|_| ())),
        }
    }
}
