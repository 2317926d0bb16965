//! The generator runtime: runs a workload against a system with a nemesis, in
//! Jepsen's phases, recording every operation as it happens.
//!
//! Phases: **setup** (start the cluster, wait until healthy, open one client per
//! worker; worker `w` talks to node `w mod nodes`), **main** (the workers run their
//! operation streams at the target rate while the nemesis runs its schedule, until
//! the time limit or every worker's op limit), **heal** (the nemesis undoes every
//! fault), **recovery** (a quiet period so the cluster settles), **final** (each
//! worker's final operations, e.g. reads). The history is flushed at every change.
//!
//! Watchdogs: the main phase waits at most one op timeout plus a slack for workers to
//! notice the stop; stuck workers are aborted (their open operations stay without a
//! completion, which checkers read as `info`). Every other phase has its own bound.
//! Whatever happens, [`execute`] returns a [`RunReport`] and the caller tears the
//! system down and analyses what was recorded.
//!
//! # Layout
//! - [`recorder`]: indices, times and `history.jsonl`.
//! - [`worker`]: the per-worker loop and the ok / fail / info rules.
//! - [`control`]: the stop signal and live counters.
//! - [`nemesis_hook`]: the seam for fault schedules.
//! - [`progress`]: the progress line and the harness log.

pub mod control;
pub mod nemesis_hook;
pub mod progress;
pub mod recorder;
pub mod worker;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;
use workloads::Workload;

use crate::runtime::control::{Stats, Stop};
use crate::runtime::nemesis_hook::NemesisHook;
use crate::runtime::progress::RunLog;
use crate::runtime::recorder::Recorder;
use crate::runtime::worker::{WorkerCtx, WorkerState};
use crate::system::System;

/// How a run goes.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The system's nodes: worker `w` talks to node `w mod nodes`.
    pub nodes: usize,
    pub concurrency: usize,
    /// Target operations per second over all workers (`None`: as fast as possible).
    pub rate: Option<f64>,
    pub time_limit: Duration,
    /// Main-phase operations per worker (`None`: until the time limit).
    pub op_limit: Option<u64>,
    pub op_timeout: Duration,
    pub setup_timeout: Duration,
    pub heal_timeout: Duration,
    /// The quiet period between heal and the final operations.
    pub recovery: Duration,
    pub final_ops: bool,
    /// Extra time the watchdog allows beyond an op timeout.
    pub watchdog_slack: Duration,
    pub seed: u64,
}

impl RunOptions {
    /// An upper bound on the whole of [`execute`]: the outer watchdog.
    pub fn deadline(&self) -> Duration {
        self.setup_timeout
            + self.time_limit
            + self.op_timeout * 2
            + self.heal_timeout
            + self.recovery
            + self.op_timeout * 4
            + self.watchdog_slack * 4
    }
}

/// When a phase began (nanoseconds on the history's clock).
#[derive(Debug, Clone, Serialize)]
pub struct PhaseRecord {
    pub phase: String,
    pub start_ns: u64,
}

/// What happened during a run, apart from the history itself.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub phases: Vec<PhaseRecord>,
    pub setup_error: Option<String>,
    /// Why a watchdog ended part of the run early.
    pub watchdog: Vec<String>,
    pub nemesis_errors: Vec<String>,
    pub worker_panics: Vec<String>,
}

/// A report shared with the caller, so it survives the outer watchdog dropping
/// [`execute`] half-way.
pub type SharedReport = Arc<Mutex<RunReport>>;

fn update(report: &SharedReport, f: impl FnOnce(&mut RunReport)) {
    f(&mut report.lock().unwrap_or_else(|p| p.into_inner()));
}

struct Phases<'a> {
    recorder: &'a Recorder,
    stats: &'a Stats,
    log: &'a RunLog,
    report: &'a SharedReport,
}

impl Phases<'_> {
    fn enter(&self, phase: &str) {
        self.recorder.flush();
        self.stats.set_phase(phase);
        let start_ns = self.recorder.elapsed_ns();
        update(self.report, |r| r.phases.push(PhaseRecord { phase: phase.into(), start_ns }));
        self.log.line(&format!("phase {phase}"));
    }
}

