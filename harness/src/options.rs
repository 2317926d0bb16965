//! Every option of `faultline test`, as the command line takes them and as
//! `test.json` records them (so `replay` can repeat a run).

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Args;
use history::Value;
use serde::{Deserialize, Serialize};

use crate::fault_options::FaultOptions;
use crate::systems::ReadMode;

/// Every option of a test run; recorded in `test.json`, so `replay` can repeat it.
#[derive(Debug, Clone, Args, Serialize, Deserialize, PartialEq)]
pub struct TestArgs {
    /// The system under test (`faultline list` shows them all, with what each
    /// supports).
    #[arg(long, default_value = "builtin")]
    pub system: String,
    /// A bug switch every node starts with (repeatable; `faultline list` shows each
    /// system's). Test fixtures: a run with one should come out invalid.
    #[arg(long = "node-bug")]
    #[serde(default)]
    pub node_bug: Vec<String>,
    /// The workload (`faultline list` shows them, and which systems run each).
    #[arg(long, default_value = "register")]
    pub workload: String,
    /// Fault families, comma separated: `none`, `all` (every family the run can
    /// play), or any of `faultline list`'s nemeses.
    #[arg(long, value_delimiter = ',', default_value = "none")]
    pub nemesis: Vec<String>,
    #[arg(long, default_value_t = 3)]
    pub nodes: usize,
    /// Register workload: about how many operations one key gets before its workers
    /// move to a fresh key (default 100). Long-lived keys (say 2000) let a whole-
    /// cluster crash show lost writes: a retired key is never read again.
    #[arg(long)]
    #[serde(default)]
    pub ops_per_key: Option<usize>,
    /// Worker processes issuing operations.
    #[arg(long, default_value_t = 10)]
    pub concurrency: usize,
    /// Target operations per second over all workers (0: as fast as possible).
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seconds of the main phase.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Main-phase operations per worker (default: until the time limit).
    #[arg(long)]
    pub ops_per_worker: Option<u64>,
    /// The seed of the operation streams and the fault schedule (random when absent;
    /// always recorded).
    #[arg(long)]
    pub seed: Option<u64>,
    /// How the system serves reads: `linearizable` (alias `consistent`),
    /// `serializable` (alias `stale`), or `default` (Consul's lease reads); each
    /// system serves some of them (`faultline list`).
    #[arg(long, value_enum, default_value_t = ReadMode::Linearizable)]
    pub read_mode: ReadMode,
    /// The TTL, in whole seconds, of the leases a system's locks hold (Jepsen's
    /// etcd `lease-ttl`; default: the system's own, 2 s on etcd). A lock is only as
    /// safe as its holder's lease outlives a stall; `faultline list` shows which
    /// systems take it.
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_ttl: Option<u64>,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// A name for the test (default `<system>-<workload>`).
    #[arg(long)]
    pub name: Option<String>,
    /// An operation that takes longer is recorded as `info`.
    #[arg(long, default_value_t = 2000)]
    pub op_timeout_ms: u64,
    /// Seconds of quiet between heal and the final reads (default: 5 with faults,
    /// 0 without).
    #[arg(long)]
    pub recovery: Option<f64>,
    /// etcd's pre-vote (keeps a rejoining node from disrupting the leader).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub pre_vote: bool,
    /// Loopback nodes listen on 127.0.NET.(10+i): pick NET so that concurrent runs on
    /// one machine do not collide.
    #[arg(long, default_value_t = 0)]
    pub loopback_net: u8,
    /// Seconds between fault changes: a fault starts, lasts this long, everything
    /// heals, and after this long the next fault starts (Jepsen's rhythm). 0 (the
    /// default): 5 s, or shorter (down to 1 s) so that the time limit holds every
    /// requested family once.
    #[arg(long, default_value_t = 0.0)]
    #[serde(default = "default_nemesis_interval")]
    pub nemesis_interval: f64,
    /// Partition shapes to draw from, comma separated: isolate-one, random-halves,
    /// majorities-ring (4 nodes or more), bridge, primaries (cut the leader off);
    /// `one-way-SHAPE` cuts only one direction (`one-way-primaries`: the leader
    /// can hear but not be heard). Default: every shape that fits the cluster
    /// (primaries only with --leader-aware, which is on by default).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub partitions: Vec<String>,
    /// Where nodes run: `auto` (the lab when a fault needs it, else loopback),
    /// `loopback` or `lab` (network namespaces; needs root).
    #[arg(long, value_enum, default_value_t = HostChoice::Auto)]
    #[serde(default)]
    pub host: HostChoice,
    /// No progress line and no log echo on stderr (the summary is still printed).
    #[arg(long)]
    #[serde(default)]
    pub quiet: bool,
    /// An option of the workload's checker, `NAME=VALUE` (the value in EDN) or
    /// `NAME` alone for `true`; repeatable; as `faultline check --option` takes them
    /// (Elle's checkers: consistency-models, anomalies, cycle-search-timeout,
    /// sequential-keys, linearizable-keys, wfr-keys). A name the checker does not
    /// take is refused before the run starts; `analyze` and `replay` use the ones
    /// recorded here.
    #[arg(long = "checker-option", value_name = "NAME[=VALUE]")]
    #[serde(default)]
    pub checker_option: Vec<String>,
    #[command(flatten)]
    #[serde(flatten)]
    pub faults: FaultOptions,
}

/// An older `test.json` without the option meant 5 s.
fn default_nemesis_interval() -> f64 {
    5.0
}

impl TestArgs {
    /// The interval asked for, `None` when adaptive (`--nemesis-interval 0`).
    pub fn fixed_nemesis_interval(&self) -> Option<f64> {
        (self.nemesis_interval > 0.0).then_some(self.nemesis_interval)
    }
}

/// A checker's own options (`CheckerOptions::extension`) from `NAME=VALUE` words,
/// the value in EDN, `NAME` alone meaning `true`: what `check --option` and `test
/// --checker-option` (`flag`, named in every error) take. Whether the checker takes
/// each name is the checker's to say.
pub fn checker_extension(flag: &str, items: &[String]) -> Result<BTreeMap<String, Value>, String> {
    let mut extension = BTreeMap::new();
    for item in items {
        let (name, value) = match item.split_once('=') {
            Some((name, text)) => {
                let value =
                    history::edn::parse_value(text).map_err(|e| format!("{flag} {item:?}: {e}"))?;
                (name, value)
            }
            None => (item.as_str(), Value::Bool(true)),
        };
        if name.is_empty() {
            return Err(format!("{flag} {item:?}: no name"));
        }
        extension.insert(name.to_string(), value);
    }
    Ok(extension)
}

/// Where a run's nodes live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HostChoice {
    /// The lab when a requested fault needs it (network control), else loopback.
    #[default]
    Auto,
    /// This machine's loopback addresses; no root needed, no network faults.
    Loopback,
    /// One network namespace per node (needs root).
    Lab,
}
