//! Fault schedules as data: from a seed and a configuration, the exact list of
//! faults, their targets and their times, computed before anything is applied.
//! A run prints it (JSON), and the same seed gives the same schedule, so a run
//! can be replayed exactly. The RNG is ChaCha8, whose stream is fixed by spec.
//!
//! The rhythm is Jepsen's: wait `interval`, start a fault, wait `interval`, heal
//! everything, and so on; the schedule always ends with a heal-all. What each
//! fault is, and how it is drawn, is up to its family ([`crate::families`]).
//!
//! A **leader-aware** schedule ([`ScheduleConfig::leader_aware`]) first plays
//! every requested family once: first the faults aimed at the current leader
//! ([`Family::draw_leading`]: a partition isolating it, its removal from the
//! members), then one fault of each other family, in a seeded order, the slow
//! ones ([`Family::slow`]: membership changes) last; so a run
//! long enough for one round has cut the leader off at least once, early. Then it
//! draws families uniformly as before, and half of the faults of a family that
//! can aim at the leader do (Jepsen draws `primaries` as one partition spec of
//! several; a bug that needs a deposed leader, like stale reads, then needs many
//! windows to show). Whom "the leader" is gets asked of the
//! system when the fault is applied, and the history records both the drawn
//! target (`primaries`) and the nodes it really hit.

use rand::{RngExt, SeedableRng};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{NemesisError, Result};
use crate::families::clock::ClockOptions;
use crate::families::kill::KILL;
use crate::families::partition::PARTITION;
use crate::families::pause::PAUSE;
use crate::families::{DrawRng, Family, Registry};
use crate::latency::LinkDelay;
use crate::partition::PartitionShape;

/// Which nodes a process or clock fault hits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// One random node.
    One,
    /// A random minority (floor((n-1)/2) nodes, at least one).
    Minority,
    /// Fewer than a third of the nodes: floor((n-1)/3), Jepsen's `minority-third`
    /// (no node at all for 3 nodes or fewer, so such a target is refused there).
    MinorityThird,
    /// A random majority (floor(n/2)+1 nodes).
    Majority,
    All,
    /// The nodes the system reports as leaders (known when applied).
    Primaries,
    /// A random non-empty subset.
    RandomSubset,
    /// Exactly these nodes.
    Nodes(Vec<usize>),
}

impl Target {
    /// The concrete nodes; `primaries` is only read for [`Target::Primaries`].
    pub fn resolve<R: rand::Rng + ?Sized>(
        &self,
        nodes: usize,
        rng: &mut R,
        primaries: &[usize],
    ) -> Result<Vec<usize>> {
        let mut order: Vec<usize> = (0..nodes).collect();
        for i in (1..nodes).rev() {
            let j = rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut chosen = match self {
            Target::One => order[..1.min(nodes)].to_vec(),
            Target::Minority => order[..((nodes - 1) / 2).max(1).min(nodes)].to_vec(),
            Target::MinorityThird => order[..nodes.saturating_sub(1) / 3].to_vec(),
            Target::Majority => order[..(nodes / 2 + 1).min(nodes)].to_vec(),
            Target::All => order,
            Target::Primaries => primaries.to_vec(),
            Target::RandomSubset => {
                let k = rng.random_range(1..=nodes.max(1));
                order[..k.min(nodes)].to_vec()
            }
            Target::Nodes(list) => list.clone(),
        };
        chosen.sort_unstable();
        chosen.dedup();
        if let Some(&bad) = chosen.iter().find(|&&n| n >= nodes) {
            return Err(NemesisError::UnknownNode(format!("n{} of {nodes}", bad + 1)));
        }
        if chosen.is_empty() {
            return Err(NemesisError::Invalid(format!("target {self:?} selects no node")));
        }
        Ok(chosen)
    }

    /// Its name as the command line and histories write it (`minority-third`).
    pub fn name(&self) -> String {
        match self {
            Target::One => "one".into(),
            Target::Minority => "minority".into(),
            Target::MinorityThird => "minority-third".into(),
            Target::Majority => "majority".into(),
            Target::All => "all".into(),
            Target::Primaries => "primaries".into(),
            Target::RandomSubset => "random-subset".into(),
            Target::Nodes(list) => {
                list.iter().map(|n| format!("n{}", n + 1)).collect::<Vec<_>>().join("+")
            }
        }
    }

    /// The drawable targets' names (`--targets`), Jepsen's node specs.
    pub fn names() -> Vec<&'static str> {
        vec!["one", "minority-third", "minority", "majority", "primaries", "all", "random-subset"]
    }

