//! Checking a history that is never all in memory: the streaming side of the
//! checker seam.
//!
//! A ten-million-entry history is about 2.5 GB as a [`history::History`], so the
//! harness reads big histories from their file one line at a time. A checker that
//! can judge them that way returns a [`StreamCheck`] from [`Checker::stream`]; the
//! harness then feeds it:
//!
//! 1. [`StreamCheck::op`]: every operation (client and nemesis) once its outcome is
//!    known: at its completion, with both halves and their positions; an
//!    operation that never completed comes at the end, in invocation order, with no
//!    completion (its outcome is unknown, like `info`).
//! 2. [`StreamCheck::key_done`]: when no operation on a key follows (the harness
//!    reads the file once before to learn where each key ends). A checker that
//!    judges keys on their own (Jepsen's `independent`) can judge that key now and
//!    drop what it kept of it, so memory follows the keys in use at once, not the
//!    history. A checker that does not split by key ignores it.
//! 3. [`StreamCheck::finish`]: the end; the checker returns its outcome. Positions
//!    it reports are positions in the history file, as [`Checker::check`]'s are; to
//!    explain itself it may ask for a few operations again through a [`Lookup`].
//!
//! A checker without a streaming form (the default) gets the whole linted history
//! through [`Checker::check`], and the harness bounds that by the checker's memory
//! limit (`CheckerOptions::memory_limit`): a history too big to hold is `unknown`,
//! with that reason, never a crash.
//!
//! The operations are delivered in the order of their completions, not of their
//! invocations; a checker that needs invocation order sorts what it keeps by
//! [`StreamOp::invoke_at`].

use std::collections::HashMap;
use std::path::PathBuf;

use history::{Linted, Op, OpKind, Pair};

use crate::verdict::{CheckError, Outcome};

use crate::verdict::Checker;

/// One operation whose outcome is known (or, at the end, never will be).
#[derive(Debug, Clone, Copy)]
pub struct StreamOp<'a> {
    pub invoke: &'a Op,
    /// Position of the invocation in the history (0-based, in file order).
    pub invoke_at: usize,
    /// Source line of the invocation.
    pub invoke_line: usize,
    /// The completion and its position; `None` when the history ended first.
    pub completion: Option<(&'a Op, usize)>,
}

impl StreamOp<'_> {
    /// As the linted history pairs it.
    pub fn pair(&self) -> Pair {
        Pair { invoke: self.invoke_at, completion: self.completion.map(|(_, at)| at) }
    }

    /// `ok`, `fail` or `info`; an operation that never completed counts as `info`.
    pub fn outcome(&self) -> OpKind {
        self.completion.map_or(OpKind::Info, |(op, _)| op.kind)
    }

    pub fn is_nemesis(&self) -> bool {
        self.invoke.is_nemesis()
    }
}

/// Where a streamed history comes from: its file, for messages (`file:line`).
#[derive(Debug, Clone, Default)]
pub struct StreamSource {
    pub path: Option<PathBuf>,
}

impl StreamSource {
    /// `file:line`, or `line N` without a file.
    pub fn place(&self, line: usize) -> String {
        match &self.path {
            Some(p) => format!("{}:{line}", p.display()),
            None => format!("line {line}"),
        }
    }
}

/// A checker consuming a history one operation at a time (see the module docs).
pub trait StreamCheck: Send {
    /// The next operation whose outcome is known. An `Err` ends the check (an
    /// operation the checker cannot read, named by its place).
    fn op(&mut self, op: StreamOp<'_>) -> Result<(), CheckError>;

    /// No operation on `key` (an invocation's key; `None` for operations without
    /// one) follows in this history.
    fn key_done(&mut self, _key: Option<&history::Value>) -> Result<(), CheckError> {
        Ok(())
    }

    /// The history ended; `lookup` reads operations again by position, for an
    /// explanation that needs more than the checker kept.
    fn finish(self: Box<Self>, lookup: &dyn Lookup) -> Result<Outcome, CheckError>;
}

/// Reads operations of the history again, by position.
pub trait Lookup {
    /// The operations at `positions` (invocations and completions alike), each with
    /// its source line.
    fn fetch(&self, positions: &[usize]) -> Result<Fetched, CheckError>;
}

/// A lookup for a history that is held whole.
impl Lookup for Linted {
    fn fetch(&self, positions: &[usize]) -> Result<Fetched, CheckError> {
        let h = self.history();
        let ops = positions
            .iter()
            .filter_map(|&p| {
                let op = h.ops.get(p)?.clone();
                Some((p, (h.lines.get(p).copied().unwrap_or(p + 1), op)))
            })
            .collect();
        Ok(Fetched { ops, source: StreamSource { path: h.source.clone() } })
    }
}

/// Some operations of a history, by position, with their source lines.
#[derive(Debug, Clone, Default)]
pub struct Fetched {
    pub ops: HashMap<usize, (usize, Op)>,
    pub source: StreamSource,
}

/// Operations by history position and where each came from: what an explanation
/// needs, from a history held whole or from the few operations fetched again.
pub trait Positions {
    fn op_at(&self, position: usize) -> Option<&Op>;
    /// `file:line` (or `line N`) of the operation at `position`.
    fn place(&self, position: usize) -> String;
}

impl Positions for Linted {
    fn op_at(&self, position: usize) -> Option<&Op> {
        self.ops().get(position)
    }

