//! The seam between the checkers and the results crate: a checker's outcome (or the
//! harness's analysis of a run) becomes a [`results::CheckView`]: verdict, words,
//! and the checker's own report section, whose positions are already positions in
//! the history file. Nothing here knows what any checker checks.

use checkers::Outcome;
use results::{CheckView, Verdict};

use crate::analysis::Analysis;
use crate::exit::Exit;

/// One checker's outcome as the report shows it. `name` is the checker's
/// (`linearizable cas-register`); the explanation is its reason followed by its
/// paragraph, when it wrote one.
pub fn check_view(name: &str, outcome: &Outcome) -> CheckView {
    CheckView::new(name, outcome.verdict, outcome.summary(), outcome.section.clone())
}

/// The checks of a run as the report and JUnit show them: the workload's checker,
/// plus a `harness` check when the run crashed or could not set up, so a crash
/// never reads as a pass.
pub fn run_checks(
    exit: Exit,
    explanation: &str,
    analysis: Option<&Analysis>,
    analysis_error: Option<&str>,
) -> Vec<CheckView> {
    let mut checks = Vec::new();
    match analysis {
        Some(a) => checks.push(CheckView::new(
            a.check_name.clone(),
            a.verdict,
            a.explanation.clone(),
            a.section.clone(),
        )),
        None => checks.push(CheckView::new(
            "analysis",
            Verdict::Unknown,
            analysis_error.unwrap_or(explanation),
            Default::default(),
        )),
    }
    if exit == Exit::Crash && analysis.is_some() {
        checks.push(CheckView::new("harness", Verdict::Unknown, explanation, Default::default()));
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::registry::{self, CheckerOptions};
    use history::{OpKind, Value};

    fn porcupine(rel: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/histories/porcupine")
            .join(rel)
    }

    /// A real failure (etcd_000): the view's positions are positions of the same
    /// history: the breaking op is the read of 2 the checker names, every prefix
    /// position is a client invocation, and the states are carried over.
    #[test]
    fn invalid_outcome_names_history_positions() {
        let read = history::read_path(&porcupine("jepsen/etcd_000.log"), None).expect("read");
        let linted = read.history.lint().expect("lint");
        let checker = registry::by_name("cas-register")
            .unwrap()
            .checker(&CheckerOptions::default())
            .expect("model");
        let outcome = checker.check(&linted).expect("check");
        let view = check_view(&checker.name(), &outcome);
        assert_eq!(view.verdict, Verdict::Invalid);
        assert!(view.explanation.contains("cannot be linearized"));
        let lin = view.linearization.expect("a linearization view");
        let ops = linted.ops();
        assert_eq!(ops[lin.breaking_op].kind, OpKind::Invoke);
        assert_eq!(ops[lin.breaking_op].f, "read");
        assert!(!lin.prefix.is_empty());
        assert!(lin.prefix.iter().all(|&p| ops[p].kind == OpKind::Invoke));
        assert!(!lin.states_before.is_empty());
        // The read's completion returned 2 (what the checker says it cannot explain).
        let p = ops[lin.breaking_op].process;
        let done = ops[lin.breaking_op + 1..].iter().find(|o| o.process == p).expect("completion");
        assert_eq!(done.value, Value::Int(2));
    }

    #[test]
    fn valid_outcome_has_no_view_and_a_reason() {
        let read = history::read_path(&porcupine("jepsen/etcd_002.log"), None).expect("read");
        let linted = read.history.lint().expect("lint");
        let checker =
            registry::by_name("cas-register").unwrap().checker(&Default::default()).unwrap();
        let view = check_view(&checker.name(), &checker.check(&linted).expect("check"));
        assert_eq!(view.verdict, Verdict::Valid);
        assert!(view.linearization.is_none() && view.section.is_empty());
        assert!(!view.explanation.is_empty());
    }

    /// The checker splits by key itself: the breaking operation it names in the
    /// whole history is on the invalid key, and every prefix operation too
    /// (Porcupine's c10-bad kv log), with no remapping anywhere.
    #[test]
    fn split_checks_name_positions_of_the_whole_history() {
        let linted = history::read_path(&porcupine("kv/c10-bad.txt"), None)
            .expect("read")
            .history
            .lint()
            .expect("lint");
        let checker = registry::by_name("kv").unwrap().checker(&Default::default()).unwrap();
        let outcome = checker.check(&linted).expect("check");
        let lin = check_view("kv", &outcome).linearization.expect("invalid");
        let key = linted.ops()[lin.breaking_op].key.clone();
        assert!(key.is_some());
        assert!(lin.prefix.iter().all(|&p| linted.ops()[p].key == key));
        assert_eq!(outcome.parts.len(), 1);
        assert_eq!(outcome.parts[0].key, key);
    }
}