    /// The target called `name`; the error lists the names.
    pub fn by_name(name: &str) -> std::result::Result<Target, String> {
        Ok(match name.trim() {
            "one" => Target::One,
            "minority" => Target::Minority,
            "minority-third" => Target::MinorityThird,
            "majority" => Target::Majority,
            "all" => Target::All,
            "primaries" => Target::Primaries,
            "random-subset" => Target::RandomSubset,
            other => {
                return Err(format!(
                    "unknown target {other:?} (known: {})",
                    Target::names().join(", ")
                ));
            }
        })
    }

    /// Whether it selects at least one node of `nodes` (primaries: when a leader
    /// is known, which only apply time tells).
    pub fn fits(&self, nodes: usize) -> bool {
        match self {
            Target::MinorityThird => nodes.saturating_sub(1) / 3 > 0,
            Target::Nodes(list) => !list.is_empty() && list.iter().all(|&n| n < nodes),
            _ => nodes > 0,
        }
    }

    /// At most how many nodes it selects of `nodes` (primaries: one leader).
    pub fn max_size(&self, nodes: usize) -> usize {
        match self {
            Target::One | Target::Primaries => 1.min(nodes),
            Target::Minority => ((nodes.saturating_sub(1)) / 2).max(1).min(nodes),
            Target::MinorityThird => nodes.saturating_sub(1) / 3,
            Target::Majority => (nodes / 2 + 1).min(nodes),
            Target::All | Target::RandomSubset => nodes,
            Target::Nodes(list) => list.len(),
        }
    }
}

/// The targets `names` asks for (`--targets`), each once, refusing unknown ones
/// and ones that select no node of `nodes` (minority-third of 3).
pub fn targets_from_names(
    names: &[String],
    nodes: usize,
) -> std::result::Result<Vec<Target>, String> {
    let mut out: Vec<Target> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
        let target = Target::by_name(name)?;
        if !target.fits(nodes) {
            return Err(format!(
                "the target {name} selects no node of {nodes} (Jepsen's minority-third is \
                 fewer than a third of the nodes: it needs at least 4)"
            ));
        }
        if !out.contains(&target) {
            out.push(target);
        }
    }
    Ok(out)
}

/// One fault, with every random choice already made (except primaries, which are
/// only known when the fault is applied): pure data, so a schedule prints, parses
/// and replays without knowing any family. `kind` names the family that applies
/// it ([`crate::families::Family::kind`]), written as the `"fault"` tag; the
/// family's own typed parameters follow (see [`FaultParams`]). The JSON is the one
/// every earlier version wrote: `{"fault":"kill","target":"minority","nodes":[1,2]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    #[serde(rename = "fault")]
    pub kind: String,
    #[serde(flatten)]
    pub params: serde_json::Map<String, serde_json::Value>,
}

impl Fault {
    /// A fault of family kind `kind` with these parameters (a struct that
    /// serializes to a JSON object; anything else becomes a fault that every
    /// family refuses as invalid).
    pub fn new<P: Serialize>(kind: &str, params: &P) -> Fault {
        let params = match serde_json::to_value(params) {
            Ok(serde_json::Value::Object(map)) => map,
            Ok(other) => invalid_params(format!("parameters are not an object: {other}")),
            Err(e) => invalid_params(e.to_string()),
        };
        Fault { kind: kind.to_string(), params }
    }

