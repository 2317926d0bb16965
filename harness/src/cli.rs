//! The command line (clap, derive) and its dispatch.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use history::Format;

use crate::commands;
use crate::exit::{CmdResult, Exit};

/// faultline: a Jepsen-style fault-injection test harness.
///
/// Exit codes: 0 valid, 1 invalid, 2 unknown, 254 bad arguments or unusable
/// input, 255 the harness crashed or could not set up.
#[derive(Debug, Parser)]
#[command(name = "faultline", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read, convert and lint history files.
    #[command(subcommand)]
    History(HistoryCmd),
    /// Run a test: start the system, drive the workload with faults, record the
    /// history, tear down, judge.
    Test(Box<crate::options::TestArgs>),
    /// Judge a run's recorded history again (also one whose harness was killed).
    Analyze {
        /// The run directory (`store/<test>/<timestamp>` or `store/latest`).
        run_dir: PathBuf,
    },
    /// Run a test again with a run's options and seed; check the same operations and
    /// fault schedule were generated.
    Replay { run_dir: PathBuf },
    /// Run a matrix of tests (workloads x nemeses x count), one summary table and
    /// one JUnit file; any crash makes the exit code 255.
    TestAll(commands::test_all::TestAllArgs),
    /// Regenerate report.html and junit.xml of a stored run (exit code: its verdict).
    Report {
        /// The run directory (`store/<test>/<timestamp>`).
        run_dir: PathBuf,
    },
    /// Serve a web UI over a store: runs newest first, reports, files, bundles.
    Serve {
        #[arg(long, default_value = "store")]
        store: PathBuf,
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The address to listen on (loopback by default).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
    },
    /// Check histories with a checker from the registry (a linearizability model or
    /// any other; `faultline list` shows them).
    Check(commands::check::CheckArgs),
    /// A drop-in for elle-cli: `faultline elle -m list-append FILE...` takes
    /// elle-cli's flags, inputs, output lines and exit codes (`faultline elle --help`).
    #[command(disable_help_flag = true)]
    Elle {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// What a run can be made of: systems, workloads, nemeses, checkers and bug
    /// switches, each with what it supports or needs.
    List {
        /// Print the listing as JSON (for scripts).
        #[arg(long)]
        json: bool,
    },
    /// A lab of network namespaces to bring up by hand, break and remove.
    Lab {
        /// The lab to act on (its prefix, see `lab status`); optional when only one
        /// hand-made lab is up.
        #[arg(long, global = true)]
        lab: Option<String>,
        #[command(subcommand)]
        cmd: crate::commands::lab_cli::LabCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum HistoryCmd {
    /// Convert a history between formats (jsonl, edn; porcupine-log is read only).
    Convert {
        input: PathBuf,
        output: PathBuf,
        /// Input format; detected from the content when absent.
        #[arg(long)]
        from: Option<Format>,
        /// Output format; taken from OUTPUT's extension when absent (.edn or .jsonl).
        #[arg(long)]
        to: Option<Format>,
    },
    /// Check a history against Jepsen's rules and report every defect with its line.
    Lint {
        file: PathBuf,
        #[arg(long)]
        format: Option<Format>,
    },
}

/// Parses the arguments, runs the command and returns the exit code. Panics become
/// 255 (a crash is never green); argument errors become 254.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { Exit::BadInput.code() } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(exit)) => exit.code(),
        Ok(Err(failure)) => {
            eprintln!("faultline: {failure}");
            failure.exit.code()
        }
        Err(_) => {
            eprintln!(
                "faultline: the harness crashed (a bug: please report it with the output above)"
            );
            Exit::Crash.code()
        }
    }
}

pub fn run(cli: Cli) -> CmdResult {
    match cli.command {
        Command::History(HistoryCmd::Convert { input, output, from, to }) => {
            commands::history::convert(&input, &output, from, to)
        }
        Command::History(HistoryCmd::Lint { file, format }) => {
            commands::history::lint(&file, format)
        }
        Command::Test(args) => commands::test::run_test(*args).map(|(exit, _)| exit),
        Command::Analyze { run_dir } => commands::analyze::analyze(&run_dir),
        Command::Replay { run_dir } => commands::replay::replay(&run_dir),
        Command::TestAll(args) => commands::test_all::test_all(&args),
        Command::Report { run_dir } => commands::report::report(&run_dir),
        Command::Serve { store, port, bind } => commands::serve::serve(&store, bind, port),
        Command::Check(args) => commands::check::run(&args),
        Command::Elle { args } => commands::elle::run(&args),
        Command::List { json } => {
            commands::list::list(&crate::controller::Registry::default(), json)
        }
        Command::Lab { lab, cmd } => commands::lab_cli::run(lab.as_deref(), cmd),
    }
}
