//! Checkers: judge a recorded history and explain the verdict.
//!
//! A checker takes a linted history ([`history::Linted`]) and returns an
//! [`Outcome`]: a three-valued [`Verdict`], a one-line reason, and for an invalid
//! history a paragraph of plain words plus the evidence as data.
//!
//! ```
//! use checkers::{Checker, Verdict, models::ModelName, linearizability::Options};
//! use history::{History, Op, Value};
//!
//! let h = History::from_ops(vec![
//!     Op::invoke(0, "write", 1.into()),
//!     Op::ok(0, "write", 1.into()),
//!     Op::invoke(1, "read", Value::Nil),
//!     Op::ok(1, "read", 2.into()), // nobody wrote 2
//! ]);
//! let checker = ModelName::CasRegister.linearizable(None, Options::default()).unwrap();
//! let outcome = checker.check(&h.lint().unwrap()).unwrap();
//! assert_eq!(outcome.verdict, Verdict::Invalid);
//! ```
//!
//! # Layout
//! - [`verdict`]: [`Verdict`], [`Outcome`], [`Checker`], [`CheckError`].
//! - [`linearizability`]: the search (WGL with a state cache, P-compositional,
//!   parallel, bounded in time and memory) and the [`linearizability::Model`] trait.
//! - [`models`]: `register`, `cas-register`, `kv`, `multi-register`, `mutex`,
//!   `fenced-lock`, `session-lock`, and [`models::ModelName`] to pick one by name.
//!
//! # Errors
//! Input a model cannot read is a [`CheckError`] naming the history line; running
//! out of time or memory is not an error but an `Unknown` verdict.

pub mod linearizability;
pub mod models;
pub mod verdict;

pub use verdict::{Anomaly, CheckError, Checker, Outcome, Stats, Verdict};
