//! History file formats: detection by content, reading and writing by name.

use std::fmt;
use std::fs;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::history::History;
use crate::{edn, jsonl, porcupine};

/// The formats faultline reads (and, except Porcupine's logs, writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Native JSON Lines (`history.jsonl`).
    Jsonl,
    /// Jepsen EDN (`history.edn`), also Porcupine's kv logs.
    Edn,
    /// Porcupine's Jepsen etcd logs (`INFO  jepsen.util - ...`); read only.
    PorcupineLog,
}

impl Format {
    pub const NAMES: &'static str = "jsonl, edn, porcupine-log";

    pub fn name(self) -> &'static str {
        match self {
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::PorcupineLog => "porcupine-log",
        }
    }

    /// Guesses from the content first, then from the file extension.
    pub fn detect(path: Option<&Path>, text: &str) -> Option<Format> {
        let first =
            text.lines().map(str::trim_start).find(|l| !l.is_empty() && !l.starts_with(';'));
        if let Some(line) = first {
            if line.contains(porcupine::MARKER) {
                return Some(Format::PorcupineLog);
            }
            let mut rest = line.chars().filter(|c| !c.is_whitespace());
            match (rest.next(), rest.next()) {
                (Some('{'), Some('"')) | (Some('{'), Some('}')) => return Some(Format::Jsonl),
                (Some('{' | '[' | '(' | '#'), _) => return Some(Format::Edn),
                _ => {}
            }
        }
        let ext = path.and_then(|p| p.extension()).and_then(|e| e.to_str());
        match ext {
            Some("jsonl" | "json") => Some(Format::Jsonl),
            Some("edn" | "txt") => Some(Format::Edn),
            Some("log") => Some(Format::PorcupineLog),
            _ if first.is_none() => Some(Format::Jsonl), // empty: any reader agrees
            _ => None,
        }
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "jsonl" | "json" => Format::Jsonl,
            "edn" | "porcupine-kv" => Format::Edn,
            "porcupine-log" | "etcd-log" => Format::PorcupineLog,
            other => return Err(format!("unknown format {other:?} (known: {})", Format::NAMES)),
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Unusable input, naming the file and, when known, the line.
#[derive(Debug)]
pub struct ReadError {
    pub path: Option<PathBuf>,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(p), Some(l)) => write!(f, "{}:{l}: {}", p.display(), self.message),
            (Some(p), None) => write!(f, "{}: {}", p.display(), self.message),
            (None, Some(l)) => write!(f, "line {l}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ReadError {}

/// A history read from a file plus anything odd the reader noticed.
#[derive(Debug)]
pub struct Read {
    pub history: History,
    pub format: Format,
    pub warnings: Vec<String>,
}

/// Reads a history file; `format` overrides detection.
pub fn read_path(path: &Path, format: Option<Format>) -> Result<Read, ReadError> {
    let err = |line, message: String| ReadError { path: Some(path.to_path_buf()), line, message };
    let bytes = fs::read(path).map_err(|e| err(None, format!("cannot read: {e}")))?;
    let text = String::from_utf8_lossy(&bytes);
    let format = match format.or_else(|| Format::detect(Some(path), &text)) {
        Some(f) => f,
        None => {
            return Err(err(
                None,
                format!("cannot tell the format; name it with --format ({})", Format::NAMES),
            ));
        }
    };
    let mut read = read_str(&text, format).map_err(|mut e| {
        e.path = Some(path.to_path_buf());
        e
    })?;
    read.history.source = Some(path.to_path_buf());
    Ok(read)
}

/// Reads a history from text in the given format.
pub fn read_str(text: &str, format: Format) -> Result<Read, ReadError> {
    let err = |line, message| ReadError { path: None, line: Some(line), message };
    let (ops, lines): (Vec<_>, Vec<_>) = match format {
        Format::Jsonl => return read_jsonl(text.as_bytes()),
        Format::Edn => edn::read_ops(text)
            .map_err(|e| err(e.line, e.message))?
            .into_iter()
            .map(|(l, o)| (o, l))
            .unzip(),
        Format::PorcupineLog => porcupine::read_ops(text)
            .map_err(|(l, m)| err(l, m))?
            .into_iter()
            .map(|(l, o)| (o, l))
            .unzip(),
    };
    Ok(Read { history: History::with_lines(ops, lines), format, warnings: Vec::new() })
}

/// Opens a JSON Lines file for streaming: an iterator of `(line, op)` that holds
/// one line at a time, for callers that keep only what they need of a history too
/// big to hold whole (a ten-million-entry history is about 2.5 GB as [`History`]).
/// Errors name the line; see [`jsonl::JsonlReader`] for a cut last line.
pub fn open_jsonl(path: &Path) -> Result<jsonl::JsonlReader<io::BufReader<fs::File>>, ReadError> {
    let file = fs::File::open(path).map_err(|e| ReadError {
        path: Some(path.to_path_buf()),
        line: None,
        message: format!("cannot read: {e}"),
    })?;
    Ok(jsonl::JsonlReader::new(io::BufReader::with_capacity(1 << 20, file)))
}

/// Reads JSON Lines from any buffered reader (the streaming path).
pub fn read_jsonl(input: impl BufRead) -> Result<Read, ReadError> {
    let mut r = jsonl::JsonlReader::new(input);
    let mut h = History::new();
    for item in r.by_ref() {
        let (line, op) =
            item.map_err(|(l, m)| ReadError { path: None, line: Some(l), message: m })?;
        h.ops.push(op);
        h.lines.push(line);
    }
    let warnings = r
        .truncated
        .map(|(line, bytes)| {
            format!(
                "line {line}: the last line is cut short ({bytes} bytes, no newline) and was \
                 skipped; a run killed mid-write leaves this"
            )
        })
        .into_iter()
        .collect();
    Ok(Read { history: h, format: Format::Jsonl, warnings })
}

/// Writes a history in a format that has a writer.
pub fn write(history: &History, format: Format, out: &mut impl Write) -> io::Result<()> {
    match format {
        Format::Jsonl => {
            let mut w = jsonl::JsonlWriter::new(out);
            for op in &history.ops {
                w.write(op)?;
            }
            w.flush()
        }
        Format::Edn => {
            let mut out = io::BufWriter::new(out);
            for op in &history.ops {
                out.write_all(edn::op_to_edn(op).as_bytes())?;
                out.write_all(b"\n")?;
            }
            out.flush()
        }
        Format::PorcupineLog => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "porcupine-log is read only; write jsonl or edn",
        )),
    }
}

/// Renders a history to a string in a writable format.
pub fn to_string(history: &History, format: Format) -> io::Result<String> {
    let mut buf = Vec::new();
    write(history, format, &mut buf)?;
    String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
