//! The lab and its faults.
//!
//! A [`Lab`] is a set of network namespaces, one per node, joined by a bridge in a
//! switch namespace, with an nftables table there that cuts links. On top of it
//! the nemesis injects faults and records what it really did.
//!
//! # Layout
//! - [`lab`]: building and removing a lab; [`lab_processes`]: processes inside
//!   it (spawn, kill, pause, resume, stop, restart).
//! - [`netns`]: running a thread inside a namespace (clients, probes, delayers).
//! - [`state`], [`cleanup`]: the on-disk marker, teardown on drop / panic / signals,
//!   and the sweep of crashed runs' leftovers.
//! - [`partition`]: partitions as data (grudges) computed from Jepsen's shapes.
//! - [`netfilter`]: the nftables scripts; [`faults`]: the lab's network faults;
//!   [`latency`]: the NFQUEUE delayer; [`probe`]: measuring reachability.
//! - [`clock`]: clock skew (libfaketime, or a hook for injected clocks).
//! - [`control`]: the traits faults act through ([`control::Network`],
//!   [`control::Processes`]), what a family needs and what a run offers;
//!   [`fakes`]: in-memory controls for tests without root.
//! - [`families`]: one file per fault family (partition, loss, delay, pause, kill
//!   and kill-all, stop, clock) and their registry.
//! - [`schedule`]: seeded fault schedules as data; [`plan`]: from the names a user
//!   gives to a schedule, and the check that a run can play it; [`runner`]:
//!   playing one in real time; [`inject`]: applying faults, heal-all, and the
//!   nemesis operations written to the history.
//! - [`prereq`]: what the machine needs, and what to do when it lacks it.
//!
//! # Using it from the harness
//! ```no_run
//! use nemesis::clock::ClockSupport;
//! use nemesis::inject::Nemesis;
//! use nemesis::runner::{RunHooks, run_schedule};
//! use nemesis::schedule::{Schedule, ScheduleConfig};
//! use nemesis::{Lab, LabConfig, ProcessSpec};
//!
//! # fn main() -> nemesis::Result<()> {
//! let lab = Lab::create(LabConfig::nodes(5))?; // removed on drop, panic, SIGINT/SIGTERM
//! for node in 0..5 {
//!     let addr = lab.node_addr(node)?; // 198.18.0.<node+1>
//!     let spec = ProcessSpec::new("/usr/bin/my-server", &["--listen", &addr.to_string()]);
//!     lab.spawn_in(node, spec)?; // a handle: kill / pause / resume / stop / restart
//! }
//! // Clients talk to nodes from the switch namespace (or any thread that entered it).
//! let reply = lab.in_switch(|| std::net::TcpStream::connect("198.18.0.1:7000").is_ok())?;
//! let schedule = Schedule::generate(ScheduleConfig::new(42, 5, 5_000, 60_000))?;
//! println!("{}", schedule.to_json()); // print it; the same seed replays it exactly
//! let nemesis = Nemesis::new(lab.clone(), ClockSupport::Unsupported { reason: "Go".into() }, 42);
//! let t0 = std::time::Instant::now();
//! let mut history = Vec::new();
//! let stop = std::sync::atomic::AtomicBool::new(false);
//! run_schedule(&nemesis, &schedule, RunHooks {
//!     now_ns: &move || t0.elapsed().as_nanos() as u64,
//!     primaries: &|| vec![0],
//!     record: &mut |op| history.push(op),
//!     stop: &stop,
//! })?;
//! # let _ = reply; Ok(()) }
//! ```
//!
//! # Errors
//! Every fallible call returns [`NemesisError`], which names the command, node or
//! file involved.

pub mod cleanup;
pub mod clock;
pub mod control;
pub mod error;
pub mod exec;
pub mod fakes;
pub mod families;
pub mod faults;
pub mod inject;
pub mod lab;
pub mod lab_processes;
pub mod latency;
pub mod netfilter;
pub mod netns;
pub mod partition;
pub mod plan;
pub mod prereq;
pub mod probe;
pub mod process;
pub mod runner;
pub mod schedule;
pub mod state;

pub use error::{NemesisError, Result};
pub use lab::{Lab, LabConfig, ProcHandle};
pub use partition::{Grudge, PartitionShape, PartitionSpec};
pub use process::ProcessSpec;
/// The rand version fault families draw with (for families outside this crate).
pub use rand;
