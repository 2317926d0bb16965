//! Checkers: judge a recorded history and explain the verdict.
//!
//! A checker takes a linted history ([`history::Linted`]), the whole of it, and
//! returns an [`Outcome`]: a three-valued [`Verdict`], a one-line reason, a
//! paragraph of plain words, its own evidence as JSON, and a report [`Section`]
//! in neutral primitives that the `results` crate draws. Checkers are listed in
//! one [`registry`] and made by name.
//!
//! ```
//! use checkers::{Checker, Verdict, registry::{self, CheckerOptions}};
//! use history::{History, Op, Value};
//!
//! let h = History::from_ops(vec![
//!     Op::invoke(0, "write", 1.into()),
//!     Op::ok(0, "write", 1.into()),
//!     Op::invoke(1, "read", Value::Nil),
//!     Op::ok(1, "read", 2.into()), // nobody wrote 2
//! ]);
//! let def = registry::by_name("cas-register").unwrap();
//! let checker = def.checker(&CheckerOptions::default()).unwrap();
//! let outcome = checker.check(&h.lint().unwrap()).unwrap();
//! assert_eq!(outcome.verdict, Verdict::Invalid);
//! assert!(checkers::linearizability::anomaly_of(&outcome).is_some());
//! ```
//!
//! # Layout
//! - [`verdict`]: [`Verdict`], [`Outcome`], [`Checker`], [`CheckError`].
//! - [`section`]: the report primitives ([`Section`], [`section::Block`]).
//! - [`stream`]: the streaming side of the seam ([`stream::StreamCheck`]): a
//!   history fed one operation at a time, keys dropped once done, for histories
//!   too big to hold.
//! - [`registry`]: every checker by name ([`registry::CheckerDef`], [`registry::ALL`]).
//! - [`linearizability`]: the search (WGL with a state cache, P-compositional,
//!   parallel, bounded in time and memory) and the [`linearizability::Model`] trait.
//! - [`models`]: `register`, `cas-register`, `kv`, `multi-register`, `mutex`,
//!   `fenced-lock`, `session-lock`, each with its registry entry.
//! - [`jepsen`]: Jepsen's other checkers, one file each: `set`, `set-full`,
//!   `counter`, `bank`, `unique-ids`, `long-fork`, `queue`, `total-queue`.
//! - [`elle`]: Elle's transactional checkers `list-append` and `rw-register`
//!   (dependency cycles and anomalies, judged against consistency models).
//!
//! # Adding a checker
//! One file: a type implementing [`Checker`] (its evidence type and its section
//! built in the same file) and a `pub static CHECKER: CheckerDef`; plus its line in
//! [`registry::ALL`]. A new linearizability model is a [`linearizability::Model`] in
//! `models/`, with `from_initial` and a `CHECKER` calling
//! [`linearizability::checker`]. `fake.rs` (feature `fakes`) is a complete example.
//!
//! # Errors
//! Input a checker cannot read is a [`CheckError`] naming the history line; running
//! out of time or memory is not an error but an `Unknown` verdict.

pub mod discovery;
pub mod election;
pub mod elle;
#[cfg(feature = "fakes")]
pub mod fake;
pub mod jepsen;
pub mod linearizability;
pub mod membership;
pub mod models;
pub mod ops;
pub mod registry;
pub mod section;
pub mod stream;
pub mod verdict;
pub mod watch;

pub use section::Section;
pub use verdict::{CheckError, Checker, Evidence, Outcome, Part, PartOutcome, Stats, Verdict};
