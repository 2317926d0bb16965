//! Explanations a person can follow, in three forms:
//! - sentences: each cycle as a chain, one sentence per edge ("T2 (line 9) read
//!   key 7 as [1 2], without T1's append of 3, so T2 precedes T1 (rw)"), ending "so
//!   T1 precedes itself", every transaction named with its file and line; every
//!   other anomaly in a sentence of its own;
//! - the report section: the verdict, the strongest models the history may still
//!   satisfy and the weakest it violates, a table of anomaly types, the first cycles
//!   as sentences and as drawn graphs ([`crate::section::GraphView`]), and the
//!   operations involved highlighted;
//! - Elle's own text (`elle.core/explain-cycle-ops`: "Let: T1 = {..} ... Then: -
//!   T1 < T2, because ...: a contradiction!"), which `faultline elle -d` writes
//!   into `<anomaly>.txt` files as elle-cli does.

use std::fmt::Write as _;

use history::Linted;

use super::analysis::{Analysis, Case, Expected, OpCase};
use super::cycles::{Cycle, Step, Val};
use super::graph::{PROCESS, REALTIME, RW, WR, WW};
use super::txn::{Flavor, NONE, Txns};
use crate::section::{
    Block, GraphEdge, GraphNode, GraphView, Highlight, Operations, Role, Section, Table,
};

/// Cycles drawn and explained in the report (the rest are counted).
const CYCLES_SHOWN: usize = 3;
/// Other cases explained per anomaly type in the report.
const CASES_SHOWN: usize = 3;

/// What explanations need: the history (for lines), the transactions and the
/// flavor (how reads and writes read in words).
pub struct Words<'a> {
    pub history: &'a Linted,
    pub txns: &'a Txns,
    pub flavor: Flavor,
}

fn list_text(txns: &Txns, list: &[u32]) -> String {
    let items: Vec<String> = list.iter().map(|e| txns.value(*e).to_string()).collect();
    format!("[{}]", items.join(" "))
}

