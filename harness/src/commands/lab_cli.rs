//! The clap definitions of `faultline lab ...`, kept beside the command so that
//! `cli.rs` only gains one variant.

use clap::Subcommand;

use crate::commands::lab::{self, FaultArgs, PartitionArgs, ProcessVerb};
use crate::exit::CmdResult;

#[derive(Debug, Subcommand)]
pub enum LabCmd {
    /// Build a lab that stays up until `lab down`, and print how to reach each node.
    Up {
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// The system to start in it (only `none` for now).
        #[arg(long, default_value = "none")]
        system: String,
    },
    /// List the labs on this machine, or show one (`--lab P`) with its cut links.
    Status,
    /// Cut links by shape: isolate, halves, majority-minority, ring, bridge,
    /// primaries, grudge. Verified with probes afterwards.
    Partition {
        shape: String,
        /// Cut one direction only (earlier side cannot send to later side).
        #[arg(long)]
        one_way: bool,
        /// Seed for random shapes (same seed, same cut).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// isolate: which node (random when absent).
        #[arg(long)]
        node: Option<String>,
        /// majority-minority: the minority; primaries: the leaders (n1,n3).
        #[arg(long)]
        nodes: Option<String>,
        /// grudge: links to cut, `n1>n2` one way or `n1-n2` both ways, comma-separated.
        #[arg(long)]
        links: Option<String>,
    },
    /// Drop PERCENT of the packets on the given links.
    Loss {
        percent: u8,
        #[arg(long)]
        links: String,
    },
    /// Delay packets on the given links by MS milliseconds while this command runs
    /// (until Ctrl-C or --for SECONDS); the rules go when it ends.
    Delay {
        ms: u32,
        #[arg(long)]
        links: String,
        #[arg(long, default_value_t = 0)]
        jitter: u32,
        #[arg(long = "for")]
        seconds: Option<u64>,
    },
    /// Draw one fault of a family (a `--nemesis` name of `faultline test`: see
    /// `faultline list`), apply it as a test run would, hold it until Ctrl-C or
    /// --for SECONDS, then heal everything. Prints the history's nemesis operations.
    Fault {
        name: String,
        /// Seed of the draw (same seed, same fault).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long = "for")]
        seconds: Option<u64>,
    },
    /// Remove every partition and loss rule, then verify all links carry packets.
    Heal,
    /// Start a program inside a node's namespace: `lab spawn n1 -- prog args`.
    Spawn {
        node: String,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// SIGKILL what runs on NODE.
    Kill { node: String },
    /// SIGSTOP what runs on NODE.
    Pause { node: String },
    /// SIGCONT what runs on NODE.
    Resume { node: String },
    /// Start again (same command) what was killed on NODE.
    Start { node: String },
    /// Remove the lab (namespaces, rules, processes); `--stale` removes every lab
    /// whose run died instead.
    Down {
        #[arg(long)]
        stale: bool,
    },
}

pub fn run(prefix: Option<&str>, cmd: LabCmd) -> CmdResult {
    match cmd {
        LabCmd::Up { nodes, system } => lab::up(nodes, &system),
        LabCmd::Status => lab::status(prefix),
        LabCmd::Partition { shape, one_way, seed, node, nodes, links } => lab::partition(
            prefix,
            PartitionArgs {
                shape: &shape,
                one_way,
                seed,
                node: node.as_deref(),
                nodes: nodes.as_deref(),
                links: links.as_deref(),
            },
        ),
        LabCmd::Loss { percent, links } => lab::loss(prefix, percent, &links),
        LabCmd::Delay { ms, links, jitter, seconds } => {
            lab::delay(prefix, ms, jitter, &links, seconds)
        }
        LabCmd::Fault { name, seed, seconds } => {
            lab::fault(prefix, FaultArgs { name: &name, seed, seconds })
        }
        LabCmd::Heal => lab::heal(prefix),
        LabCmd::Spawn { node, command } => lab::spawn(prefix, &node, &command),
        LabCmd::Kill { node } => lab::process(prefix, ProcessVerb::Kill, &node),
        LabCmd::Pause { node } => lab::process(prefix, ProcessVerb::Pause, &node),
        LabCmd::Resume { node } => lab::process(prefix, ProcessVerb::Resume, &node),
        LabCmd::Start { node } => lab::process(prefix, ProcessVerb::Start, &node),
        LabCmd::Down { stale } => lab::down(prefix, stale),
    }
}
