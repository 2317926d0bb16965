//! `faultline elle`: a drop-in for elle-cli (ligurio/elle-cli), same flags, same
//! input forms, same output, same exit codes, so CI that runs elle-cli can run
//! faultline instead without changing a flag.
//!
//! - Flags: `-m/--model` (rw-register, list-append, bank, counter, set, set-full,
//!   long-fork, cas-register, mutex), `-c/--consistency-models` (comma list,
//!   default `strict-serializable`, `''` for none), `-a/--anomalies` (default
//!   `G0`), `-f edn|json` (else by extension), `-v`/`--verbose` (the full analysis
//!   as JSON; `-v json|text` and `--output json|text` as newer elle-cli spell it),
//!   `-s/--cycle-search-timeout` (ms), `-d/--directory` (explanations and plots),
//!   `-g/--group-size`, bank's `-n/--allow-negative-balances`, `-o/--total-amount`,
//!   `--max-transfer`, and the plot flags `-p`, `-t`, `-b` (accepted; plots are
//!   SVG drawn without graphviz). faultline adds rw-register's `--sequential-keys`,
//!   `--linearizable-keys` and `--wfr-keys`.
//! - Input: see [`super::elle_input`].
//! - Output: one line per file, as elle-cli's `(println path "\t" valid?)` prints
//!   it: the path, a space, a tab, a space and `true`, `false` or `unknown`; with
//!   `-v`, the analysis as JSON instead.
//! - Exit codes: 0 when no file is `false` (`unknown` included), 1 when one is, 1
//!   for a flag elle-cli would refuse and for a history the model cannot read
//!   (elle-cli's model mismatch), 255 on what elle-cli treats as an exception
//!   (a missing file, an unreadable one, an unknown or unavailable model), 0 for
//!   `--help` and when no model is given (elle-cli prints its usage).
//!
//! The models come from the checker registry: `faultline elle -m X` runs the
//! registry's checker `X`; an elle-cli model the registry does not have yet says so
//! and exits 255. With `-d`, each reported cycle anomaly gets Elle's
//! `<anomaly>.txt` (its cycles in Elle's words) and one SVG per cycle in
//! `<anomaly>/<n>.svg`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use checkers::elle::{self, ElleOptions, txn::Flavor};
use checkers::registry::{self, CheckerOptions};
use checkers::{CheckError, Verdict};
use clap::Parser;
use history::Value;

use super::elle_input::{self, Input};
use crate::exit::{CmdResult, Exit, Failure};

/// The models elle-cli knows (`faultline elle -m` accepts these names).
pub const ELLE_CLI_MODELS: &[&str] = &[
    "rw-register",
    "list-append",
    "bank",
    "counter",
    "set",
    "set-full",
    "long-fork",
    "cas-register",
    "mutex",
];

/// elle-cli's options (tools.cli), as clap.
#[derive(Debug, Parser)]
#[command(
    name = "faultline elle",
    about = "faultline elle - command-line transactional safety checker (a drop-in for elle-cli).",
    override_usage = "faultline elle -m model [options] files",
    disable_version_flag = true
)]
struct ElleArgs {
    /// (General) A name of consistency model for checking: rw-register,
    /// list-append, bank, counter, set, set-full, long-fork, cas-register, mutex.
    #[arg(short = 'm', long = "model")]
    model: Option<String>,
    /// (General) Format of file with history. Either 'edn' or 'json'.
    #[arg(short = 'f', long = "format", value_parser = Input::parse)]
    format: Option<Input>,
    /// (General) Print the full analysis as JSON.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// (General) Output format. Either 'text' or 'json'. Defaults to 'text'.
    #[arg(long = "output", value_parser = ["text", "json"])]
    output: Option<String>,
    /// (General) Print version and exit.
    #[arg(long = "version")]
    version: bool,
    /// (Elle) A collection of consistency models we expect this history to obey.
    #[arg(short = 'c', long = "consistency-models", default_value = "strict-serializable")]
    consistency_models: String,
    /// (Elle) A collection of specific anomalies you'd like to look for.
    #[arg(short = 'a', long = "anomalies", default_value = "G0")]
    anomalies: String,
    /// (Elle) Number of ms for searching a single SCC for a cycle.
    #[arg(short = 's', long = "cycle-search-timeout", default_value_t = 1000)]
    cycle_search_timeout: u64,
    /// (Elle) Where to output files, if desired.
    #[arg(short = 'd', long = "directory")]
    directory: Option<PathBuf>,
    /// (Elle) Either 'png' or 'svg' (faultline draws SVG either way).
    #[arg(short = 'p', long = "plot-format", default_value = "svg")]
    plot_format: String,
    /// (Elle) How many milliseconds will we wait to render a SCC plot?
    #[arg(short = 't', long = "plot-timeout", default_value_t = 5000)]
    plot_timeout: u64,
    /// (Elle) Maximum size of a cycle graph (in bytes of DOT; here of SVG).
    #[arg(short = 'b', long = "max-plot-bytes", default_value_t = 65536)]
    max_plot_bytes: usize,
    /// (rw-register) Assume each key is sequentially consistent: infer its version
    /// order from each process's order.
    #[arg(long = "sequential-keys")]
    sequential_keys: bool,
    /// (rw-register) Assume each key is linearizable: infer its version order from
    /// real-time order.
    #[arg(long = "linearizable-keys")]
    linearizable_keys: bool,
    /// (rw-register) Assume writes follow reads within a transaction.
    #[arg(long = "wfr-keys")]
    wfr_keys: bool,
    /// (Jepsen) A group size.
    #[arg(short = 'g', long = "group-size", default_value_t = 0)]
    group_size: i64,
    /// (Bank) Allow negative balances in a bank model.
    #[arg(short = 'n', long = "allow-negative-balances")]
    allow_negative_balances: bool,
    /// (Bank) The largest transfer we'll try to execute.
    #[arg(long = "max-transfer")]
    max_transfer: Option<i64>,
    /// (Bank) Total amount to allocate.
    #[arg(short = 'o', long = "total-amount")]
    total_amount: Option<i64>,
    /// History files (EDN, JSON; faultline's JSON Lines by `.jsonl`).
    files: Vec<PathBuf>,
}

