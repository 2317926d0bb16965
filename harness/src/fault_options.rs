//! The options of `faultline test` that tune its faults (targets, loss, delay,
//! clock skew, the leader-aware schedule), as the command line takes them and as
//! `test.json` records them (flattened into [`crate::options::TestArgs`]).
//!
//! Each is optional and absent from an older `test.json`; absent means the value
//! the schedule used before the option existed, so old runs replay exactly. The
//! one exception is `--leader-aware`: on by default on the command line, off for
//! an old record (which was drawn without it).

use clap::Args;
use serde::{Deserialize, Serialize};

/// Fault options; see each flag's help.
#[derive(Debug, Clone, Args, Serialize, Deserialize, PartialEq)]
pub struct FaultOptions {
    /// Targets of process, clock and membership faults, comma separated, Jepsen's
    /// node specs: one, minority-third, minority, majority, primaries (the leader,
    /// asked of the system when the fault starts), all, random-subset. Default: one,
    /// minority-third (4 nodes or more), minority, majority, all and primaries
    /// (one, minority, majority, all without --leader-aware); membership faults keep
    /// only targets that leave a majority (default: one, primaries).
    #[arg(long, value_delimiter = ',')]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<String>,
    /// The share of packets a loss fault drops on each affected link, 1-100
    /// (default 20).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_percent: Option<u8>,
    /// A delay fault's latency per packet, in ms (default 50).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u32>,
    /// A delay fault's jitter, in ms, at most the delay (default 10).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u32>,
    /// Clock faults move clocks by up to this many ms either way (default 60000).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_skew_ms: Option<i64>,
    /// How clock faults move clocks, comma separated: bump (jump and stay), strobe
    /// (flip between real time and the skew), reset (jump, then step back to real
    /// time mid-fault, as NTP does). Default: bump.
    #[arg(long, value_delimiter = ',')]
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clock_modes: Vec<String>,
    /// A strobing clock flips every this many ms (default 200).
    #[arg(long)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strobe_period_ms: Option<u64>,
    /// The leader-aware schedule: every requested family once first, the
    /// partition cutting off the current leader (asked of the system when it
    /// starts), then random faults; with the default interval, short enough for
    /// that round to fit the time limit.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    // Absent from an older test.json: that run was drawn without it.
    #[serde(default)]
    pub leader_aware: bool,
}

impl Default for FaultOptions {
    /// The command line's defaults.
    fn default() -> FaultOptions {
        FaultOptions {
            targets: Vec::new(),
            loss_percent: None,
            delay_ms: None,
            jitter_ms: None,
            max_skew_ms: None,
            clock_modes: Vec::new(),
            strobe_period_ms: None,
            leader_aware: true,
        }
    }
}

impl FaultOptions {
    /// As the nemesis crate's planner takes them.
    pub fn tuning(&self) -> nemesis::plan::Tuning {
        nemesis::plan::Tuning {
            targets: self.targets.clone(),
            loss_percent: self.loss_percent,
            delay_ms: self.delay_ms,
            jitter_ms: self.jitter_ms,
            max_skew_ms: self.max_skew_ms,
            clock_modes: self.clock_modes.clone(),
            strobe_period_ms: self.strobe_period_ms,
            leader_aware: self.leader_aware,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_record_means_the_old_schedule_and_new_ones_round_trip() {
        let old: FaultOptions = serde_json::from_str("{}").expect("old");
        assert_eq!(old.tuning(), nemesis::plan::Tuning::default());
        let new = FaultOptions {
            targets: vec!["primaries".into()],
            loss_percent: Some(40),
            clock_modes: vec!["strobe".into()],
            ..FaultOptions::default()
        };
        let json = serde_json::to_string(&new).expect("json");
        assert_eq!(serde_json::from_str::<FaultOptions>(&json).expect("back"), new);
        assert!(json.contains("\"leader_aware\":true"), "{json}");
    }
}
