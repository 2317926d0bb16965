//! The seam between the checkers and the results crate: a checker's
//! [`checkers::Outcome`] becomes a [`results::CheckView`] (verdict, explanation in
//! words, and for a linearizability failure the positions the Porcupine-style view
//! draws). The results crate knows nothing of how checks work; this is the only
//! place that knows both.

use checkers::{Anomaly, Outcome};
use history::{Linted, Value};
use results::{CheckView, LinView, Verdict};

use crate::analysis::Analysis;
use crate::exit::Exit;

/// One checker's outcome as the report shows it. `name` is the checker's
/// (`linearizable cas-register`). The explanation is the checker's paragraph when
/// it wrote one, else its one-line reason ("time limit of 5 s reached").
pub fn check_view(name: &str, outcome: &Outcome) -> CheckView {
    let explanation = if outcome.explanation.is_empty() {
        outcome.reason.clone()
    } else {
        outcome.explanation.clone()
    };
    let linearization = outcome.anomaly.as_ref().map(|a| match a {
        Anomaly::NotLinearizable(a) => LinView {
            breaking_op: a.op.invoke_position,
            prefix: a.prefix.iter().map(|o| o.invoke_position).collect(),
            states_before: a.states_before.clone(),
            more_states: a.more_states,
            model: Some(a.model.clone()),
            key: a.key.clone(),
        },
    });
    CheckView { name: name.to_string(), verdict: outcome.verdict, explanation, linearization }
}

/// The checks of a run as the report and JUnit show them: the workload's checker
/// (with the Porcupine-style view of its first non-linearizable key, moved onto the
/// full history), plus a `harness` check when the run crashed or could not set up,
/// so a crash never reads as a pass.
///
/// The analysis checks each key's sub-history on its own, so the checker's
/// positions are positions in that sub-history; they are moved back by trying the
/// key's operations and then all client operations, and kept only when the
/// operation found there is the one the checker described (same process and `f`).
pub fn run_checks(
    exit: Exit,
    explanation: &str,
    analysis: Option<&Analysis>,
    analysis_error: Option<&str>,
    history: Option<&Linted>,
) -> Vec<CheckView> {
    let mut checks = Vec::new();
    match analysis {
        Some(a) => {
            let mut main = CheckView {
                name: format!("linearizable {}", a.checker),
                verdict: a.verdict,
                explanation: a.explanation.clone(),
                linearization: None,
            };
            if let Some(linted) = history {
                main.linearization = a
                    .not_valid
                    .iter()
                    .filter(|k| k.outcome.verdict == checkers::Verdict::Invalid)
                    .find_map(|k| full_history_view(linted, &k.key, &k.outcome));
            }
            checks.push(main);
        }
        None => checks.push(CheckView {
            name: "analysis".into(),
            verdict: Verdict::Unknown,
            explanation: analysis_error.unwrap_or(explanation).to_string(),
            linearization: None,
        }),
    }
    if exit == Exit::Crash && analysis.is_some() {
        checks.push(CheckView {
            name: "harness".into(),
            verdict: Verdict::Unknown,
            explanation: explanation.to_string(),
            linearization: None,
        });
    }
    checks
}

fn full_history_view(linted: &Linted, key: &Option<Value>, outcome: &Outcome) -> Option<LinView> {
    let Some(Anomaly::NotLinearizable(a)) = &outcome.anomaly else { return None };
    let view = check_view("", outcome).linearization?;
    results::positions::onto_full_history(linted, key, &view, &a.op.process, &a.op.f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::models::ModelName;
    use history::{OpKind, Value};
    use results::positions::{key_positions, remap};

    fn etcd(n: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("../testdata/histories/porcupine/jepsen/etcd_{n}.log"))
    }

    /// A real failure (etcd_000) maps onto positions of the same history: the
    /// breaking op is the read of 2 the checker names, every prefix position is a
    /// client invocation, and the states are carried over.
    #[test]
    fn invalid_outcome_maps_to_history_positions() {
        let read = history::read_path(&etcd("000"), None).expect("read");
        let linted = read.history.lint().expect("lint");
        let checker = ModelName::CasRegister.linearizable(None, Default::default()).expect("model");
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
        let read = history::read_path(&etcd("002"), None).expect("read");
        let linted = read.history.lint().expect("lint");
        let checker = ModelName::CasRegister.linearizable(None, Default::default()).expect("model");
        let view = check_view(&checker.name(), &checker.check(&linted).expect("check"));
        assert_eq!(view.verdict, Verdict::Valid);
        assert!(view.linearization.is_none());
        assert!(!view.explanation.is_empty());
    }

    /// Checking one key's sub-history and remapping gives the same breaking
    /// operation as the checker's own split of the full history (Porcupine's
    /// c10-bad kv log).
    #[test]
    fn sub_history_views_remap_onto_the_full_history() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/histories/porcupine/kv/c10-bad.txt");
        let linted = history::read_path(&path, None).expect("read").history.lint().expect("lint");
        let checker = ModelName::Kv.linearizable(None, Default::default()).expect("model");
        let full = check_view("kv", &checker.check(&linted).expect("check"));
        let full_lin = full.linearization.expect("invalid");
        let key = linted.ops()[full_lin.breaking_op].key.clone();
        let positions = key_positions(&linted, &key);
        let ops: Vec<_> = positions.iter().map(|&p| linted.ops()[p].clone()).collect();
        let lines = positions.iter().map(|&p| p + 1).collect();
        let sub = history::History::with_lines(ops, lines).lint().expect("sub lint");
        let mut sub_lin =
            check_view("kv", &checker.check(&sub).expect("check")).linearization.expect("invalid");
        assert!(remap(&mut sub_lin, &positions));
        assert_eq!(sub_lin.breaking_op, full_lin.breaking_op);
        assert!(sub_lin.prefix.iter().all(|&p| linted.ops()[p].key == key));
        assert!(!remap(&mut LinView { breaking_op: positions.len(), ..sub_lin }, &positions));
    }
}
