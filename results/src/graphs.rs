//! Small directed graphs ([`checkers::section::GraphView`], e.g. a dependency cycle
//! between transactions) drawn as self-contained SVG, without graphviz: the nodes
//! on a circle in their given order, each edge a curved arrow (so the two edges of
//! a pair going both ways do not overlap) with its label at the middle, the
//! details as hover titles. `faultline elle -d` writes the same SVG to files.

use std::f64::consts::PI;
use std::fmt::Write;

use checkers::section::GraphView;

use crate::html::esc;

const NODE_R: f64 = 22.0;
const MARGIN: f64 = 70.0;

/// The graph as an SVG document.
pub fn graph_svg(view: &GraphView) -> String {
    let n = view.nodes.len().max(1);
    let radius = if n == 1 { 0.0 } else { (60.0 * n as f64 / PI).max(90.0) };
    let size = 2.0 * (radius + MARGIN);
    let caption_h = if view.caption.is_some() { 28.0 } else { 0.0 };
    let (cx, cy) = (size / 2.0, size / 2.0 + caption_h);
    let at = |i: usize| {
        // The first node at the top, then clockwise.
        let a = -PI / 2.0 + 2.0 * PI * i as f64 / n as f64;
        (cx + radius * a.cos(), cy + radius * a.sin())
    };
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="dependency-graph" width="{w:.0}" height="{h:.0}" viewBox="0 0 {w:.0} {h:.0}" font-family="sans-serif" font-size="13">"#,
        w = size,
        h = size + caption_h
    );
    s.push_str(
        r##"<defs><marker id="fl-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#444"/></marker></defs>"##,
    );
    if let Some(c) = &view.caption {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="18" text-anchor="middle" font-weight="bold">{}</text>"#,
            size / 2.0,
            esc(c)
        );
    }
    for e in &view.edges {
        if e.from >= view.nodes.len() || e.to >= view.nodes.len() {
            continue;
        }
        let (x1, y1) = at(e.from);
        let (x2, y2) = at(e.to);
        let (dx, dy) = (x2 - x1, y2 - y1);
        let len = (dx * dx + dy * dy).sqrt().max(1e-6);
        let (ux, uy) = (dx / len, dy / len);
        // Start and end on the circles' rims; bend to the left of the direction.
        let (sx, sy) = (x1 + ux * NODE_R, y1 + uy * NODE_R);
        let (ex, ey) = (x2 - ux * (NODE_R + 2.0), y2 - uy * (NODE_R + 2.0));
        let bend = (len * 0.25).min(60.0);
        let (mx, my) = ((sx + ex) / 2.0 + uy * bend, (sy + ey) / 2.0 - ux * bend);
        let color = match e.label.as_str() {
            "rw" => "#c0392b",
            "wr" => "#2471a3",
            "ww" => "#7d3c98",
            "realtime" => "#117a65",
            "process" => "#b9770e",
            _ => "#444",
        };
        let _ = write!(
            s,
            r#"<g class="edge"><title>{}</title><path d="M {sx:.1} {sy:.1} Q {mx:.1} {my:.1} {ex:.1} {ey:.1}" fill="none" stroke="{color}" stroke-width="2" marker-end="url(#fl-arrow)"/>"#,
            esc(&e.detail)
        );
        // The label at the curve's middle (t = 1/2 of the quadratic).
        let (lx, ly) = ((sx + 2.0 * mx + ex) / 4.0, (sy + 2.0 * my + ey) / 4.0);
        let _ = write!(
            s,
            r#"<text x="{lx:.1}" y="{ly:.1}" text-anchor="middle" dy="-4" fill="{color}">{}</text></g>"#,
            esc(&e.label)
        );
    }
    for (i, node) in view.nodes.iter().enumerate() {
        let (x, y) = at(i);
        let _ = write!(
            s,
            r##"<g class="node"><title>{}</title><circle cx="{x:.1}" cy="{y:.1}" r="{NODE_R}" fill="#fdfefe" stroke="#333" stroke-width="1.5"/><text x="{x:.1}" y="{y:.1}" text-anchor="middle" dy="5">{}</text></g>"##,
            esc(&node.detail),
            esc(&node.label)
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::section::{GraphEdge, GraphNode};

    #[test]
    fn draws_every_node_and_edge_escaped() {
        let view = GraphView {
            caption: Some("G2-item <cycle>".into()),
            nodes: (0..3)
                .map(|i| GraphNode {
                    label: format!("T{}", i + 1),
                    detail: "a&b".into(),
                    position: Some(i),
                })
                .collect(),
            edges: vec![
                GraphEdge { from: 0, to: 1, label: "rw".into(), detail: "x".into() },
                GraphEdge { from: 1, to: 2, label: "wr".into(), detail: "y".into() },
                GraphEdge { from: 2, to: 0, label: "ww".into(), detail: "z".into() },
                GraphEdge { from: 2, to: 9, label: "bad".into(), detail: String::new() },
            ],
        };
        let svg = graph_svg(&view);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert_eq!(
            svg.matches("class=\"edge\"").count(),
            3,
            "the edge to a missing node is skipped"
        );
        assert!(
            svg.contains("&lt;cycle&gt;") && svg.contains("a&amp;b") && !svg.contains("<cycle>")
        );
    }
}
