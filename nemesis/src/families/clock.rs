//! `clock`: moves the wall clock of some nodes, as Jepsen's `clock` nemesis
//! (`nemesis.time`: `bump`, `strobe`, `reset`). How a clock moves is the system's
//! business ([`crate::clock`]): libfaketime for programs that read time through
//! libc, an injected-clock hook for systems that take an offset, and for Go
//! programs (etcd, which reads time through the vDSO) no way at all: such a run is
//! refused before it starts, never pretended.
//!
//! - **draw**: the nodes (by default a random minority; `--targets` picks from
//!   Jepsen's node specs, primaries resolved at apply time), one offset uniform in
//!   `[-max_skew_ms, max_skew_ms]`, and a mode from the configured ones (default
//!   bump only):
//!   - `bump`: the clock jumps by the offset and stays there until heal-all;
//!   - `strobe`: the clock flips between real time and the offset every
//!     `strobe_period_ms`, for most of the fault's window, and ends at real time
//!     (Jepsen's strobe: a clock that cannot make up its mind);
//!   - `reset`: the clock jumps by the offset, and halfway through the window it
//!     is stepped back to real time (Jepsen's reset, as ntpdate does): time runs
//!     backwards (or leaps ahead) once, mid-fault.
//! - **apply**: the clock hook on each node; then each offset is **read back**
//!   from the node where the hook can ([`ClockHook::read_offset`], the builtin
//!   node's `GET /v1/faultline/clock`): `installed` when it reads what was set,
//!   `indeterminate` when it reads something else, `skipped` when the node
//!   certainly did not move (not started under libfaketime).
//! - **heal**: the offset back to 0 on every node it moved (or may have).
//! - **history**: `clock-skew`, value `{:nodes ["n2" "n4"], :offset-ms -1500}`
//!   (plus `:mode`, `:target`, `:period-ms` when not the defaults); the completion's
//!   fault adds `:read-back-ms {"n2" -1500}`, what the nodes said.

use std::collections::BTreeMap;
use std::time::Duration;

use history::Value;
use rand::RngExt;
use serde::{Deserialize, Serialize};

use crate::clock::ClockHook;
use crate::control::{Acted, Controls, Needs};
use crate::error::{NemesisError, Result};
use crate::families::common::{kv, node_name, nodes_value, undo_nodes};
use crate::families::{Applied, ApplyCtx, DrawRng, Family};
use crate::inject::{FaultReport, Outcome};
use crate::schedule::{Fault, FaultParams, ScheduleConfig, Target};

pub struct ClockFamily;

pub static CLOCK: ClockFamily = ClockFamily;

/// How a clock fault moves the clock (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ClockMode {
    #[default]
    Bump,
    Strobe,
    Reset,
}

impl ClockMode {
    pub fn name(self) -> &'static str {
        match self {
            ClockMode::Bump => "bump",
            ClockMode::Strobe => "strobe",
            ClockMode::Reset => "reset",
        }
    }

    pub fn by_name(name: &str) -> std::result::Result<ClockMode, String> {
        match name.trim() {
            "bump" => Ok(ClockMode::Bump),
            "strobe" => Ok(ClockMode::Strobe),
            "reset" => Ok(ClockMode::Reset),
            other => Err(format!("unknown clock mode {other:?} (known: bump, strobe, reset)")),
        }
    }

    fn is_bump(&self) -> bool {
        *self == ClockMode::Bump
    }
}

/// The clock family's options in a schedule's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockOptions {
    /// Modes drawn from, uniformly (empty: bump only, as before modes existed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub modes: Vec<ClockMode>,
    /// A strobing clock flips every this many milliseconds.
    #[serde(default = "default_strobe_period")]
    pub strobe_period_ms: u64,
}

fn default_strobe_period() -> u64 {
    200
}

impl Default for ClockOptions {
    fn default() -> ClockOptions {
        ClockOptions { modes: Vec::new(), strobe_period_ms: default_strobe_period() }
    }
}

impl ClockOptions {
    pub fn is_default(&self) -> bool {
        *self == ClockOptions::default()
    }
}

/// A clock fault: these nodes' clocks move to real time plus `offset_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSkew {
    /// Empty until applied when `target` waits for apply time (primaries).
    pub nodes: Vec<usize>,
    pub offset_ms: i64,
    /// The drawn target, when targets were configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    #[serde(default, skip_serializing_if = "ClockMode::is_bump")]
    pub mode: ClockMode,
    /// Strobe: the flip period; reset: how long the skew holds before the reset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_ms: Option<u64>,
    /// Strobe: for how long it flips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// After applying: the offset each node reported (read back through the hook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_back_ms: Option<BTreeMap<usize, i64>>,
}

impl ClockSkew {
    /// A bump of these nodes by `offset_ms`, as every clock fault was before modes.
    pub fn bump(nodes: Vec<usize>, offset_ms: i64) -> ClockSkew {
        ClockSkew {
            nodes,
            offset_ms,
            target: None,
            mode: ClockMode::Bump,
            period_ms: None,
            duration_ms: None,
            read_back_ms: None,
        }
    }
}

