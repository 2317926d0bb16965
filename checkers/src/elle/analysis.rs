//! What an Elle analysis found, and the verdict Elle gives it
//! (`elle.txn/result-map`): every anomaly found, by type; the types that make the
//! history invalid (those the requested consistency models and anomalies
//! prohibit); `unknown` when the only reportable findings say the analysis could
//! not finish (`cycle-search-timeout`) or had nothing to work with
//! (`empty-transaction-graph`); and the boundary: the weakest models ruled out
//! (`not`) and the stronger ones ruled out with them (`also-not`).
//!
//! [`Analysis::to_elle_json`] writes the result the way elle-cli prints it with
//! `--verbose` (`valid?`, `anomaly-types`, `anomalies`, `not`, `also-not`), each
//! operation as Elle prints one (`index`, `time`, `type`, `process`, `f`, `value`).

use std::collections::{BTreeMap, BTreeSet};

use history::{Linted, Op, Process, Value};
use serde_json::{Value as Json, json};

use super::consistency;
use super::cycles::{Cycle, Exists, Step, Timeout, Val};
use super::graph::{self, PROCESS, REALTIME};
use super::txn::{Flavor, MopKind, NONE, Txns};
use crate::verdict::Verdict;

/// The state a transaction expected a read to see (Elle's `:expected`).
#[derive(Debug, Clone)]
pub enum Expected {
    /// A list; with `unknown_prefix`, only its end is known (`['... 3 4]`).
    List { unknown_prefix: bool, elements: Vec<u32> },
    /// A register value.
    Value(u32),
}

/// One anomaly found in one operation (G1a, G1b, internal, future read,
/// duplicate elements).
#[derive(Debug, Clone)]
pub struct OpCase {
    pub txn: u32,
    /// Index of the micro-operation in the transaction.
    pub mop: u32,
    /// The transaction that wrote what was read, when known.
    pub writer: Option<u32>,
    /// The element concerned.
    pub element: Option<u32>,
    pub expected: Option<Expected>,
    /// Elements seen more than once, with their counts.
    pub duplicates: Vec<(u32, usize)>,
}

impl OpCase {
    pub fn new(txn: u32, mop: u32) -> OpCase {
        OpCase { txn, mop, writer: None, element: None, expected: None, duplicates: Vec::new() }
    }
}

/// One anomaly instance.
#[derive(Debug, Clone)]
pub enum Case {
    Cycle(Cycle),
    Exists(Exists),
    Timeout(Timeout),
    Op(OpCase),
    /// Two reads of `key` that no single order of appends explains.
    Orders {
        key: u32,
        values: [Vec<u32>; 2],
    },
    /// A committed append after an aborted one in `key`'s order.
    Dirty {
        key: u32,
        values: Vec<u32>,
        txns: [u32; 2],
    },
    /// Transactions that read the same version of `key` (the read at `(txn, mop)`)
    /// and all wrote `key`.
    Lost {
        key: u32,
        read: (u32, u32),
        txns: Vec<u32>,
    },
    /// A cycle in `key`'s inferred version order.
    Versions {
        key: u32,
        scc: Vec<u32>,
        sources: Vec<&'static str>,
    },
    /// An anomaly that is a fact, not a list (`empty-transaction-graph`).
    Flag,
}

impl Case {
    /// The transactions involved, the most telling first.
    pub fn txns(&self) -> Vec<u32> {
        match self {
            Case::Cycle(c) => c.txns.clone(),
            Case::Exists(e) => e.scc.clone(),
            Case::Op(o) => std::iter::once(o.txn).chain(o.writer).collect(),
            Case::Dirty { txns, .. } => txns.to_vec(),
            Case::Lost { txns, .. } => txns.clone(),
            _ => Vec::new(),
        }
    }
}

/// Anomaly types that make a verdict unknown rather than invalid.
pub const UNKNOWN_TYPES: [&str; 2] = ["empty-transaction-graph", "cycle-search-timeout"];

