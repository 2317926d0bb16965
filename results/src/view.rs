//! The typed input every renderer in this crate takes: one run as the report sees
//! it. These types are this crate's own, so that the report does not depend on how
//! checks work; the harness adapts a checker's outcome into a [`CheckView`].

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

/// The verdict of several checks; none at all is `unknown`.
pub fn verdict_of(checks: &[CheckView]) -> Verdict {
    Verdict::of_all(checks.iter().map(|c| c.verdict))
}

/// One checker's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckView {
    /// `linearizable cas-register`.
    pub name: String,
    pub verdict: Verdict,
    /// Plain words: why this verdict.
    pub explanation: String,
    /// For an invalid linearizability check: what the Porcupine-style view needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearization: Option<LinView>,
}

/// Why a history is not linearizable, as positions into [`RunView::history`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinView {
    /// Position (in `history.ops`) of the invocation of the operation that cannot be
    /// linearized.
    pub breaking_op: usize,
    /// The longest linearizable prefix found: invocation positions, in the order
    /// they were linearized.
    pub prefix: Vec<usize>,
    /// The model states that were possible just before the breaking operation.
    pub states_before: Vec<String>,
    /// More states were possible than listed.
    #[serde(default)]
    pub more_states: bool,
    /// The model's name (`cas-register`), when known.
    #[serde(default)]
    pub model: Option<String>,
    /// The key of the sub-history, when the history was split by key.
    #[serde(default)]
    pub key: Option<String>,
}
