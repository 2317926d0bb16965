//! Explains a failed search: which operation cannot be linearized, the longest
//! linearizable prefix found, and the states that were possible just before it, as
//! data ([`LinearizabilityAnomaly`], serializable for the HTML report) and as a
//! paragraph of plain words.

use history::{Pair, Process};
use serde::{Deserialize, Serialize};

use super::compile::Compiled;
use super::model::Model;
use super::search::Blocked;
use crate::section::LinearizationView;
use crate::stream::Positions;

/// One operation of the history, as the report shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OpRef {
    /// Position of the invocation in the history.
    pub invoke_position: usize,
    /// Position of the completion, when there was one.
    pub completion_position: Option<usize>,
    /// Where the invocation is in its file (`file:line` or `line N`).
    pub place: String,
    pub process: String,
    pub f: String,
    pub key: Option<String>,
    /// The model's words for it ("read returned 3").
    pub description: String,
    /// Seconds since the start of the run, when the history records real times.
    pub invoked_at: Option<f64>,
    pub completed_at: Option<f64>,
}

/// Why a history is not linearizable. Its JSON carries `"kind": "not-linearizable"`
/// (the shape `results.json` and `faultline check --json` have always had).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename = "not-linearizable")]
pub struct LinearizabilityAnomaly {
    pub model: String,
    /// The partition's key, when the history was split.
    pub key: Option<String>,
    /// The operation no order could place before its completion.
    pub op: OpRef,
    /// A linearization of the operations up to that point (the furthest any order
    /// got), in order.
    pub prefix: Vec<OpRef>,
    /// The model states the search stood in when it had to place `op` and could not.
    pub states_before: Vec<String>,
    /// More states were possible than listed.
    pub more_states: bool,
}

/// The anomaly of a failed search. `history` gives the operations it names (the
/// whole history, or those fetched again for a streamed one); `timed` says whether
/// the history records real times (Porcupine's logs record none: their "time" is
/// the line position).
pub fn anomaly<M: Model>(
    model: &M,
    part: &Compiled<M>,
    blocked: &Blocked<M::State>,
    history: &dyn Positions,
    timed: bool,
) -> LinearizabilityAnomaly {
    let describe = |i: u32| {
        op_ref(
            history,
            part.pairs[i as usize],
            model.describe_op(&part.ops[i as usize], &part.values),
            timed,
        )
    };
    LinearizabilityAnomaly {
        model: model.name().to_string(),
        key: part.key.as_ref().map(|k| k.to_string()),
        op: describe(blocked.op),
        prefix: blocked.prefix.iter().map(|&i| describe(i)).collect(),
        states_before: blocked
            .states
            .iter()
            .map(|(s, run)| {
                let run: Vec<M::Op> = run.iter().map(|&i| part.ops[i as usize]).collect();
                model.describe_reached(s, &run, &part.values)
            })
            .collect(),
        more_states: blocked.more_states,
    }
}

/// The positions the report's linearization view draws.
pub fn view(a: &LinearizabilityAnomaly) -> LinearizationView {
    LinearizationView {
        breaking_op: a.op.invoke_position,
        prefix: a.prefix.iter().map(|o| o.invoke_position).collect(),
        states_before: a.states_before.clone(),
        more_states: a.more_states,
        model: Some(a.model.clone()),
        key: a.key.clone(),
    }
}

/// The positions `anomaly` reads: every operation of the blocked one and of the
/// prefix, invocations and completions.
pub fn positions_needed<M: Model>(part: &Compiled<M>, blocked: &Blocked<M::State>) -> Vec<usize> {
    let mut out = Vec::with_capacity(2 * (blocked.prefix.len() + 1));
    for &i in std::iter::once(&blocked.op).chain(&blocked.prefix) {
        let pair = part.pairs[i as usize];
        out.push(pair.invoke);
        out.extend(pair.completion);
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn op_ref(history: &dyn Positions, pair: Pair, description: String, timed: bool) -> OpRef {
    let invoke = history.op_at(pair.invoke);
    let secs = |pos: usize| history.op_at(pos).filter(|_| timed).map(|o| o.time_ns as f64 / 1e9);
    OpRef {
        invoke_position: pair.invoke,
        completion_position: pair.completion,
        place: history.place(pair.invoke),
        process: match invoke.map(|o| o.process) {
            Some(Process::Client(p)) => p.to_string(),
            Some(Process::Nemesis) => "nemesis".into(),
            None => "?".into(),
        },
        f: invoke.map_or_else(|| "?".into(), |o| o.f.clone()),
        key: invoke.and_then(|o| o.key.as_ref()).map(|k| k.to_string()),
        description,
        invoked_at: secs(pair.invoke),
        completed_at: pair.completion.and_then(secs),
    }
}

/// One paragraph: what failed, where, and why no order works.
pub fn paragraph<M: Model>(model: &M, a: &LinearizabilityAnomaly) -> String {
    let op = &a.op;
    let mut text = format!("The {}", op.description);
    if let Some(k) = &op.key {
        text += &format!(" on key {k}");
    }
    text += &format!(" by process {}", op.process);
    match (op.invoked_at, op.completed_at) {
        (Some(i), Some(c)) => text += &format!(" (invoked at {i:.3} s, completed at {c:.3} s)"),
        (Some(i), None) => text += &format!(" (invoked at {i:.3} s)"),
        _ => {}
    }
    text += &format!(" at {} cannot be linearized: ", op.place);
    let states = join_or(&a.states_before, a.more_states);
    text += &format!(
        "every order of the operations completed before it, with or without those running \
         alongside it, leaves {} at {states}, and from none of these can it take effect before \
         it completed.",
        model.state_noun()
    );
    match a.prefix.last() {
        Some(last) => {
            text += &format!(
                " The longest linearizable prefix found has {} operation{}, ending with the {} by \
                 process {} at {}.",
                a.prefix.len(),
                if a.prefix.len() == 1 { "" } else { "s" },
                last.description,
                last.process,
                last.place
            )
        }
        None => text += " Not even the first operations can be ordered before it.",
    }
    text
}

fn join_or(items: &[String], more: bool) -> String {
    let mut out = String::new();
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out += if i + 1 == items.len() && !more { " or " } else { ", " };
        }
        out += s;
    }
    if more {
        out += " or other states";
    }
    out
}