    fn place(&self, position: usize) -> String {
        self.history().place(position)
    }
}

impl Positions for Fetched {
    fn op_at(&self, position: usize) -> Option<&Op> {
        self.ops.get(&position).map(|(_, op)| op)
    }

    fn place(&self, position: usize) -> String {
        match self.ops.get(&position) {
            Some((line, _)) => self.source.place(*line),
            None => format!("position {position}"),
        }
    }
}

/// Runs a checker's streaming form over a history held whole, feeding it as the
/// harness feeds a file: each operation at its completion, each key declared done
/// after its last operation, the unfinished operations at the end, in invocation
/// order. `None` when the checker has no streaming form. (Tests hold it to
/// [`Checker::check`]'s verdicts.)
pub fn check_linted(checker: &dyn Checker, linted: &Linted) -> Option<Result<Outcome, CheckError>> {
    let h = linted.history();
    let source = StreamSource { path: h.source.clone() };
    let mut stream = checker.stream(&source)?;
    let ops = linted.ops();
    let line = |p: usize| h.lines.get(p).copied().unwrap_or(p + 1);
    let mut last: HashMap<Option<&history::Value>, Option<usize>> = HashMap::new();
    for pair in linted.client_pairs() {
        let end = last.entry(ops[pair.invoke].key.as_ref()).or_insert(Some(0));
        *end = match (*end, pair.completion) {
            (Some(e), Some(c)) => Some(e.max(c)),
            _ => None, // an operation never completed: the key ends with the history
        };
    }
    let mut ends: Vec<(usize, Option<&history::Value>)> =
        last.into_iter().filter_map(|(k, e)| Some((e?, k))).collect();
    ends.sort_unstable_by_key(|&(e, _)| e);
    let mut ends = ends.into_iter().peekable();
    let mut completed: Vec<(usize, Pair)> =
        linted.pairs().iter().filter_map(|p| Some((p.completion?, *p))).collect();
    completed.sort_unstable_by_key(|&(c, _)| c);
    let run = |stream: &mut Box<dyn StreamCheck + '_>| -> Result<(), CheckError> {
        for (c, pair) in completed {
            stream.op(StreamOp {
                invoke: &ops[pair.invoke],
                invoke_at: pair.invoke,
                invoke_line: line(pair.invoke),
                completion: Some((&ops[c], c)),
            })?;
            while let Some((_, key)) = ends.next_if(|&(e, _)| e <= c) {
                stream.key_done(key)?;
            }
        }
        for pair in linted.pairs().iter().filter(|p| p.completion.is_none()) {
            stream.op(StreamOp {
                invoke: &ops[pair.invoke],
                invoke_at: pair.invoke,
                invoke_line: line(pair.invoke),
                completion: None,
            })?;
        }
        Ok(())
    };
    Some(run(&mut stream).and_then(|()| stream.finish(linted)))
}

/// Whether a history records real times: Porcupine's logs record none, and their
/// readers use the line order as the time.
pub fn is_timed(op: &Op) -> bool {
    op.time_ns != op.index
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Value};

    #[test]
    fn a_linted_history_is_its_own_lookup() {
        let linted = History::from_ops(vec![
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", Value::Int(2)),
        ])
        .lint()
        .unwrap();
        let fetched = linted.fetch(&[1, 7]).unwrap();
        assert_eq!(fetched.op_at(1).map(|o| o.value.clone()), Some(Value::Int(2)));
        assert!(fetched.op_at(7).is_none());
        assert_eq!(fetched.place(1), "line 2");
        assert_eq!(fetched.place(0), "position 0");
        assert_eq!(Positions::place(&linted, 0), "line 1");
    }
}