/// Rewrites elle-cli's spellings clap does not take: `-v json|text` (newer
/// elle-cli's `-v OUTPUT`) as `--output`.
fn normalize(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if (a == "-v" || a == "--verbose")
            && matches!(args.get(i + 1).map(String::as_str), Some("json" | "text"))
        {
            out.push("--output".to_string());
            out.push(args[i + 1].clone());
            i += 2;
            continue;
        }
        out.push(a.clone());
        i += 1;
    }
    out
}

fn names(list: &str) -> Value {
    Value::List(
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::Str(s.to_string()))
            .collect(),
    )
}

/// What `faultline elle ARGS...` is to do, every flag checked and nothing read yet.
pub enum Prepared {
    /// Print this clap message (help, version, or a refused flag) and exit so.
    Clap(clap::Error, Exit),
    /// Print this text to stdout and exit 0 (`--version`; no model: the usage).
    Print(String),
    /// Judge the files.
    Judge(Box<Judge>),
}

/// A checked `faultline elle` invocation: the model's checker and its options.
pub struct Judge {
    a: ElleArgs,
    model: String,
    json: bool,
    flavor: Option<Flavor>,
    checker: Box<dyn checkers::Checker + Send + Sync>,
    elle_options: Option<ElleOptions>,
}

/// Parses and checks elle-cli's flags (the model, every option the model takes);
/// reads no file and prints nothing.
pub fn prepare(args: &[String]) -> Result<Prepared, Failure> {
    let argv = std::iter::once("faultline elle".to_string()).chain(normalize(args));
    let a = match ElleArgs::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) => {
            use clap::error::ErrorKind;
            let exit = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => Exit::Valid,
                // elle-cli prints option errors and exits 1.
                _ => Exit::Invalid,
            };
            return Ok(Prepared::Clap(e, exit));
        }
    };
    if a.version {
        return Ok(Prepared::Print(format!("faultline elle {}", env!("CARGO_PKG_VERSION"))));
    }
    let Some(model) = a.model.clone() else {
        use clap::CommandFactory;
        return Ok(Prepared::Print(ElleArgs::command().render_help().to_string()));
    };
    let json = a.verbose || a.output.as_deref() == Some("json");
    // Plots are SVG, drawn at once: the format and time limit have nothing to change.
    let _ = (&a.plot_format, a.plot_timeout);
    let def = match registry::by_name(&model) {
        Ok(def) => def,
        Err(_) if ELLE_CLI_MODELS.contains(&model.as_str()) => {
            return Err(Failure::crash(format!(
                "model {model:?} is not available in this faultline yet (no checker {model:?} in the \
                 registry; `faultline list` shows those there are)"
            )));
        }
        Err(_) => {
            return Err(Failure::crash(format!(
                "unknown model {model:?}: must be one of {}",
                ELLE_CLI_MODELS.join(", ")
            )));
        }
    };
    let mut extra: BTreeMap<String, Value> = BTreeMap::new();
    extra.insert("consistency-models".into(), names(&a.consistency_models));
    extra.insert("anomalies".into(), names(&a.anomalies));
    extra.insert("cycle-search-timeout".into(), Value::Int(a.cycle_search_timeout.max(1) as i64));
    for (k, on) in [
        ("sequential-keys", a.sequential_keys),
        ("linearizable-keys", a.linearizable_keys),
        ("wfr-keys", a.wfr_keys),
    ] {
        if on {
            extra.insert(k.into(), Value::Bool(true));
        }
    }
    extra.insert("group-size".into(), Value::Int(a.group_size));
    extra.insert("allow-negative-balances".into(), Value::Bool(a.allow_negative_balances));
    if let Some(t) = a.total_amount {
        extra.insert("total-amount".into(), Value::Int(t));
    }
    if let Some(m) = a.max_transfer {
        extra.insert("max-transfer".into(), Value::Int(m));
    }
    // elle-cli hands every option to every checker and each reads its own; ours
    // refuse names they do not take, so only the chosen model's flags go through.
    extra.retain(|k, _| elle_cli_flags(def.name).contains(&k.as_str()));
    let options = CheckerOptions { extension: extra, ..CheckerOptions::default() };
    let flavor = match def.name {
        "list-append" => Some(Flavor::ListAppend),
        "rw-register" => Some(Flavor::RwRegister),
        _ => None,
    };
    let checker = def.checker(&options).map_err(Failure::crash)?;
    let elle_options = match flavor {
        Some(_) => Some(ElleOptions::from_checker(&options).map_err(Failure::crash)?),
        None => None,
    };
    Ok(Prepared::Judge(Box::new(Judge { a, model, json, flavor, checker, elle_options })))
}

