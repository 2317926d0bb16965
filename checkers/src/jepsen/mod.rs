//! Jepsen's checkers other than linearizability, one file each, with Jepsen's rules
//! (`jepsen.checker`, `jepsen.tests.bank`, `jepsen.tests.long-fork`), each cited in
//! its file:
//! - [`set`]: adds, then a final read (lost / unexpected / recovered elements);
//! - [`set_full`]: adds with reads all along (stable / lost / never-read / stale
//!   elements, visibility latencies);
//! - [`counter`]: increments and reads, every read within its bounds;
//! - [`bank`]: reads of every balance sum to the total, none negative;
//! - [`unique_ids`]: every acknowledged id distinct;
//! - [`long_fork`]: groups of reads observe inserts in one order;
//! - [`queue`], [`total_queue`]: what is dequeued was enqueued; what is enqueued
//!   comes out.
//!
//! They run in time about linear in the history (no search), so they take no time
//! or memory limit. Where Jepsen answers `true` for a history with nothing to judge
//! (no read at all, no id generated), these answer `unknown`: an unchecked run is
//! never green (DESIGN.md, "Verdicts"). Everything else follows Jepsen; each file
//! says where it had to choose.
//!
//! This file holds what they share: their options ([`Opts`], read from
//! [`CheckerOptions::extension`]), the shapes of Jepsen's values, splitting by key
//! (Jepsen's `independent`), merging per-key verdicts, and words for times and
//! element lists.

pub mod bank;
pub mod counter;
pub mod long_fork;
pub mod queue;
pub mod set;
pub mod set_full;
mod set_full_section;
pub mod total_queue;
pub mod unique_ids;

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};

use history::{Linted, Pair, Value};
use serde::Serialize;

use crate::registry::CheckerOptions;
use crate::verdict::{AnyEvidence, CheckError, Evidence, Part, PartOutcome, Verdict};

/// A checker's options from [`CheckerOptions::extension`], names already checked.
pub(crate) struct Opts<'a> {
    checker: &'static str,
    extension: &'a BTreeMap<String, Value>,
}

/// The options of `checker`, which takes the names in `known` and no initial value.
/// An unknown name is an error naming it and the known ones.
pub(crate) fn options<'a>(
    o: &'a CheckerOptions,
    checker: &'static str,
    known: &[&str],
) -> Result<Opts<'a>, CheckError> {
    if let Some(v) = &o.initial {
        return Err(CheckError::BadModel(format!(
            "the {checker} checker takes no initial value (got {v})"
        )));
    }
    if let Some(name) = o.extension.keys().find(|k| !known.contains(&k.as_str())) {
        let takes = if known.is_empty() { "none".to_string() } else { known.join(", ") };
        return Err(CheckError::BadModel(format!(
            "the {checker} checker has no option {name:?} (it takes: {takes})"
        )));
    }
    Ok(Opts { checker, extension: &o.extension })
}

impl Opts<'_> {
    fn bad(&self, name: &str, want: &str, got: &Value) -> CheckError {
        CheckError::BadModel(format!(
            "the {} checker's option {name:?} must be {want}, got {got}",
            self.checker
        ))
    }

    /// A flag: `true` / `false` (EDN booleans, or the words).
    pub(crate) fn flag(&self, name: &str) -> Result<Option<bool>, CheckError> {
        match self.extension.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::Str(s) | Value::Symbol(s)) if s == "true" || s == "false" => {
                Ok(Some(s == "true"))
            }
            Some(other) => Err(self.bad(name, "true or false", other)),
        }
    }

    /// An integer (EDN, or its decimal text).
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, CheckError> {
        match self.extension.get(name) {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(v @ Value::Str(s)) => {
                s.parse().map(Some).map_err(|_| self.bad(name, "an integer", v))
            }
            Some(other) => Err(self.bad(name, "an integer", other)),
        }
    }

    /// A collection (EDN vector or set).
    pub(crate) fn collection(&self, name: &str) -> Result<Option<&[Value]>, CheckError> {
        match self.extension.get(name) {
            None => Ok(None),
            Some(v) => collection(v).map(Some).ok_or_else(|| self.bad(name, "a vector or set", v)),
        }
    }
}

