//! A checker's part of the HTML report, described in neutral primitives that the
//! `results` crate renders without knowing the checker: paragraphs, tables,
//! operations highlighted by their position in the history, plots of series, and
//! the Porcupine-style view of a linearizability failure.
//!
//! A section is data (serialized into `results.json`, so `faultline report` can
//! draw it again later); a checker builds it in its own file. Positions are
//! positions in the history the checker was given: `faultline` hands checkers the
//! whole history, so they are the positions the report draws.

use serde::{Deserialize, Serialize};

/// What the report shows for one check: a heading and blocks in order. An empty
/// section (no blocks) is not drawn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Section {
    pub fn new(title: impl Into<String>) -> Section {
        Section { title: title.into(), blocks: Vec::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// Appends a block (builder style).
    pub fn with(mut self, block: Block) -> Section {
        self.blocks.push(block);
        self
    }

    /// The linearization views in this section.
    pub fn linearizations(&self) -> impl Iterator<Item = &LinearizationView> {
        self.blocks.iter().filter_map(|b| match b {
            Block::Linearization(l) => Some(l),
            _ => None,
        })
    }

    /// Positions of the operations this section names as culprits (highlighted in
    /// the timeline), in order: highlighted operations with [`Role::Culprit`] and the
    /// breaking operation of each linearization view.
    pub fn culprits(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for b in &self.blocks {
            match b {
                Block::Operations(ops) => out
                    .extend(ops.ops.iter().filter(|h| h.role == Role::Culprit).map(|h| h.position)),
                Block::Linearization(l) => out.push(l.breaking_op),
                _ => {}
            }
        }
        out
    }
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Block {
    /// Plain words.
    Paragraph {
        text: String,
    },
    Table(Table),
    /// Operations of the history, each with its role and a label.
    Operations(Operations),
    /// Lines of (x, y) points.
    Plot(Plot),
    /// Why a history is not linearizable, drawn the way Porcupine does.
    Linearization(LinearizationView),
    /// A small directed graph: a dependency cycle between transactions.
    Graph(GraphView),
    /// A block type written by a newer version: shown as a note, never an error.
    #[serde(other)]
    Unknown,
}

impl Block {
    pub fn paragraph(text: impl Into<String>) -> Block {
        Block::Paragraph { text: text.into() }
    }
}

/// A table of text cells; rows may be shorter than `columns`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    #[serde(default)]
    pub caption: Option<String>,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// Operations named by position, e.g. the two acknowledged operations that
/// returned the same "unique" id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Operations {
    #[serde(default)]
    pub caption: Option<String>,
    pub ops: Vec<Highlight>,
}

/// One operation: the position of its invocation (or completion) in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Highlight {
    pub position: usize,
    pub role: Role,
    /// What it is to this check ("acknowledged, then lost").
    #[serde(default)]
    pub label: String,
}

/// What an operation is to the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// It breaks the rule: highlighted in the timeline too.
    Culprit,
    /// Part of the anomaly (the other holder of a lock, the write a read missed).
    Related,
    /// Shown for context only.
    Context,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Culprit => "culprit",
            Role::Related => "related",
            Role::Context => "context",
        }
    }
}

/// A line plot. With `time_axis`, x is seconds since the run started and the
/// report draws the faults in force behind the lines.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plot {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    #[serde(default)]
    pub time_axis: bool,
    pub series: Vec<Series>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub name: String,
    /// (x, y) in x order.
    pub points: Vec<(f64, f64)>,
}

/// A small directed graph to draw (a cycle of dependencies between transactions:
/// the report draws its nodes on a circle, in order, with labelled arrows). Nodes
/// are referred to by their index in `nodes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphView {
    #[serde(default)]
    pub caption: Option<String>,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphNode {
    /// A short name drawn in the node (`T1`).
    pub label: String,
    /// Shown on hover (the operation in full).
    #[serde(default)]
    pub detail: String,
    /// The history position of the operation it stands for, when it is one.
    #[serde(default)]
    pub position: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GraphEdge {
    pub from: usize,
    pub to: usize,
    /// Drawn on the arrow (`rw`).
    pub label: String,
    /// Shown on hover (why the edge exists).
    #[serde(default)]
    pub detail: String,
}

/// Why a history is not linearizable, as positions into the history: the longest
/// linearizable prefix and the operation that cannot follow it (Porcupine's view).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearizationView {
    /// Position of the invocation of the operation that cannot be linearized.
    pub breaking_op: usize,
    /// The longest linearizable prefix found: invocation positions, in the order
    /// they were linearized.
    pub prefix: Vec<usize>,
    /// The model states that were possible just before the breaking operation.
    pub states_before: Vec<String>,
    /// More states were possible than listed.
    #[serde(default)]
    pub more_states: bool,
    /// The model's name (`cas-register`), when known.
    #[serde(default)]
    pub model: Option<String>,
    /// The key of the part of the history that was checked, when split by key.
    #[serde(default)]
    pub key: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip_and_name_their_culprits() {
        let s = Section::new("t")
            .with(Block::paragraph("words"))
            .with(Block::Operations(Operations {
                caption: None,
                ops: vec![
                    Highlight { position: 3, role: Role::Related, label: "a".into() },
                    Highlight { position: 9, role: Role::Culprit, label: "b".into() },
                ],
            }))
            .with(Block::Linearization(LinearizationView {
                breaking_op: 4,
                prefix: vec![0, 2],
                states_before: vec!["1".into()],
                more_states: false,
                model: None,
                key: None,
            }));
        assert_eq!(s.culprits(), vec![9, 4]);
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""type":"operations""#), "{json}");
        let back: Section = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let newer: Block = serde_json::from_str(r#"{"type":"hologram","x":1}"#).unwrap();
        assert_eq!(newer, Block::Unknown);
    }
}
