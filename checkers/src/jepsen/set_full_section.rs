//! The report section of [`super::set_full`]: the counts, Jepsen's latency
//! quantiles, a plot of each element's latency from known to visible and to
//! stable, and the lost and stale elements with the operations behind them. Kept
//! apart from the checker's rules only for the length of the file.

use history::{Linted, Value};

use super::set_full::{ElementReport, SetFullEvidence};
use super::{Judged, distribution, key_cell, place, secs, thin};
use crate::section::{Block, Highlight, Operations, Plot, Role, Section, Series, Table};

/// Most rows of a table, and points of a plot series.
const SHOWN: usize = 50;
const POINTS: usize = 2000;

pub(crate) fn section(
    history: &Linted,
    judged: &[Judged<SetFullEvidence>],
    linearizable: bool,
) -> Section {
    let ops = history.ops();
    let keyed = judged.len() > 1 || judged.iter().any(|j| j.key.is_some());
    let sum =
        |f: fn(&SetFullEvidence) -> usize| judged.iter().map(|j| f(&j.evidence)).sum::<usize>();
    let mut section = Section::new("Set (full)").with(Block::paragraph(format!(
        "{} elements added{}: {} stable, {} lost, {} never read after they were known, {} \
         stale (missing from a read that began at least 1 ms after they were known){}; {} \
         reads.",
        sum(|e| e.attempt_count),
        if keyed { format!(" to {} sets", judged.len()) } else { String::new() },
        sum(|e| e.stable_count),
        sum(|e| e.lost_count),
        sum(|e| e.never_read_count),
        sum(|e| e.stale_count),
        if linearizable { ", which the linearizable option makes invalid" } else { "" },
        sum(|e| e.read_count),
    )));
    let all = |f: fn(&SetFullEvidence) -> &Vec<(f64, f64)>| {
        let mut points: Vec<(f64, f64)> =
            judged.iter().flat_map(|j| f(&j.evidence).iter().copied()).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        thin(points, POINTS)
    };
    let stable_points = all(|e| &e.plot.0);
    let visible_points = all(|e| &e.plot.1);
    let quantile_row = |name: &str, mut v: Vec<u64>| {
        v.sort_unstable();
        let d = distribution(&v);
        let mut row = vec![name.to_string(), v.len().to_string()];
        for p in ["0", "0.5", "0.95", "0.99", "1"] {
            row.push(d.as_ref().map_or("-".into(), |d| d[p].to_string()));
        }
        row
    };
    let lost_ms: Vec<u64> = judged
        .iter()
        .flat_map(|j| j.evidence.lost_details.iter().filter_map(|r| r.lost_latency_ms))
        .collect();
    section.blocks.push(Block::Table(Table {
        caption: Some(
            "milliseconds from known to visible, to stable and to lost (Jepsen's quantiles)".into(),
        ),
        columns: ["latency", "elements", "0", "0.5", "0.95", "0.99", "1"]
            .map(String::from)
            .to_vec(),
        rows: vec![
            quantile_row(
                "visible (first read to hold it)",
                visible_points_all(judged, |e| &e.plot.1),
            ),
            quantile_row(
                "stable (every later read holds it)",
                visible_points_all(judged, |e| &e.plot.0),
            ),
            quantile_row("lost (last read to hold it)", lost_ms),
        ],
    }));
    section.blocks.push(Block::Plot(Plot {
        title: "latency from known to visible and to stable".into(),
        x_label: "time known (s)".into(),
        y_label: "latency (ms)".into(),
        time_axis: true,
        series: vec![
            Series { name: "visible".into(), points: visible_points },
            Series { name: "stable".into(), points: stable_points },
        ],
    }));
    let lost: Vec<(&Option<Value>, &ElementReport)> = judged
        .iter()
        .flat_map(|j| j.evidence.lost_details.iter().map(move |r| (&j.key, r)))
        .collect();
    let stale: Vec<(&Option<Value>, &ElementReport)> = judged
        .iter()
        .flat_map(|j| j.evidence.stale_details.iter().map(move |r| (&j.key, r)))
        .collect();
    let at = |p: Option<usize>| {
        p.map_or("-".to_string(), |p| format!("{} ({})", secs(ops[p].time_ns), place(history, p)))
    };
    let with_key = |key: &Option<Value>, mut row: Vec<String>| {
        if keyed {
            row.insert(0, key_cell(key));
        }
        row
    };
    let columns = |names: &[&str]| {
        let mut c: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        if keyed {
            c.insert(0, "key".into());
        }
        c
    };
    if !lost.is_empty() {
        section.blocks.push(Block::Table(Table {
            caption: Some(format!("lost elements ({} shown)", lost.len().min(SHOWN))),
            columns: columns(&[
                "element",
                "known",
                "last held by the read at",
                "reads missing it after",
                "lost after (ms)",
            ]),
            rows: lost
                .iter()
                .take(SHOWN)
                .map(|(k, r)| {
                    with_key(
                        k,
                        vec![
                            r.element.to_string(),
                            at(r.known),
                            at(r.last_present),
                            r.absent_reads_after.to_string(),
                            r.lost_latency_ms.map_or("-".into(), |l| l.to_string()),
                        ],
                    )
                })
                .collect(),
        }));
    }
    if !stale.is_empty() {
        section.blocks.push(Block::Table(Table {
            caption: Some(format!(
                "stale elements, worst first ({} shown)",
                stale.len().min(SHOWN)
            )),
            columns: columns(&["element", "known", "missed by the read at", "stable after (ms)"]),
            rows: stale
                .iter()
                .take(SHOWN)
                .map(|(k, r)| {
                    with_key(
                        k,
                        vec![
                            r.element.to_string(),
                            at(r.known),
                            at(r.last_absent),
                            r.stable_latency_ms.map_or("-".into(), |l| l.to_string()),
                        ],
                    )
                })
                .collect(),
        }));
    }
    let mut highlights = Vec::new();
    for (_, r) in lost.iter().take(SHOWN / 2) {
        highlights.push(Highlight {
            position: r.add,
            role: Role::Culprit,
            label: format!("add of {}, lost", r.element),
        });
        if let Some(a) = r.last_absent {
            highlights.push(Highlight {
                position: a,
                role: Role::Related,
                label: format!("the last read to miss {}", r.element),
            });
        }
    }
    for (_, r) in stale.iter().take(if linearizable { SHOWN / 2 } else { 0 }) {
        if let Some(a) = r.last_absent {
            highlights.push(Highlight {
                position: a,
                role: Role::Culprit,
                label: format!("stale read: misses {}, known before it began", r.element),
            });
        }
    }
    if !highlights.is_empty() {
        section.blocks.push(Block::Operations(Operations {
            caption: Some("the operations behind the anomaly".into()),
            ops: highlights,
        }));
    }
    section
}

/// The y values of one of the evidence's plot series over every part.
fn visible_points_all(
    judged: &[Judged<SetFullEvidence>],
    f: fn(&SetFullEvidence) -> &Vec<(f64, f64)>,
) -> Vec<u64> {
    judged.iter().flat_map(|j| f(&j.evidence).iter().map(|(_, y)| *y as u64)).collect()
}