/// The elements of a collection value: an EDN vector (or list) or set.
pub(crate) fn collection(v: &Value) -> Option<&[Value]> {
    match v {
        Value::List(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

/// An operation the checker cannot read, named by its place (`file:line`).
pub(crate) fn bad_op(history: &Linted, position: usize, message: impl Into<String>) -> CheckError {
    CheckError::BadOperation { place: history.history().place(position), message: message.into() }
}

/// Where an operation is, for explanations: `line 35` or `file:35`.
pub(crate) fn place(history: &Linted, position: usize) -> String {
    history.history().place(position)
}

/// The client operations by key when `partition` (Jepsen's `independent`: each key
/// is its own object), else all of them as one part with no key. Parts are in key
/// order, each in invocation order.
pub(crate) fn parts(history: &Linted, partition: bool) -> Vec<(Option<Value>, Vec<Pair>)> {
    if partition {
        history.by_key().into_iter().collect()
    } else {
        vec![(None, history.client_pairs().copied().collect())]
    }
}

/// The `check` of a checker judged part by part: [`parts`], `judge` on each, the
/// report `section` over all of them, [`merge`]d into one outcome.
pub(crate) fn check_parts<E: AnyEvidence + Clone>(
    history: &Linted,
    partition: bool,
    judge: impl Fn(Option<Value>, &[Pair]) -> Result<Judged<E>, CheckError>,
    section: impl FnOnce(&[Judged<E>]) -> crate::Section,
) -> Result<crate::Outcome, CheckError> {
    let started = std::time::Instant::now();
    let mut judged = Vec::new();
    let mut ops = 0;
    for (key, pairs) in parts(history, partition) {
        ops += pairs.len();
        judged.push(judge(key, &pairs)?);
    }
    let section = section(&judged);
    let partitions = judged.len().max(1);
    let (verdict, reason, explanation, evidence, parts) = merge(judged, "no operations");
    Ok(crate::Outcome {
        verdict,
        reason,
        explanation,
        stats: crate::Stats { ops, partitions, elapsed: started.elapsed(), ..Default::default() },
        evidence,
        parts,
        section,
    })
}

/// One part's verdict, in words, with the checker's evidence for it.
pub(crate) struct Judged<E> {
    pub key: Option<Value>,
    pub verdict: Verdict,
    pub reason: String,
    pub explanation: String,
    pub evidence: E,
}

/// How many parts (keys) had each verdict, when a history was judged by key.
#[derive(Debug, Clone, Serialize)]
pub struct KeyedSummary {
    pub keys: usize,
    pub valid: usize,
    pub invalid: usize,
    pub unknown: usize,
}

/// The merged verdict of the parts (invalid > unknown > valid) with its reason,
/// explanation, evidence and the parts that were not valid. One part is the whole
/// answer; several are summed up ("2 of 30 keys invalid"), each not-valid one
/// keeping its own evidence in [`crate::Outcome::parts`]. No part at all is
/// `unknown`: nothing was checked.
pub(crate) fn merge<E: AnyEvidence + Clone>(
    mut judged: Vec<Judged<E>>,
    nothing: &str,
) -> (Verdict, String, String, Evidence, Vec<Part>) {
    if judged.len() <= 1 {
        return match judged.pop() {
            None => {
                (Verdict::Unknown, nothing.to_string(), String::new(), Evidence::default(), vec![])
            }
            Some(j) => (j.verdict, j.reason, j.explanation, Evidence::new(j.evidence), vec![]),
        };
    }
    let verdict = Verdict::of_all(judged.iter().map(|j| j.verdict));
    let count = |v: Verdict| judged.iter().filter(|j| j.verdict == v).count();
    let summary = KeyedSummary {
        keys: judged.len(),
        valid: count(Verdict::Valid),
        invalid: count(Verdict::Invalid),
        unknown: count(Verdict::Unknown),
    };
    let key_name = |k: &Option<Value>| k.as_ref().map_or("(none)".to_string(), Value::to_string);
    let bad: Vec<&Judged<E>> = {
        let mut b: Vec<&Judged<E>> =
            judged.iter().filter(|j| j.verdict == Verdict::Invalid).collect();
        b.extend(judged.iter().filter(|j| j.verdict == Verdict::Unknown));
        b
    };
    let reason = match bad.first() {
        None => format!("all {} keys valid", summary.keys),
        Some(first) => {
            let mut counts = Vec::new();
            if summary.invalid > 0 {
                counts.push(format!("{} invalid", summary.invalid));
            }
            if summary.unknown > 0 {
                counts.push(format!("{} unknown", summary.unknown));
            }
            format!(
                "{} of {} keys: {} (key {}: {})",
                summary.invalid + summary.unknown,
                summary.keys,
                counts.join(", "),
                key_name(&first.key),
                first.reason
            )
        }
    };
    let explanation = bad
        .iter()
        .filter(|j| !j.explanation.is_empty())
        .take(3)
        .map(|j| format!("Key {}: {}", key_name(&j.key), j.explanation))
        .collect::<Vec<_>>()
        .join(" ");
    let parts = bad
        .iter()
        .map(|j| Part {
            key: j.key.clone(),
            outcome: PartOutcome {
                verdict: j.verdict,
                reason: j.reason.clone(),
                explanation: j.explanation.clone(),
                evidence: Evidence::new(j.evidence.clone()),
            },
        })
        .collect();
    (verdict, reason, explanation, Evidence::new(summary), parts)
}

/// Seconds since the run started, as explanations print them (`3.20 s`).
pub(crate) fn secs(ns: u64) -> String {
    format!("{:.2} s", ns as f64 / 1e9)
}

/// A key for tables: its EDN text, or empty when the history has no keys.
pub(crate) fn key_cell(key: &Option<Value>) -> String {
    key.as_ref().map(Value::to_string).unwrap_or_default()
}

/// Up to `max` values as EDN text, comma separated, with "and N more".
pub(crate) fn list_words<'a>(values: impl IntoIterator<Item = &'a Value>, max: usize) -> String {
    let mut shown = Vec::new();
    let mut more = 0;
    for v in values {
        if shown.len() < max {
            shown.push(v.to_string());
        } else {
            more += 1;
        }
    }
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// Jepsen's `integer-interval-set-str`: sorted values with runs of consecutive
/// integers collapsed (`#{1..4 7 9..10}`); other values are printed as they are.
pub(crate) fn interval_str(sorted: &[&Value]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut run: Option<(i64, i64)> = None;
    let flush = |run: &mut Option<(i64, i64)>, out: &mut Vec<String>| {
        if let Some((a, b)) = run.take() {
            out.push(if a == b { a.to_string() } else { format!("{a}..{b}") });
        }
    };
    for v in sorted {
        match (v, run) {
            (Value::Int(i), Some((a, b))) if *i == b + 1 => run = Some((a, *i)),
            (Value::Int(i), _) => {
                flush(&mut run, &mut out);
                run = Some((*i, *i));
            }
            (other, _) => {
                flush(&mut run, &mut out);
                out.push(other.to_string());
            }
        }
    }
    flush(&mut run, &mut out);
    format!("#{{{}}}", out.join(" "))
}

/// Jepsen's `frequency-distribution` at its points 0, 0.5, 0.95, 0.99 and 1: the
/// value at index `min(n - 1, floor(n * p))` of the sorted values; `None` when empty.
pub(crate) fn distribution(sorted: &[u64]) -> Option<BTreeMap<String, u64>> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    Some(
        [0.0, 0.5, 0.95, 0.99, 1.0]
            .iter()
            .map(|&p| {
                let idx = ((n as f64 * p).floor() as usize).min(n - 1);
                (format!("{p}"), sorted[idx])
            })
            .collect(),
    )
}

/// At most `max` points of a series for a plot: every k-th one, plus the last.
pub(crate) fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points;
    }
    let step = points.len().div_ceil(max - 1);
    let last = points[points.len() - 1];
    let mut out: Vec<(f64, f64)> = points.into_iter().step_by(step).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// Serializes a value as its JSON form (the history's own encoding).
pub(crate) fn value_json<S: serde::Serializer>(v: &Value, s: S) -> Result<S::Ok, S::Error> {
    v.to_json().serialize(s)
}

/// Serializes values as their JSON forms.
pub(crate) fn values_json<S: serde::Serializer>(v: &[Value], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(Value::to_json))
}

