//! Results: what people read after a run.
//!
//! # Layout
//! - [`view`]: the typed input of every renderer: [`RunView`], [`CheckView`]
//!   (a check's verdict, explanation and report section in the neutral primitives
//!   of [`checkers::section`]). The harness adapts checker outcomes into these.
//! - [`run_dir`]: a stored run directory read back tolerantly; writes
//!   `report.html` and `junit.xml` into it ([`run_dir::regenerate`]).
//! - [`report`]: the self-contained HTML report, assembled from
//!   [`timeline`], [`plots`] (plotters, SVG), [`availability`] and each check's
//!   section ([`sections`]: paragraphs, tables, highlighted operations, plots and
//!   [`linview`], the Porcupine-style view of a linearizability failure). A new
//!   checker's section needs no code here.
//! - [`graphs`]: small directed graphs (dependency cycles) as SVG, no graphviz.
//! - [`intervals`]: client operations as intervals and nemesis fault windows.
//! - [`cap`]: per partition window, each side's availability and latency, where
//!   the leader was, and how long the majority side took to serve again.
//! - [`summary`]: system, workload, nemesis, seed and replay commands from `test.json`.
//! - [`junit`]: JUnit XML (quick-junit), one case per checker; [`matrix`]: the
//!   summary table and JUnit report of a test matrix (`test-all`); [`catalog`]:
//!   the table and JUnit report of a bug-catalog run (`test-all --profile`).
//! - [`serve`]: the web UI over a store (axum); [`bundle`]: a run as `.tar.gz`.
//! - [`html`]: escaping and formatting helpers.
//! - [`synthetic`]: a deterministic run of any size, for size tests and benchmarks.
//!
//! # Errors
//! Library errors are values ([`run_dir::RunDirError`]); a run with missing or
//! unreadable files still renders, with the problems listed at the top.

pub mod availability;
pub mod bundle;
pub mod cap;
pub mod catalog;
pub mod graphs;
pub mod html;
pub mod intervals;
pub mod junit;
pub mod linview;
pub mod matrix;
pub mod plots;
pub mod report;
pub mod run_dir;
pub mod sections;
pub mod serve;
pub mod summary;
pub mod synthetic;
pub mod timeline;
pub mod timeline_pages;
pub mod view;

pub use report::{ReportOptions, render_html};
pub use run_dir::{LoadedRun, RunDirError, regenerate, write_outputs};
pub use view::{CheckView, LinView, RunView, Verdict, verdict_of};
