//! What every checker returns: a three-valued [`Verdict`] with the reason in words,
//! and the [`Checker`] trait that produces it.
//!
//! Verdicts merge Jepsen's way: invalid beats unknown beats valid, so a suite of
//! checks is only valid when every part of it is.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::linearizability::LinearizabilityAnomaly;

/// Jepsen's `:valid?`: `true`, `false` or `:unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Valid,
    Invalid,
    /// The checker could not decide: it ran out of time or memory, or too little
    /// happened to judge.
    Unknown,
}

impl Verdict {
    /// Invalid beats unknown beats valid.
    pub fn merge(self, other: Verdict) -> Verdict {
        use Verdict::*;
        match (self, other) {
            (Invalid, _) | (_, Invalid) => Invalid,
            (Unknown, _) | (_, Unknown) => Unknown,
            _ => Valid,
        }
    }

    /// The verdict of several checks; no checks at all is `unknown` (an unchecked
    /// run is never green).
    pub fn of_all(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        verdicts.into_iter().reduce(Verdict::merge).unwrap_or(Verdict::Unknown)
    }

    pub fn name(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
            Verdict::Unknown => "unknown",
        }
    }

    /// Reads `valid` / `invalid` / `unknown`, and Jepsen's `true` / `false`.
    pub fn parse(text: &str) -> Option<Verdict> {
        Some(match text.trim().trim_start_matches(':') {
            "valid" | "true" | "ok" => Verdict::Valid,
            "invalid" | "false" => Verdict::Invalid,
            "unknown" => Verdict::Unknown,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The evidence behind an `Invalid`, as data (for the HTML report).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Anomaly {
    NotLinearizable(LinearizabilityAnomaly),
}

/// How much work a check did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Client operations in the history (fail ops and unknown reads included).
    pub ops: usize,
    /// Independent sub-histories checked (1 when the model does not split).
    pub partitions: usize,
    /// Search steps over all partitions.
    pub steps: u64,
    /// Entries in the (linearized set, state) caches, summed over partitions.
    pub cache_entries: u64,
    /// Peak cache memory of the largest partition, in bytes.
    pub peak_cache_bytes: u64,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// A checker's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// One line: why this verdict ("no linearization exists", "time limit of 5 s reached").
    pub reason: String,
    /// A paragraph of plain words explaining an anomaly; empty when valid.
    pub explanation: String,
    pub anomaly: Option<Anomaly>,
    pub stats: Stats,
}

/// Input the checker cannot judge, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// An operation the model cannot read (wrong value shape, unknown function).
    #[error("{place}: {message}")]
    BadOperation { place: String, message: String },
    /// The model's configuration is unusable (e.g. an unreadable initial value).
    #[error("{0}")]
    BadModel(String),
}

/// Judges a linted history.
pub trait Checker {
    /// A short name for reports (`linearizable cas-register`).
    fn name(&self) -> String;
    fn check(&self, history: &history::Linted) -> Result<Outcome, CheckError>;
}

#[cfg(test)]
mod tests {
    use super::Verdict::*;

    #[test]
    fn merge_orders_invalid_over_unknown_over_valid() {
        assert_eq!(Valid.merge(Valid), Valid);
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Valid), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Invalid.merge(Valid), Invalid);
        assert_eq!(Valid.merge(Invalid), Invalid);
    }
}
