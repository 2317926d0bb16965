//! `faultline check FILE... --model CHECKER`: judges each history with a checker
//! from the checkers registry (a linearizability model, or any other checker).
//!
//! Prints one table row per file (verdict, operations, partitions, time) and, for
//! each invalid file, the explanation in words; `--json` prints the outcomes as data
//! instead (the checker's evidence beside its verdict). The exit code merges all
//! files: 1 when any is invalid (a proven anomaly outranks everything), else 254
//! when any could not be read or checked, else 2 when any is unknown, else 0.

use std::path::{Path, PathBuf};
use std::time::Duration;

use checkers::registry::{self, CheckerDef, CheckerOptions};
use checkers::{Outcome, Verdict};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use history::Format;
use serde::Serialize;
use tabled::builder::Builder;
use tabled::settings::Style;

use crate::commands::history::load;
use crate::exit::{CmdResult, Exit, Failure};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// History files (jsonl, edn, porcupine-log).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The checker (or linearizability model) to judge with, from the registry.
    #[arg(long, value_parser = checker_parser())]
    pub model: &'static CheckerDef,
    /// Input format; detected from each file's content when absent.
    #[arg(long)]
    pub format: Option<Format>,
    /// Seconds per file before the verdict is "unknown".
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Megabytes of search cache per file before the verdict is "unknown".
    #[arg(long = "memory-limit", default_value_t = 4096)]
    pub memory_limit: u64,
    /// Initial value (EDN), in the form the checker reads (its summary under
    /// `--model` says which; checkers that take none refuse one).
    #[arg(long)]
    pub initial: Option<String>,
    /// Check the history as one object even when the checker could split it by key.
    #[arg(long)]
    pub no_partition: bool,
    /// A checker's own option, `NAME=VALUE` (the value in EDN) or `NAME` alone for
    /// `true`; repeatable. `--model`'s help lists each checker's (elle-cli's names:
    /// `set-full`: linearizable; `bank`: total-amount, accounts,
    /// allow-negative-balances; `long-fork`: group-size).
    #[arg(long = "option", value_name = "NAME[=VALUE]")]
    pub options: Vec<String>,
    /// Print the outcomes as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `--model`'s values and their help, from the registry.
fn checker_parser() -> impl TypedValueParser<Value = &'static CheckerDef> {
    PossibleValuesParser::new(
        registry::ALL.iter().map(|d| PossibleValue::new(d.name).help(d.summary)),
    )
    .try_map(|name: String| registry::by_name(&name))
}

/// One file's result, as `--json` prints it.
#[derive(Debug, Serialize)]
struct FileResult {
    file: String,
    #[serde(flatten)]
    outcome: Option<Outcome>,
    /// Why the file could not be checked (unreadable, ill-formed, unknown operation).
    error: Option<String>,
}

/// The checker `args` ask for, every option checked (`--timeout`, `--initial`,
/// `--option`, the checker's own refusals); reads no file. 254 naming the option.
pub fn prepare(args: &CheckArgs) -> Result<Box<dyn checkers::Checker + Send + Sync>, Failure> {
    let max = crate::controller::MAX_SECONDS;
    if !(args.timeout > 0.0 && args.timeout <= max) {
        return Err(Failure::bad_input(format!(
            "--timeout must be a positive number of seconds, at most {max}, got {}",
            args.timeout
        )));
    }
    let initial = match &args.initial {
        Some(text) => Some(
            history::edn::parse_value(text)
                .map_err(|e| Failure::bad_input(format!("--initial {text:?}: {e}")))?,
        ),
        None => None,
    };
    let extension =
        crate::options::checker_extension("--option", &args.options).map_err(Failure::bad_input)?;
    let options = CheckerOptions {
        extension,
        initial,
        time_limit: Some(Duration::from_secs_f64(args.timeout)),
        memory_limit: usize::try_from(args.memory_limit.saturating_mul(1 << 20))
            .unwrap_or(usize::MAX),
        partition: !args.no_partition,
        ..CheckerOptions::default()
    };
    args.model.checker(&options).map_err(Failure::bad_input)
}

pub fn run(args: &CheckArgs) -> CmdResult {
    let checker = prepare(args)?;
    let mut results = Vec::new();
    for file in &args.files {
        let result = match check_file(checker.as_ref(), file, args.format) {
            Ok(outcome) => {
                FileResult { file: file.display().to_string(), outcome: Some(outcome), error: None }
            }
            Err(message) => {
                if !args.json {
                    eprintln!("faultline: {message}");
                }
                FileResult { file: file.display().to_string(), outcome: None, error: Some(message) }
            }
        };
        results.push(result);
    }
    if args.json {
        let text = serde_json::to_string_pretty(&results).map_err(Failure::crash)?;
        println!("{text}");
    } else {
        print_table(&results);
    }
    Ok(merge(&results))
}

fn check_file(
    checker: &(dyn checkers::Checker + Send + Sync),
    file: &Path,
    format: Option<Format>,
) -> Result<Outcome, String> {
    let read = load(file, format).map_err(|f| f.message)?;
    let linted = read.history.lint().map_err(|failure| {
        format!("{}: {} defect(s):\n{failure}", file.display(), failure.errors.len())
    })?;
    checker.check(&linted).map_err(|e| match e {
        checkers::CheckError::BadOperation { .. } => e.to_string(),
        other => format!("{}: {other}", file.display()),
    })
}

fn print_table(results: &[FileResult]) {
    let mut table = Builder::default();
    table.push_record(["file", "verdict", "ops", "partitions", "time", "reason"]);
    for r in results {
        match &r.outcome {
            Some(o) => table.push_record([
                r.file.clone(),
                o.verdict.to_string(),
                o.stats.ops.to_string(),
                o.stats.partitions.to_string(),
                format!("{:.3} s", o.stats.elapsed.as_secs_f64()),
                o.reason.clone(),
            ]),
            None => table.push_record([
                r.file.clone(),
                "error".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "could not be checked (see above)".into(),
            ]),
        }
    }
    println!("{}", table.build().with(Style::sharp()));
    for r in results {
        if let Some(o) = &r.outcome
            && o.verdict == Verdict::Invalid
        {
            println!("\n{}: {}", r.file, o.explanation);
        }
    }
}

/// Invalid > bad input > unknown > valid.
fn merge(results: &[FileResult]) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Valid => 0,
        Exit::Unknown | Exit::Interrupted | Exit::Terminated => 1,
        Exit::BadInput => 2,
        Exit::Invalid => 3,
        Exit::Crash => 4,
    };
    results
        .iter()
        .map(|r| match &r.outcome {
            Some(o) => Exit::of(o.verdict),
            None => Exit::BadInput,
        })
        .max_by_key(|&e| rank(e))
        .unwrap_or(Exit::Valid)
}
