//! The typed input every renderer in this crate takes: one run as the report sees
//! it. A check is its verdict, its explanation in words, and its report section in
//! the neutral primitives of [`checkers::section`]; the report draws any section
//! without knowing which checker wrote it, so a new checker needs nothing here.

use checkers::section::{Block, Section};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One run: what was asked for (`test.json`), what happened (the history) and what
/// the checkers said about it.
#[derive(Debug, Clone)]
pub struct RunView {
    /// `test.json` as recorded (any shape; read tolerantly, `Null` when absent).
    pub test: Json,
    pub history: history::History,
    pub checks: Vec<CheckView>,
}

/// Jepsen's three-valued verdict, the checkers' own type.
pub use checkers::Verdict;

/// The Porcupine-style view of a linearizability failure (one of the section
/// primitives), by its older name.
pub use checkers::section::LinearizationView as LinView;

/// The verdict of several checks; none at all is `unknown`.
pub fn verdict_of(checks: &[CheckView]) -> Verdict {
    Verdict::of_all(checks.iter().map(|c| c.verdict))
}

/// One checker's answer, as `results.json`'s `checks` stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "StoredCheck")]
pub struct CheckView {
    /// `linearizable cas-register`.
    pub name: String,
    pub verdict: Verdict,
    /// Plain words: why this verdict.
    pub explanation: String,
    /// What the report draws for this check (empty: nothing beyond the verdict).
    #[serde(skip_serializing_if = "Section::is_empty")]
    pub section: Section,
    /// The section's first linearization view, also stored on its own: readers of
    /// `results.json` written before sections existed look for
    /// `checks[].linearization`. Derived from `section` by [`CheckView::new`]; the
    /// report draws `section` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linearization: Option<LinView>,
}

impl CheckView {
    pub fn new(
        name: impl Into<String>,
        verdict: Verdict,
        explanation: impl Into<String>,
        section: Section,
    ) -> CheckView {
        let linearization = section.linearizations().next().cloned();
        CheckView {
            name: name.into(),
            verdict,
            explanation: explanation.into(),
            section,
            linearization,
        }
    }
}

/// A stored check of any version: one without a section but with a linearization
/// view (written before sections existed) gets a section with that view.
#[derive(Deserialize)]
struct StoredCheck {
    name: String,
    verdict: Verdict,
    #[serde(default)]
    explanation: String,
    #[serde(default)]
    section: Section,
    #[serde(default)]
    linearization: Option<LinView>,
}

impl From<StoredCheck> for CheckView {
    fn from(c: StoredCheck) -> CheckView {
        let section = match (c.section.is_empty(), c.linearization) {
            (true, Some(lin)) => Section::new("Linearizability").with(Block::Linearization(lin)),
            (_, _) => c.section,
        };
        CheckView::new(c.name, c.verdict, c.explanation, section)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_linearization_becomes_a_section_and_back() {
        let old = serde_json::json!({"name": "lin", "verdict": "invalid", "explanation": "x",
            "linearization": {"breaking_op": 3, "prefix": [0], "states_before": ["1"]}});
        let c: CheckView = serde_json::from_value(old).unwrap();
        assert_eq!(c.section.culprits(), vec![3]);
        assert_eq!(c.linearization.as_ref().map(|l| l.breaking_op), Some(3));
        let again = serde_json::to_value(&c).unwrap();
        assert_eq!(again["linearization"]["breaking_op"], 3);
        assert_eq!(again["section"]["blocks"][0]["type"], "linearization");
        let back: CheckView = serde_json::from_value(again).unwrap();
        assert_eq!(back, c);
        let plain = CheckView::new("stats", Verdict::Valid, "", Section::default());
        let json = serde_json::to_value(&plain).unwrap();
        assert!(json.get("section").is_none() && json.get("linearization").is_none());
    }
}
