//! `faultline test-all --system S --workloads A,B --nemeses X,Y --count N`: the test
//! matrix. Each cell runs as its own `faultline test` process (so one cell's crash
//! cannot take the others down, and its exit code is the truth about it), one after
//! another; then one summary table and one JUnit file for the whole matrix.
//!
//! Exit code: 255 when any cell crashed or could not set up (a crash is never
//! green, whatever the other cells found); else 254 when a cell's options were
//! unusable; else the merged verdict (invalid 1 > unknown 2 > valid 0).
//!
//! `faultline test-all --profile nightly|smoke` runs the bug catalog instead
//! ([`crate::catalog`]): every scenario of the profile, `--count` runs each.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use results::matrix::{self, Cell, CellOutcome, MatrixVerdict};

use crate::controller::Registry;
use crate::exit::{CmdResult, Exit, Failure};

#[derive(Debug, Clone, clap::Args)]
pub struct TestAllArgs {
    /// The system under test (not with --profile: the catalog names each
    /// scenario's).
    #[arg(long, required_unless_present = "profile", conflicts_with = "profile")]
    pub system: Option<String>,
    /// Run the bug catalog's profile instead of a matrix: `nightly` (every
    /// scenario, 5 runs each) or `smoke` (a few, for pull requests).
    #[arg(long)]
    pub profile: Option<String>,
    /// The catalog file for --profile (default: the built-in harness/catalog.json).
    #[arg(long, requires = "profile")]
    pub catalog: Option<PathBuf>,
    /// --profile: only these scenarios, comma separated.
    #[arg(long, value_delimiter = ',', requires = "profile")]
    pub only: Vec<String>,
    /// --profile: the share of runs a bug must be detected in (default: the
    /// profile's, else the catalog's 0.8).
    #[arg(long, requires = "profile")]
    pub floor: Option<f64>,
    /// --profile: run i of a scenario gets seed SEED+i-1 (default: random seeds,
    /// each recorded in its test.json).
    #[arg(long, requires = "profile")]
    pub seed: Option<u64>,
    /// Workloads, comma separated (default: every workload the system runs, as
    /// `faultline list` shows).
    #[arg(long, value_delimiter = ',')]
    pub workloads: Vec<String>,
    /// Nemeses, comma separated; `+` combines faults in one cell (`kill+pause`).
    #[arg(long, value_delimiter = ',', default_value = "none")]
    pub nemeses: Vec<String>,
    /// Runs per cell (each with its own random seed, recorded in its test.json);
    /// default 1, or the profile's (5 for nightly) with --profile.
    #[arg(long)]
    pub count: Option<usize>,
    /// Where runs are stored.
    #[arg(long, default_value = "store")]
    pub store: PathBuf,
    /// The matrix's JUnit file (default `<store>/test-all.junit.xml`).
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Further options for every `faultline test` (after `--`), e.g.
    /// `-- --time-limit 30 --concurrency 5`.
    #[arg(last = true)]
    pub test_args: Vec<String>,
}

/// How one cell's process ended, as the matrix needs it.
struct CellRun {
    code: Option<i32>,
    stderr: String,
    run_dir: Option<PathBuf>,
}

/// The newest run directory of `store/<name>/` created at or after `since`.
pub(crate) fn newest_run(store: &Path, name: &str, since: SystemTime) -> Option<PathBuf> {
    let dir = store.join(name);
    let mut runs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
        .filter(|e| e.metadata().and_then(|m| m.modified()).map(|t| t >= since).unwrap_or(false))
        .map(|e| e.path())
        .collect();
    runs.sort();
    runs.pop()
}

fn run_cell(
    args: &TestAllArgs,
    system: &str,
    workload: &str,
    nemesis: &str,
    name: &str,
) -> Result<CellRun, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::crash(format!("cannot find the faultline binary itself: {e}")))?;
    let since = SystemTime::now() - std::time::Duration::from_secs(1);
    let out = Command::new(exe)
        .arg("test")
        .args(["--system", system, "--workload", workload])
        .args(["--nemesis", &nemesis.replace('+', ",")])
        .arg("--store")
        .arg(&args.store)
        .args(["--name", name, "--quiet"])
        .args(&args.test_args)
        .output()
        .map_err(|e| Failure::crash(format!("cannot start faultline test: {e}")))?;
    Ok(CellRun {
        code: out.status.code(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        run_dir: newest_run(&args.store, name, since),
    })
}

/// The last few lines of a crashed cell's stderr: usually the reason.
fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The workloads of the matrix: the ones asked for, each known and run by the system,
/// or by default every workload the system runs.
fn workloads(
    args: &TestAllArgs,
    system: &str,
    registry: &Registry,
) -> Result<Vec<String>, Failure> {
    let system = crate::systems::find(&registry.systems, system).map_err(Failure::bad_input)?;
    if args.workloads.is_empty() {
        return Ok(registry
            .workloads
            .iter()
            .filter(|w| system.lacks(w.needs).is_none())
            .map(|w| w.name.to_string())
            .collect());
    }
    for name in &args.workloads {
        let w = workloads::find(&registry.workloads, name).map_err(Failure::bad_input)?;
        if let Some(api) = system.lacks(w.needs) {
            return Err(Failure::bad_input(format!(
                "the {} workload needs the {api} API, which the {} system's client does not offer",
                w.name, system.name
            )));
        }
    }
    Ok(args.workloads.clone())
}

