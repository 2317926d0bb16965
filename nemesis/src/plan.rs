//! From what a user asks for (`--nemesis partition,kill-all`, `--partitions`, an
//! interval and a duration) to the seeded schedule a run plays, and the check,
//! before the run, that the run offers what every requested family needs. The
//! harness calls these; they know no family by name (the registry does).

use std::fmt;

use crate::control::{Control, Offers};
use crate::families::clock::ClockMode;
use crate::families::partition::Shapes;
use crate::families::{Family, Registry};
use crate::latency::LinkDelay;
use crate::schedule::{Schedule, ScheduleConfig, targets_from_names};

/// The `--nemesis` word for "no faults".
pub const NONE: &str = "none";

/// The `--nemesis` word for every family the run can play.
pub const ALL: &str = "all";

/// The interval between fault changes when none is asked for and the run is
/// long enough (Jepsen's usual rhythm).
pub const DEFAULT_INTERVAL_MS: u64 = 5_000;

/// The shortest interval the adaptive rhythm goes down to: a fault must last
/// long enough for a cluster to notice it (an election takes about a second).
pub const MIN_INTERVAL_MS: u64 = 1_000;

/// The interval that lets a run of `duration_ms` play `families` faults (one
/// round of a leader-aware schedule): `DEFAULT_INTERVAL_MS` when it fits, else
/// shorter, down to `MIN_INTERVAL_MS`. A fault starts at odd multiples of the
/// interval and heals one interval later, so `d / 2f` would fit `f` faults
/// exactly; one interval more is kept spare, for faults that take long to apply
/// (a membership change, a restart) and push the rest later.
pub fn interval_for(families: usize, duration_ms: u64) -> u64 {
    if families == 0 {
        return DEFAULT_INTERVAL_MS;
    }
    (duration_ms / (2 * families as u64 + 1)).clamp(MIN_INTERVAL_MS, DEFAULT_INTERVAL_MS)
}

/// The options that tune faults (`faultline test`'s `--targets`, `--loss-percent`,
/// ...); each absent one keeps the schedule's old default, so old runs replay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tuning {
    /// Target names (`one`, `minority-third`, `primaries`, ...).
    pub targets: Vec<String>,
    pub loss_percent: Option<u8>,
    pub delay_ms: Option<u32>,
    pub jitter_ms: Option<u32>,
    pub max_skew_ms: Option<i64>,
    /// Clock mode names (`bump`, `strobe`, `reset`).
    pub clock_modes: Vec<String>,
    pub strobe_period_ms: Option<u64>,
    /// A leader-aware schedule (see [`crate::schedule`]).
    pub leader_aware: bool,
}

impl Tuning {
    /// Writes these options into `config`, refusing bad values by name.
    pub fn apply(&self, config: &mut ScheduleConfig) -> Result<(), String> {
        config.targets = targets_from_names(&self.targets, config.nodes)
            .map_err(|e| format!("--targets: {e}"))?;
        if let Some(p) = self.loss_percent {
            if !(1..=100).contains(&p) {
                return Err(format!("--loss-percent must be 1..=100, got {p}"));
            }
            config.loss_percent = p;
        }
        let delay = LinkDelay {
            delay_ms: self.delay_ms.unwrap_or(config.delay.delay_ms),
            jitter_ms: self.jitter_ms.unwrap_or(config.delay.jitter_ms),
        };
        if delay.delay_ms == 0 || delay.jitter_ms > delay.delay_ms {
            return Err(format!(
                "--delay-ms must be at least 1 and --jitter-ms at most the delay, got {} and {}",
                delay.delay_ms, delay.jitter_ms
            ));
        }
        config.delay = delay;
        if let Some(ms) = self.max_skew_ms {
            if ms <= 0 {
                return Err(format!("--max-skew-ms must be at least 1, got {ms}"));
            }
            config.max_skew_ms = ms;
        }
        let mut modes = Vec::new();
        for name in self.clock_modes.iter().filter(|n| !n.trim().is_empty()) {
            let mode = ClockMode::by_name(name).map_err(|e| format!("--clock-modes: {e}"))?;
            if !modes.contains(&mode) {
                modes.push(mode);
            }
        }
        // Bumps alone are what a config without modes draws.
        if modes != [ClockMode::Bump] {
            config.clock.modes = modes;
        }
        if let Some(ms) = self.strobe_period_ms {
            if ms == 0 {
                return Err("--strobe-period-ms must be at least 1".into());
            }
            config.clock.strobe_period_ms = ms;
        }
        config.leader_aware = self.leader_aware;
        Ok(())
    }
}

