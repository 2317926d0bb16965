//! Checkers: judge a recorded history and explain the verdict.
//!
//! Will hold the `Checker` trait, the three-valued `Verdict` (valid / invalid /
//! unknown), the linearizability checker with its models, and later set, counter,
//! bank, lock, watch and transactional checkers plus latency statistics.
