//! Moving a linearizability view computed on a sub-history onto the full history.
//!
//! Jepsen's independent checker (and faultline's analysis) checks each key's
//! operations as a history of their own, so the positions a checker reports are
//! positions in that sub-history: every invocation and completion of the key's
//! client operations, in order. The report draws the full history, so the
//! positions are mapped back here, and kept only when the operation found there is
//! the one the checker described.

use history::{Linted, Process, Value};

use crate::view::LinView;

/// The full-history positions of one key's client operations, in order.
pub fn key_positions(linted: &Linted, key: &Option<Value>) -> Vec<usize> {
    let mut positions: Vec<usize> = linted
        .by_key()
        .get(key)
        .map(|pairs| {
            pairs.iter().flat_map(|p| std::iter::once(p.invoke).chain(p.completion)).collect()
        })
        .unwrap_or_default();
    positions.sort_unstable();
    positions
}

/// The full-history positions of every client operation, in order (a history
/// checked as one object).
pub fn client_positions(linted: &Linted) -> Vec<usize> {
    let mut positions: Vec<usize> =
        linted.client_pairs().flat_map(|p| std::iter::once(p.invoke).chain(p.completion)).collect();
    positions.sort_unstable();
    positions
}

/// Maps a view's positions through `positions`; `false` (and the view unchanged)
/// when one falls outside.
pub fn remap(view: &mut LinView, positions: &[usize]) -> bool {
    let map = |p: usize| positions.get(p).copied();
    let (Some(breaking), Some(prefix)) =
        (map(view.breaking_op), view.prefix.iter().map(|&p| map(p)).collect::<Option<Vec<_>>>())
    else {
        return false;
    };
    view.breaking_op = breaking;
    view.prefix = prefix;
    true
}

/// The view on the full history: tries the key's sub-history, then all client
/// operations, then the positions as they are, and takes the first mapping under
/// which the breaking operation is an invocation by `process` (as the checker
/// printed it) of `f`.
pub fn onto_full_history(
    linted: &Linted,
    key: &Option<Value>,
    view: &LinView,
    process: &str,
    f: &str,
) -> Option<LinView> {
    let identity: Vec<usize> = (0..linted.ops().len()).collect();
    for positions in [key_positions(linted, key), client_positions(linted), identity] {
        let mut v = view.clone();
        if !remap(&mut v, &positions) {
            continue;
        }
        let op = &linted.ops()[v.breaking_op];
        if op.process != Process::Nemesis
            && op.kind == history::OpKind::Invoke
            && op.process.to_string() == process
            && op.f == f
        {
            return Some(v);
        }
    }
    None
}
