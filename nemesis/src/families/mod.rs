//! Fault families: one file each, listed once in the registry below.
//!
//! A [`Family`] is everything about one kind of fault: the `--nemesis` word that
//! names it, a one-line summary, what it [`Needs`] from the run, how it is drawn
//! into a seeded schedule (with its options), how it is applied through the
//! run's [`Controls`] (reporting per node `installed` / `skipped` /
//! `indeterminate`), verified where it can be, healed, and written into the
//! history (`f` and value). Nothing outside a family's own file compares its name:
//! the schedule, the nemesis, heal-all, the harness and `faultline lab` look
//! families up here and call their methods.
//!
//! # Adding a family
//! One file in this folder with a unit struct implementing [`Family`] and a
//! `pub static` of it, plus one line in the `registry!` list below. For a family
//! that lives outside this crate (a test, an experiment), extend a [`Registry`]
//! instead: `Registry::builtin().with(&MY_FAMILY)`.

use std::collections::BTreeMap;

use history::Value;

use crate::control::{Controls, Needs};
use crate::error::{NemesisError, Result};
use crate::inject::{FaultReport, Outcome};
use crate::probe::Verification;
use crate::schedule::{Fault, ScheduleConfig};

pub mod common;

/// The random stream every draw uses: ChaCha8, whose output is fixed by its spec
/// (so a seed means the same schedule on every machine and rand version).
pub type DrawRng = rand::rngs::ChaCha8Rng;

/// One fault family. Implementations are unit structs behind a `static`.
pub trait Family: Send + Sync + 'static {
    /// The word that names it on the command line (`--nemesis NAME`).
    fn name(&self) -> &'static str;

    /// One line for `faultline list` and help texts.
    fn summary(&self) -> &'static str;

    /// What it needs from the run (checked before the run starts).
    fn needs(&self) -> Needs;

    /// The schedule word of the faults it draws: recorded in a schedule's
    /// `config.kinds` and as each fault's `"fault"` tag. The first family of the
    /// registry with a given kind is the one that applies such faults (a family
    /// may draw another's faults: `kill-all` draws `kill` faults aimed at all).
    fn kind(&self) -> &'static str {
        self.name()
    }

    /// The history's `f` for its nemesis operations (`start-partition`).
    fn op_name(&self) -> &'static str;

    /// Refuses options it cannot draw from (partitions without shapes), before
    /// anything is drawn.
    fn check(&self, _config: &ScheduleConfig) -> Result<()> {
        Ok(())
    }

    /// Draws one fault, making every random choice that does not depend on the
    /// running system (only primaries wait for apply time). Must consume `rng`
    /// the same way for the same config: that is what replay relies on.
    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault>;

    /// The family's fault aimed at the current leader, for the first round of a
    /// leader-aware schedule ([`ScheduleConfig::leader_aware`]): a partition
    /// isolating the primaries, the leader removed from the members. `None` when
    /// the family has none (or the config leaves it out); then the round draws an
    /// ordinary [`Family::draw`], after the leader-aimed ones.
    fn draw_leading(&self, _config: &ScheduleConfig, _rng: &mut DrawRng) -> Option<Result<Fault>> {
        None
    }

    /// Whether applying or healing its faults takes seconds (a membership change
    /// waits for the cluster to reconfigure, a re-added member to catch up): a
    /// leader-aware round plays such families last, so that one slow fault does
    /// not push the others, or the leader's isolation, past the end of a short run.
    fn slow(&self) -> bool {
        false
    }

    /// The value of the history's invoke for `fault`: what it intends.
    fn value(&self, fault: &Fault) -> Result<Value>;

    /// Applies `fault` and says per node what was really done. Errors mean the
    /// fault was refused (nothing touched) or the controls broke.
    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied>;

    /// Undoes what this family's faults in `applied` (since the last heal) still
    /// do, beyond the network-wide heal ([`crate::control::Network::heal`]) that
    /// heal-all runs first for every network family at once. Returns the problems
    /// met, per node (an empty map: healed).
    fn heal(
        &self,
        _applied: &[&FaultReport],
        _controls: &Controls,
    ) -> BTreeMap<usize, Vec<String>> {
        BTreeMap::new()
    }
}

