//! The bug catalog as a test run: `faultline test-all --profile nightly|smoke`.
//!
//! The catalog is data, one file (`harness/catalog.json`, built into the binary;
//! `--catalog FILE` reads another): every builtin bug switch with the workload and
//! faults that should expose it, its bug-free control, etcd's positive controls
//! and its serializable-read negative control, each with the profiles it belongs
//! to. A profile says how many runs each scenario gets and how long each runs.
//!
//! Each run is its own `faultline test` process (as `test-all`'s matrix cells are),
//! so a crash stays one run's. Then one table (scenario, expected, detected / runs,
//! median and worst time to detect, false alarms), one JUnit report with a test
//! case per scenario, and the exit code: 0 only when every control was valid in
//! every run and every bug was detected at its floor; 255 when a run crashed; else 1.
//! The rule itself is [`results::catalog`]'s.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Instant, SystemTime};

use results::Verdict;
use results::catalog::{ScenarioResult, ScenarioRun};
use serde::Deserialize;

use crate::controller::Registry;
use crate::exit::{CmdResult, Exit, Failure};

/// The catalog shipped with faultline.
pub const BUILTIN: &str = include_str!("../catalog.json");

/// Where the built-in catalog lives in the source tree (for messages).
const BUILTIN_NAME: &str = "harness/catalog.json (built in)";

/// The options `faultline test` may not get from a scenario: the catalog sets them.
const RESERVED: &[&str] =
    &["--system", "--node-bug", "--store", "--name", "--seed", "--quiet", "--time-limit"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    #[serde(default)]
    pub about: String,
    /// The default share of runs a bug must be detected in.
    pub floor: f64,
    pub profiles: std::collections::BTreeMap<String, Profile>,
    pub scenarios: Vec<Scenario>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    #[serde(default)]
    pub about: String,
    pub count: usize,
    /// Seconds of each run's main phase.
    pub time_limit: f64,
    /// Overrides the catalog's floor.
    #[serde(default)]
    pub floor: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// `bug`, `control`, `positive-control`, `negative-control`.
    pub kind: String,
    /// `valid` or `invalid`.
    pub expect: String,
    pub system: String,
    /// The bug switch (for `bug` scenarios).
    #[serde(default)]
    pub bug: Option<String>,
    /// Further `faultline test` options.
    #[serde(default)]
    pub args: Vec<String>,
    pub profiles: Vec<String>,
    #[serde(default)]
    pub why: String,
    /// The bug's counterpart in real systems.
    #[serde(default)]
    pub real_world: Option<String>,
    /// Overrides the profile's time limit.
    #[serde(default)]
    pub time_limit: Option<f64>,
}

const KINDS: &[(&str, &str)] = &[
    ("bug", "invalid"),
    ("control", "valid"),
    ("positive-control", "valid"),
    ("negative-control", "invalid"),
];

/// A finite number above 0.
fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

impl Scenario {
    pub fn expect(&self) -> Verdict {
        if self.expect == "invalid" { Verdict::Invalid } else { Verdict::Valid }
    }
}

impl Catalog {
    /// Parses and checks a catalog; errors name `source` and the scenario.
    pub fn parse(text: &str, source: &str, registry: &Registry) -> Result<Catalog, String> {
        let catalog: Catalog = serde_json::from_str(text)
            .map_err(|e| format!("{source}: line {} column {}: {e}", e.line(), e.column()))?;
        catalog.check(source, registry)?;
        Ok(catalog)
    }

