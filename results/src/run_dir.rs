//! A stored run directory (`store/<test>/<timestamp>/`) read back into a
//! [`RunView`], tolerant of what older harness versions (or a harness killed
//! mid-run) left behind: a missing `test.json` or `results.json` or an unreadable
//! history becomes a note in the report, not an error. Only a path that is not a
//! directory at all is refused.
//!
//! Checker results are read from `results.json`, in any of these shapes, first
//! match wins: a `checks` array of [`CheckView`]s (what this crate writes; each
//! with its report `section`, or from older versions a `linearization` view); an
//! `analysis` object (`checker`, `verdict`, `explanation`, optional `anomaly`); a
//! top-level `verdict` / `valid?` with `explanation`.
//!
//! Without `checks`, an invalid run's linearization view is taken from
//! `analysis.not_valid[].outcome.anomaly` when `analysis.positions` is `"history"`
//! (positions in the history file). Runs written before that field existed named
//! positions in each key's own sub-history; their view is not drawn (a note says
//! why) rather than guessed.

use std::fs;
use std::path::{Path, PathBuf};

use checkers::section::{Block, Section};
use serde_json::Value as Json;

use crate::junit;
use crate::report::{ReportOptions, render_html};
use crate::view::{CheckView, LinView, RunView, Verdict};

// The layout of a run directory, declared here once (the harness writes these
// files, this crate reads them).

/// The history, appended while the run goes.
pub const HISTORY: &str = "history.jsonl";
/// Every option of the run, the seed, versions, the fault schedule.
pub const TEST_JSON: &str = "test.json";
pub const RESULTS_JSON: &str = "results.json";
pub const REPORT_HTML: &str = "report.html";
pub const JUNIT_XML: &str = "junit.xml";
/// The harness's own log.
pub const HARNESS_LOG: &str = "harness.log";
/// Left by a harness while its run is going (see the harness' store).
pub const HARNESS_PID_FILE: &str = "harness.pid";
/// The node processes of a loopback run, for sweeping a killed run's leftovers.
pub const NODE_PIDS: &str = "node-pids.json";
/// History files, best first.
pub const HISTORY_FILES: [&str; 3] = [HISTORY, "history.edn", "history.log"];

#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{0}: not a run directory (no such directory)")]
    NotADirectory(PathBuf),
    #[error("{path}: cannot write: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("{path}: cannot render JUnit XML: {message}")]
    Junit { path: PathBuf, message: String },
}

/// A run read from disk, with what was odd about it.
#[derive(Debug, Clone)]
pub struct LoadedRun {
    pub dir: PathBuf,
    pub view: RunView,
    pub notes: Vec<String>,
}

fn read_json(path: &Path, notes: &mut Vec<String>) -> Option<Json> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            notes.push(format!("{}: not recorded", path.display()));
            return None;
        }
        Err(e) => {
            notes.push(format!("{}: cannot read: {e}", path.display()));
            return None;
        }
    };
    match serde_json::from_str(&text) {
        Ok(v) => Some(v),
        Err(e) => {
            notes.push(format!("{}: not valid JSON ({e}); ignored", path.display()));
            None
        }
    }
}

/// Reads a run directory.
pub fn load(dir: &Path) -> Result<LoadedRun, RunDirError> {
    if !dir.is_dir() {
        return Err(RunDirError::NotADirectory(dir.to_path_buf()));
    }
    let mut notes = Vec::new();
    let test = read_json(&dir.join(TEST_JSON), &mut notes).unwrap_or(Json::Null);
    let results = read_json(&dir.join(RESULTS_JSON), &mut notes);
    let history = match HISTORY_FILES.iter().map(|f| dir.join(f)).find(|p| p.is_file()) {
        None => {
            notes.push(format!(
                "{}: no history file ({}): the pictures are empty",
                dir.display(),
                HISTORY_FILES.join(", ")
            ));
            history::History::new()
        }
        Some(path) => match history::read_path(&path, None) {
            Ok(read) => {
                notes.extend(read.warnings.iter().map(|w| format!("{}: {w}", path.display())));
                read.history
            }
            Err(e) => {
                notes.push(format!("{e}; the pictures are empty"));
                history::History::new()
            }
        },
    };
    let mut checks = results.as_ref().map(checks_from_results).unwrap_or_default();
    if let (Some(results), Some(first)) = (&results, checks.first_mut())
        && first.section.is_empty()
        && first.verdict == Verdict::Invalid
    {
        match per_key_view(results) {
            PerKey::View(lin) => {
                *first = CheckView::new(
                    first.name.clone(),
                    first.verdict,
                    first.explanation.clone(),
                    Section::new("Linearizability").with(Block::Linearization(lin)),
                )
            }
            PerKey::SubHistoryPositions => notes.push(format!(
                "{}: the analysis names positions in each key's own sub-history (written by \
                 an older faultline): the linearization view is not drawn",
                dir.join(RESULTS_JSON).display()
            )),
            PerKey::None => {}
        }
    }
    Ok(LoadedRun { dir: dir.to_path_buf(), view: RunView { test, history, checks }, notes })
}

