//! Analysing a history file in bounded memory: read, lint and check it one line at
//! a time, never holding it whole (issue 12; a ten-million-entry history is about
//! 2.5 GB as a [`history::History`]).
//!
//! The file is read twice (or three times when the verdict needs explaining):
//! 1. **scan**: the streaming linter ([`history::linter::Linter`], Jepsen's rules)
//!    and the counts of [`super::summarize`]; it also learns where each key's last
//!    operation completes. Kept: each process's open operation, the latencies of
//!    `ok` operations (8 bytes each), and one position per key.
//! 2. **check**: the checker's streaming form ([`checkers::stream`]) gets each
//!    operation at its completion, both halves; each key is declared done after its
//!    last operation, so a checker that judges keys on their own drops them as it
//!    goes. Kept here: the open invocations (one per process at most).
//! 3. **explain**: the checker reads again the few operations its explanation
//!    names ([`FileLookup`]).
//!
//! Positions are positions in the file, counting operations (not blank lines), as
//! [`history::History`]'s are, so the verdict and every position it names are those
//! of the whole-history path.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

use checkers::registry::{CheckerDef, CheckerOptions};
use checkers::stream::{Fetched, Lookup, StreamOp, StreamSource};
use checkers::{CheckError, Section, Verdict};
use history::linter::{Linter, Step};
use history::{Op, OpKind, Value};

use super::{Analysis, Latency, Outcomes, record};
use crate::exit::Failure;

/// Lint errors kept to name (the rest are counted): a broken file can have millions.
const MAX_LINT_ERRORS: usize = 100;

/// Reads, lints and judges the history at `path` with `def`'s streaming form.
pub(super) fn analyze(
    path: &Path,
    def: &'static CheckerDef,
    options: &CheckerOptions,
) -> Result<Analysis, Failure> {
    let scan = scan(path)?;
    let mut analysis = scan.analysis;
    let started = Instant::now();
    let checker = def.checker(options).map_err(Failure::crash)?;
    let split = if checker.splits_by_key() { ", split by key" } else { "" };
    analysis.checker = format!("{}{split}", def.name);
    analysis.check_name = checker.name();
    if analysis.totals.ok == 0 {
        analysis.verdict = Verdict::Unknown;
        analysis.explanation = "no client operation succeeded: too little happened to judge".into();
        return Ok(analysis);
    }
    let source = StreamSource { path: Some(path.to_path_buf()) };
    let Some(mut stream) = checker.stream(&source) else {
        return Err(Failure::crash(format!(
            "{}: the checker's streaming form went away",
            def.name
        )));
    };
    let mut ends = scan.key_ends.into_iter().peekable();
    let mut linter = Linter::with_error_limit(MAX_LINT_ERRORS);
    // position -> (line, invocation) of each operation still open
    let mut open: HashMap<usize, (usize, Op)> = HashMap::new();
    for item in open_file(path)? {
        let (line, op) = item.map_err(|(line, m)| bad_line(path, line, &m))?;
        let position = linter.position();
        match linter.push(&op, line) {
            Step::Opened => {
                open.insert(position, (line, op));
            }
            Step::Completed { invoke } => {
                let Some((invoke_line, inv)) = open.remove(&invoke) else { continue };
                stream
                    .op(StreamOp {
                        invoke: &inv,
                        invoke_at: invoke,
                        invoke_line,
                        completion: Some((&op, position)),
                    })
                    .map_err(Failure::bad_input)?;
                while let Some((_, key)) = ends.next_if(|(end, _)| *end <= position) {
                    stream.key_done(key.as_ref()).map_err(Failure::bad_input)?;
                }
            }
            // The scan found no defect: the file changed between the two reads.
            Step::Rejected => return Err(changed(path)),
        }
    }
    if linter.error_count() > 0 {
        return Err(changed(path));
    }
    let mut rest: Vec<(usize, (usize, Op))> = open.into_iter().collect();
    rest.sort_unstable_by_key(|(position, _)| *position);
    for (position, (line, inv)) in &rest {
        stream
            .op(StreamOp {
                invoke: inv,
                invoke_at: *position,
                invoke_line: *line,
                completion: None,
            })
            .map_err(Failure::bad_input)?;
    }
    drop(rest);
    let lookup = FileLookup { path: path.to_path_buf() };
    let outcome = stream.finish(&lookup).map_err(Failure::bad_input)?;
    record(outcome, started, &mut analysis);
    Ok(analysis)
}

/// The counts of a history too big for a checker that needs it whole (`needs`
/// bytes, over the checker's memory limit): `unknown`, saying why.
pub(super) fn too_big(
    path: &Path,
    def: &'static CheckerDef,
    options: &CheckerOptions,
    needs: u64,
) -> Result<Analysis, Failure> {
    let mut analysis = scan(path)?.analysis;
    let checker = def.checker(options).map_err(Failure::crash)?;
    let split = if checker.splits_by_key() { ", split by key" } else { "" };
    analysis.checker = format!("{}{split}", def.name);
    analysis.check_name = checker.name();
    analysis.verdict = Verdict::Unknown;
    let gb = |b: u64| b as f64 / (1u64 << 30) as f64;
    analysis.explanation = format!(
        "not checked: the {} checker needs the whole history in memory, about {:.1} GB for \
         this one, over its memory limit of {:.1} GB",
        def.name,
        gb(needs),
        gb(options.memory_limit as u64)
    );
    Ok(analysis)
}