/// Cases of one type kept in full; beyond that only counted.
pub const MAX_CASES: usize = 10_000;

/// Elle's three answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Validity {
    True,
    False,
    Unknown,
}

impl Validity {
    pub fn verdict(self) -> Verdict {
        match self {
            Validity::True => Verdict::Valid,
            Validity::False => Verdict::Invalid,
            Validity::Unknown => Verdict::Unknown,
        }
    }

    /// As elle-cli prints it: `true`, `false`, `unknown`.
    pub fn name(self) -> &'static str {
        match self {
            Validity::True => "true",
            Validity::False => "false",
            Validity::Unknown => "unknown",
        }
    }
}

/// The anomalies of one check and their verdict.
#[derive(Debug, Clone)]
pub struct Analysis {
    pub flavor: Flavor,
    /// Every anomaly found, by type.
    pub found: BTreeMap<String, Vec<Case>>,
    /// How many cases of each type were found (more than kept, past [`MAX_CASES`]).
    pub counts: BTreeMap<String, usize>,
    pub valid: Validity,
    /// The types reported (prohibited or unknown), sorted.
    pub reported: Vec<String>,
    /// Of those, the ones that make the history invalid.
    pub prohibited: BTreeSet<String>,
    pub not: BTreeSet<&'static str>,
    pub also_not: BTreeSet<&'static str>,
    /// The strongest well-known models the anomalies do not rule out.
    pub still_possible: Vec<&'static str>,
    /// The models asked for.
    pub models: Vec<String>,
}

/// Collects cases as an analysis finds them.
#[derive(Debug, Default)]
pub struct Findings {
    pub found: BTreeMap<String, Vec<Case>>,
    pub counts: BTreeMap<String, usize>,
}

impl Findings {
    pub fn add(&mut self, kind: &str, case: Case) {
        let n = self.counts.entry(kind.to_string()).or_default();
        *n += 1;
        let list = self.found.entry(kind.to_string()).or_default();
        if list.len() < MAX_CASES {
            list.push(case);
        }
    }
}

/// The anomaly types a check must report for these options: those the models and
/// the named anomalies prohibit, plus the unknown ones.
pub fn prohibited_types(models: &[String], anomalies: &[String]) -> BTreeSet<&'static str> {
    let mut p = consistency::prohibited_by(models.iter().map(String::as_str));
    p.extend(consistency::anomalies_implying(anomalies.iter().map(String::as_str)));
    p
}

impl Analysis {
    /// Elle's `result-map`.
    pub fn judge(
        flavor: Flavor,
        findings: Findings,
        models: &[String],
        anomalies: &[String],
    ) -> Analysis {
        let prohibited_all = prohibited_types(models, anomalies);
        let mut reportable: BTreeSet<String> = findings
            .found
            .keys()
            .filter(|k| prohibited_all.contains(k.as_str()) || UNKNOWN_TYPES.contains(&k.as_str()))
            .cloned()
            .collect();
        // Cycle-exists findings other findings already explain say nothing new.
        let others: Vec<&str> = findings
            .found
            .keys()
            .filter(|k| !k.ends_with("-cycle-exists"))
            .map(String::as_str)
            .collect();
        let explained = consistency::ruled_out_by(others);
        reportable.retain(|k| match k.strip_suffix("-cycle-exists") {
            Some(model) => !explained.contains(consistency::canonical(model)),
            None => true,
        });
        let prohibited: BTreeSet<String> =
            reportable.iter().filter(|k| prohibited_all.contains(k.as_str())).cloned().collect();
        let valid = if reportable.is_empty() {
            Validity::True
        } else if !prohibited.is_empty() {
            Validity::False
        } else {
            Validity::Unknown
        };
        let (not, also_not) = if reportable.is_empty() {
            (BTreeSet::new(), BTreeSet::new())
        } else {
            consistency::boundary(findings.found.keys().map(String::as_str))
        };
        let still_possible =
            consistency::strongest_possible(findings.found.keys().map(String::as_str));
        Analysis {
            flavor,
            reported: reportable.into_iter().collect(),
            found: findings.found,
            counts: findings.counts,
            valid,
            prohibited,
            not,
            also_not,
            still_possible,
            models: models.to_vec(),
        }
    }