/// What a family is given to apply a fault.
pub struct ApplyCtx<'a> {
    pub nodes: usize,
    pub controls: &'a Controls,
    /// The nodes the system reports as leaders right now.
    pub primaries: &'a [usize],
    /// For choices left to apply time (primaries shapes, unresolved targets): one
    /// stream per nemesis, so the same calls in the same order draw the same.
    pub rng: &'a mut DrawRng,
    /// The nemesis's seed (delay jitter streams).
    pub seed: u64,
}

/// What applying one fault did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The fault with every target resolved (primaries, random subsets).
    pub fault: Fault,
    /// Per node (0-based).
    pub nodes: BTreeMap<usize, Outcome>,
    /// For faults verified by probes.
    pub verification: Option<Verification>,
}

/// Declares the family modules and lists them, one line per family file.
macro_rules! registry {
    ($($module:ident: $($family:ident),+;)+) => {
        $(pub mod $module;)+

        /// Every built-in family, in heal order (pauses are resumed before killed
        /// nodes restart; network families are healed together first anyway).
        pub static ALL: &[&dyn Family] = &[$($(&$module::$family),+),+];
    };
}

registry! {
    partition: PARTITION;
    loss: LOSS;
    delay: DELAY;
    pause: PAUSE;
    kill: KILL, KILL_ALL;
    stop: STOP;
    clock: CLOCK;
    membership: MEMBERSHIP;
}

/// The built-in family called `name` (the `--nemesis` word); the error lists
/// the known names.
pub fn by_name(name: &str) -> std::result::Result<&'static dyn Family, String> {
    Registry::builtin().by_name(name)
}

/// A list of families: the built-in ones, optionally extended.
#[derive(Clone)]
pub struct Registry {
    families: Vec<&'static dyn Family>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::builtin()
    }
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Registry {
    /// [`ALL`].
    pub fn builtin() -> Registry {
        Registry { families: ALL.to_vec() }
    }

    /// Adds a family at the end; one of the same name is replaced in place.
    pub fn with(mut self, family: &'static dyn Family) -> Registry {
        match self.families.iter().position(|f| f.name() == family.name()) {
            Some(i) => self.families[i] = family,
            None => self.families.push(family),
        }
        self
    }

    pub fn families(&self) -> &[&'static dyn Family] {
        &self.families
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.families.iter().map(|f| f.name()).collect()
    }

    /// The family called `name`; the error lists the known names.
    pub fn by_name(&self, name: &str) -> std::result::Result<&'static dyn Family, String> {
        self.families
            .iter()
            .copied()
            .find(|f| f.name() == name)
            .ok_or_else(|| format!("unknown nemesis {name:?} (known: {})", self.names().join(", ")))
    }

    /// The family that applies faults of `kind` (the first with that kind).
    pub fn by_kind(&self, kind: &str) -> Result<&'static dyn Family> {
        self.families.iter().copied().find(|f| f.kind() == kind).ok_or_else(|| {
            let mut kinds: Vec<&str> = self.families.iter().map(|f| f.kind()).collect();
            kinds.dedup();
            NemesisError::Invalid(format!(
                "unknown fault kind {kind:?} (known: {})",
                kinds.join(", ")
            ))
        })
    }

    /// The family that applies `fault`.
    pub fn applier(&self, fault: &Fault) -> Result<&'static dyn Family> {
        self.by_kind(&fault.kind)
    }
}

/// Draws one fault of `family` from `config` (its seed alone), as a schedule
/// would for its first fault: for trying one fault by hand (`faultline lab fault`).
pub fn draw_one(family: &dyn Family, config: &ScheduleConfig) -> Result<Fault> {
    use rand::SeedableRng;
    family.check(config)?;
    family.draw(config, &mut DrawRng::seed_from_u64(config.seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_each_kind_is_applied_by_a_family_of_its_own() {
        let names = Registry::builtin().names();
        let unique: std::collections::BTreeSet<_> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        let registry = Registry::builtin();
        for family in ALL {
            let applier = registry.by_kind(family.kind()).expect("kind");
            assert_eq!(applier.kind(), family.kind());
            assert_eq!(applier.op_name(), family.op_name(), "{}", family.name());
            assert!(!family.summary().is_empty() && !family.summary().contains('\n'));
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let err = by_name("flood").err().expect("unknown");
        for family in ALL {
            assert!(err.contains(family.name()), "{err}");
        }
        assert!(by_name("partition").is_ok());
    }
}