    /// The typed parameters, or `Invalid` naming the fault.
    pub fn params<P: DeserializeOwned>(&self) -> Result<P> {
        serde_json::from_value(serde_json::Value::Object(self.params.clone())).map_err(|e| {
            NemesisError::Invalid(format!(
                "a {} fault with parameters {}: {e}",
                self.kind,
                serde_json::Value::Object(self.params.clone())
            ))
        })
    }
}

fn invalid_params(why: String) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert("invalid".into(), serde_json::Value::String(why));
    m
}

/// A family's typed fault parameters, tied to its kind.
pub trait FaultParams: Serialize + DeserializeOwned {
    /// The family kind that applies these ([`crate::families::Family::kind`]).
    const KIND: &'static str;

    /// As a schedule's data.
    fn fault(&self) -> Fault {
        Fault::new(Self::KIND, self)
    }

    /// Reads them back from a fault of this kind.
    fn of(fault: &Fault) -> Result<Self> {
        if fault.kind != Self::KIND {
            return Err(NemesisError::Invalid(format!(
                "a {} fault given to the {} family",
                fault.kind,
                Self::KIND
            )));
        }
        fault.params()
    }
}

/// What a schedule is made from; stored with it so a replay needs nothing else.
///
/// `kinds` are the drawn families' schedule words ([`crate::families::Family::kind`]).
/// The option fields are those of the families that existed when this format was
/// fixed (kept, always written, so old runs' JSON is unchanged); a family added
/// later keeps its options under its kind in `extra` (absent when empty).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleConfig {
    pub seed: u64,
    pub nodes: usize,
    pub interval_ms: u64,
    pub duration_ms: u64,
    pub kinds: Vec<String>,
    /// Partition shapes to draw from (random ones get their randomness resolved).
    pub shapes: Vec<PartitionShape>,
    pub loss_percent: u8,
    pub delay: LinkDelay,
    /// Clock offsets are drawn from `[-max_skew_ms, max_skew_ms]`.
    pub max_skew_ms: i64,
    pub stop_grace_ms: u64,
    /// Options of families added after this format was fixed, by kind.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// The options added later still, each absent from the JSON at its default so
    /// that older schedules read and print as they were.
    /// Targets of process, clock and membership faults (empty: each family's own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Target>,
    /// Shapes also drawn with only one direction cut (see [`crate::partition`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub one_way_shapes: Vec<PartitionShape>,
    /// Every family once first, each with its leading fault (module docs).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub leader_aware: bool,
    /// How clocks move (bump, strobe, reset); default: bumps only.
    #[serde(default, skip_serializing_if = "ClockOptions::is_default")]
    pub clock: ClockOptions,
}

impl ScheduleConfig {
    /// The targets a family draws from: the configured ones that `fit` accepts,
    /// else `default` (also when none of the configured ones fits).
    pub fn targets_or(&self, default: &[Target], fit: impl Fn(&Target) -> bool) -> Vec<Target> {
        let chosen: Vec<Target> =
            self.targets.iter().filter(|t| t.fits(self.nodes) && fit(t)).cloned().collect();
        if chosen.is_empty() { default.to_vec() } else { chosen }
    }
}

impl ScheduleConfig {
    /// Partitions, kills and pauses with every partition shape, Jepsen-like defaults.
    pub fn new(seed: u64, nodes: usize, interval_ms: u64, duration_ms: u64) -> ScheduleConfig {
        ScheduleConfig {
            seed,
            nodes,
            interval_ms,
            duration_ms,
            kinds: [&PARTITION as &dyn Family, &KILL, &PAUSE]
                .map(|f| f.kind().to_string())
                .to_vec(),
            shapes: vec![
                PartitionShape::IsolateOne { node: None },
                PartitionShape::RandomHalves,
                PartitionShape::MajoritiesRing,
                PartitionShape::Bridge,
            ],
            loss_percent: 20,
            delay: LinkDelay { delay_ms: 50, jitter_ms: 10 },
            max_skew_ms: 60_000,
            stop_grace_ms: 10_000,
            extra: serde_json::Map::new(),
            targets: Vec::new(),
            one_way_shapes: Vec::new(),
            leader_aware: false,
            clock: ClockOptions::default(),
        }
    }
}