/// Checker results from a `results.json` of any known shape (see the module docs).
pub fn checks_from_results(results: &Json) -> Vec<CheckView> {
    if let Some(Json::Array(items)) = results.get("checks") {
        return items.iter().filter_map(check_from_json).collect();
    }
    if let Some(a) = results.get("analysis").filter(|a| a.is_object())
        && let Some(c) = check_from_json(a)
    {
        return vec![c];
    }
    check_from_json(results).into_iter().collect()
}

fn verdict_of(v: &Json) -> Option<Verdict> {
    match v {
        Json::Bool(true) => Some(Verdict::Valid),
        Json::Bool(false) => Some(Verdict::Invalid),
        Json::String(s) => Verdict::parse(s),
        _ => None,
    }
}

fn check_from_json(v: &Json) -> Option<CheckView> {
    let verdict = v.get("verdict").or_else(|| v.get("valid?")).and_then(verdict_of)?;
    let name = ["name", "checker"]
        .iter()
        .find_map(|k| v.get(*k).and_then(Json::as_str))
        .unwrap_or("verdict")
        .to_string();
    let explanation = ["explanation", "reason"]
        .iter()
        .filter_map(|k| v.get(*k).and_then(Json::as_str))
        .find(|s| !s.is_empty())
        .unwrap_or("")
        .to_string();
    let mut section = v
        .get("section")
        .and_then(|s| serde_json::from_value::<Section>(s.clone()).ok())
        .unwrap_or_default();
    if section.is_empty()
        && let Some(lin) = v
            .get("linearization")
            .and_then(|l| serde_json::from_value::<LinView>(l.clone()).ok())
            .or_else(|| v.get("anomaly").and_then(lin_from_anomaly))
    {
        section = Section::new("Linearizability").with(Block::Linearization(lin));
    }
    Some(CheckView::new(name, verdict, explanation, section))
}

/// The checkers crate's `LinearizabilityAnomaly` (op / prefix as objects with
/// `invoke_position`, `states_before`), possibly inside a `kind`-tagged enum.
pub fn lin_from_anomaly(a: &Json) -> Option<LinView> {
    let pos = |o: &Json| o.get("invoke_position").and_then(Json::as_u64).map(|p| p as usize);
    let breaking_op = pos(a.get("op")?)?;
    let prefix = a
        .get("prefix")
        .and_then(Json::as_array)
        .map_or(Vec::new(), |p| p.iter().filter_map(pos).collect());
    let states_before = a.get("states_before").and_then(Json::as_array).map_or(Vec::new(), |s| {
        s.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect()
    });
    Some(LinView {
        breaking_op,
        prefix,
        states_before,
        more_states: a.get("more_states").and_then(Json::as_bool).unwrap_or(false),
        model: a.get("model").and_then(Json::as_str).map(str::to_string),
        key: a.get("key").and_then(Json::as_str).map(str::to_string),
    })
}

enum PerKey {
    View(LinView),
    /// An older analysis, in sub-history positions.
    SubHistoryPositions,
    None,
}

/// A `results.json` without `checks` keeps the checker's outcome per key under
/// `analysis.not_valid[].{key, outcome.anomaly}`: the first invalid one's view, when
/// `analysis.positions` says its positions are the history's.
fn per_key_view(results: &Json) -> PerKey {
    let Some(analysis) = results.get("analysis") else { return PerKey::None };
    let Some(not_valid) = analysis.get("not_valid").and_then(Json::as_array) else {
        return PerKey::None;
    };
    let view = not_valid.iter().find_map(|k| {
        let outcome = k.get("outcome")?;
        if outcome.get("verdict").and_then(verdict_of) != Some(Verdict::Invalid) {
            return None;
        }
        lin_from_anomaly(outcome.get("anomaly")?)
    });
    match (view, analysis.get("positions").and_then(Json::as_str)) {
        (Some(v), Some("history")) => PerKey::View(v),
        (Some(_), _) => PerKey::SubHistoryPositions,
        (None, _) => PerKey::None,
    }
}

