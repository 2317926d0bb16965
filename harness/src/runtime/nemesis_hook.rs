//! The seam through which a nemesis joins a run: it is given the recorder (its
//! faults go into the history as `nemesis` operations), runs its fault schedule
//! during the main phase until told to stop, and heals everything afterwards.
//!
//! The schedule must be a function of the seed alone (like the workers' operation
//! streams), so that `faultline replay` can compare it with the original's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value as Json;

use crate::runtime::control::{Stats, Stop};
use crate::runtime::recorder::Recorder;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A nemesis as the runtime sees it.
pub trait NemesisHook: Send {
    /// A short description for logs (`kill,pause every 5 s`).
    fn describe(&self) -> String;

    /// The fault schedule this run follows, as recorded in `test.json` (a JSON array
    /// of steps; timings included, but replay compares the steps, not when they ran).
    fn schedule(&self) -> Json;

    /// Runs the schedule until `stop` is set; returns every error it met (a fault
    /// that could not be applied is reported, not fatal).
    fn run<'a>(
        &'a mut self,
        recorder: &'a Recorder,
        stats: &'a Arc<Stats>,
        stop: &'a Arc<Stop>,
    ) -> BoxFuture<'a, Vec<String>>;

    /// Undoes every fault still active (heal partitions, resume paused nodes, restart
    /// killed ones); returns the errors it met.
    fn heal<'a>(
        &'a mut self,
        recorder: &'a Recorder,
        stats: &'a Arc<Stats>,
    ) -> BoxFuture<'a, Vec<String>>;
}

/// No faults.
pub struct NoNemesis;

impl NemesisHook for NoNemesis {
    fn describe(&self) -> String {
        "none".into()
    }

    fn schedule(&self) -> Json {
        Json::Array(Vec::new())
    }

    fn run<'a>(
        &'a mut self,
        _: &'a Recorder,
        _: &'a Arc<Stats>,
        _: &'a Arc<Stop>,
    ) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async { Vec::new() })
    }

    fn heal<'a>(&'a mut self, _: &'a Recorder, _: &'a Arc<Stats>) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async { Vec::new() })
    }
}
