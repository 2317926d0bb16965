//! A history: operations in the order they happened, each remembering the line of
//! the file it came from, and the linted form every checker takes.
//!
//! [`History::lint`] checks Jepsen's rules (one open operation per process, every
//! completion answers an invocation of the same function, indices increase) and
//! returns a [`Linted`] history whose invocations are paired with their completions.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::linter::{Linter, Step};
use crate::op::{Op, OpKind};
use crate::value::Value;

/// Operations in history order, with where each came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub ops: Vec<Op>,
    /// 1-based source line of each op (for ops built in code: its position + 1).
    pub lines: Vec<usize>,
    /// The file it was read from, for messages.
    pub source: Option<PathBuf>,
}

impl History {
    pub fn new() -> History {
        History::default()
    }

    /// Builds a history from ops made in code, numbering indices and times in order
    /// when they are all zero (convenient for hand-written test histories).
    pub fn from_ops(mut ops: Vec<Op>) -> History {
        if ops.iter().all(|o| o.index == 0 && o.time_ns == 0) {
            for (i, op) in ops.iter_mut().enumerate() {
                op.index = i as u64;
                op.time_ns = i as u64;
            }
        }
        let lines = (1..=ops.len()).collect();
        History { ops, lines, source: None }
    }

    pub fn with_lines(ops: Vec<Op>, lines: Vec<usize>) -> History {
        debug_assert_eq!(ops.len(), lines.len());
        History { ops, lines, source: None }
    }

    pub fn push(&mut self, op: Op) {
        self.lines.push(self.ops.len() + 1);
        self.ops.push(op);
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Where op `i` came from: `file:line` or `line N`.
    pub fn place(&self, i: usize) -> String {
        let line = self.lines.get(i).copied().unwrap_or(i + 1);
        match &self.source {
            Some(p) => format!("{}:{line}", p.display()),
            None => format!("line {line}"),
        }
    }

    /// Checks Jepsen's rules; see [`LintKind`] for each one.
    pub fn lint(self) -> Result<Linted, LintFailure> {
        let report = lint_ops(&self);
        if report.errors.is_empty() {
            Ok(Linted { pairs: report.pairs, warnings: report.warnings, history: self })
        } else {
            Err(LintFailure { errors: report.errors, history: self })
        }
    }
}

/// The defects the linter knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LintKind {
    /// An ok/fail/info from a process that has nothing open.
    CompletionWithoutInvocation,
    /// An invoke from a process whose previous operation is still open.
    SecondInvocation,
    /// A completion whose `f` differs from its invocation's.
    MismatchedF,
    /// An index not greater than the one before it.
    NonMonotoneIndex,
    /// A client process that invokes again after an `info`: Jepsen retires such a
    /// process, because its unknown operation may still be in flight.
    ReusedAfterInfo,
}

/// One problem, with the source line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintError {
    pub kind: LintKind,
    pub line: usize,
    pub position: usize,
    pub message: String,
}

impl fmt::Display for LintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// A history that broke the rules, with every problem found.
#[derive(Debug)]
pub struct LintFailure {
    pub errors: Vec<LintError>,
    pub history: History,
}

impl fmt::Display for LintFailure {
    /// One defect per line: `file:line: message` (or `line N: message`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match &self.history.source {
                Some(p) => write!(f, "{}:{}: {}", p.display(), e.line, e.message)?,
                None => write!(f, "{e}")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for LintFailure {}

/// An invocation and its completion (positions in the history).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    pub invoke: usize,
    /// `None` when the history ended first: the outcome is unknown, like `info`.
    pub completion: Option<usize>,
}

/// A history that passed the linter, with its operations paired.
#[derive(Debug, Clone)]
pub struct Linted {
    history: History,
    pairs: Vec<Pair>,
    warnings: Vec<String>,
}

impl Linted {
    pub fn history(&self) -> &History {
        &self.history
    }

    pub fn ops(&self) -> &[Op] {
        &self.history.ops
    }

    pub fn into_history(self) -> History {
        self.history
    }

    /// Every operation, client and nemesis, in invocation order.
    pub fn pairs(&self) -> &[Pair] {
        &self.pairs
    }

    /// Client operations only, in invocation order.
    pub fn client_pairs(&self) -> impl Iterator<Item = &Pair> {
        self.pairs.iter().filter(|p| !self.history.ops[p.invoke].is_nemesis())
    }