/// Serializes an optional key as its JSON form.
pub(crate) fn key_json<S: serde::Serializer>(k: &Option<Value>, s: S) -> Result<S::Ok, S::Error> {
    k.as_ref().map(Value::to_json).serialize(s)
}

/// A fast hasher for element maps (the multiply-rotate hash rustc uses): elements
/// come from the history, not from an adversary who could aim for collisions, and
/// SipHash made element lookups the largest cost of `set-full` on long histories.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FastHash;

impl BuildHasher for FastHash {
    type Hasher = FastHasher;

    fn build_hasher(&self) -> FastHasher {
        FastHasher(0)
    }
}

#[derive(Debug)]
pub(crate) struct FastHasher(u64);

impl FastHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    fn write_i64(&mut self, i: i64) {
        self.add(i as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A hash map with [`FastHash`].
pub(crate) type FastMap<K, V> = std::collections::HashMap<K, V, FastHash>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_strings_and_distributions_follow_jepsen() {
        let vals: Vec<Value> =
            vec![1.into(), 2.into(), 3.into(), 5.into(), 7.into(), 8.into(), "x".into()];
        let refs: Vec<&Value> = vals.iter().collect();
        assert_eq!(interval_str(&refs), "#{1..3 5 7..8 \"x\"}");
        assert_eq!(interval_str(&[]), "#{}");
        let d = distribution(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).unwrap();
        assert_eq!((d["0"], d["0.5"], d["0.95"], d["0.99"], d["1"]), (1, 6, 10, 10, 10));
        assert!(distribution(&[]).is_none());
        let thinned = thin((0..1000).map(|i| (i as f64, 0.0)).collect(), 100);
        assert!(thinned.len() <= 101 && thinned.last() == Some(&(999.0, 0.0)), "{}", thinned.len());
        assert_eq!(list_words(&vals[..3], 2), "1, 2 and 1 more");
    }

    #[test]
    fn options_refuse_unknown_names_and_wrong_types() {
        let mut o = CheckerOptions::default();
        o.extension.insert("linearizable".into(), Value::Bool(true));
        o.extension.insert("group-size".into(), Value::Str("3".into()));
        let opts = options(&o, "x", &["linearizable", "group-size"]).unwrap();
        assert_eq!(opts.flag("linearizable").unwrap(), Some(true));
        assert_eq!(opts.int("group-size").unwrap(), Some(3));
        assert_eq!(opts.flag("absent").unwrap(), None);
        assert!(opts.int("linearizable").unwrap_err().to_string().contains("must be an integer"));
        let err = options(&o, "x", &["linearizable"]).err().unwrap().to_string();
        assert!(err.contains("no option \"group-size\"") && err.contains("linearizable"), "{err}");
        let with_initial = CheckerOptions { initial: Some(1.into()), ..Default::default() };
        assert!(options(&with_initial, "x", &[]).is_err());
    }
}
