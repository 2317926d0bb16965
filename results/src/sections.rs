//! Each check's own part of the report, drawn from the neutral primitives of
//! [`checkers::section`] without knowing which checker wrote them: paragraphs,
//! tables, operations highlighted by history position (each with its role and the
//! operation's details), line plots (with the faults in force behind a time axis),
//! drawn dependency graphs ([`crate::graphs`]) and the Porcupine-style
//! linearization view ([`crate::linview`]).

use std::collections::HashMap;
use std::fmt::Write;

use checkers::section::{Block, Operations, Table};

use crate::html::esc;
use crate::intervals::Intervals;
use crate::linview;
use crate::plots;
use crate::timeline::op_title;
use crate::view::{CheckView, RunView};

/// Every check's non-empty section, in check order.
pub fn render(run: &RunView, iv: &Intervals) -> String {
    let mut s = String::new();
    let mut lin_views = 0;
    for (i, check) in run.checks.iter().enumerate().filter(|(_, c)| !c.section.is_empty()) {
        let title = if check.section.title.is_empty() { &check.name } else { &check.section.title };
        let _ = write!(
            s,
            r#"<h2>{}</h2><section class="check-section" id="check-section-{i}" data-check="{}">"#,
            esc(title),
            esc(&check.name)
        );
        for block in &check.section.blocks {
            block_html(&mut s, run, iv, check, block, &mut lin_views);
        }
        s.push_str("</section>");
    }
    s
}

fn block_html(
    s: &mut String,
    run: &RunView,
    iv: &Intervals,
    check: &CheckView,
    block: &Block,
    lin_views: &mut usize,
) {
    match block {
        Block::Paragraph { text } => {
            let _ = write!(s, r#"<p class="check-text">{}</p>"#, esc(text));
        }
        Block::Table(t) => table(s, t),
        Block::Operations(ops) => operations(s, run, iv, ops),
        Block::Plot(plot) => match plots::series_svg(plot, iv) {
            Ok(svg) => {
                s.push_str(r#"<div class="scroll plot check-plot">"#);
                s.push_str(&svg);
                s.push_str("</div>");
            }
            Err(e) => {
                let _ = write!(
                    s,
                    r#"<p class="warning">The plot “{}” could not be drawn: {}</p>"#,
                    esc(&plot.title),
                    esc(&e)
                );
            }
        },
        Block::Linearization(lin) => {
            // The first view keeps the id the report has always had.
            let id = if *lin_views == 0 { r#" id="linearization""# } else { "" };
            let _ = write!(s, r#"<div{id} class="scroll linearization-views">"#);
            s.push_str(&linview::render(&run.history, iv, lin, &check.name, *lin_views));
            s.push_str("</div>");
            *lin_views += 1;
        }
        Block::Graph(g) => {
            s.push_str(r#"<div class="scroll check-graph">"#);
            s.push_str(&crate::graphs::graph_svg(g));
            s.push_str("</div>");
        }
        Block::Unknown => s.push_str(
            r#"<p class="warning">Part of this section was written by a newer faultline and cannot be shown.</p>"#,
        ),
    }
}

fn table(s: &mut String, t: &Table) {
    if let Some(c) = &t.caption {
        let _ = write!(s, r#"<p class="table-caption">{}</p>"#, esc(c));
    }
    s.push_str(r#"<div class="scroll"><table class="grid check-table">"#);
    s.push_str("<tr>");
    for c in &t.columns {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr>");
    for row in &t.rows {
        s.push_str("<tr>");
        for cell in row {
            let _ = write!(s, "<td>{}</td>", esc(cell));
        }
        s.push_str("</tr>");
    }
    s.push_str("</table></div>");
}

fn operations(s: &mut String, run: &RunView, iv: &Intervals, ops: &Operations) {
    // A position names an operation by its invocation or its completion.
    let mut at: HashMap<usize, usize> = HashMap::new();
    for (k, o) in iv.ops.iter().enumerate() {
        at.insert(o.invoke, k);
        if let Some(c) = o.completion {
            at.insert(c, k);
        }
    }
    if let Some(c) = &ops.caption {
        let _ = write!(s, "<p>{}</p>", esc(c));
    }
    s.push_str(r#"<ul class="highlighted-ops">"#);
    for h in &ops.ops {
        let what = match at.get(&h.position) {
            Some(&k) => op_title(&run.history, iv, k),
            None => format!("position {} (not a client operation in this history)", h.position),
        };
        let label = if h.label.is_empty() { String::new() } else { format!("{}: ", h.label) };
        let _ = write!(
            s,
            r#"<li class="role-{r}" data-position="{}" data-role="{r}"><span class="role">{r}</span> {}{}</li>"#,
            h.position,
            esc(&label),
            esc(&what),
            r = h.role.name()
        );
    }
    s.push_str("</ul>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::section::{Highlight, Plot, Role, Section, Series};
    use history::{History, Op, Value};

    /// Every primitive renders, escaped; a position that is no client operation
    /// and a block from a newer version become notes, not errors.
    #[test]
    fn every_block_renders() {
        let history =
            History::from_ops(vec![Op::invoke(0, "read", Value::Nil), Op::ok(0, "read", 1.into())]);
        let section = Section::new("Mine <b>")
            .with(Block::paragraph("a < b"))
            .with(Block::Table(Table {
                caption: Some("counts".into()),
                columns: vec!["f".into(), "n".into()],
                rows: vec![vec!["read".into(), "1".into()]],
            }))
            .with(Block::Operations(Operations {
                caption: None,
                ops: vec![
                    Highlight { position: 1, role: Role::Culprit, label: "it".into() },
                    Highlight { position: 7, role: Role::Context, label: String::new() },
                ],
            }))
            .with(Block::Plot(Plot {
                title: "p".into(),
                series: vec![Series { name: "s".into(), points: vec![(0.0, 1.0), (1.0, 2.0)] }],
                ..Plot::default()
            }))
            .with(Block::Unknown);
        let run = RunView {
            test: serde_json::Value::Null,
            history,
            checks: vec![CheckView::new("mine", checkers::Verdict::Invalid, "", section)],
        };
        let iv = Intervals::from_history(&run.history);
        let html = render(&run, &iv);
        assert!(html.contains("<h2>Mine &lt;b&gt;</h2>") && html.contains("a &lt; b"), "{html}");
        assert!(html.contains(r#"<td>read</td><td>1</td>"#), "{html}");
        assert!(html.contains(r#"data-position="1" data-role="culprit""#), "{html}");
        assert!(html.contains("it: process 0 read"), "by its completion: {html}");
        assert!(html.contains("position 7 (not a client operation"), "{html}");
        assert!(html.contains("<svg"), "{html}");
        assert!(html.contains("written by a newer faultline"), "{html}");
        let empty = RunView {
            checks: vec![CheckView::new("x", checkers::Verdict::Valid, "", Section::default())],
            ..run
        };
        assert_eq!(render(&empty, &iv), "", "an empty section is not drawn");
    }
}
