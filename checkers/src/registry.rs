//! Every checker `faultline` knows, one line each, and how to make one by name.
//!
//! A checker (or linearizability model) is described where it is defined: its file
//! exports a `pub static CHECKER: CheckerDef` with its name, a one-line summary and
//! the function that builds it from [`CheckerOptions`]. Adding one is that file plus
//! one line in [`ALL`]; the command line (`faultline check --model`, its help text),
//! `faultline list` and the harness read this list and compare no names themselves.

use std::collections::BTreeMap;
use std::time::Duration;

use history::Value;

use crate::verdict::{CheckError, Checker};
use crate::{elle, jepsen, models};

/// A checker as the registry lists it.
#[derive(Debug)]
pub struct CheckerDef {
    /// The command-line word (`cas-register`).
    pub name: &'static str,
    /// One line for `--help` and `faultline list`.
    pub summary: &'static str,
    pub make: fn(&CheckerOptions) -> Result<Box<dyn Checker + Send + Sync>, CheckError>,
}

impl CheckerDef {
    /// Builds the checker; an option it cannot use is a [`CheckError::BadModel`]
    /// naming the checker.
    pub fn checker(
        &self,
        options: &CheckerOptions,
    ) -> Result<Box<dyn Checker + Send + Sync>, CheckError> {
        (self.make)(options)
    }
}

/// What a checker may be configured with. Build one with struct update syntax
/// (`CheckerOptions { partition: false, ..Default::default() }`), so that a new
/// option with a default breaks nobody.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckerOptions {
    /// The initial state, in the form the checker's file reads (`--initial`, EDN).
    pub initial: Option<Value>,
    /// Give up with `unknown` after this long (the whole check).
    pub time_limit: Option<Duration>,
    /// Give up with `unknown` before the checker's caches exceed this many bytes.
    pub memory_limit: usize,
    /// Judge each key on its own when the checker can (Jepsen's `independent`);
    /// `false` checks the history as one object.
    pub partition: bool,
    /// Worker threads; `None` = all cores.
    pub threads: Option<usize>,
    /// Options of one checker, by name, with EDN values: what Jepsen passes as a
    /// checker's options map and elle-cli as flags. The names are elle-cli's long
    /// flags without dashes where it has one (`total-amount`,
    /// `allow-negative-balances`, `max-transfer`, `group-size`), else the Jepsen
    /// option without its `?` (`linearizable`); `faultline check --option
    /// NAME=VALUE` fills it. A checker reads the names its summary lists and refuses
    /// any other (so a typo is an error, never silently ignored); callers put only
    /// the chosen checker's names here. A flag without a value is `true`.
    pub extension: BTreeMap<String, Value>,
}

impl Default for CheckerOptions {
    fn default() -> CheckerOptions {
        CheckerOptions {
            initial: None,
            time_limit: None,
            memory_limit: 4 << 30,
            partition: true,
            threads: None,
            extension: BTreeMap::new(),
        }
    }
}

impl CheckerOptions {
    /// For a checker that takes no options of its own: any name in
    /// [`CheckerOptions::extension`] is refused, naming it, never silently ignored.
    pub fn refuse_extension(&self, checker: &str) -> Result<(), CheckError> {
        match self.extension.keys().next() {
            None => Ok(()),
            Some(name) => Err(CheckError::BadModel(format!(
                "the {checker} checker has no option {name:?} (it takes none)"
            ))),
        }
    }
}

/// The registry: one line per checker.
pub static ALL: &[&CheckerDef] = &[
    &models::register::CHECKER,
    &models::cas_register::CHECKER,
    &models::kv::CHECKER,
    &models::multi_register::CHECKER,
    &models::mutex::CHECKER,
    &models::fenced_lock::CHECKER,
    &models::session_lock::CHECKER,
    &jepsen::set::CHECKER,
    &jepsen::set_full::CHECKER,
    &jepsen::counter::CHECKER,
    &jepsen::bank::CHECKER,
    &jepsen::unique_ids::CHECKER,
    &jepsen::long_fork::CHECKER,
    &jepsen::queue::CHECKER,
    &jepsen::total_queue::CHECKER,
    &elle::LIST_APPEND,
    &elle::RW_REGISTER,
    &crate::watch::CHECKER,
    &crate::election::CHECKER,
    &models::catalog::CHECKER,
    &crate::discovery::CHECKER,
    &crate::membership::CHECKER,
    #[cfg(feature = "fakes")]
    &crate::fake::CHECKER,
];

/// The registered names, in registry order.
pub fn names() -> Vec<&'static str> {
    ALL.iter().map(|d| d.name).collect()
}

/// The checker called `name`; the error lists the known names.
pub fn by_name(name: &str) -> Result<&'static CheckerDef, String> {
    ALL.iter()
        .copied()
        .find(|d| d.name == name)
        .ok_or_else(|| format!("unknown checker (model) {name:?} (known: {})", names().join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_every_checker_builds_with_defaults() {
        let mut seen = std::collections::HashSet::new();
        for def in ALL {
            assert!(seen.insert(def.name), "{} registered twice", def.name);
            assert!(!def.summary.is_empty() && !def.summary.contains('\n'), "{}", def.name);
            def.checker(&CheckerOptions::default()).unwrap_or_else(|e| panic!("{}: {e}", def.name));
        }
        let err = by_name("no-such").unwrap_err();
        assert!(err.contains("no-such") && err.contains("cas-register"), "{err}");
        assert_eq!(by_name("kv").map(|d| d.name), Ok("kv"));
    }
}