    /// The analysis as elle-cli prints it (`--verbose`).
    pub fn to_elle_json(&self, history: &Linted, txns: &Txns) -> Json {
        if self.reported.is_empty() {
            return json!({ "valid?": true });
        }
        let r = Render { history, txns, flavor: self.flavor };
        let mut anomalies = serde_json::Map::new();
        for kind in &self.reported {
            let cases = &self.found[kind];
            let value = if matches!(cases.first(), Some(Case::Flag)) {
                Json::Bool(true)
            } else {
                Json::Array(cases.iter().map(|c| r.case(c)).collect())
            };
            anomalies.insert(kind.clone(), value);
        }
        let valid = match self.valid {
            Validity::True => Json::Bool(true),
            Validity::False => Json::Bool(false),
            Validity::Unknown => json!("unknown"),
        };
        json!({
            "valid?": valid,
            "anomaly-types": self.reported,
            "anomalies": anomalies,
            "not": self.not,
            "also-not": self.also_not,
        })
    }
}

/// A value as Elle's JSON shows it: keywords and symbols as strings, lists as
/// arrays, maps as objects.
pub fn elle_value(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => json!(s),
        Value::List(items) | Value::Set(items) => {
            Json::Array(items.iter().map(elle_value).collect())
        }
        Value::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                let key = match k {
                    Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => s.clone(),
                    other => other.to_string(),
                };
                m.insert(key, elle_value(v));
            }
            Json::Object(m)
        }
        Value::Tagged(_, inner) => elle_value(inner),
    }
}

/// An operation as Elle's JSON shows it.
pub fn elle_op(op: &Op) -> Json {
    let process = match op.process {
        Process::Client(p) => json!(p),
        Process::Nemesis => json!("nemesis"),
    };
    json!({
        "index": op.index,
        "time": op.time_ns,
        "type": op.kind.name(),
        "process": process,
        "f": op.f,
        "value": elle_value(&op.value),
    })
}

struct Render<'a> {
    history: &'a Linted,
    txns: &'a Txns,
    flavor: Flavor,
}