/// What happens at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    Start { fault: Fault },
    HealAll,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Milliseconds after the schedule starts.
    pub at_ms: u64,
    #[serde(flatten)]
    pub action: Action,
}

/// A whole schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    pub config: ScheduleConfig,
    pub steps: Vec<Step>,
}

impl Schedule {
    /// Computes the schedule for `config`, drawing from the built-in families that
    /// apply `config.kinds`; the same config gives the same steps.
    pub fn generate(config: ScheduleConfig) -> Result<Schedule> {
        let registry = Registry::builtin();
        let families =
            config.kinds.iter().map(|k| registry.by_kind(k)).collect::<Result<Vec<_>>>()?;
        Schedule::draw(&families, config)
    }

    /// Computes the schedule drawing from exactly `families` (`config.kinds` is set
    /// to their kinds): wait `interval`, draw a family uniformly and let it draw its
    /// fault, wait `interval`, heal all, and so on; the schedule ends healed. A
    /// leader-aware config first draws each family once, in a seeded order, with
    /// its leading fault.
    pub fn draw(families: &[&'static dyn Family], mut config: ScheduleConfig) -> Result<Schedule> {
        config.kinds = families.iter().map(|f| f.kind().to_string()).collect();
        if families.is_empty() || config.interval_ms == 0 || config.nodes == 0 {
            return Err(NemesisError::Invalid(
                "a schedule needs nodes, a non-zero interval and at least one fault kind".into(),
            ));
        }
        for family in families {
            family.check(&config)?;
        }
        let mut rng = DrawRng::seed_from_u64(config.seed);
        // A leader-aware schedule starts with one round of every family: first the
        // faults aimed at the leader (so they play even if a run is cut short),
        // then one ordinary fault of each other family, in a seeded order.
        let mut first_round: Vec<Fault> = Vec::new();
        if config.leader_aware {
            let mut order = families.to_vec();
            for i in (1..order.len()).rev() {
                let j = rng.random_range(0..=i);
                order.swap(i, j);
            }
            let mut others = Vec::new();
            let mut slow = Vec::new();
            for family in order {
                match family.draw_leading(&config, &mut rng) {
                    Some(fault) if family.slow() => slow.push(fault?),
                    Some(fault) => first_round.push(fault?),
                    None => others.push(family),
                }
            }
            for family in others {
                let fault = family.draw(&config, &mut rng)?;
                if family.slow() { slow.push(fault) } else { first_round.push(fault) }
            }
            // Slow families (membership changes) close the round: drawn in the same
            // order as the others, played after them.
            first_round.extend(slow);
            first_round.reverse(); // popped from the end
        }
        let mut steps = Vec::new();
        let mut t = config.interval_ms;
        while t + config.interval_ms <= config.duration_ms {
            let fault = match first_round.pop() {
                Some(fault) => fault,
                None => {
                    let family = families[rng.random_range(0..families.len())];
                    // Leader-aware: after the first round, half of the faults of a
                    // family that can aim at the leader do.
                    let leading = config.leader_aware && rng.random_bool(0.5);
                    match leading.then(|| family.draw_leading(&config, &mut rng)).flatten() {
                        Some(fault) => fault?,
                        None => family.draw(&config, &mut rng)?,
                    }
                }
            };
            steps.push(Step { at_ms: t, action: Action::Start { fault } });
            steps.push(Step { at_ms: t + config.interval_ms, action: Action::HealAll });
            t += 2 * config.interval_ms;
        }
        let end = config.duration_ms.max(steps.last().map_or(0, |s| s.at_ms));
        if steps.last().is_none_or(|s| s.at_ms != end) {
            steps.push(Step { at_ms: end, action: Action::HealAll });
        }
        Ok(Schedule { config, steps })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use rand::rngs::ChaCha8Rng;

    fn config(seed: u64) -> ScheduleConfig {
        let mut c = ScheduleConfig::new(seed, 5, 1000, 20_000);
        c.kinds = ["partition", "loss", "delay", "kill", "pause", "stop", "clock-skew"]
            .map(String::from)
            .to_vec();
        c.shapes.push(PartitionShape::Primaries);
        c
    }

    #[test]
    fn same_seed_same_schedule_and_json_round_trips() {
        let a = Schedule::generate(config(7)).expect("a");
        let b = Schedule::generate(config(7)).expect("b");
        assert_eq!(a, b);
        let back: Schedule = serde_json::from_str(&a.to_json()).expect("parse");
        assert_eq!(back, a);
        let c = Schedule::generate(config(8)).expect("c");
        assert_ne!(a.steps, c.steps, "different seeds should differ");
    }

    #[test]
    fn faults_alternate_with_heals_and_end_healed() {
        let s = Schedule::generate(config(3)).expect("schedule");
        assert_eq!(s.steps.len(), 20, "{s:?}");
        for pair in s.steps.chunks(2) {
            assert!(matches!(pair[0].action, Action::Start { .. }));
            assert_eq!(pair[1].action, Action::HealAll);
            assert_eq!(pair[1].at_ms, pair[0].at_ms + 1000);
        }
        assert_eq!(s.steps.last().map(|s| &s.action), Some(&Action::HealAll));
        assert!(s.steps.windows(2).all(|w| w[0].at_ms < w[1].at_ms));
    }

    const PINNED_FIRST_STEP: &str = r#"{"at_ms":1000,"action":"start","fault":{"fault":"kill","target":"minority","nodes":[1,2]}}"#;
    const PINNED_NAMES: &[&str] = &[
        "kill",
        "start-delay",
        "stop",
        "pause",
        "start-partition",
        "clock-skew",
        "clock-skew",
        "start-partition",
        "clock-skew",
        "kill",
    ];

    #[test]
    fn a_known_seed_gives_a_known_first_fault() {
        // Pins the stream: if rand or our draws change, replays of old runs break.
        let s = Schedule::generate(config(1)).expect("schedule");
        let first = serde_json::to_string(&s.steps[0]).expect("json");
        assert_eq!(first, PINNED_FIRST_STEP);
        let registry = Registry::builtin();
        let names: Vec<&str> = s
            .steps
            .iter()
            .filter_map(|st| match &st.action {
                Action::Start { fault } => registry.applier(fault).ok().map(|f| f.op_name()),
                Action::HealAll => None,
            })
            .collect();
        assert_eq!(names, PINNED_NAMES);
    }

    #[test]
    fn unknown_kinds_and_shapeless_partitions_are_refused() {
        let mut c = config(1);
        c.kinds.push("flood".into());
        let err = Schedule::generate(c).expect_err("unknown kind");
        assert!(err.to_string().contains("\"flood\""), "{err}");
        let mut c = config(1);
        c.shapes.clear();
        assert!(Schedule::generate(c).is_err());
        let mut c = config(1);
        c.kinds.clear();
        assert!(Schedule::generate(c).is_err());
    }

    #[test]
    fn targets_have_the_right_sizes() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        assert_eq!(Target::One.resolve(5, &mut rng, &[]).expect("one").len(), 1);
        assert_eq!(Target::Minority.resolve(5, &mut rng, &[]).expect("min").len(), 2);
        assert_eq!(Target::Majority.resolve(5, &mut rng, &[]).expect("maj").len(), 3);
        assert_eq!(Target::All.resolve(5, &mut rng, &[]).expect("all"), vec![0, 1, 2, 3, 4]);
        assert_eq!(Target::Primaries.resolve(5, &mut rng, &[2]).expect("p"), vec![2]);
        assert!(Target::Primaries.resolve(5, &mut rng, &[]).is_err());
        assert!(Target::Nodes(vec![9]).resolve(5, &mut rng, &[]).is_err());
    }
}