/// A matrix's options checked before any cell runs (no `--profile`): the system,
/// count, workloads and nemesis names. Returns the system, the runs per cell and the
/// workloads; creates nothing.
pub fn plan(args: &TestAllArgs) -> Result<(String, usize, Vec<String>), Failure> {
    let system = args.system.clone().unwrap_or_default();
    let count = args.count.unwrap_or(1);
    if count == 0 {
        return Err(Failure::bad_input("--count must be at least 1"));
    }
    let workloads = workloads(args, &system, &Registry::default())?;
    let plain = |s: &str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_+".contains(c))
    };
    for v in std::iter::once(&system).chain(&workloads).chain(&args.nemeses) {
        if !plain(v) {
            return Err(Failure::bad_input(format!(
                "{v:?}: system, workload and nemesis names are letters, digits, '-', '_' and '+'"
            )));
        }
    }
    Ok((system, count, workloads))
}

pub fn test_all(args: &TestAllArgs) -> CmdResult {
    if let Some(profile) = &args.profile {
        return crate::catalog::run(&crate::catalog::CatalogArgs {
            profile: profile.clone(),
            catalog: args.catalog.clone(),
            count: args.count,
            floor: args.floor,
            only: args.only.clone(),
            seed: args.seed,
            store: args.store.clone(),
            junit: args.junit.clone(),
            test_args: args.test_args.clone(),
        });
    }
    let (system, count, workloads) = plan(args)?;
    std::fs::create_dir_all(&args.store).map_err(|e| {
        Failure::bad_input(format!("{}: cannot create the store: {e}", args.store.display()))
    })?;
    let total = workloads.len() * args.nemeses.len() * count;
    let mut cells = Vec::with_capacity(total);
    // A cell's options unusable (254) vs anything else that left no verdict (255).
    let (mut bad_input, mut crashed) = (false, false);
    for workload in &workloads {
        for nemesis in &args.nemeses {
            for repetition in 1..=count {
                let name = format!("{}-{}-{}", system, workload, nemesis.replace('+', "-"));
                eprintln!(
                    "[{}/{total}] {} {workload} {nemesis} #{repetition} ...",
                    cells.len() + 1,
                    system
                );
                let started = Instant::now();
                let run = run_cell(args, &system, workload, nemesis, &name)?;
                let outcome = match (run.code, &run.run_dir) {
                    (Some(0..=2), Some(dir)) => match results::run_dir::load(dir) {
                        Ok(loaded) if !loaded.view.checks.is_empty() => CellOutcome::Checked {
                            run_dir: Some(dir.clone()),
                            checks: loaded.view.checks,
                        },
                        Ok(_) => {
                            crashed = true;
                            CellOutcome::Crashed {
                                run_dir: Some(dir.clone()),
                                message: format!(
                                    "{}: the run recorded no checker results",
                                    dir.display()
                                ),
                            }
                        }
                        Err(e) => {
                            crashed = true;
                            CellOutcome::Crashed {
                                run_dir: Some(dir.clone()),
                                message: e.to_string(),
                            }
                        }
                    },
                    (code, dir) => {
                        if code == Some(Exit::BadInput.code()) {
                            bad_input = true;
                        } else {
                            crashed = true;
                        }
                        let how = match code {
                            Some(c) => format!("faultline test exited {c}"),
                            None => "faultline test was killed by a signal".to_string(),
                        };
                        eprint!("{}", run.stderr);
                        CellOutcome::Crashed {
                            run_dir: dir.clone(),
                            message: format!("{how}: {}", tail(&run.stderr, 3)),
                        }
                    }
                };
                let cell = Cell {
                    system: system.clone(),
                    workload: workload.clone(),
                    nemesis: nemesis.clone(),
                    repetition,
                    seconds: started.elapsed().as_secs_f64(),
                    outcome,
                };
                eprintln!(
                    "    {} ({:.1} s)",
                    cell.verdict().map_or("CRASHED", results::Verdict::name),
                    cell.seconds
                );
                cells.push(cell);
            }
        }
    }
    println!("{}", matrix::table(&cells));
    let junit = args.junit.clone().unwrap_or_else(|| args.store.join("test-all.junit.xml"));
    let xml = matrix::junit_report(&format!("faultline test-all {system}"), &cells)
        .to_string()
        .map_err(|e| Failure::crash(format!("cannot render the matrix JUnit: {e}")))?;
    std::fs::write(&junit, xml)
        .map_err(|e| Failure::crash(format!("{}: cannot write: {e}", junit.display())))?;
    println!("{}", junit.display());
    Ok(match matrix::overall(&cells) {
        MatrixVerdict::Crashed if crashed || !bad_input => Exit::Crash,
        MatrixVerdict::Crashed => Exit::BadInput,
        MatrixVerdict::Checked(v) => Exit::of(v),
    })
}