impl Render<'_> {
    fn op(&self, t: u32) -> Json {
        elle_op(&self.history.ops()[self.txns.txns[t as usize].position()])
    }

    fn key(&self, k: u32) -> Json {
        elle_value(self.txns.key(k))
    }

    fn val(&self, v: u32) -> Json {
        elle_value(self.txns.value(v))
    }

    fn elems(&self, list: &[u32]) -> Json {
        Json::Array(list.iter().map(|e| self.val(*e)).collect())
    }

    fn mop(&self, t: u32, i: u32) -> Json {
        let m = self.txns.mops(t as usize)[i as usize];
        let v = match (m.kind, self.flavor) {
            (MopKind::Read, Flavor::ListAppend) if m.value == NONE => Json::Null,
            (MopKind::Read, Flavor::ListAppend) => self.elems(self.txns.list(m.value)),
            _ => self.val(m.value),
        };
        json!([m.kind.name(), self.key(m.key), v])
    }

    fn step_val(&self, v: Val) -> Json {
        match v {
            Val::Init => json!("init"),
            Val::Id(id) => self.val(id),
        }
    }

    fn step(&self, s: &Step) -> Json {
        match s.rel {
            REALTIME => {
                let a = &self.txns.txns[s.from as usize];
                let b = &self.txns.txns[s.to as usize];
                json!({
                    "type": "realtime",
                    "a'": elle_op(&self.history.ops()[a.position()]),
                    "b": elle_op(&self.history.ops()[b.invoke]),
                })
            }
            PROCESS => {
                let p = &self.txns.txns[s.from as usize].process;
                json!({ "type": "process", "process": p.to_string().parse::<u64>().map(Json::from).unwrap_or(json!(p.to_string())) })
            }
            rel => {
                let mut m = serde_json::Map::new();
                m.insert("type".into(), json!(graph::rel_name(rel)));
                m.insert("key".into(), self.key(s.key));
                m.insert("value".into(), self.step_val(s.value));
                if rel != graph::WR {
                    m.insert("value'".into(), self.step_val(s.value2));
                }
                m.insert("a-mop-index".into(), s.a_mop.map_or(Json::Null, |i| json!(i)));
                m.insert("b-mop-index".into(), s.b_mop.map_or(Json::Null, |i| json!(i)));
                Json::Object(m)
            }
        }
    }

    fn case(&self, c: &Case) -> Json {
        match c {
            Case::Cycle(cy) => {
                let mut ops: Vec<Json> = cy.txns.iter().map(|t| self.op(*t)).collect();
                if let Some(first) = cy.txns.first() {
                    ops.push(self.op(*first));
                }
                json!({
                    "cycle": ops,
                    "steps": cy.steps.iter().map(|s| self.step(s)).collect::<Vec<_>>(),
                    "type": cy.kind,
                })
            }
            Case::Exists(e) => {
                let mut scc: Vec<u64> = e
                    .scc
                    .iter()
                    .map(|t| self.history.ops()[self.txns.txns[*t as usize].position()].index)
                    .collect();
                scc.sort_unstable();
                json!({
                    "type": e.kind,
                    "not": e.not,
                    "subgraph": e.subgraph,
                    "scc-size": e.scc.len(),
                    "scc": scc,
                })
            }
            Case::Timeout(t) => json!({
                "type": "cycle-search-timeout",
                "anomaly-spec-type": t.spec,
                "does-not-contain": t.does_not_contain,
                "scc-size": t.scc_size,
            }),
            Case::Op(o) => {
                let mut m = serde_json::Map::new();
                m.insert("op".into(), self.op(o.txn));
                m.insert("mop".into(), self.mop(o.txn, o.mop));
                if let Some(w) = o.writer {
                    m.insert("writer".into(), self.op(w));
                }
                if let Some(e) = o.element {
                    m.insert("element".into(), self.val(e));
                }
                match &o.expected {
                    Some(Expected::List { unknown_prefix, elements }) => {
                        let mut l: Vec<Json> = Vec::new();
                        if *unknown_prefix {
                            l.push(json!("..."));
                        }
                        l.extend(elements.iter().map(|e| self.val(*e)));
                        m.insert("expected".into(), Json::Array(l));
                    }
                    Some(Expected::Value(v)) => {
                        m.insert("expected".into(), self.val(*v));
                    }
                    None => {}
                }
                if !o.duplicates.is_empty() {
                    let mut d = serde_json::Map::new();
                    for (e, n) in &o.duplicates {
                        d.insert(self.txns.value(*e).to_string(), json!(n));
                    }
                    m.insert("duplicates".into(), Json::Object(d));
                }
                Json::Object(m)
            }
            Case::Orders { key, values } => json!({
                "key": self.key(*key),
                "values": [self.elems(&values[0]), self.elems(&values[1])],
            }),
            Case::Dirty { key, values, txns } => json!({
                "key": self.key(*key),
                "values": self.elems(values),
                "txns": [self.op(txns[0]), "...", self.op(txns[1])],
            }),
            Case::Lost { key, read, txns } => json!({
                "key": self.key(*key),
                "value": self.mop(read.0, read.1).get(2).cloned().unwrap_or(Json::Null),
                "txns": txns.iter().map(|t| self.op(*t)).collect::<Vec<_>>(),
            }),
            Case::Versions { key, scc, sources } => json!({
                "key": self.key(*key),
                "scc": scc.iter().map(|v| self.val(*v)).collect::<Vec<_>>(),
                "sources": sources,
            }),
            Case::Flag => Json::Bool(true),
        }
    }
}
