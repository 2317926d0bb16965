//! Results: the store of runs and what people read.
//!
//! Will hold the store layout (`store/<test>/<timestamp>/…`, a `latest` link),
//! `results.json`, JUnit XML, the self-contained HTML report with plots and the
//! linearization view, and `serve`.