    fn check(&self, source: &str, registry: &Registry) -> Result<(), String> {
        if !(self.floor > 0.0 && self.floor <= 1.0) {
            return Err(format!("{source}: floor must be in (0, 1], not {}", self.floor));
        }
        for (name, p) in &self.profiles {
            if p.count == 0
                || !positive(p.time_limit)
                || p.floor.is_some_and(|f| !(f > 0.0 && f <= 1.0))
            {
                return Err(format!(
                    "{source}: profile {name:?}: count must be at least 1, time_limit > 0, floor in (0, 1]"
                ));
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for s in &self.scenarios {
            let at = format!("{source}: scenario {:?}", s.name);
            let plain = |v: &str| {
                !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
            };
            if !plain(&s.name) || !seen.insert(s.name.clone()) {
                return Err(format!("{at}: names are unique letters, digits, '-' and '_'"));
            }
            match KINDS.iter().find(|(k, _)| *k == s.kind) {
                None => {
                    let kinds: Vec<&str> = KINDS.iter().map(|(k, _)| *k).collect();
                    return Err(format!("{at}: kind must be one of {}", kinds.join(", ")));
                }
                Some((_, expect)) if *expect != s.expect => {
                    return Err(format!("{at}: a {} expects {expect}, not {:?}", s.kind, s.expect));
                }
                _ => {}
            }
            let system = crate::systems::find(&registry.systems, &s.system)
                .map_err(|e| format!("{at}: {e}"))?;
            match (&s.bug, s.kind.as_str()) {
                (None, "bug") => return Err(format!("{at}: a bug scenario names its bug switch")),
                (Some(b), _) if system.bug(b).is_none() => {
                    return Err(format!("{at}: the {} system has no bug switch {b:?}", s.system));
                }
                _ => {}
            }
            if let Some(flag) = s.args.iter().find(|a| {
                RESERVED.iter().any(|r| a.as_str() == *r || a.starts_with(&format!("{r}=")))
            }) {
                return Err(format!("{at}: {flag} is set by the catalog, not by a scenario"));
            }
            if let Some(p) = s.profiles.iter().find(|p| !self.profiles.contains_key(*p)) {
                return Err(format!("{at}: unknown profile {p:?}"));
            }
            if s.time_limit.is_some_and(|t| !positive(t)) {
                return Err(format!("{at}: time_limit must be > 0"));
            }
        }
        Ok(())
    }

    /// The profile called `name`; the error lists the profiles.
    pub fn profile(&self, name: &str) -> Result<&Profile, String> {
        self.profiles.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
            format!("unknown profile {name:?} (known: {})", known.join(", "))
        })
    }
}

/// What `test-all --profile` was asked.
#[derive(Debug, Clone)]
pub struct CatalogArgs {
    pub profile: String,
    pub catalog: Option<PathBuf>,
    pub count: Option<usize>,
    pub floor: Option<f64>,
    /// Only these scenarios (empty: every scenario of the profile).
    pub only: Vec<String>,
    /// Run `i` of a scenario gets seed `seed + i - 1` (default: random, recorded).
    pub seed: Option<u64>,
    pub store: PathBuf,
    pub junit: Option<PathBuf>,
    /// Further `faultline test` options for every run (after `--`).
    pub test_args: Vec<String>,
}

fn load(args: &CatalogArgs, registry: &Registry) -> Result<Catalog, Failure> {
    match &args.catalog {
        None => Catalog::parse(BUILTIN, BUILTIN_NAME, registry).map_err(Failure::crash),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                Failure::bad_input(format!("{}: cannot read the catalog: {e}", path.display()))
            })?;
            Catalog::parse(&text, &path.display().to_string(), registry).map_err(Failure::bad_input)
        }
    }
}

/// The test time (seconds) of the first operation the checks name, from a run
/// directory's results and history.
fn first_named_op(loaded: &results::LoadedRun) -> Option<f64> {
    loaded
        .view
        .checks
        .iter()
        .filter(|c| c.verdict == Verdict::Invalid)
        .flat_map(|c| c.section.culprits())
        .filter_map(|pos| loaded.view.history.ops.get(pos).map(|op| op.time_ns))
        .min()
        .map(|ns| ns as f64 / 1e9)
}

fn one_run(
    args: &CatalogArgs,
    scenario: &Scenario,
    time_limit: f64,
    seed: Option<u64>,
) -> Result<ScenarioRun, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::crash(format!("cannot find the faultline binary itself: {e}")))?;
    let name = format!("catalog-{}", scenario.name);
    let since = SystemTime::now() - std::time::Duration::from_secs(1);
    let started = Instant::now();
    let mut cmd = Command::new(exe);
    cmd.arg("test").args(["--system", &scenario.system]);
    if let Some(bug) = &scenario.bug {
        cmd.args(["--node-bug", bug]);
    }
    cmd.arg("--store").arg(&args.store).args(["--name", &name, "--quiet"]);
    cmd.args(["--time-limit", &time_limit.to_string()]);
    if let Some(seed) = seed {
        cmd.args(["--seed", &seed.to_string()]);
    }
    cmd.args(&scenario.args).args(&args.test_args);
    let out =
        cmd.output().map_err(|e| Failure::crash(format!("cannot start faultline test: {e}")))?;
    let seconds = started.elapsed().as_secs_f64();
    let run_dir = crate::commands::test_all::newest_run(&args.store, &name, since);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let crashed = |message: String| ScenarioRun {
        verdict: None,
        seconds,
        detected_at_s: None,
        seed,
        run_dir: run_dir.clone(),
        message,
    };
    let code = out.status.code();
    let Some(dir) = run_dir.as_ref().filter(|_| matches!(code, Some(0..=2))) else {
        let how = code.map_or("killed by a signal".to_string(), |c| format!("exited {c}"));
        let tail: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(3)..].join(" / ");
        return Ok(crashed(format!("faultline test {how}: {tail}")));
    };
    match results::run_dir::load(dir) {
        Ok(loaded) if !loaded.view.checks.is_empty() => {
            let verdict = results::verdict_of(&loaded.view.checks);
            let message = loaded
                .view
                .checks
                .iter()
                .map(|c| c.explanation.lines().next().unwrap_or("").to_string())
                .collect::<Vec<_>>()
                .join("; ");
            let seed = seed.or_else(|| loaded.view.test.get("seed").and_then(|s| s.as_u64()));
            Ok(ScenarioRun {
                verdict: Some(verdict),
                seconds,
                detected_at_s: first_named_op(&loaded),
                seed,
                run_dir: run_dir.clone(),
                message,
            })
        }
        Ok(_) => Ok(crashed(format!("{}: the run recorded no checker results", dir.display()))),
        Err(e) => Ok(crashed(e.to_string())),
    }
}

