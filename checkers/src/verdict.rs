//! What every checker returns: a three-valued [`Verdict`] with the reason in words,
//! the checker's own evidence as JSON, a report [`Section`], and the [`Checker`]
//! trait that produces it. Nothing here knows what any particular checker checks.
//!
//! Verdicts merge Jepsen's way: invalid beats unknown beats valid, so a suite of
//! checks is only valid when every part of it is.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use history::Value;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use crate::section::Section;
use crate::stream::{StreamCheck, StreamSource};

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

/// A checker's evidence: a value of a type defined in the checker's file, kept as
/// it is (code that knows the checker reads it back typed with [`Evidence::get`],
/// at no cost) and turned into JSON fields only when the outcome is written. In an
/// outcome's JSON those fields sit beside `verdict`, `reason`, `explanation` and
/// `stats` (so the linearizability checker's `anomaly` is where scripts always
/// read it). Cloning shares the value.
#[derive(Clone, Default)]
pub struct Evidence(Option<Arc<dyn AnyEvidence>>);

/// What an evidence type needs: to be serializable, printable and shareable.
pub trait AnyEvidence: std::fmt::Debug + Send + Sync + 'static {
    fn to_json(&self) -> Json;
    fn as_any(&self) -> &dyn Any;
}

impl<T: Serialize + std::fmt::Debug + Send + Sync + 'static> AnyEvidence for T {
    fn to_json(&self) -> Json {
        serde_json::to_value(self)
            .unwrap_or_else(|e| Json::String(format!("the evidence could not be serialized: {e}")))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Field names of [`Outcome`]'s own JSON, which evidence must not reuse.
const RESERVED: [&str; 6] = ["verdict", "reason", "explanation", "stats", "parts", "file"];

impl Evidence {
    pub fn new<T: AnyEvidence>(value: T) -> Evidence {
        Evidence(Some(Arc::new(value)))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// The evidence as the checker's own type, when it is one.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0.as_ref()?.as_any().downcast_ref::<T>()
    }

    /// The JSON fields. A value that is not a JSON object becomes
    /// `{"evidence": value}`; a field that would collide with the outcome's own
    /// fields is renamed `evidence_<name>`.
    pub fn to_json(&self) -> serde_json::Map<String, Json> {
        let map = match self.0.as_ref().map(|e| e.to_json()) {
            None | Some(Json::Null) => serde_json::Map::new(),
            Some(Json::Object(map)) => map,
            Some(other) => serde_json::Map::from_iter([("evidence".to_string(), other)]),
        };
        map.into_iter()
            .map(
                |(k, v)| {
                    if RESERVED.contains(&k.as_str()) {
                        (format!("evidence_{k}"), v)
                    } else {
                        (k, v)
                    }
                },
            )
            .collect()
    }
}

impl Serialize for Evidence {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl std::fmt::Debug for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Some(e) => e.fmt(f),
            None => f.write_str("no evidence"),
        }
    }
}

/// How much work a check did: what every checker can say, plus its own counters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stats {
    /// Client operations in the history (fail ops and unknown reads included).
    pub ops: usize,
    /// Parts judged independently (one per key for a checker that splits by key; 1
    /// when it does not split).
    pub partitions: usize,
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// The checker's own counters (`steps`, `cache_entries`, ...), written beside
    /// the fields above.
    #[serde(flatten)]
    pub counters: BTreeMap<&'static str, u64>,
}

impl Stats {
    /// A counter of the checker's, 0 when it did not report one.
    pub fn counter(&self, name: &str) -> u64 {
        self.counters.get(name).copied().unwrap_or(0)
    }
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The verdict of one part of a history judged on its own: a key, for a checker
/// that splits by key (Jepsen's `independent` checker lists its failures per key).
#[derive(Debug, Clone, Serialize)]
pub struct Part {
    /// The key, as the history writes it (its JSON form); `None` for operations
    /// without a key.
    #[serde(serialize_with = "key_json")]
    pub key: Option<Value>,
    pub outcome: PartOutcome,
}

fn key_json<S: serde::Serializer>(key: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    key.as_ref().map(Value::to_json).serialize(s)
}

/// A part's verdict in words, with the checker's evidence for that part.
#[derive(Debug, Clone, Serialize)]
pub struct PartOutcome {
    pub verdict: Verdict,
    pub reason: String,
    pub explanation: String,
    #[serde(flatten)]
    pub evidence: Evidence,
}

/// A checker's answer.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    /// One line: why this verdict ("not linearizable", "time limit of 5 s reached").
    pub reason: String,
    /// A paragraph of plain words explaining an anomaly; empty when valid.
    pub explanation: String,
    pub stats: Stats,
    /// The checker's own evidence (see [`Evidence`]).
    #[serde(flatten)]
    pub evidence: Evidence,
    /// For a checker that judged parts of the history on their own (by key): the
    /// parts that were not valid. Empty when the history was judged as one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
    /// What the report shows for this check, in neutral primitives. Not part of the
    /// outcome's JSON: the harness writes it into `results.json`'s `checks`.
    #[serde(skip)]
    pub section: Section,
}

