//! Elle-style transactional checkers: `list-append` and `rw-register`.
//!
//! Kingsbury & Alvaro, "Elle: Inferring Isolation Anomalies from Experimental
//! Observations" (VLDB 2020): infer a dependency graph between transactions from
//! what they read and wrote (`ww`, `wr`, `rw`, plus `process` and `realtime`
//! order when a model needs them), find its strongly connected components, find a
//! short cycle of each kind in each, name the cycles and the other anomalies Elle
//! knows, and judge them against the consistency models asked for (default
//! `strict-serializable`, as Jepsen and elle-cli). Our own code, Elle's semantics:
//! the names, the model/anomaly tables, the verdicts (`valid`, `invalid`,
//! `unknown` exactly where Elle says `true`, `false`, `:unknown`) and the
//! `--verbose` JSON are Elle's, so `faultline elle` can stand in for elle-cli.
//!
//! # Layout
//! - [`txn`]: transactions compiled from the history (interned keys and values).
//! - [`list_append`], [`rw_register`]: the two analyses (anomalies found without
//!   the graph, the version orders, the dependency edges and their explanations).
//! - [`graph`]: the dependency graph (CSR), Tarjan, realtime and process edges.
//! - [`cycles`]: cycle existence and cycle search per component, with a time budget.
//! - [`consistency`]: Elle's models, anomalies and what forbids what.
//! - [`analysis`]: the findings, Elle's verdict (`result-map`) and its JSON.
//! - [`explain`]: sentences, the report section, Elle's text for `-d`.
//!
//! # Options ([`CheckerOptions::extra`], elle-cli's long flag names)
//! `consistency-models` (a list, or a comma-separated string; empty for none),
//! `anomalies` (likewise), `cycle-search-timeout` (milliseconds per component,
//! default 1000), and for rw-register `sequential-keys`, `linearizable-keys`,
//! `wfr-keys` (booleans). [`CheckerOptions::time_limit`] bounds the whole check.

pub mod analysis;
pub mod consistency;
pub mod cycles;
pub mod explain;
pub mod graph;
pub mod list_append;
pub mod rw_register;
pub mod txn;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use history::{Linted, Value};
use serde::Serialize;

use crate::registry::{CheckerDef, CheckerOptions};
use crate::section::{GraphView, Section};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats};
use analysis::{Analysis, Case, Findings};
use graph::{Edges, Graph, PROCESS, REALTIME};
use txn::{Flavor, Txns};

pub use analysis::Validity;
pub use rw_register::Assumptions;

/// `list-append` in the checker registry.
pub static LIST_APPEND: CheckerDef = CheckerDef {
    name: "list-append",
    summary: "Elle's list-append: transactions of appends and list reads, dependency cycles \
              and anomalies judged against consistency models (default strict-serializable)",
    make: |o| Ok(Box::new(Elle::new(Flavor::ListAppend, o)?)),
};

/// `rw-register` in the checker registry.
pub static RW_REGISTER: CheckerDef = CheckerDef {
    name: "rw-register",
    summary: "Elle's rw-register: transactions of register writes and reads, dependency \
              cycles judged against consistency models (default strict-serializable)",
    make: |o| Ok(Box::new(Elle::new(Flavor::RwRegister, o)?)),
};

/// What an Elle check is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ElleOptions {
    /// Models the history must satisfy (friendly names, as typed).
    pub consistency_models: Vec<String>,
    /// Anomalies that must not appear, besides those the models forbid.
    pub anomalies: Vec<String>,
    /// Time for searching one strongly connected component.
    pub cycle_search_timeout: Duration,
    /// Time for the whole check.
    pub time_limit: Option<Duration>,
    /// rw-register's version-order assumptions.
    pub assume: Assumptions,
}

impl Default for ElleOptions {
    fn default() -> ElleOptions {
        ElleOptions {
            consistency_models: vec!["strict-serializable".into()],
            anomalies: Vec::new(),
            cycle_search_timeout: Duration::from_millis(1000),
            time_limit: None,
            assume: Assumptions::default(),
        }
    }
}