impl FaultParams for ClockSkew {
    const KIND: &'static str = "clock-skew";
}

impl Family for ClockFamily {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn summary(&self) -> &'static str {
        "move the wall clock of some nodes by up to max_skew_ms either way (bump, strobe \
         or reset; libfaketime or an injected clock, read back where it can be); heal \
         resets it"
    }

    fn needs(&self) -> Needs {
        Needs::CLOCK
    }

    fn kind(&self) -> &'static str {
        ClockSkew::KIND
    }

    fn op_name(&self) -> &'static str {
        "clock-skew"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        // Exactly the old draws when no targets or modes are configured.
        let (nodes, target) = if config.targets.is_empty() {
            (Target::Minority.resolve(config.nodes, rng, &[])?, None)
        } else {
            let targets = config.targets_or(&[Target::Minority], |_| true);
            let target = targets[rng.random_range(0..targets.len())].clone();
            let nodes = match target {
                Target::Primaries => Vec::new(),
                _ => target.resolve(config.nodes, rng, &[])?,
            };
            (nodes, Some(target))
        };
        let offset_ms = rng.random_range(-config.max_skew_ms..=config.max_skew_ms);
        let modes = &config.clock.modes;
        let mode =
            if modes.is_empty() { ClockMode::Bump } else { modes[rng.random_range(0..modes.len())] };
        let period = config.clock.strobe_period_ms.max(1);
        // Strobing or holding takes most of the window, so heal-all comes after it.
        let window = config.interval_ms.saturating_sub(250).max(period);
        let (period_ms, duration_ms) = match mode {
            ClockMode::Bump => (None, None),
            ClockMode::Strobe => (Some(period), Some(window)),
            ClockMode::Reset => (Some(window / 2), None),
        };
        Ok(ClockSkew { nodes, offset_ms, target, mode, period_ms, duration_ms, read_back_ms: None }
            .fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let c = ClockSkew::of(fault)?;
        let mut m = vec![kv("nodes", nodes_value(&c.nodes)), kv("offset-ms", Value::Int(c.offset_ms))];
        if let Some(t) = &c.target {
            m.push(kv("target", Value::Str(t.name())));
        }
        if !c.mode.is_bump() {
            m.push(kv("mode", Value::Str(c.mode.name().into())));
        }
        if let Some(p) = c.period_ms {
            m.push(kv("period-ms", Value::Int(p as i64)));
        }
        if let Some(d) = c.duration_ms {
            m.push(kv("duration-ms", Value::Int(d as i64)));
        }
        if let Some(read) = &c.read_back_ms {
            let read =
                read.iter().map(|(&n, &ms)| (Value::Str(node_name(n)), Value::Int(ms))).collect();
            m.push(kv("read-back-ms", Value::Map(read)));
        }
        Ok(Value::Map(m))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let mut c = ClockSkew::of(fault)?;
        let clock = ctx.controls.clock()?;
        if c.nodes.is_empty()
            && let Some(target) = &c.target
        {
            c.nodes = target.resolve(ctx.nodes, ctx.rng, ctx.primaries)?;
        }
        if let Some(&bad) = c.nodes.iter().find(|&&n| n >= ctx.nodes) {
            return Err(NemesisError::UnknownNode(format!("n{} of {}", bad + 1, ctx.nodes)));
        }
        let mut outcomes = set_all(clock, &c.nodes, c.offset_ms);
        let mut read_back = read_all(clock, &c.nodes);
        check_read_back(&mut outcomes, &read_back, c.offset_ms);
        match c.mode {
            ClockMode::Bump => {}
            ClockMode::Strobe => {
                let period = Duration::from_millis(c.period_ms.unwrap_or(200).max(1));
                let until = std::time::Instant::now()
                    + Duration::from_millis(c.duration_ms.unwrap_or(0));
                let mut skewed = true;
                while std::time::Instant::now() + period < until {
                    std::thread::sleep(period);
                    skewed = !skewed;
                    let to = if skewed { c.offset_ms } else { 0 };
                    merge(&mut outcomes, set_all(clock, &c.nodes, to));
                }
                if skewed {
                    merge(&mut outcomes, set_all(clock, &c.nodes, 0));
                }
            }
            ClockMode::Reset => {
                std::thread::sleep(Duration::from_millis(c.period_ms.unwrap_or(0)));
                merge(&mut outcomes, set_all(clock, &c.nodes, 0));
                let after = read_all(clock, &c.nodes);
                check_read_back(&mut outcomes, &after, 0);
            }
        }
        if !read_back.is_empty() {
            c.read_back_ms = Some(std::mem::take(&mut read_back));
        }
        Ok(Applied { fault: c.fault(), nodes: outcomes, verification: None })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        undo_nodes(applied, controls, "clock", |c, node| {
            c.clock()?.set_offset(node, 0).map(|()| Acted::Done)
        })
    }
}

