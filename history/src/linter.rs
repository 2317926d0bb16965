//! Jepsen's rules checked one operation at a time: the linter behind
//! [`History::lint`](crate::History::lint), usable on a history streamed from a
//! file that is never held whole.
//!
//! It keeps only what the rules need: each process's open operation (its position,
//! line and `f`), the processes retired by an `info`, and the previous index and
//! time. Memory follows the processes, not the length of the history.
//!
//! The rules are [`LintKind`]'s: one open operation per process, every completion
//! answers an invocation of the same process and function, indices increase, and a
//! client process never invokes again after an `info` (Jepsen gives the worker a new
//! process). Jepsen's nemesis logs `info` for both halves of a fault, so a nemesis
//! `info` with nothing open starts an operation.

use std::collections::HashMap;

use crate::history::{LintError, LintKind};
use crate::op::{Op, OpKind, Process};

/// What one operation did to the pairing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// It opened an operation (an invocation, or a nemesis `info` with nothing open).
    Opened,
    /// It completed the operation invoked at `invoke` (a position).
    Completed { invoke: usize },
    /// It broke a rule and pairs with nothing (the error is recorded).
    Rejected,
}

#[derive(Debug, Clone)]
struct Open {
    position: usize,
    line: usize,
    f: String,
}

/// The streaming linter. Feed it every operation in history order with
/// [`Linter::push`]; positions count the operations pushed (0-based).
#[derive(Debug, Clone)]
pub struct Linter {
    open: HashMap<Process, Open>,
    /// Processes retired by an `info`: the line of that `info`.
    retired: HashMap<Process, usize>,
    prev: Option<(u64, u64)>,
    position: usize,
    errors: Vec<LintError>,
    error_count: usize,
    max_errors: usize,
    warnings: Vec<String>,
}

/// Warnings kept (time going backwards is odd but checkable; ten say enough).
const MAX_WARNINGS: usize = 10;

impl Default for Linter {
    fn default() -> Linter {
        Linter::new()
    }
}

impl Linter {
    /// A linter that keeps every error it finds.
    pub fn new() -> Linter {
        Linter::with_error_limit(usize::MAX)
    }

    /// A linter that keeps the first `max_errors` errors and counts the rest (a
    /// history read from a broken file can have millions).
    pub fn with_error_limit(max_errors: usize) -> Linter {
        Linter {
            open: HashMap::new(),
            retired: HashMap::new(),
            prev: None,
            position: 0,
            errors: Vec::new(),
            error_count: 0,
            max_errors,
            warnings: Vec::new(),
        }
    }

    /// Checks the next operation, which came from source line `line`.
    pub fn push(&mut self, op: &Op, line: usize) -> Step {
        let i = self.position;
        self.position += 1;
        if let Some((index, time)) = self.prev {
            if op.index <= index {
                self.error(
                    LintKind::NonMonotoneIndex,
                    line,
                    i,
                    format!(
                        "index {} does not increase (the op before has index {index})",
                        op.index
                    ),
                );
            }
            if op.time_ns < time && self.warnings.len() < MAX_WARNINGS {
                self.warnings.push(format!(
                    "line {line}: time {} ns is earlier than the op before ({time} ns)",
                    op.time_ns
                ));
            }
        }
        self.prev = Some((op.index, op.time_ns));
        let nemesis = op.process == Process::Nemesis;
        let opens = op.kind == OpKind::Invoke || (nemesis && !self.open.contains_key(&op.process));
        if opens {
            if let Some(first) = self.open.get(&op.process) {
                let message = format!(
                    "process {} invokes {} while its {} from line {} is still open",
                    op.process, op.f, first.f, first.line
                );
                self.error(LintKind::SecondInvocation, line, i, message);
                return Step::Rejected;
            }
            if let Some(&at) = self.retired.get(&op.process) {
                let message = format!(
                    "process {} invokes again after its info at line {at}; after an info \
                     Jepsen gives the worker a new process id, because the old operation \
                     may still be in flight",
                    op.process
                );
                self.error(LintKind::ReusedAfterInfo, line, i, message);
            }
            self.open.insert(op.process, Open { position: i, line, f: op.f.clone() });
            return Step::Opened;
        }
        let Some(inv) = self.open.remove(&op.process) else {
            let message = format!(
                "{} of {} by process {} completes nothing: that process has no open operation",
                op.kind, op.f, op.process
            );
            self.error(LintKind::CompletionWithoutInvocation, line, i, message);
            return Step::Rejected;
        };
        if inv.f != op.f {
            let message = format!(
                "process {} completes {} but invoked {} at line {}",
                op.process, op.f, inv.f, inv.line
            );
            self.error(LintKind::MismatchedF, line, i, message);
        }
        if op.kind == OpKind::Info && !nemesis {
            self.retired.insert(op.process, line);
        }
        Step::Completed { invoke: inv.position }
    }

    fn error(&mut self, kind: LintKind, line: usize, position: usize, message: String) {
        self.error_count += 1;
        if self.errors.len() < self.max_errors {
            self.errors.push(LintError { kind, line, position, message });
        }
    }

    /// Operations pushed so far.
    pub fn position(&self) -> usize {
        self.position
    }

    /// Positions of the invocations still open, in history order (at the end of a
    /// history: the operations that never completed, whose outcome is unknown).
    pub fn open_positions(&self) -> Vec<usize> {
        let mut open: Vec<usize> = self.open.values().map(|o| o.position).collect();
        open.sort_unstable();
        open
    }

    /// The errors kept so far (see [`Linter::error_count`] for how many there were).
    pub fn errors(&self) -> &[LintError] {
        &self.errors
    }

    /// Every error found, kept or not.
    pub fn error_count(&self) -> usize {
        self.error_count
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The errors and warnings, ending the lint.
    pub fn into_parts(self) -> (Vec<LintError>, Vec<String>) {
        (self.errors, self.warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    /// A kept-error limit counts what it drops.
    #[test]
    fn error_limit_keeps_the_first_and_counts_all() {
        let mut l = Linter::with_error_limit(2);
        for i in 0..5 {
            let mut op = Op::ok(0, "read", Value::Nil);
            op.index = i;
            assert_eq!(l.push(&op, i as usize + 1), Step::Rejected);
        }
        assert_eq!((l.errors().len(), l.error_count()), (2, 5));
    }

    #[test]
    fn open_positions_are_the_unfinished_ones() {
        let mut l = Linter::new();
        let mut ops = [
            Op::invoke(3, "read", Value::Nil),
            Op::invoke(1, "write", 1.into()),
            Op::ok(3, "read", Value::Nil),
            Op::invoke(2, "read", Value::Nil),
        ];
        for (i, op) in ops.iter_mut().enumerate() {
            op.index = i as u64;
        }
        let steps: Vec<Step> = ops.iter().enumerate().map(|(i, o)| l.push(o, i + 1)).collect();
        assert_eq!(steps[2], Step::Completed { invoke: 0 });
        assert_eq!(l.open_positions(), vec![1, 3]);
    }
}