impl Words<'_> {
    /// `file:line` (or `line N`) of a transaction's completion.
    pub fn place(&self, t: u32) -> String {
        self.history.history().place(self.txns.txns[t as usize].position())
    }

    fn key(&self, k: u32) -> String {
        self.txns.key(k).to_string()
    }

    fn val(&self, v: u32) -> String {
        self.txns.value(v).to_string()
    }

    /// What a read micro-operation returned, in words.
    fn read_text(&self, t: u32, mop: u32) -> String {
        let m = self.txns.mops(t as usize)[mop as usize];
        match self.flavor {
            Flavor::ListAppend if m.value == NONE => "nil".into(),
            Flavor::ListAppend => list_text(self.txns, self.txns.list(m.value)),
            Flavor::RwRegister => self.val(m.value),
        }
    }

    /// One sentence: why `step.from` precedes `step.to`, with names `a` and `b`.
    fn step_sentence(&self, s: &Step, a: &str, b: &str) -> String {
        let why = match (s.rel, self.flavor) {
            (WW, Flavor::ListAppend) => format!(
                "{a} appended {} to key {} and {b} appended {} right after it",
                self.val_of(s.value),
                self.key(s.key),
                self.val_of(s.value2)
            ),
            (WR, Flavor::ListAppend) => {
                let read = s.b_mop.map(|m| self.read_text(s.to, m)).unwrap_or_default();
                format!(
                    "{b} read key {} as {read}, which ends in {a}'s append of {}",
                    self.key(s.key),
                    self.val_of(s.value)
                )
            }
            (RW, Flavor::ListAppend) => {
                let read =
                    s.a_mop.map(|m| self.read_text(s.from, m)).unwrap_or_else(|| "[]".into());
                format!(
                    "{a} read key {} as {read}, without {b}'s append of {} that came next",
                    self.key(s.key),
                    self.val_of(s.value2)
                )
            }
            (WW, Flavor::RwRegister) => format!(
                "{a} wrote key {} = {} and {b} wrote it to {}, a later version",
                self.key(s.key),
                self.val_of(s.value),
                self.val_of(s.value2)
            ),
            (WR, Flavor::RwRegister) => format!(
                "{b} read key {} = {}, which {a} wrote",
                self.key(s.key),
                self.val_of(s.value)
            ),
            (RW, Flavor::RwRegister) => format!(
                "{a} read key {} = {} and {b} wrote it to {}, a later version",
                self.key(s.key),
                self.val_of(s.value),
                self.val_of(s.value2)
            ),
            (REALTIME, _) => {
                let ta = &self.txns.txns[s.from as usize];
                let tb = &self.txns.txns[s.to as usize];
                format!(
                    "{a} completed ({}) before {b} was invoked ({})",
                    self.history.history().place(ta.position()),
                    self.history.history().place(tb.invoke)
                )
            }
            (PROCESS, _) => {
                format!("process {} ran {a} before {b}", self.txns.txns[s.from as usize].process)
            }
            _ => format!("{a} and {b} are related"),
        };
        format!("{why}, so {a} precedes {b} ({})", super::graph::rel_name(s.rel))
    }

    fn val_of(&self, v: Val) -> String {
        match v {
            Val::Init => "the initial state".into(),
            Val::Id(id) => self.val(id),
        }
    }

    /// A cycle as a chain of sentences: "Let T1 = ... . T1 ...; T2 ...; so T1
    /// precedes itself: a contradiction."
    pub fn cycle(&self, c: &Cycle) -> String {
        let names: Vec<String> = (1..=c.txns.len()).map(|i| format!("T{i}")).collect();
        let mut s = String::new();
        let lets: Vec<String> = c
            .txns
            .iter()
            .zip(&names)
            .map(|(t, n)| format!("{n} = the transaction at {}", self.place(*t)))
            .collect();
        let _ = write!(s, "{} ({}): let {}. ", c.kind, describe_kind(&c.kind), lets.join(", "));
        let n = c.steps.len();
        for (i, step) in c.steps.iter().enumerate() {
            let sentence = self.step_sentence(step, &names[i], &names[(i + 1) % n]);
            s.push_str(&capitalize(&sentence));
            s.push_str("; ");
        }
        let _ = write!(s, "so {} precedes itself: a contradiction.", names[0]);
        s
    }

    /// Any case in one or two sentences.
    pub fn case(&self, kind: &str, c: &Case) -> String {
        match c {
            Case::Cycle(cy) => self.cycle(cy),
            Case::Exists(e) => format!(
                "A cycle that {} forbids exists among {} transactions ({}){}.",
                e.not,
                e.scc.len(),
                e.scc.iter().take(5).map(|t| self.place(*t)).collect::<Vec<_>>().join(", "),
                if e.scc.len() > 5 { ", ..." } else { "" }
            ),
            Case::Timeout(t) => format!(
                "The search for {} in a component of {} transactions ran out of time \
                 (raise --cycle-search-timeout); it contains no {}.",
                t.spec,
                t.scc_size,
                if t.does_not_contain.is_empty() {
                    "anomaly searched before".into()
                } else {
                    t.does_not_contain.join(", ")
                }
            ),
            Case::Op(o) => self.op_case(kind, o),
            Case::Orders { key, values } => format!(
                "Reads of key {} disagree: {} and {} cannot both come from one order of appends \
                 (incompatible order).",
                self.key(*key),
                list_text(self.txns, &values[0]),
                list_text(self.txns, &values[1])
            ),
            Case::Dirty { key, values, txns } => format!(
                "In key {}'s order {}, the failed transaction at {} appended first and the committed one \
                 at {} appended {} after it (dirty update).",
                self.key(*key),
                list_text(self.txns, values),
                self.place(txns[0]),
                self.place(txns[1]),
                values.last().map(|v| self.val(*v)).unwrap_or_default()
            ),
            Case::Lost { key, read, txns } => format!(
                "{} committed transactions ({}) all read key {} as {} and then wrote it: all but one of \
                 those updates was lost (lost update).",
                txns.len(),
                txns.iter().map(|t| self.place(*t)).collect::<Vec<_>>().join(", "),
                self.key(*key),
                self.read_text(read.0, read.1)
            ),
            Case::Versions { key, scc, sources } => format!(
                "Key {}'s version order, inferred from {}, has a cycle among the values {} (cyclic versions).",
                self.key(*key),
                sources.join(", "),
                scc.iter().map(|v| self.val(*v)).collect::<Vec<_>>().join(", ")
            ),
            Case::Flag => {
                "No dependency between transactions could be inferred: nothing to judge.".into()
            }
        }
    }

    fn op_case(&self, kind: &str, o: &OpCase) -> String {
        let m = self.txns.mops(o.txn as usize)[o.mop as usize];
        let at = self.place(o.txn);
        let read = self.read_text(o.txn, o.mop);
        let writer = o.writer.map(|w| self.place(w)).unwrap_or_else(|| "?".into());
        let key = self.key(m.key);
        match kind {
            "G1a" => {
                let what = o.element.map(|e| format!(" {}", self.val(e))).unwrap_or_default();
                format!(
                    "The committed transaction at {at} read key {key} as {read}, which includes{what}, \
                     written by the failed transaction at {writer} (aborted read, G1a)."
                )
            }
            "G1b" => format!(
                "The committed transaction at {at} read key {key} as {read}, an intermediate state: the \
                 transaction at {writer} wrote key {key} again later (intermediate read, G1b)."
            ),
            "internal" => {
                let expected = match &o.expected {
                    Some(Expected::List { unknown_prefix, elements }) => {
                        let l = list_text(self.txns, elements);
                        if *unknown_prefix { format!("a list ending in {l}") } else { l }
                    }
                    Some(Expected::Value(v)) => self.val(*v),
                    None => "something else".into(),
                };
                format!(
                    "The transaction at {at} read key {key} as {read}, but its own earlier operations \
                     imply {expected} (internal inconsistency)."
                )
            }
            "future-read" => format!(
                "The transaction at {at} read key {key} as {read}, which includes {}, an element it \
                 appends only later (future read).",
                o.element.map(|e| self.val(e)).unwrap_or_default()
            ),
            "duplicate-elements" => format!(
                "The transaction at {at} read key {key} as {read}, with {} more than once \
                 (duplicate elements).",
                o.duplicates.iter().map(|(e, _)| self.val(*e)).collect::<Vec<_>>().join(", ")
            ),
            other => format!("The transaction at {at} ({} on key {key}): {other}.", m.kind.name()),
        }
    }

    /// The cycle as a graph to draw.
    pub fn graph(&self, c: &Cycle) -> GraphView {
        let nodes = c
            .txns
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let txn = &self.txns.txns[*t as usize];
                GraphNode {
                    label: format!("T{}", i + 1),
                    detail: format!("{}: {}", self.place(*t), self.history.ops()[txn.position()]),
                    position: Some(txn.position()),
                }
            })
            .collect();
        let n = c.txns.len();
        let edges = c
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| GraphEdge {
                from: i,
                to: (i + 1) % n,
                label: super::graph::rel_name(s.rel).to_string(),
                detail: self.step_sentence(
                    s,
                    &format!("T{}", i + 1),
                    &format!("T{}", (i + 1) % n + 1),
                ),
            })
            .collect();
        GraphView { caption: Some(format!("{}: {}", c.kind, describe_kind(&c.kind))), nodes, edges }
    }

    /// Elle's text for a cycle (`elle.core`'s "Let: ... Then: ...").
    pub fn elle_cycle_text(&self, c: &Cycle) -> String {
        let names: Vec<String> = (1..=c.txns.len()).map(|i| format!("T{i}")).collect();
        let mut s = String::from("Let:\n");
        for (t, n) in c.txns.iter().zip(&names) {
            let op = &self.history.ops()[self.txns.txns[*t as usize].position()];
            let _ = writeln!(s, "  {n} = {}", history::edn::op_to_edn(op).trim_end());
        }
        s.push_str("\nThen:\n");
        let n = c.steps.len();
        for (i, step) in c.steps.iter().enumerate() {
            let (a, b) = (&names[i], &names[(i + 1) % n]);
            let why = self.elle_step(step, a, b);
            if i + 1 == n {
                let _ = write!(s, "  - However, {a} < {b}, because {why}: a contradiction!");
            } else {
                let _ = writeln!(s, "  - {a} < {b}, because {why}.");
            }
        }
        s
    }

    fn elle_step(&self, s: &Step, a: &str, b: &str) -> String {
        let v = |x: Val| self.val_of(x);
        match (s.rel, self.flavor) {
            (WW, Flavor::ListAppend) => format!(
                "{b} appended {} after {a} appended {} to {}",
                v(s.value2),
                v(s.value),
                self.key(s.key)
            ),
            (WR, Flavor::ListAppend) => {
                format!("{b} observed {a}'s append of {} to key {}", v(s.value), self.key(s.key))
            }
            (RW, Flavor::ListAppend) if s.value == Val::Init => format!(
                "{a} observed the initial (nil) state of {}, which {b} created by appending {}",
                self.key(s.key),
                v(s.value2)
            ),
            (RW, Flavor::ListAppend) => {
                format!(
                    "{a} did not observe {b}'s append of {} to {}",
                    v(s.value2),
                    self.key(s.key)
                )
            }
            (WW, Flavor::RwRegister) => format!(
                "{a} set key {} to {}, and {b} set it to {}, which came later in the version order",
                self.key(s.key),
                v(s.value),
                v(s.value2)
            ),
            (RW, Flavor::RwRegister) => format!(
                "{a} read key {} = {}, and {b} set it to {}, which came later in the version order",
                self.key(s.key),
                v(s.value),
                v(s.value2)
            ),
            (WR, Flavor::RwRegister) => {
                format!("{a} wrote {} = {}, which was read by {b}", self.key(s.key), v(s.value))
            }
            (REALTIME, _) => {
                let ta = &self.txns.txns[s.from as usize];
                let tb = &self.txns.txns[s.to as usize];
                let ops = self.history.ops();
                let (ca, ib) = (&ops[ta.position()], &ops[tb.invoke]);
                let dt = ib.time_ns as i128 - ca.time_ns as i128;
                let gap = if dt > 0 {
                    format!(" {:.3} seconds", dt as f64 / 1e9)
                } else {
                    " just".into()
                };
                format!(
                    "{a} completed at index {},{gap} before the invocation of {b}, at index {}",
                    ca.index, ib.index
                )
            }
            (PROCESS, _) => format!(
                "process {} executed {a} before {b}",
                self.txns.txns[s.from as usize].process
            ),
            _ => "they are related".into(),
        }
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// What an anomaly name means, in a few words.
pub fn describe_kind(kind: &str) -> &'static str {
    let base = kind.trim_end_matches("-realtime").trim_end_matches("-process");
    match base {
        "G0" => "a cycle of write-write dependencies (dirty write)",
        "G1c" => "a cycle of write and read dependencies (circular information flow)",
        "G-single-item" => "a cycle with exactly one anti-dependency (read skew)",
        "G-nonadjacent-item" => "a cycle with anti-dependencies, no two adjacent",
        "G2-item" => "a cycle with two or more anti-dependencies (write skew)",
        "G1a" => "aborted read",
        "G1b" => "intermediate read",
        "internal" => "a read inconsistent with its own transaction",
        "lost-update" => "lost update",
        "incompatible-order" => "reads no single order of appends explains",
        "duplicate-elements" => "an element read twice",
        "dirty-update" => "a committed write over an aborted one",
        "future-read" => "a read of the transaction's own later write",
        "cyclic-versions" => "a cycle in a key's version order",
        "cycle-search-timeout" => "the cycle search ran out of time",
        "empty-transaction-graph" => "no dependencies could be inferred",
        _ if kind.ends_with("-cycle-exists") => "a cycle the model forbids exists",
        _ => "an anomaly",
    }
}