/// A name for the run's JUnit suite: the test's name and the run's folder.
pub fn suite_name(dir: &Path, test: &Json) -> String {
    let run = dir.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
    match test.get("name").and_then(Json::as_str) {
        Some(n) if !run.is_empty() => format!("{n}/{run}"),
        Some(n) => n.to_string(),
        None if !run.is_empty() => run,
        None => "faultline".into(),
    }
}

/// Writes `report.html` and `junit.xml` of a run into `dir` (each via a temporary
/// file and a rename, so a reader never sees half of one). Returns their paths.
pub fn write_outputs(
    dir: &Path,
    view: &RunView,
    notes: &[String],
) -> Result<(PathBuf, PathBuf), RunDirError> {
    // The real run directory (not a `latest` link) for the replay command.
    let real = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let options = ReportOptions { run_dir: Some(real), notes: notes.to_vec() };
    let html = render_html(view, &options);
    let report = write_atomic(dir, REPORT_HTML, html.as_bytes())?;
    let name = suite_name(dir, &view.test);
    let xml = junit::run_xml(&name, &view.checks)
        .map_err(|e| RunDirError::Junit { path: dir.join(JUNIT_XML), message: e.to_string() })?;
    let junit = write_atomic(dir, JUNIT_XML, xml.as_bytes())?;
    Ok((report, junit))
}

/// Regenerates a stored run's report and JUnit file.
pub fn regenerate(dir: &Path) -> Result<(LoadedRun, PathBuf, PathBuf), RunDirError> {
    let run = load(dir)?;
    let (report, junit) = write_outputs(dir, &run.view, &run.notes)?;
    Ok((run, report, junit))
}

pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, RunDirError> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    fs::write(&tmp, bytes)
        .and_then(|_| fs::rename(&tmp, &path))
        .map_err(|source| RunDirError::Write { path: path.clone(), source })?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_results_shape() {
        let ours = json!({"checks": [{"name": "lin", "verdict": "invalid", "explanation": "x",
            "linearization": {"breaking_op": 3, "prefix": [0, 1], "states_before": ["1"]}}]});
        let c = checks_from_results(&ours);
        assert_eq!(c[0].verdict, Verdict::Invalid);
        assert_eq!(c[0].linearization.as_ref().map(|l| l.breaking_op), Some(3));

        let harness = json!({"verdict": "invalid", "analysis": {"checker": "linearizable register",
            "verdict": "invalid", "explanation": "no order",
            "anomaly": {"kind": "not-linearizable", "model": "register",
                "op": {"invoke_position": 7}, "prefix": [{"invoke_position": 2}],
                "states_before": ["3"], "more_states": true}}});
        let c = checks_from_results(&harness);
        assert_eq!(c[0].name, "linearizable register");
        let l = c[0].linearization.as_ref().expect("anomaly read");
        assert_eq!((l.breaking_op, l.prefix.clone(), l.more_states), (7, vec![2], true));

        let with_section = json!({"checks": [{"name": "set", "verdict": "invalid", "explanation": "lost",
            "section": {"title": "Set", "blocks": [{"type": "paragraph", "text": "17 lost"}]}}]});
        let c = checks_from_results(&with_section);
        assert_eq!(c[0].section.title, "Set");
        assert!(c[0].linearization.is_none());

        let jepsen = json!({"valid?": true});
        assert_eq!(checks_from_results(&jepsen)[0].verdict, Verdict::Valid);
        assert!(checks_from_results(&json!({"something": 1})).is_empty());
    }

    /// Without `checks`, the per-key anomaly is drawn only when the analysis says
    /// its positions are the history's.
    #[test]
    fn per_key_views_need_history_positions() {
        let mut results = json!({"analysis": {"not_valid": [
            {"key": 1, "outcome": {"verdict": "unknown", "anomaly": {"op": {"invoke_position": 1}}}},
            {"key": 2, "outcome": {"verdict": "invalid", "anomaly": {"op": {"invoke_position": 9},
                "prefix": [{"invoke_position": 4}], "states_before": ["0"]}}}]}});
        assert!(matches!(per_key_view(&results), PerKey::SubHistoryPositions));
        results["analysis"]["positions"] = json!("history");
        let PerKey::View(v) = per_key_view(&results) else { panic!("no view") };
        assert_eq!((v.breaking_op, v.prefix), (9, vec![4]));
        assert!(matches!(per_key_view(&json!({"analysis": {}})), PerKey::None));
    }
}