/// What a schedule is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The schedule's own seed (the harness mixes the run seed with a salt).
    pub seed: u64,
    pub nodes: usize,
    /// `--nemesis` words; `none` and blanks stand for nothing.
    pub families: &'a [String],
    /// `--partitions` shape names; empty: the partition family's defaults.
    pub shapes: &'a [String],
    /// `None`: adaptive ([`interval_for`] the requested families).
    pub interval_ms: Option<u64>,
    pub duration_ms: u64,
    pub tuning: Tuning,
}

/// `names` with `all` replaced by every family of `registry` whose needs
/// `offers` meets, in registry order, leaving out a family that draws the same
/// kind of fault as an earlier one (`kill-all` after `kill`: kill's targets
/// already include all nodes). Other names stay where they are.
pub fn expand_all(registry: &Registry, names: &[String], offers: &Offers) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in names {
        if name.trim() != ALL {
            out.push(name.clone());
            continue;
        }
        let mut kinds: Vec<&str> = Vec::new();
        for family in registry.families() {
            if offers.lacks(family.needs()).is_none() && !kinds.contains(&family.kind()) {
                kinds.push(family.kind());
                out.push(family.name().to_string());
            }
        }
    }
    out
}

/// The families `names` asks for, each once, in the order first named. Refuses
/// an unknown name (listing the known ones) and two families that draw the same
/// kind of fault (`kill` and `kill-all`: one would silently win).
pub fn families(registry: &Registry, names: &[String]) -> Result<Vec<&'static dyn Family>, String> {
    let mut chosen: Vec<&'static dyn Family> = Vec::new();
    for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty() && *n != NONE) {
        let family = registry.by_name(name).map_err(|_| {
            format!("unknown nemesis {name:?} (known: {NONE}, {})", registry.names().join(", "))
        })?;
        if chosen.iter().any(|f| f.name() == family.name()) {
            continue;
        }
        if let Some(other) = chosen.iter().find(|f| f.kind() == family.kind()) {
            return Err(format!(
                "--nemesis {} and {} exclude each other: pick one",
                other.name(),
                family.name()
            ));
        }
        chosen.push(family);
    }
    Ok(chosen)
}

/// The seeded schedule for `request`: a function of the request alone, so a
/// replay with the same seed and options gets the same JSON.
pub fn schedule(registry: &Registry, request: &Request<'_>) -> Result<Schedule, String> {
    let families = families(registry, request.families)?;
    let interval =
        request.interval_ms.unwrap_or_else(|| interval_for(families.len(), request.duration_ms));
    let mut config =
        ScheduleConfig::new(request.seed, request.nodes, interval, request.duration_ms);
    let shapes = Shapes::from_names(request.shapes, request.nodes, request.tuning.leader_aware)?;
    config.shapes = shapes.two_way;
    config.one_way_shapes = shapes.one_way;
    request.tuning.apply(&mut config)?;
    Schedule::draw(&families, config).map_err(|e| e.to_string())
}

/// A family the run cannot play: what it lacks, why, and what the run can play.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub family: &'static str,
    pub lacks: Control,
    pub why: String,
    /// The registry's families whose needs the run meets.
    pub supported: Vec<&'static str>,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let supported =
            if self.supported.is_empty() { "none".to_string() } else { self.supported.join(", ") };
        write!(
            f,
            "the {} fault needs {}, which this run lacks: {}; faults this run supports: {}",
            self.family,
            self.lacks.describe(),
            self.why,
            supported
        )
    }
}

impl std::error::Error for Refusal {}

/// The families of `registry` whose needs `offers` meets.
pub fn supported(registry: &Registry, offers: &Offers) -> Vec<&'static str> {
    registry
        .families()
        .iter()
        .filter(|f| offers.lacks(f.needs()).is_none())
        .map(|f| f.name())
        .collect()
}

