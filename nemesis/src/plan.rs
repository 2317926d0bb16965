//! From what a user asks for (`--nemesis partition,kill-all`, `--partitions`, an
//! interval and a duration) to the seeded schedule a run plays, and the check,
//! before the run, that the run offers what every requested family needs. The
//! harness calls these; they know no family by name (the registry does).

use std::fmt;

use crate::control::{Control, Offers};
use crate::families::partition::shapes_from_names;
use crate::families::{Family, Registry};
use crate::schedule::{Schedule, ScheduleConfig};

/// The `--nemesis` word for "no faults".
pub const NONE: &str = "none";

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
    pub interval_ms: u64,
    pub duration_ms: u64,
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
    let mut config =
        ScheduleConfig::new(request.seed, request.nodes, request.interval_ms, request.duration_ms);
    config.shapes = shapes_from_names(request.shapes, request.nodes)?;
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
            interval_ms: 100,
            duration_ms: 10_000,
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
}
