//! `seen-written`: a checker in one file. Every `ok` read must return nil or a
//! value some write had been invoked with before the read completed; a read of
//! anything else is invalid, named by its position.

use checkers::registry::CheckerDef;
use checkers::section::{Block, Highlight, Operations, Role, Section};
use checkers::verdict::{CheckError, Checker, Outcome, Verdict};
use history::{Linted, OpKind, Value};

pub static CHECKER: CheckerDef = CheckerDef {
    name: "seen-written",
    summary: "test-only: every read returns nil or a value written before it ended",
    make: |_| Ok(Box::new(SeenWritten)),
};

struct SeenWritten;

impl Checker for SeenWritten {
    fn name(&self) -> String {
        "seen-written".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let ops = history.ops();
        let mut bad = Vec::new();
        let mut oks = 0;
        for pair in history.client_pairs() {
            let Some(done) = pair.completion.filter(|_| history.outcome(pair) == OpKind::Ok) else {
                continue;
            };
            oks += 1;
            if ops[pair.invoke].f != "read" || ops[done].value == Value::Nil {
                continue;
            }
            let written = ops[..done]
                .iter()
                .any(|o| o.kind == OpKind::Invoke && o.f == "write" && o.value == ops[done].value);
            if !written {
                bad.push(pair.invoke);
            }
        }
        let mut outcome = match bad.first() {
            Some(&p) => Outcome::new(
                Verdict::Invalid,
                format!("{} read(s) of values nobody wrote", bad.len()),
                format!(
                    "The read at {} returned a value nobody wrote.",
                    history.history().place(p)
                ),
            ),
            None if oks == 0 => Outcome::new(Verdict::Unknown, "no operation succeeded", ""),
            None => Outcome::new(Verdict::Valid, "every read returned a written value", ""),
        };
        let marks = bad.iter().map(|&position| Highlight {
            position,
            role: Role::Culprit,
            label: "read a phantom".into(),
        });
        outcome.section = Section::new("Values read")
            .with(Block::paragraph(format!("{} reads of values nobody wrote.", bad.len())))
            .with(Block::Operations(Operations { caption: None, ops: marks.collect() }));
        Ok(outcome)
    }
}