/// A list of names from a `Value`: a list of keywords or strings, or one
/// comma-separated string (`""` is no names).
fn names(v: &Value, what: &str) -> Result<Vec<String>, CheckError> {
    let one = |v: &Value| match v {
        Value::Keyword(s) | Value::Str(s) | Value::Symbol(s) => {
            Ok(s.trim_start_matches(':').to_string())
        }
        other => Err(CheckError::BadModel(format!("{what}: {other} is not a name"))),
    };
    match v {
        Value::List(items) | Value::Set(items) => items.iter().map(one).collect(),
        Value::Str(s) => {
            Ok(s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect())
        }
        other => one(other).map(|n| vec![n]),
    }
}

/// The option names Elle's checkers take, elle-cli's long flags without the dashes.
pub const OPTIONS: &[&str] = &[
    "consistency-models",
    "anomalies",
    "cycle-search-timeout",
    "sequential-keys",
    "linearizable-keys",
    "wfr-keys",
];

impl ElleOptions {
    /// Reads the options from the registry's options; unknown models and anomalies
    /// are errors naming them.
    pub fn from_checker(o: &CheckerOptions) -> Result<ElleOptions, CheckError> {
        let mut e = ElleOptions { time_limit: o.time_limit, ..ElleOptions::default() };
        if let Some(v) = &o.initial {
            return Err(CheckError::BadModel(format!(
                "Elle's checkers take no initial value (got {v})"
            )));
        }
        for (k, v) in &o.extension {
            let flag = |b: &Value| match b {
                Value::Bool(b) => Ok(*b),
                other => {
                    Err(CheckError::BadModel(format!("{k} must be true or false, not {other}")))
                }
            };
            match k.as_str() {
                "consistency-models" => e.consistency_models = names(v, k)?,
                "anomalies" => e.anomalies = names(v, k)?,
                "cycle-search-timeout" => match v {
                    Value::Int(ms) if *ms > 0 => {
                        e.cycle_search_timeout = Duration::from_millis(*ms as u64)
                    }
                    other => {
                        return Err(CheckError::BadModel(format!(
                            "cycle-search-timeout must be a positive number of milliseconds, not {other}"
                        )));
                    }
                },
                "sequential-keys" => e.assume.sequential_keys = flag(v)?,
                "linearizable-keys" => e.assume.linearizable_keys = flag(v)?,
                "wfr-keys" => e.assume.wfr_keys = flag(v)?,
                // As every checker: a name it does not take is an error, never ignored.
                other => {
                    return Err(CheckError::BadModel(format!(
                        "Elle's checkers have no option {other:?} (they take: {})",
                        OPTIONS.join(", ")
                    )));
                }
            }
        }
        e.validate()?;
        Ok(e)
    }