/// Runs a profile of the catalog (module docs).
pub fn run(args: &CatalogArgs) -> CmdResult {
    let registry = Registry::default();
    let catalog = load(args, &registry)?;
    let profile = catalog.profile(&args.profile).map_err(Failure::bad_input)?;
    let count = args.count.unwrap_or(profile.count);
    let floor = args.floor.or(profile.floor).unwrap_or(catalog.floor);
    if count == 0 || !(floor > 0.0 && floor <= 1.0) {
        return Err(Failure::bad_input("--count must be at least 1 and --floor in (0, 1]"));
    }
    if let Some(unknown) =
        args.only.iter().find(|o| !catalog.scenarios.iter().any(|s| &s.name == *o))
    {
        let known: Vec<&str> = catalog.scenarios.iter().map(|s| s.name.as_str()).collect();
        return Err(Failure::bad_input(format!(
            "--only: no scenario {unknown:?} (known: {})",
            known.join(", ")
        )));
    }
    let scenarios: Vec<&Scenario> = catalog
        .scenarios
        .iter()
        .filter(|s| s.profiles.contains(&args.profile))
        .filter(|s| args.only.is_empty() || args.only.contains(&s.name))
        .collect();
    if scenarios.is_empty() {
        return Err(Failure::bad_input(format!("the {} profile has no scenario", args.profile)));
    }
    std::fs::create_dir_all(&args.store).map_err(|e| {
        Failure::bad_input(format!("{}: cannot create the store: {e}", args.store.display()))
    })?;
    let total = scenarios.len() * count;
    let mut done = 0;
    let mut results = Vec::new();
    for scenario in scenarios {
        let time_limit = scenario.time_limit.unwrap_or(profile.time_limit);
        let mut runs = Vec::new();
        for i in 0..count {
            done += 1;
            eprintln!("[{done}/{total}] {} #{} ({}) ...", scenario.name, i + 1, scenario.expect);
            let seed = args.seed.map(|s| s.wrapping_add(i as u64));
            let run = one_run(args, scenario, time_limit, seed)?;
            eprintln!(
                "    {}{} ({:.1} s)",
                run.verdict.map_or("CRASHED", Verdict::name),
                run.detected_at_s.map_or(String::new(), |t| format!(", detected at {t:.1} s")),
                run.seconds
            );
            runs.push(run);
        }
        results.push(ScenarioResult {
            name: scenario.name.clone(),
            kind: scenario.kind.clone(),
            expect: scenario.expect(),
            floor,
            runs,
        });
    }
    println!("{}", results::catalog::table(&results));
    let junit = args
        .junit
        .clone()
        .unwrap_or_else(|| args.store.join(format!("catalog-{}.junit.xml", args.profile)));
    let xml =
        results::catalog::junit_report(&format!("faultline catalog {}", args.profile), &results)
            .to_string()
            .map_err(|e| Failure::crash(format!("cannot render the catalog JUnit: {e}")))?;
    std::fs::write(&junit, xml)
        .map_err(|e| Failure::crash(format!("{}: cannot write: {e}", junit.display())))?;
    println!("{}", junit.display());
    let crashed = results.iter().any(|s| s.crashed() > 0);
    Ok(if crashed {
        Exit::Crash
    } else if results.iter().all(ScenarioResult::passes) {
        Exit::Valid
    } else {
        Exit::Invalid
    })
}