/// Runs the phases. Never tears the system down (the caller does, always).
#[allow(clippy::too_many_arguments)]
pub async fn execute(
    system: Arc<dyn System>,
    workload: Arc<dyn Workload>,
    nemesis: &mut dyn NemesisHook,
    recorder: Recorder,
    stats: Arc<Stats>,
    options: &RunOptions,
    log: &RunLog,
    report: SharedReport,
) {
    let phases = Phases { recorder: &recorder, stats: &stats, log, report: &report };

    phases.enter("setup");
    match tokio::time::timeout(options.setup_timeout, system.setup()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return update(&report, |r| r.setup_error = Some(e.to_string())),
        Err(_) => {
            let msg = format!("setup did not finish within {:?}", options.setup_timeout);
            return update(&report, |r| r.setup_error = Some(msg));
        }
    }
    let nodes = options.nodes.max(1);
    let mut states = Vec::with_capacity(options.concurrency);
    for w in 0..options.concurrency {
        match system.client(w % nodes) {
            Ok(c) => states.push(WorkerState::new(w, c, workload.stream(w), options.seed)),
            Err(e) => {
                let msg = format!("cannot open a client for worker {w}: {e}");
                return update(&report, |r| r.setup_error = Some(msg));
            }
        }
    }
    let stop = Arc::new(Stop::default());
    let ctx = Arc::new(WorkerCtx {
        workload,
        recorder: recorder.clone(),
        stats: stats.clone(),
        stop: stop.clone(),
        concurrency: options.concurrency,
        op_timeout: options.op_timeout,
        interval: options
            .rate
            .filter(|r| *r > 0.0)
            .map(|r| Duration::from_secs_f64(options.concurrency as f64 / r)),
        op_limit: options.op_limit,
    });

    phases.enter("main");
    let main = run_main(states, &ctx, options, &report);
    let (nemesis_errors, states) = tokio::join!(
        async {
            let errors = nemesis.run(&recorder, &stats, &stop).await;
            // The nemesis may also end early (a finite schedule): that does not stop
            // the workers.
            errors
        },
        main
    );
    update(&report, |r| r.nemesis_errors.extend(nemesis_errors));

    phases.enter("heal");
    match tokio::time::timeout(options.heal_timeout, nemesis.heal(&recorder, &stats)).await {
        Ok(errors) => update(&report, |r| r.nemesis_errors.extend(errors)),
        Err(_) => {
            let msg = format!("heal did not finish within {:?}", options.heal_timeout);
            update(&report, |r| r.watchdog.push(msg));
        }
    }
    stats.set_fault(None);

    if !options.recovery.is_zero() {
        phases.enter("recovery");
        tokio::time::sleep(options.recovery).await;
    }

    if options.final_ops {
        phases.enter("final");
        let mut set = JoinSet::new();
        for state in states {
            set.spawn(state.final_ops(ctx.clone()));
        }
        let bound = options.op_timeout * 2 + options.watchdog_slack;
        if tokio::time::timeout(bound, async { while set.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            set.abort_all();
            let msg = format!("final operations did not finish within {bound:?}");
            update(&report, |r| r.watchdog.push(msg));
        }
    }
    phases.enter("done");
}

/// The main phase's workers, with the stop timer and the watchdog.
async fn run_main(
    states: Vec<WorkerState>,
    ctx: &Arc<WorkerCtx>,
    options: &RunOptions,
    report: &SharedReport,
) -> Vec<WorkerState> {
    let mut set = JoinSet::new();
    for state in states {
        set.spawn(state.main_loop(ctx.clone()));
    }
    let mut finished = Vec::new();
    let stop_at = Instant::now() + options.time_limit;
    // Set when the stop is given: by then every worker must have noticed.
    let mut give_up_at: Option<Instant> = None;
    loop {
        let watchdog = async {
            match give_up_at {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            joined = set.join_next() => match joined {
                Some(Ok(state)) => finished.push(state),
                Some(Err(e)) if e.is_panic() => {
                    let msg = format!("a worker panicked: {e}");
                    update(report, |r| r.worker_panics.push(msg));
                }
                Some(Err(_)) => {} // aborted by the watchdog below
                None => break,
            },
            _ = tokio::time::sleep_until(stop_at), if give_up_at.is_none() => {
                ctx.stop.stop();
                give_up_at = Some(Instant::now() + options.op_timeout + options.watchdog_slack);
            }
            _ = watchdog => {
                let msg = format!(
                    "{} worker(s) did not stop within the op timeout plus {:?}; aborted them \
                     (their open operations count as info)",
                    set.len(),
                    options.watchdog_slack
                );
                update(report, |r| r.watchdog.push(msg));
                set.abort_all();
                give_up_at = Some(Instant::now() + Duration::from_secs(3600));
            }
        }
    }
    ctx.stop.stop();
    finished.sort_by_key(|s| s.worker);
    finished
}