/// Refuses the first of `families` whose needs `offers` does not meet.
pub fn check(
    registry: &Registry,
    families: &[&'static dyn Family],
    offers: &Offers,
) -> Result<(), Refusal> {
    for family in families {
        if let Some((lacks, why)) = offers.lacks(family.needs()) {
            return Err(Refusal {
                family: family.name(),
                lacks,
                why: why.to_string(),
                supported: supported(registry, offers),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::Offer;
    use crate::schedule::FaultParams;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_resolve_once_and_none_means_nothing() {
        let r = Registry::builtin();
        let got = families(&r, &names(&["none", "kill", " partition", "kill", ""])).expect("ok");
        let got: Vec<&str> = got.iter().map(|f| f.name()).collect();
        assert_eq!(got, ["kill", "partition"]);
        assert!(families(&r, &names(&["none"])).expect("none").is_empty());
        let err = families(&r, &names(&["flood"])).err().expect("unknown");
        assert!(err.contains("\"flood\"") && err.contains("none, partition"), "{err}");
        let err = families(&r, &names(&["kill", "kill-all"])).err().expect("exclusive");
        assert!(err.contains("kill and kill-all exclude each other"), "{err}");
    }

    #[test]
    fn refusals_name_the_family_what_it_lacks_and_what_is_supported() {
        let r = Registry::builtin();
        let offers = Offers {
            network: Offer::No("loopback nodes share one network".into()),
            processes: Offer::Yes,
            clock: Offer::No("etcd reads time through the vDSO".into()),
            membership: Offer::No("no hook".into()),
        };
        let wanted = families(&r, &names(&["kill", "partition"])).expect("families");
        let refusal = check(&r, &wanted, &offers).expect_err("no network");
        assert_eq!(refusal.family, "partition");
        assert_eq!(refusal.lacks, Control::Network);
        assert_eq!(refusal.supported, ["pause", "kill", "kill-all", "stop"]);
        let text = refusal.to_string();
        assert!(text.contains("the partition fault needs network control"), "{text}");
        assert!(text.contains("loopback nodes share one network"), "{text}");
        let clock = families(&r, &names(&["clock"])).expect("clock");
        let refusal = check(&r, &clock, &offers).expect_err("no clock");
        assert!(refusal.to_string().contains("vDSO"), "{refusal}");
        assert!(check(&r, &wanted[..1], &offers).is_ok());
    }

    #[test]
    fn a_schedule_is_a_function_of_the_request() {
        let r = Registry::builtin();
        let all = names(&["partition", "loss", "delay", "pause", "kill", "stop", "clock"]);
        let request = Request {
            seed: 5,
            nodes: 5,
            families: &all,
            shapes: &[],
            interval_ms: Some(100),
            duration_ms: 10_000,
            tuning: Tuning::default(),
        };
        let a = schedule(&r, &request).expect("a");
        assert_eq!(a, schedule(&r, &request).expect("b"));
        assert_eq!(a.to_json(), schedule(&r, &request).expect("c").to_json());
        assert_ne!(a, schedule(&r, &Request { seed: 6, ..request.clone() }).expect("d"));
        let kinds: std::collections::BTreeSet<&str> = a
            .steps
            .iter()
            .filter_map(|s| match &s.action {
                crate::schedule::Action::Start { fault } => Some(fault.kind.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(kinds.len(), 7, "every family drawn over 50 faults: {kinds:?}");
        let bad_shape = names(&["square"]);
        let err = schedule(&r, &Request { shapes: &bad_shape, ..request }).expect_err("shape");
        assert!(err.contains("unknown partition shape"), "{err}");
    }

    #[test]
    fn the_interval_adapts_so_one_round_fits() {
        assert_eq!(interval_for(1, 30_000), DEFAULT_INTERVAL_MS);
        assert_eq!(interval_for(3, 20_000), 2_857);
        assert_eq!(interval_for(8, 20_000), 1_176);
        assert_eq!(interval_for(30, 20_000), MIN_INTERVAL_MS);
        let r = Registry::builtin();
        for n in 1..=8 {
            let all = names(
                &["partition", "loss", "delay", "pause", "kill", "stop", "clock", "membership"]
                    [..n],
            );
            let request = Request {
                seed: 11,
                nodes: 5,
                families: &all,
                shapes: &[],
                interval_ms: None,
                duration_ms: 20_000,
                tuning: Tuning { leader_aware: true, ..Tuning::default() },
            };
            let s = schedule(&r, &request).expect("schedule");
            let kinds: std::collections::BTreeSet<&str> = s
                .steps
                .iter()
                .filter_map(|st| match &st.action {
                    crate::schedule::Action::Start { fault } => Some(fault.kind.as_str()),
                    _ => None,
                })
                .collect();
            assert_eq!(kinds.len(), n, "20 s sees every one of {n} families: {kinds:?}");
        }
    }

    #[test]
    fn a_leader_aware_schedule_isolates_the_leader_first_and_tuning_is_recorded() {
        let r = Registry::builtin();
        let partition = names(&["partition"]);
        for seed in 0..10 {
            let request = Request {
                seed,
                nodes: 5,
                families: &partition,
                shapes: &[],
                interval_ms: None,
                duration_ms: 30_000,
                tuning: Tuning { leader_aware: true, ..Tuning::default() },
            };
            let s = schedule(&r, &request).expect("schedule");
            let crate::schedule::Action::Start { fault } = &s.steps[0].action else {
                panic!("starts with a fault")
            };
            let p = crate::families::partition::Partition::of(fault).expect("a partition");
            assert_eq!(
                p.spec.shape,
                crate::PartitionShape::LeaderMinority,
                "seed {seed}: {fault:?}"
            );
            assert!(s.config.shapes.contains(&crate::PartitionShape::Primaries));
            assert!(s.config.shapes.contains(&crate::PartitionShape::LeaderMinority));
            assert!(s.config.leader_aware);
        }
        // After the first round, half of the partitions aim at the leader, the
        // others draw a shape uniformly (two of the six aim at it too): about 2/3.
        let (mut leading, mut later) = (0, 0);
        for seed in 0..20 {
            let request = Request {
                seed,
                nodes: 5,
                families: &partition,
                shapes: &[],
                interval_ms: None,
                duration_ms: 120_000,
                tuning: Tuning { leader_aware: true, ..Tuning::default() },
            };
            let s = schedule(&r, &request).expect("schedule");
            for step in s.steps.iter().skip(2) {
                if let crate::schedule::Action::Start { fault } = &step.action {
                    let p = crate::families::partition::Partition::of(fault).expect("partition");
                    later += 1;
                    leading += usize::from(matches!(
                        p.spec.shape,
                        crate::PartitionShape::LeaderMinority | crate::PartitionShape::Primaries
                    ));
                }
            }
        }
        let share = leading as f64 / later as f64;
        assert!((0.55..0.8).contains(&share), "{leading} of {later} aimed at the leader");
        // With several families, the faults aimed at the leader come first.
        let mixed = names(&["kill", "pause", "partition", "membership", "loss"]);
        for seed in 0..10 {
            let request = Request {
                seed,
                nodes: 5,
                families: &mixed,
                shapes: &[],
                interval_ms: None,
                duration_ms: 30_000,
                tuning: Tuning { leader_aware: true, ..Tuning::default() },
            };
            let s = schedule(&r, &request).expect("schedule");
            let firsts: Vec<&str> = s
                .steps
                .iter()
                .filter_map(|st| match &st.action {
                    crate::schedule::Action::Start { fault } => Some(fault.kind.as_str()),
                    _ => None,
                })
                .take(5)
                .collect();
            // The leader isolated first; the slow membership change (aimed at
            // the leader too) closes the round.
            assert_eq!(firsts[0], "partition", "seed {seed}: {firsts:?}");
            assert_eq!(firsts[4], "membership", "seed {seed}: {firsts:?}");
            let mut all = firsts.clone();
            all.sort_unstable();
            assert_eq!(all, ["kill", "loss", "membership", "partition", "pause"], "{firsts:?}");
        }
        let tuned = Tuning {
            targets: names(&["minority-third", "primaries"]),
            loss_percent: Some(35),
            delay_ms: Some(120),
            jitter_ms: Some(30),
            max_skew_ms: Some(5_000),
            clock_modes: names(&["strobe", "reset"]),
            strobe_period_ms: Some(50),
            leader_aware: false,
        };
        let mut config = ScheduleConfig::new(1, 5, 1000, 10_000);
        tuned.apply(&mut config).expect("tuned");
        assert_eq!(config.targets.len(), 2);
        assert_eq!(
            (config.loss_percent, config.delay.delay_ms, config.delay.jitter_ms),
            (35, 120, 30)
        );
        assert_eq!(config.clock.modes, [ClockMode::Strobe, ClockMode::Reset]);
        let json = serde_json::to_string(&config).expect("json");
        assert!(json.contains("minority-third") && json.contains("strobe"), "{json}");
        // Defaults leave the config (and its JSON) as it always was.
        let mut plain = ScheduleConfig::new(1, 5, 1000, 10_000);
        Tuning::default().apply(&mut plain).expect("defaults");
        assert_eq!(plain, ScheduleConfig::new(1, 5, 1000, 10_000));
        for (bad, says) in [
            (
                Tuning { targets: names(&["minority-third"]), ..Tuning::default() },
                "selects no node",
            ),
            (Tuning { targets: names(&["most"]), ..Tuning::default() }, "unknown target"),
            (Tuning { loss_percent: Some(0), ..Tuning::default() }, "--loss-percent"),
            (Tuning { jitter_ms: Some(80), ..Tuning::default() }, "--jitter-ms"),
            (Tuning { clock_modes: names(&["warp"]), ..Tuning::default() }, "unknown clock mode"),
        ] {
            let mut c = ScheduleConfig::new(1, 3, 1000, 10_000);
            let err = bad.apply(&mut c).expect_err(says);
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn all_is_every_family_the_run_offers() {
        let r = Registry::builtin();
        let lab = Offers {
            network: Offer::Yes,
            processes: Offer::Yes,
            clock: Offer::No("Go".into()),
            membership: Offer::Yes,
        };
        let got = expand_all(&r, &names(&["all"]), &lab);
        assert_eq!(
            got,
            names(&["partition", "loss", "delay", "pause", "kill", "stop", "membership"])
        );
        let loopback = Offers { network: Offer::No("loopback".into()), ..lab.clone() };
        let got = expand_all(&r, &names(&["all"]), &loopback);
        assert_eq!(got, names(&["pause", "kill", "stop", "membership"]));
        assert_eq!(expand_all(&r, &names(&["kill", "pause"]), &lab), names(&["kill", "pause"]));
    }
}