    pub fn validate(&self) -> Result<(), CheckError> {
        let models: Vec<&str> = self.consistency_models.iter().map(String::as_str).collect();
        if let Some(bad) = consistency::unknown_model(&models) {
            let known: Vec<&str> = consistency::all_models().iter().copied().collect();
            return Err(CheckError::BadModel(format!(
                "unknown consistency model {bad:?} (known: {})",
                known.join(", ")
            )));
        }
        let known = known_anomalies();
        if let Some(bad) = self.anomalies.iter().find(|a| !known.contains(a.as_str())) {
            return Err(CheckError::BadModel(format!(
                "unknown anomaly {bad:?} (known: {})",
                known.iter().copied().collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(())
    }
}

/// Every anomaly name the tables know.
pub fn known_anomalies() -> BTreeSet<&'static str> {
    let mut all = consistency::prohibited_by(consistency::all_models().iter().copied());
    all.extend(consistency::implied_anomalies(all.clone()));
    all.extend(analysis::UNKNOWN_TYPES);
    all
}

/// The checker.
pub struct Elle {
    pub flavor: Flavor,
    pub options: ElleOptions,
}

impl Elle {
    pub fn new(flavor: Flavor, o: &CheckerOptions) -> Result<Elle, CheckError> {
        Ok(Elle { flavor, options: ElleOptions::from_checker(o)? })
    }
}

/// A finished check: the transactions, the analysis and how long it took.
pub struct Report<'h> {
    pub history: &'h Linted,
    pub txns: Txns,
    pub analysis: Analysis,
    pub stats: Stats,
}

/// The evidence in an outcome (and `results.json`).
#[derive(Debug, Clone, Serialize)]
pub struct ElleEvidence {
    pub checker: &'static str,
    pub consistency_models: Vec<String>,
    pub anomaly_types: Vec<String>,
    /// The weakest models ruled out, and the stronger ones ruled out with them.
    pub not: Vec<&'static str>,
    pub also_not: Vec<&'static str>,
    /// The strongest well-known models the history may still satisfy.
    pub still_possible: Vec<&'static str>,
    /// The analysis as elle-cli prints it with `--verbose`.
    pub elle: serde_json::Value,
}

/// Runs a check of `history` (Elle's `check`).
pub fn run<'h>(
    flavor: Flavor,
    history: &'h Linted,
    options: &ElleOptions,
) -> Result<Report<'h>, CheckError> {
    let started = Instant::now();
    let deadline = options.time_limit.map(|t| started + t);
    let txns = txn::compile(history, flavor)?;
    let prohibited = analysis::prohibited_types(&options.consistency_models, &options.anomalies);
    let wants = |suffix: &str| prohibited.iter().any(|a| a.ends_with(suffix));
    let extra = if wants("-realtime") {
        REALTIME
    } else if wants("-process") {
        PROCESS
    } else {
        0
    };
    let mut edges = Edges::default();
    let (mut findings, explainer): (Findings, Box<dyn cycles::Explainer + '_>) = match flavor {
        Flavor::ListAppend => {
            let (f, la) = list_append::analyze(history, &txns)?;
            la.edges(&mut edges);
            (f, Box::new(la))
        }
        Flavor::RwRegister => {
            let (f, rw) = rw_register::analyze(history, &txns, options.assume)?;
            rw.edges(&mut edges)?;
            (f, Box::new(rw))
        }
    };
    if extra == REALTIME {
        graph::realtime_edges(&txns, history.ops().len(), &mut edges);
    } else if extra == PROCESS {
        graph::process_edges(&txns, &mut edges);
    }
    if edges.is_empty() {
        findings.add("empty-transaction-graph", Case::Flag);
    }
    let edge_count = edges.len();
    let g = Graph::new(txns.txns.len(), edges);
    // From here on is the cycle search (components, then cycles in each).
    let graph_built = Instant::now();
    let components = graph::sccs(&g);
    let cycle_types: BTreeSet<&'static str> = prohibited.iter().copied().collect();
    let prefer = match flavor {
        Flavor::ListAppend => cycles::LIST_APPEND_ORDER,
        Flavor::RwRegister => cycles::RW_REGISTER_ORDER,
    };
    let search =
        cycles::Search { explainer: explainer.as_ref(), wanted: &cycle_types, extra, prefer };
    let mut slot = vec![u32::MAX; txns.txns.len()];
    for scc in &components {
        let mut budget = Instant::now() + options.cycle_search_timeout;
        if let Some(d) = deadline {
            budget = budget.min(d);
        }
        let found = cycles::search_scc(&g, scc, &mut slot, &search, budget);
        for e in found.exists {
            findings.add(&e.kind.clone(), Case::Exists(e));
        }
        for c in found.cycles {
            findings.add(&c.kind.clone(), Case::Cycle(c));
        }
        if let Some(t) = found.timeout {
            findings.add("cycle-search-timeout", Case::Timeout(t));
        }
    }
    drop(explainer);
    let analysis =
        Analysis::judge(flavor, findings, &options.consistency_models, &options.anomalies);
    let mut stats = Stats {
        ops: history.client_pairs().count(),
        partitions: 1,
        elapsed: started.elapsed(),
        ..Stats::default()
    };
    stats.counters.insert("cycle_search_us", graph_built.elapsed().as_micros() as u64);
    stats.counters.insert("transactions", txns.txns.len() as u64);
    stats.counters.insert("edges", edge_count as u64);
    stats.counters.insert("sccs", components.len() as u64);
    stats.counters.insert("largest_scc", components.iter().map(Vec::len).max().unwrap_or(0) as u64);
    Ok(Report { history, txns, analysis, stats })
}