/// The catalog's scenarios as README rows: name, kind, expectation, profiles.
pub fn describe(catalog: &Catalog) -> Vec<String> {
    catalog
        .scenarios
        .iter()
        .map(|s| {
            format!("{} ({}, expects {}; {})", s.name, s.kind, s.expect, s.profiles.join(", "))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_catalog_covers_every_bug_switch_with_a_control() {
        let registry = Registry::default();
        let c = Catalog::parse(BUILTIN, BUILTIN_NAME, &registry).expect("the built-in catalog");
        for system in &registry.systems {
            if system.caps.nodes != crate::system::Nodes::Processes {
                continue;
            }
            for bug in system.caps.bugs {
                let s = c
                    .scenarios
                    .iter()
                    .find(|s| s.bug.as_deref() == Some(bug.name))
                    .unwrap_or_else(|| panic!("no scenario for {}", bug.name));
                assert!(s.real_world.is_some(), "{}: real-world counterpart", s.name);
                assert!(s.profiles.iter().any(|p| p == "nightly"), "{}", s.name);
                // Its control: the same system and options, without the bug.
                assert!(
                    c.scenarios
                        .iter()
                        .any(|o| o.kind == "control" && o.system == s.system && o.args == s.args),
                    "{}: no bug-free control with the same options",
                    s.name
                );
            }
        }
        assert!(c.scenarios.iter().any(|s| s.system == "etcd" && s.kind == "positive-control"));
        assert!(c.scenarios.iter().any(|s| s.system == "etcd" && s.kind == "negative-control"));
        assert!(c.profile("smoke").is_ok() && c.profile("weekly").is_err());
        assert!(!describe(&c).is_empty());
    }

    #[test]
    fn bad_catalogs_are_refused_naming_the_scenario() {
        let registry = Registry::default();
        let base = |scenario: &str| {
            format!(
                r#"{{"floor": 0.8, "profiles": {{"p": {{"count": 1, "time_limit": 5}}}},
                     "scenarios": [{scenario}]}}"#
            )
        };
        for (scenario, says) in [
            (
                r#"{"name":"a","kind":"bug","expect":"invalid","system":"builtin","profiles":["p"]}"#,
                "names its bug switch",
            ),
            (
                r#"{"name":"a","kind":"bug","expect":"valid","system":"builtin","bug":"no-fsync","profiles":["p"]}"#,
                "expects invalid",
            ),
            (
                r#"{"name":"a","kind":"bug","expect":"invalid","system":"builtin","bug":"flaky","profiles":["p"]}"#,
                "no bug switch \"flaky\"",
            ),
            (
                r#"{"name":"a","kind":"control","expect":"valid","system":"nosuch","profiles":["p"]}"#,
                "unknown system",
            ),
            (
                r#"{"name":"a","kind":"control","expect":"valid","system":"etcd","args":["--seed","3"],"profiles":["p"]}"#,
                "--seed is set by the catalog",
            ),
            (
                r#"{"name":"a","kind":"control","expect":"valid","system":"etcd","profiles":["q"]}"#,
                "unknown profile",
            ),
            (
                r#"{"name":"a b","kind":"control","expect":"valid","system":"etcd","profiles":["p"]}"#,
                "names are unique",
            ),
            (
                r#"{"name":"a","kind":"test","expect":"valid","system":"etcd","profiles":["p"]}"#,
                "kind must be one of",
            ),
        ] {
            let err = Catalog::parse(&base(scenario), "cat.json", &registry).expect_err(says);
            assert!(err.contains(says) && err.starts_with("cat.json"), "{err}");
        }
        let err = Catalog::parse("{", "cat.json", &registry).expect_err("json");
        assert!(err.contains("cat.json: line 1"), "{err}");
    }

    #[test]
    fn detection_time_is_the_first_named_operation() {
        use checkers::section::{Block, Highlight, Operations, Role, Section};
        let mut ops: Vec<history::Op> = (0..4)
            .map(|i| {
                let mut op = history::Op::invoke(i, "read", history::Value::Nil);
                op.index = i;
                op.time_ns = (i + 1) * 1_000_000_000;
                op
            })
            .collect();
        ops[3].time_ns = 500_000_000;
        let mut section = Section::new("lin");
        section.blocks.push(Block::Operations(Operations {
            caption: None,
            ops: [2, 3]
                .iter()
                .map(|&position| Highlight { position, role: Role::Culprit, label: String::new() })
                .collect(),
        }));
        let check = results::CheckView::new("lin", Verdict::Invalid, "why", section);
        let loaded = results::LoadedRun {
            dir: PathBuf::new(),
            view: results::RunView {
                test: serde_json::Value::Null,
                history: history::History::from_ops(ops),
                checks: vec![check],
            },
            notes: vec![],
        };
        assert_eq!(first_named_op(&loaded), Some(0.5));
    }
}