/// Sets `offset_ms` on each node: installed, skipped when it certainly did not
/// move (not started under libfaketime), else indeterminate.
fn set_all(clock: &dyn ClockHook, nodes: &[usize], offset_ms: i64) -> BTreeMap<usize, Outcome> {
    nodes
        .iter()
        .map(|&node| {
            let outcome = match clock.set_offset(node, offset_ms) {
                Ok(()) => Outcome::Installed,
                Err(e @ NemesisError::Unsupported(_)) => Outcome::Skipped(e.to_string()),
                Err(e) => Outcome::Indeterminate(e.to_string()),
            };
            (node, outcome)
        })
        .collect()
}

/// The offsets the nodes report, where the hook can read them.
fn read_all(clock: &dyn ClockHook, nodes: &[usize]) -> BTreeMap<usize, i64> {
    nodes.iter().filter_map(|&n| clock.read_offset(n).ok().flatten().map(|ms| (n, ms))).collect()
}

/// An installed node that reads back another offset than `want` is indeterminate.
fn check_read_back(
    outcomes: &mut BTreeMap<usize, Outcome>,
    read: &BTreeMap<usize, i64>,
    want: i64,
) {
    for (node, outcome) in outcomes.iter_mut() {
        if let (Outcome::Installed, Some(&got)) = (&*outcome, read.get(node))
            && got != want
        {
            *outcome = Outcome::Indeterminate(format!(
                "{} reads back an offset of {got} ms, not {want} ms",
                node_name(*node)
            ));
        }
    }
}

/// Keeps the worst outcome per node (indeterminate over skipped over installed).
fn merge(into: &mut BTreeMap<usize, Outcome>, later: BTreeMap<usize, Outcome>) {
    for (node, outcome) in later {
        let entry = into.entry(node).or_insert(Outcome::Installed);
        let rank = |o: &Outcome| match o {
            Outcome::Installed => 0,
            Outcome::Skipped(_) => 1,
            Outcome::Indeterminate(_) => 2,
        };
        if rank(&outcome) > rank(entry) {
            *entry = outcome;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FakeRun;
    use crate::families::DrawRng;
    use rand::SeedableRng;

    fn apply(fault: &Fault, run: &FakeRun, primaries: &[usize]) -> Applied {
        let controls = run.controls();
        let mut rng = DrawRng::seed_from_u64(0);
        let mut ctx = ApplyCtx { nodes: 5, controls: &controls, primaries, rng: &mut rng, seed: 0 };
        CLOCK.apply(fault, &mut ctx).expect("applied")
    }

    #[test]
    fn a_bump_is_read_back_and_recorded() {
        let run = FakeRun::new(5);
        let fault = ClockSkew {
            nodes: vec![1, 3],
            offset_ms: -1500,
            target: None,
            mode: ClockMode::Bump,
            period_ms: None,
            duration_ms: None,
            read_back_ms: None,
        }
        .fault();
        let applied = apply(&fault, &run, &[]);
        assert!(applied.nodes.values().all(|o| *o == Outcome::Installed), "{applied:?}");
        let c = ClockSkew::of(&applied.fault).expect("clock");
        assert_eq!(c.read_back_ms, Some(BTreeMap::from([(1, -1500), (3, -1500)])));
        let value = CLOCK.value(&applied.fault).expect("value").to_string();
        assert!(value.contains("read-back-ms") && value.contains("-1500"), "{value}");
        assert_eq!(run.clock.offsets(), BTreeMap::from([(1, -1500), (3, -1500)]));
    }

    #[test]
    fn strobe_and_reset_end_at_real_time_and_primaries_resolve_at_apply() {
        let run = FakeRun::new(5);
        let mut c = ClockSkew {
            nodes: vec![],
            offset_ms: 900,
            target: Some(Target::Primaries),
            mode: ClockMode::Strobe,
            period_ms: Some(10),
            duration_ms: Some(60),
            read_back_ms: None,
        };
        let applied = apply(&c.fault(), &run, &[2]);
        assert_eq!(applied.nodes.keys().copied().collect::<Vec<_>>(), vec![2]);
        assert!(run.clock.offsets().is_empty(), "a strobe ends at real time");
        c.mode = ClockMode::Reset;
        c.period_ms = Some(5);
        let applied = apply(&c.fault(), &run, &[4]);
        assert_eq!(applied.nodes.get(&4), Some(&Outcome::Installed));
        assert!(run.clock.offsets().is_empty(), "a reset steps back to real time");
        let value = CLOCK.value(&applied.fault).expect("value").to_string();
        assert!(value.contains("reset") && value.contains("primaries"), "{value}");
    }

    #[test]
    fn default_configs_draw_what_they_drew_before_modes() {
        let config = ScheduleConfig::new(3, 5, 1000, 10_000);
        let fault = CLOCK.draw(&config, &mut DrawRng::seed_from_u64(9)).expect("draw");
        let json = serde_json::to_value(&fault).expect("json");
        let keys: Vec<&String> = json.as_object().expect("object").keys().collect();
        assert_eq!(keys, ["fault", "nodes", "offset_ms"], "{json}");
    }
}