impl Outcome {
    /// An outcome with no evidence, parts or report section (yet).
    pub fn new(
        verdict: Verdict,
        reason: impl Into<String>,
        explanation: impl Into<String>,
    ) -> Outcome {
        Outcome {
            verdict,
            reason: reason.into(),
            explanation: explanation.into(),
            stats: Stats::default(),
            evidence: Evidence::default(),
            parts: Vec::new(),
            section: Section::default(),
        }
    }

    /// One text for people: the reason, followed by the explanation when there is one.
    pub fn summary(&self) -> String {
        if self.explanation.is_empty() {
            self.reason.clone()
        } else {
            format!("{}: {}", self.reason, self.explanation)
        }
    }

    /// The parts that were not valid; the whole history as one part (key `None`)
    /// when the checker did not split it and it is not valid.
    pub fn not_valid(&self) -> Vec<Part> {
        if !self.parts.is_empty() || self.verdict == Verdict::Valid {
            return self.parts.clone();
        }
        vec![Part {
            key: None,
            outcome: PartOutcome {
                verdict: self.verdict,
                reason: self.reason.clone(),
                explanation: self.explanation.clone(),
                evidence: self.evidence.clone(),
            },
        }]
    }
}

/// Input the checker cannot judge, naming where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// An operation the checker cannot read (wrong value shape, unknown function).
    #[error("{place}: {message}")]
    BadOperation { place: String, message: String },
    /// The checker's configuration is unusable (e.g. an unreadable initial value).
    #[error("{0}")]
    BadModel(String),
}

/// Judges a linted history: the whole history it is given, reporting positions in
/// it (a checker that judges keys on their own splits the history itself).
pub trait Checker {
    /// A short name for reports and JUnit (`linearizable cas-register`).
    fn name(&self) -> String;

    /// Whether it judges each key's operations on their own (Jepsen's
    /// `independent`), so that a report can say so.
    fn splits_by_key(&self) -> bool {
        false
    }

    fn check(&self, history: &history::Linted) -> Result<Outcome, CheckError>;

    /// The checker's streaming form, for a history read one operation at a time and
    /// never held whole ([`crate::stream`]); it must reach the same verdict as
    /// [`Checker::check`]. `None`, the default: the checker needs the whole history.
    fn stream(&self, _source: &StreamSource) -> Option<Box<dyn StreamCheck + '_>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict::*;
    use super::*;

    #[test]
    fn merge_orders_invalid_over_unknown_over_valid() {
        assert_eq!(Valid.merge(Valid), Valid);
        assert_eq!(Valid.merge(Unknown), Unknown);
        assert_eq!(Unknown.merge(Valid), Unknown);
        assert_eq!(Unknown.merge(Invalid), Invalid);
        assert_eq!(Invalid.merge(Valid), Invalid);
        assert_eq!(Valid.merge(Invalid), Invalid);
    }

    #[derive(Debug, Serialize)]
    struct Mine {
        verdict: u32,
        found: Vec<u32>,
    }

    /// Evidence sits beside the outcome's own fields and never overwrites them;
    /// the checker reads it back typed.
    #[test]
    fn evidence_is_flattened_without_collisions() {
        let mut out = Outcome::new(Invalid, "bad", "very bad");
        out.evidence = Evidence::new(Mine { verdict: 7, found: vec![1, 2] });
        let json = serde_json::to_value(&out).unwrap();
        assert_eq!(json["verdict"], "invalid");
        assert_eq!(json["evidence_verdict"], 7);
        assert_eq!(json["found"], serde_json::json!([1, 2]));
        assert!(json.get("parts").is_none(), "no parts when not split");
        assert_eq!(out.evidence.get::<Mine>().map(|m| m.verdict), Some(7));
        assert!(out.evidence.get::<u32>().is_none());
        assert_eq!(Evidence::new(3).to_json()["evidence"], 3);
        assert!(Evidence::new(()).to_json().is_empty() && Evidence::default().is_empty());
        assert_eq!(out.summary(), "bad: very bad");
        let whole = out.not_valid();
        assert_eq!((whole.len(), whole[0].key.is_none()), (1, true));
        assert_eq!(whole[0].outcome.evidence.to_json()["found"], serde_json::json!([1, 2]));
    }
}
