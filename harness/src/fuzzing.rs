//! The property the command-line fuzz target checks (`harness/fuzz`), shared with the
//! test that replays its kept corpus and every crasher found
//! (`tests/fuzz_regressions.rs`), so CI checks the same thing on the same inputs.
//!
//! [`cli`]: the bytes are an argv (arguments separated by NUL bytes, as the kernel
//! hands them over, not necessarily UTF-8) after `faultline`; the real clap [`Cli`]
//! parses them, and each command whose options are checked before anything starts
//! has that check run too: `test` ([`Plan::resolve`], the controller's plan phase),
//! `check` ([`check::prepare`]), `elle` ([`elle::prepare`]) and `test-all` without
//! `--profile` ([`test_all::plan`]). None of these creates a directory, a lab or a
//! process, or reads a file. The property: no panic, and every refusal is a message
//! (clap's or the [`Failure`]'s) that is not empty. `replay`, `analyze`, `report`
//! and the `history`, `lab` and `serve` commands read or create files before they
//! check anything more than clap does, so only their parsing is fuzzed.
//!
//! [`Failure`]: crate::exit::Failure

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::{check, elle, test_all};
use crate::controller::{Plan, Registry};

/// The argv the bytes stand for: `faultline` then the NUL-separated arguments.
pub fn argv(data: &[u8]) -> Vec<OsString> {
    let mut argv = vec![OsString::from("faultline")];
    if !data.is_empty() {
        argv.extend(data.split(|&b| b == 0).map(|a| OsString::from_vec(a.to_vec())));
    }
    argv
}

/// Panics when `data`, as an argv, makes the command line panic or refuse without a
/// message (see the module docs).
pub fn cli(data: &[u8]) {
    let cli = match Cli::try_parse_from(argv(data)) {
        Ok(cli) => cli,
        Err(e) => {
            assert!(!e.to_string().trim().is_empty(), "a clap error without a message: {e:?}");
            return;
        }
    };
    let refusal = match cli.command {
        Command::Test(args) => Plan::resolve(*args, &Registry::default()).err(),
        Command::Check(args) => check::prepare(&args).err(),
        Command::Elle { args } => match elle::prepare(&args) {
            Ok(elle::Prepared::Clap(e, _)) => {
                assert!(!e.to_string().trim().is_empty(), "an elle flag error without a message");
                None
            }
            Ok(_) => None,
            Err(failure) => Some(failure),
        },
        Command::TestAll(args) if args.profile.is_none() => test_all::plan(&args).err(),
        _ => None,
    };
    if let Some(failure) = refusal {
        assert!(!failure.message.trim().is_empty(), "a refusal without a message: {failure:?}");
    }
}

/// A libFuzzer dictionary (`-dict=`) of the command line's words, from the clap
/// command itself: every subcommand's name, every long and short flag, every
/// possible value, and the registries' names (systems, workloads, nemeses, checkers,
/// bug switches), one quoted token a line, sorted. `harness/fuzz/cli.dict` is this
/// text; `tests/fuzz_regressions.rs` keeps it so.
pub fn dictionary() -> String {
    use clap::CommandFactory;
    use std::collections::BTreeSet;
    fn walk(cmd: &clap::Command, words: &mut BTreeSet<String>) {
        words.insert(cmd.get_name().to_string());
        for arg in cmd.get_arguments() {
            if let Some(long) = arg.get_long() {
                words.insert(format!("--{long}"));
            }
            if let Some(short) = arg.get_short() {
                words.insert(format!("-{short}"));
            }
            for value in arg.get_possible_values() {
                words.insert(value.get_name().to_string());
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, words);
        }
    }
    let mut words = BTreeSet::new();
    walk(&Cli::command(), &mut words);
    let registry = Registry::default();
    for system in &registry.systems {
        words.insert(system.name.to_string());
        words.extend(system.caps.bugs.iter().map(|b| b.name.to_string()));
    }
    words.extend(registry.workloads.iter().map(|w| w.name.to_string()));
    words.extend(registry.checkers.iter().map(|c| c.name.to_string()));
    words.extend(elle::ELLE_CLI_MODELS.iter().map(|m| m.to_string()));
    // The argument separator, so libFuzzer splices whole arguments.
    words.insert("\0".into());
    words.extend(registry.faults.names().iter().map(|n| n.to_string()));
    words.iter().map(|w| format!("\"{}\"\n", escape(w))).collect()
}

/// A token as libFuzzer's dictionary spells it: printable ASCII as is, `"` and `\`
/// escaped, every other byte as `\xNN`.
fn escape(word: &str) -> String {
    word.bytes()
        .map(|b| match b {
            b'"' | b'\\' => format!("\\{}", b as char),
            0x20..=0x7e => (b as char).to_string(),
            _ => format!("\\x{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_split_into_arguments_at_nul() {
        assert_eq!(argv(b""), vec![OsString::from("faultline")]);
        assert_eq!(argv(b"test\0--nodes\x003"), ["faultline", "test", "--nodes", "3"]);
        assert_eq!(argv(b"a\0\0b").len(), 4, "an empty argument is an argument");
    }

    /// What the fuzzer found (`check --timeout 1e130` panicked): every seconds option
    /// beyond `MAX_SECONDS` is refused at plan time, naming the option.
    #[test]
    fn spans_too_long_for_a_duration_are_refused_by_name() {
        for (option, value, named) in [
            ("--time-limit", "1e10", "--time-limit"),
            ("--recovery", "1e300", "--recovery"),
            ("--nemesis-interval", "1e10", "--nemesis-interval"),
            ("--rate", "1e-300", "--rate"),
        ] {
            let Ok(Cli { command: Command::Test(args) }) =
                Cli::try_parse_from(["faultline", "test", "--system", "memory", option, value])
            else {
                panic!("{option} {value} parses");
            };
            let refused = Plan::resolve(*args, &Registry::default()).err();
            let message = refused.map(|f| f.message).unwrap_or_default();
            assert!(message.contains(named), "{option} {value}: {message:?}");
        }
        let Ok(Cli { command: Command::Check(args) }) =
            Cli::try_parse_from(["faultline", "check", "f", "--model", "kv", "--timeout", "1e130"])
        else {
            panic!("check parses");
        };
        let message = check::prepare(&args).err().map(|f| f.message).unwrap_or_default();
        assert!(message.contains("--timeout"), "{message:?}");
    }
}