/// Runs `faultline elle ARGS...`.
pub fn run(args: &[String]) -> CmdResult {
    let Judge { a, model, json, flavor, checker, elle_options } = match prepare(args)? {
        Prepared::Clap(e, exit) => {
            let _ = e.print();
            return Ok(exit);
        }
        Prepared::Print(text) => {
            println!("{text}");
            return Ok(Exit::Valid);
        }
        Prepared::Judge(judge) => *judge,
    };
    let mut any_false = false;
    for path in &a.files {
        if !path.exists() {
            return Err(Failure::crash(format!("File not found: {}", path.display())));
        }
        let input = a.format.or_else(|| Input::of_path(path)).ok_or_else(|| {
            Failure::crash(format!(
                "{}: cannot tell the format: name it with -f edn or -f json",
                path.display()
            ))
        })?;
        let history = elle_input::read(path, input).map_err(Failure::crash)?;
        let linted =
            history.lint().map_err(|f| Failure::crash(format!("{}: {f}", path.display())))?;
        let mismatch = |e: CheckError| match e {
            CheckError::BadOperation { .. } => {
                eprintln!(
                    "Model {model:?} does not match this history: {e} - wrong model selected?"
                );
                Ok(Exit::Invalid)
            }
            other => Err(Failure::crash(format!("{}: {other}", path.display()))),
        };
        let (verdict, analysis) = match (flavor, &elle_options) {
            (Some(flavor), Some(o)) => match elle::run(flavor, &linted, o) {
                Ok(report) => {
                    if let Some(dir) = &a.directory {
                        write_files(dir, &report, a.max_plot_bytes).map_err(Failure::crash)?;
                    }
                    (report.analysis.valid.verdict(), report.elle_json())
                }
                Err(e) => return mismatch(e),
            },
            _ => match checker.check(&linted) {
                Ok(outcome) => {
                    let mut j = serde_json::to_value(&outcome).map_err(Failure::crash)?;
                    if let Some(m) = j.as_object_mut() {
                        m.insert("valid?".into(), elle_valid(outcome.verdict));
                    }
                    (outcome.verdict, j)
                }
                Err(e) => return mismatch(e),
            },
        };
        any_false |= verdict == Verdict::Invalid;
        if json {
            println!("{}", serde_json::to_string_pretty(&analysis).map_err(Failure::crash)?);
        } else {
            let word = match verdict {
                Verdict::Valid => "true",
                Verdict::Invalid => "false",
                Verdict::Unknown => "unknown",
            };
            println!("{} \t {word}", path.display());
        }
    }
    Ok(if any_false { Exit::Invalid } else { Exit::Valid })
}

fn elle_valid(v: Verdict) -> serde_json::Value {
    match v {
        Verdict::Valid => serde_json::Value::Bool(true),
        Verdict::Invalid => serde_json::Value::Bool(false),
        Verdict::Unknown => serde_json::json!("unknown"),
    }
}

/// Elle's `-d` output: `<anomaly>.txt` with the cycles in Elle's words, and one
/// SVG per cycle (no bigger than `max_bytes`) in `<anomaly>/<n>.svg`.
fn write_files(dir: &Path, report: &elle::Report<'_>, max_bytes: usize) -> Result<(), String> {
    let io = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (name, text) in report.cycle_files() {
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| io(&p, e))?;
    }
    for (name, view) in report.cycle_graphs() {
        let (kind, n) = name.rsplit_once('-').unwrap_or((name.as_str(), "0"));
        let svg = results::graphs::graph_svg(&view);
        if svg.len() > max_bytes {
            continue;
        }
        let sub = dir.join(kind);
        std::fs::create_dir_all(&sub).map_err(|e| io(&sub, e))?;
        let p = sub.join(format!("{n}.svg"));
        std::fs::write(&p, svg).map_err(|e| io(&p, e))?;
    }
    Ok(())
}

/// The elle-cli flags (long names without dashes) that elle-cli's model `model`
/// reads: Elle's options for the two transactional models, bank's and long-fork's
/// own; the other models read none.
fn elle_cli_flags(model: &str) -> &'static [&'static str] {
    match model {
        "list-append" | "rw-register" => checkers::elle::OPTIONS,
        "bank" => &["allow-negative-balances", "total-amount", "max-transfer"],
        "long-fork" => &["group-size"],
        _ => &[],
    }
}