/// The verdict in words: which anomalies, what they rule out, what may still hold.
pub fn summary(analysis: &Analysis, transactions: usize) -> (String, String) {
    let models = if analysis.models.is_empty() {
        "no consistency model".into()
    } else {
        analysis.models.join(", ")
    };
    let counted = |k: &String| format!("{k} ({})", analysis.counts.get(k).copied().unwrap_or(0));
    let reason = match analysis.valid {
        super::analysis::Validity::True => {
            format!("no anomaly {models} forbids among {transactions} transactions")
        }
        super::analysis::Validity::False => format!(
            "{} under {models}",
            analysis.prohibited.iter().map(counted).collect::<Vec<_>>().join(", ")
        ),
        super::analysis::Validity::Unknown => format!(
            "could not decide under {models}: {}",
            analysis.reported.iter().map(counted).collect::<Vec<_>>().join(", ")
        ),
    };
    let mut boundary = String::new();
    if !analysis.not.is_empty() {
        let _ = write!(
            boundary,
            "The history is not {}{}",
            analysis.not.iter().copied().collect::<Vec<_>>().join(" nor "),
            if analysis.also_not.is_empty() {
                String::new()
            } else {
                format!(
                    " (and so not {})",
                    analysis.also_not.iter().copied().collect::<Vec<_>>().join(", ")
                )
            }
        );
        let _ = write!(
            boundary,
            "; the strongest models it may still satisfy are {}.",
            if analysis.still_possible.is_empty() {
                "none of the well-known ones".into()
            } else {
                analysis.still_possible.join(", ")
            }
        );
    }
    (reason, boundary)
}