impl Report<'_> {
    fn words(&self) -> explain::Words<'_> {
        explain::Words { history: self.history, txns: &self.txns, flavor: self.analysis.flavor }
    }

    /// The analysis as elle-cli prints it with `--verbose`.
    pub fn elle_json(&self) -> serde_json::Value {
        self.analysis.to_elle_json(self.history, &self.txns)
    }

    /// Elle's `<anomaly>.txt` files for `-d`: every reported cycle type, its cycles
    /// in Elle's words ("G-single-item #0\nLet: ...").
    pub fn cycle_files(&self) -> Vec<(String, String)> {
        let w = self.words();
        let mut out = Vec::new();
        for kind in &self.analysis.reported {
            let cycles: Vec<String> = self.analysis.found[kind]
                .iter()
                .enumerate()
                .filter_map(|(i, c)| match c {
                    Case::Cycle(cy) => Some(format!("{} #{i}\n{}", cy.kind, w.elle_cycle_text(cy))),
                    _ => None,
                })
                .collect();
            if !cycles.is_empty() {
                out.push((format!("{kind}.txt"), cycles.join("\n\n\n")));
            }
        }
        out
    }

    /// Every reported cycle as a graph to draw, named `<anomaly>-<n>`.
    pub fn cycle_graphs(&self) -> Vec<(String, GraphView)> {
        let w = self.words();
        let mut out = Vec::new();
        for kind in &self.analysis.reported {
            for (i, c) in self.analysis.found[kind].iter().enumerate() {
                if let Case::Cycle(cy) = c {
                    out.push((format!("{kind}-{i}"), w.graph(cy)));
                }
            }
        }
        out
    }

    /// The checker's outcome.
    pub fn outcome(&self, checker: &'static str) -> Outcome {
        let w = self.words();
        let (reason, _) = explain::summary(&self.analysis, self.txns.txns.len());
        let mut outcome = Outcome::new(
            self.analysis.valid.verdict(),
            reason,
            explain::explanation(&w, &self.analysis),
        );
        outcome.section =
            explain::section(&w, &self.analysis, &format!("Transactions ({checker}, Elle)"));
        outcome.stats = self.stats.clone();
        outcome.evidence = Evidence::new(ElleEvidence {
            checker,
            consistency_models: self.analysis.models.clone(),
            anomaly_types: self.analysis.reported.clone(),
            not: self.analysis.not.iter().copied().collect(),
            also_not: self.analysis.also_not.iter().copied().collect(),
            still_possible: self.analysis.still_possible.clone(),
            elle: self.elle_json(),
        });
        outcome
    }
}

impl Checker for Elle {
    fn name(&self) -> String {
        let name = match self.flavor {
            Flavor::ListAppend => "list-append",
            Flavor::RwRegister => "rw-register",
        };
        let models = if self.options.consistency_models.is_empty() {
            "no model".to_string()
        } else {
            self.options.consistency_models.join(", ")
        };
        format!("elle {name} ({models})")
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let name = match self.flavor {
            Flavor::ListAppend => "list-append",
            Flavor::RwRegister => "rw-register",
        };
        Ok(run(self.flavor, history, &self.options)?.outcome(name))
    }
}

/// The section type, re-exported for callers drawing cycles.
pub type ReportSection = Section;
