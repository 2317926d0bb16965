//! `faultline history convert|lint`.

use std::fs;
use std::io::Write;
use std::path::Path;

use history::Format;

use crate::exit::{CmdResult, Exit, Failure};

/// Reads a history file, printing the reader's warnings; unusable input is 254.
pub fn load(path: &Path, format: Option<Format>) -> Result<history::Read, Failure> {
    let read = history::read_path(path, format).map_err(Failure::bad_input)?;
    for w in &read.warnings {
        eprintln!("warning: {}: {w}", path.display());
    }
    Ok(read)
}

pub fn convert(input: &Path, output: &Path, from: Option<Format>, to: Option<Format>) -> CmdResult {
    let to = match to {
        Some(f) => f,
        None => match output.extension().and_then(|e| e.to_str()) {
            Some("edn") => Format::Edn,
            Some("jsonl" | "json") | None => Format::Jsonl,
            Some(other) => {
                return Err(Failure::bad_input(format!(
                    "{}: cannot tell the output format from .{other}; name it with --to (jsonl or edn)",
                    output.display()
                )));
            }
        },
    };
    if to == Format::PorcupineLog {
        return Err(Failure::bad_input("porcupine-log is read only; convert --to jsonl or edn"));
    }
    let read = load(input, from)?;
    let text = history::format::to_string(&read.history, to).map_err(Failure::crash)?;
    let mut file = fs::File::create(output)
        .map_err(|e| Failure::bad_input(format!("{}: cannot create: {e}", output.display())))?;
    file.write_all(text.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Failure::crash(format!("{}: cannot write: {e}", output.display())))?;
    eprintln!(
        "{} ({}) -> {} ({}): {} operations",
        input.display(),
        read.format,
        output.display(),
        to,
        read.history.len()
    );
    Ok(Exit::Valid)
}

pub fn lint(path: &Path, format: Option<Format>) -> CmdResult {
    let read = load(path, format)?;
    let n = read.history.len();
    match read.history.lint() {
        Ok(linted) => {
            for w in linted.warnings() {
                eprintln!("warning: {}: {w}", path.display());
            }
            println!(
                "{}: {} operations ({} pairs), no defects",
                path.display(),
                n,
                linted.pairs().len()
            );
            Ok(Exit::Valid)
        }
        Err(failure) => {
            Err(Failure::bad_input(format!("{} defect(s):\n{failure}", failure.errors.len())))
        }
    }
}