/// What the first read learns.
struct Scan {
    /// The counts; the verdict is `unknown` until the check.
    analysis: Analysis,
    /// (position of the completion of the key's last operation, key), in position
    /// order; a key with an operation that never completed is not in it (it ends
    /// with the history).
    key_ends: Vec<(usize, Option<Value>)>,
}

/// What the scan keeps of an open operation.
struct Opened {
    client: bool,
    key: Option<Value>,
    f: String,
    time_ns: u64,
}

fn scan(path: &Path) -> Result<Scan, Failure> {
    let mut linter = Linter::with_error_limit(MAX_LINT_ERRORS);
    let mut open: HashMap<usize, Opened> = HashMap::new();
    let mut by_f: BTreeMap<String, Outcomes> = BTreeMap::new();
    let mut totals = Outcomes::default();
    let mut latencies: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let (mut pairs, mut client_operations) = (0, 0);
    // key -> position of its last completion; None once one never completes
    let mut ends: HashMap<Option<Value>, Option<usize>> = HashMap::new();
    let mut reader = open_file(path)?;
    for item in reader.by_ref() {
        let (line, op) = item.map_err(|(line, m)| bad_line(path, line, &m))?;
        let position = linter.position();
        match linter.push(&op, line) {
            Step::Opened => {
                pairs += 1;
                let client = !op.is_nemesis();
                if client {
                    client_operations += 1;
                    ends.entry(op.key.clone()).or_insert(Some(0));
                }
                open.insert(position, Opened { client, key: op.key, f: op.f, time_ns: op.time_ns });
            }
            Step::Completed { invoke } => {
                let Some(inv) = open.remove(&invoke) else { continue };
                if !inv.client {
                    continue;
                }
                if op.kind == OpKind::Ok {
                    let took = op.time_ns.saturating_sub(inv.time_ns);
                    latencies.entry(inv.f.clone()).or_default().push(took);
                }
                let entry = by_f.entry(inv.f).or_default();
                for o in [entry, &mut totals] {
                    match op.kind {
                        OpKind::Ok => o.ok += 1,
                        OpKind::Fail => o.fail += 1,
                        _ => o.info += 1,
                    }
                }
                if let Some(Some(end)) = ends.get_mut(&inv.key) {
                    *end = (*end).max(position);
                }
            }
            Step::Rejected => {}
        }
    }
    if linter.error_count() > 0 {
        let mut text = format!(
            "the history breaks Jepsen's rules ({} defects{}):",
            linter.error_count(),
            if linter.error_count() > linter.errors().len() {
                format!("; the first {} shown", linter.errors().len())
            } else {
                String::new()
            }
        );
        for e in linter.errors() {
            text += &format!("\n{}:{}: {}", path.display(), e.line, e.message);
        }
        return Err(Failure::bad_input(text));
    }
    for inv in open.into_values().filter(|o| o.client) {
        for o in [by_f.entry(inv.f).or_default(), &mut totals] {
            o.open += 1;
        }
        ends.insert(inv.key, None);
    }
    let keys = ends.len();
    let mut key_ends: Vec<(usize, Option<Value>)> =
        ends.into_iter().filter_map(|(k, e)| Some((e?, k))).collect();
    key_ends.sort_unstable_by_key(|(e, _)| *e);
    let mut warnings = linter.warnings().to_vec();
    if let Some((line, bytes)) = reader.truncated {
        warnings.push(format!(
            "line {line}: the last line is cut short ({bytes} bytes, no newline) and was \
             skipped; a run killed mid-write leaves this"
        ));
    }
    let analysis = Analysis {
        verdict: Verdict::Unknown,
        explanation: String::new(),
        checker: String::new(),
        ops: linter.position(),
        client_operations,
        nemesis_operations: pairs - client_operations,
        by_f,
        totals,
        latency_ok: latencies.into_iter().map(|(f, l)| (f, Latency::of(l))).collect(),
        keys,
        warnings,
        checked: 0,
        not_valid: Vec::new(),
        check_seconds: 0.0,
        positions: "history",
        stats: None,
        check_name: String::new(),
        section: Section::default(),
    };
    Ok(Scan { analysis, key_ends })
}

type Reader = history::jsonl::JsonlReader<std::io::BufReader<std::fs::File>>;

fn open_file(path: &Path) -> Result<Reader, Failure> {
    history::open_jsonl(path).map_err(Failure::bad_input)
}

fn bad_line(path: &Path, line: usize, message: &str) -> Failure {
    Failure::bad_input(format!("{}:{line}: {message}", path.display()))
}

fn changed(path: &Path) -> Failure {
    Failure::bad_input(format!(
        "{}: the file changed while it was analysed (its second reading differs)",
        path.display()
    ))
}

/// Reads operations of the history file again, by position.
struct FileLookup {
    path: PathBuf,
}

impl Lookup for FileLookup {
    fn fetch(&self, positions: &[usize]) -> Result<Fetched, CheckError> {
        let wanted: BTreeSet<usize> = positions.iter().copied().collect();
        let last = wanted.last().copied();
        let mut ops = HashMap::new();
        let reader = history::open_jsonl(&self.path).map_err(|e| CheckError::BadOperation {
            place: self.path.display().to_string(),
            message: e.to_string(),
        })?;
        for (position, item) in reader.enumerate() {
            if last.is_none_or(|l| position > l) {
                break;
            }
            let Ok((line, op)) = item else { break };
            if wanted.contains(&position) {
                ops.insert(position, (line, op));
            }
        }
        Ok(Fetched { ops, source: StreamSource { path: Some(self.path.clone()) } })
    }
}