/// The explanation paragraph: the boundary and the first reported case.
pub fn explanation(w: &Words<'_>, analysis: &Analysis) -> String {
    if analysis.valid == super::analysis::Validity::True {
        return String::new();
    }
    let (_, boundary) = summary(analysis, w.txns.txns.len());
    let first = analysis
        .reported
        .iter()
        .filter(|k| {
            analysis.prohibited.contains(*k) || analysis.valid != super::analysis::Validity::False
        })
        .find_map(|k| analysis.found[k].first().map(|c| w.case(k, c)));
    match first {
        Some(f) => format!("{f} {boundary}").trim().to_string(),
        None => boundary,
    }
}

/// The report section.
pub fn section(w: &Words<'_>, analysis: &Analysis, title: &str) -> Section {
    let (reason, boundary) = summary(analysis, w.txns.txns.len());
    let mut s = Section::new(title).with(Block::paragraph(format!(
        "{} transactions checked: {} ({reason}). {boundary}",
        w.txns.txns.len(),
        match analysis.valid {
            super::analysis::Validity::True => "valid",
            super::analysis::Validity::False => "invalid",
            super::analysis::Validity::Unknown => "unknown",
        }
    )));
    if analysis.found.is_empty() {
        return s;
    }
    s.blocks.push(Block::Table(Table {
        caption: Some("anomalies found".into()),
        columns: vec!["anomaly".into(), "count".into(), "what it is".into(), "makes it".into()],
        rows: analysis
            .found
            .keys()
            .map(|k| {
                let effect = if analysis.prohibited.contains(k) {
                    "invalid"
                } else if analysis.reported.contains(k) {
                    "unknown"
                } else {
                    "allowed by the models checked"
                };
                vec![
                    k.clone(),
                    analysis.counts.get(k).copied().unwrap_or(0).to_string(),
                    describe_kind(k).to_string(),
                    effect.to_string(),
                ]
            })
            .collect(),
    }));
    let mut cycles_shown = 0;
    for kind in &analysis.reported {
        for case in analysis.found[kind].iter().take(CASES_SHOWN) {
            if let Case::Cycle(c) = case {
                if cycles_shown >= CYCLES_SHOWN {
                    continue;
                }
                cycles_shown += 1;
                s.blocks.push(Block::paragraph(w.cycle(c)));
                s.blocks.push(Block::Graph(w.graph(c)));
            } else {
                s.blocks.push(Block::paragraph(w.case(kind, case)));
            }
            let txns = case.txns();
            if !txns.is_empty() {
                s.blocks.push(Block::Operations(Operations {
                    caption: Some(format!("{kind}: the transactions involved")),
                    ops: txns
                        .iter()
                        .enumerate()
                        .map(|(i, t)| Highlight {
                            position: w.txns.txns[*t as usize].position(),
                            role: if i == 0 { Role::Culprit } else { Role::Related },
                            label: if matches!(case, Case::Cycle(_)) {
                                format!("T{}", i + 1)
                            } else {
                                kind.clone()
                            },
                        })
                        .collect(),
                }));
            }
        }
    }
    s
}
