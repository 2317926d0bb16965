//! The vocabulary of faultline: operations, histories, and the files they live in.
//!
//! Everything else in the workspace speaks these types. A history is Jepsen's:
//! invocations and completions (`ok` / `fail` / `info`) of client processes and the
//! nemesis, in the order they happened. This crate knows nothing of how a history
//! was produced or how it is judged.
//!
//! # Layout
//! - [`value`]: [`Value`], EDN's data model, with a lossless JSON form.
//! - [`op`]: [`Op`], [`OpKind`], [`Process`].
//! - [`history`]: [`History`], the linter, and [`Linted`] histories with
//!   invocation/completion [`Pair`]s and grouping by key.
//! - [`linter`]: the same rules one operation at a time ([`linter::Linter`]), for
//!   histories streamed from a file and never held whole.
//! - [`jsonl`]: the native JSON Lines reader (streaming, tolerant of a cut last
//!   line) and writer; `json` is its fast line parser.
//! - [`edn`]: Jepsen `history.edn` reader and writer.
//! - [`porcupine`]: Porcupine's Jepsen etcd log reader.
//! - [`format`]: [`Format`] detection and reading/writing by format.
//!
//! # Errors
//! Readers return errors that name the file and line; the linter returns every
//! defect it finds, each with its line.

pub mod edn;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod history;
mod json;
pub mod jsonl;
mod jsonl_fast;
pub mod linter;
pub mod op;
pub mod porcupine;
pub mod value;

pub use format::{Format, Read, ReadError, open_jsonl, read_path, read_str};
pub use history::{History, LintError, LintFailure, LintKind, Linted, Pair};
pub use op::{Op, OpKind, Process};
pub use value::Value;