    /// Things that are odd but checkable (e.g. time going backwards).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Client operations grouped by their `key` (ops without a key under `None`),
    /// each group in invocation order.
    pub fn by_key(&self) -> BTreeMap<Option<Value>, Vec<Pair>> {
        let mut groups: BTreeMap<Option<Value>, Vec<Pair>> = BTreeMap::new();
        for p in self.client_pairs() {
            let key = self.history.ops[p.invoke].key.clone();
            groups.entry(key).or_default().push(*p);
        }
        groups
    }

    /// The completion kind of a pair; an operation that never completed counts as
    /// `info` (its outcome is unknown).
    pub fn outcome(&self, pair: &Pair) -> OpKind {
        pair.completion.map_or(OpKind::Info, |c| self.history.ops[c].kind)
    }
}

struct Report {
    pairs: Vec<Pair>,
    errors: Vec<LintError>,
    warnings: Vec<String>,
}

fn lint_ops(h: &History) -> Report {
    let mut linter = Linter::new();
    let mut pairs: Vec<Pair> = Vec::new();
    for (i, op) in h.ops.iter().enumerate() {
        let line = h.lines.get(i).copied().unwrap_or(i + 1);
        match linter.push(op, line) {
            Step::Opened => pairs.push(Pair { invoke: i, completion: None }),
            Step::Completed { invoke } => {
                // Pairs are in invocation order, one per invocation.
                if let Ok(p) = pairs.binary_search_by_key(&invoke, |p| p.invoke) {
                    pairs[p].completion = Some(i);
                }
            }
            Step::Rejected => {}
        }
    }
    let (errors, warnings) = linter.into_parts();
    Report { pairs, errors, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Process;

    fn kinds(ops: Vec<Op>) -> Vec<(LintKind, usize)> {
        History::from_ops(ops).lint().unwrap_err().errors.iter().map(|e| (e.kind, e.line)).collect()
    }

    #[test]
    fn pairs_and_keys() {
        let h = History::from_ops(vec![
            Op::invoke(0, "write", 1.into()).with_key("a"),
            Op::invoke(1, "read", Value::Nil).with_key("b"),
            Op::ok(0, "write", 1.into()).with_key("a"),
            Op::info(1, "read", Value::Nil).with_key("b"),
            Op::invoke(2, "read", Value::Nil).with_key("a"),
        ]);
        let l = h.lint().unwrap();
        assert_eq!(
            l.pairs(),
            &[
                Pair { invoke: 0, completion: Some(2) },
                Pair { invoke: 1, completion: Some(3) },
                Pair { invoke: 4, completion: None }
            ]
        );
        let groups = l.by_key();
        assert_eq!(groups[&Some("a".into())].len(), 2);
        assert_eq!(l.outcome(&l.pairs()[2]), OpKind::Info);
    }

    #[test]
    fn completion_without_invocation() {
        assert_eq!(
            kinds(vec![Op::ok(0, "read", Value::Nil)]),
            vec![(LintKind::CompletionWithoutInvocation, 1)]
        );
    }

    #[test]
    fn second_invocation() {
        assert_eq!(
            kinds(vec![Op::invoke(0, "read", Value::Nil), Op::invoke(0, "write", 1.into())]),
            vec![(LintKind::SecondInvocation, 2)]
        );
    }

    #[test]
    fn mismatched_f() {
        assert_eq!(
            kinds(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "write", 1.into())]),
            vec![(LintKind::MismatchedF, 2)]
        );
    }

    #[test]
    fn non_monotone_index() {
        let mut ops = vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", Value::Nil)];
        ops[0].index = 5;
        ops[1].index = 5;
        let lines = vec![10, 11];
        let err = History::with_lines(ops, lines).lint().unwrap_err();
        assert_eq!(err.errors[0].kind, LintKind::NonMonotoneIndex);
        assert_eq!(err.errors[0].line, 11);
        assert!(err.to_string().starts_with("line 11: index 5"), "{err}");
    }

    #[test]
    fn reuse_after_info() {
        assert_eq!(
            kinds(vec![
                Op::invoke(0, "write", 1.into()),
                Op::info(0, "write", 1.into()),
                Op::invoke(0, "read", Value::Nil),
            ]),
            vec![(LintKind::ReusedAfterInfo, 3)]
        );
    }

    #[test]
    fn nemesis_info_pairs_are_fine() {
        let mut a = Op::new(Process::Nemesis, OpKind::Info, "start-partition", Value::Nil);
        let b = a.clone();
        let mut c = a.clone();
        a.f = "start-partition".into();
        c.kind = OpKind::Info;
        let h = History::from_ops(vec![a, b, c]);
        let l = h.lint().unwrap();
        assert_eq!(l.pairs().len(), 2);
        assert_eq!(l.client_pairs().count(), 0);
    }
}
