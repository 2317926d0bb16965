//! Availability: the fraction of client operations that succeeded (`ok`) per node,
//! inside each fault window and outside all of them, so the consistency verdict
//! sits beside the availability it cost.
//!
//! An operation counts for the windows in force when it was invoked; one invoked
//! while no fault was in force counts as "outside faults". Operations whose node is
//! not recorded count under "(node not recorded)".

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::html::{esc, time_label};
use crate::intervals::{Intervals, Outcome};

const NO_NODE: &str = "(node not recorded)";

/// ok and total counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub ok: u64,
    pub total: u64,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        self.total += 1;
        self.ok += u64::from(ok);
    }

    pub fn fraction(&self) -> Option<f64> {
        (self.total > 0).then(|| self.ok as f64 / self.total as f64)
    }
}

/// Rows: "outside faults" then each fault window; columns: each node then "all".
#[derive(Debug, Clone, PartialEq)]
pub struct Availability {
    pub nodes: Vec<String>,
    /// Row label and, per node (same order as `nodes`) then all nodes, the tally.
    pub rows: Vec<(String, Vec<Tally>)>,
}

pub fn compute(iv: &Intervals) -> Availability {
    let mut nodes: BTreeMap<&str, usize> = BTreeMap::new();
    for o in &iv.ops {
        nodes.entry(o.node.as_deref().unwrap_or(NO_NODE)).or_insert(0);
    }
    for (k, v) in nodes.values_mut().enumerate() {
        *v = k;
    }
    let cols = nodes.len() + 1;
    let mut outside = vec![Tally::default(); cols];
    let mut windows = vec![vec![Tally::default(); cols]; iv.faults.len()];
    for o in &iv.ops {
        let col = nodes[o.node.as_deref().unwrap_or(NO_NODE)];
        let ok = o.outcome == Outcome::Ok;
        let mut inside = false;
        for (w, window) in iv.faults.iter().enumerate() {
            if window.contains(o.start) {
                inside = true;
                windows[w][col].add(ok);
                windows[w][cols - 1].add(ok);
            }
        }
        if !inside {
            outside[col].add(ok);
            outside[cols - 1].add(ok);
        }
    }
    let mut rows = vec![("outside faults".to_string(), outside)];
    for (w, tallies) in iv.faults.iter().zip(windows) {
        let label = format!(
            "{} ({} – {})",
            w.f,
            time_label(w.start, iv.timed),
            time_label(w.end, iv.timed)
        );
        rows.push((label, tallies));
    }
    Availability { nodes: nodes.keys().map(|s| s.to_string()).collect(), rows }
}

/// The HTML table; each cell is shaded from red (nothing succeeded) to green.
pub fn table(a: &Availability) -> String {
    let mut s = String::from(r#"<table id="availability-table" class="grid"><tr><th>when</th>"#);
    for n in &a.nodes {
        let _ = write!(s, "<th>{}</th>", esc(n));
    }
    s.push_str("<th>all nodes</th></tr>");
    for (label, tallies) in &a.rows {
        let _ = write!(s, "<tr><td>{}</td>", esc(label));
        for t in tallies {
            match t.fraction() {
                Some(f) => {
                    let hue = (f * 120.0).round();
                    let _ = write!(
                        s,
                        r#"<td class="avail" style="background:hsl({hue},60%,85%)" title="{} ok of {}">{:.0}% <small>({}/{})</small></td>"#,
                        t.ok,
                        t.total,
                        f * 100.0,
                        t.ok,
                        t.total
                    );
                }
                None => s.push_str(r#"<td class="avail none">–</td>"#),
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op, OpKind, Process, Value};

    fn on(mut op: Op, node: &str) -> Op {
        op.node = Some(node.into());
        op
    }

    #[test]
    fn counts_inside_and_outside_faults_per_node() {
        let nem = |k, f: &str| Op::new(Process::Nemesis, k, f, Value::Nil);
        let h = History::from_ops(vec![
            on(Op::invoke(0, "read", Value::Nil), "n1"),
            on(Op::ok(0, "read", Value::Nil), "n1"),
            nem(OpKind::Invoke, "start-partition"),
            nem(OpKind::Info, "start-partition"),
            on(Op::invoke(1, "read", Value::Nil), "n2"),
            on(Op::fail(1, "read", Value::Nil), "n2"),
            on(Op::invoke(0, "read", Value::Nil), "n1"),
            on(Op::ok(0, "read", Value::Nil), "n1"),
            nem(OpKind::Invoke, "stop-partition"),
            nem(OpKind::Info, "stop-partition"),
        ]);
        let a = compute(&Intervals::from_history(&h));
        assert_eq!(a.nodes, vec!["n1", "n2"]);
        assert_eq!(a.rows.len(), 2);
        assert_eq!(a.rows[0].1[0], Tally { ok: 1, total: 1 });
        assert_eq!(a.rows[0].1[1], Tally { ok: 0, total: 0 });
        assert_eq!(a.rows[1].1[0], Tally { ok: 1, total: 1 });
        assert_eq!(a.rows[1].1[1], Tally { ok: 0, total: 1 });
        assert_eq!(a.rows[1].1[2], Tally { ok: 1, total: 2 });
        assert!(table(&a).contains("50%"));
    }
}
