//! Playing a [`Schedule`] through a [`Nemesis`] in real time, writing each step to the
//! history as a nemesis invoke and its completion. The schedule is fixed before
//! the run (so it can be printed and replayed); only primaries are read when a
//! step needs them. However the run ends (all steps done, or `stop` set by the
//! harness), it finishes with a heal-all.
//!
//! Who leads is asked of the system before every step, and written into the
//! step's completion (`extra` `primaries`, e.g. `["n2"]`, empty when no leader was
//! known): the drawn fault is in the invoke, what it really hit and where the
//! leader was in the completion, so a replay's differences are visible.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use history::{Op, Value};

use crate::error::{NemesisError, Result};
use crate::families::common::nodes_value;
use crate::inject::{FaultReport, Nemesis, Outcome};
use crate::schedule::{Action, Schedule};

/// The completion's `extra` key naming the leaders when the step was applied.
pub const PRIMARIES: &str = "primaries";

/// How long a fault waits for the system to name a leader before it is applied
/// without one (a primaries target then selects no node and is skipped).
pub const LEADER_WAIT: Duration = Duration::from_secs(2);

/// What the runner needs from the harness.
pub struct RunHooks<'a> {
    /// Nanoseconds since the run started (the history's clock).
    pub now_ns: &'a (dyn Fn() -> u64 + Sync),
    /// The nodes the system reports as leaders right now.
    pub primaries: &'a (dyn Fn() -> Vec<usize> + Sync),
    /// Receives every nemesis operation, in order.
    pub record: &'a mut dyn FnMut(Op),
    /// Set by the harness to end the schedule early (a heal-all still follows).
    pub stop: &'a AtomicBool,
}

fn sleep_until(deadline: Instant, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Runs every step of `schedule` at its time, measured from the call (a heal, when
/// its fault was applied late, half its scheduled gap after it). Checks the
/// whole schedule first (an unsupported fault refuses the run before anything is
/// applied). A step that fails is recorded with its error and every node
/// `indeterminate`, and the run goes on.
pub fn run_schedule(
    nemesis: &Nemesis,
    schedule: &Schedule,
    hooks: RunHooks<'_>,
) -> Result<Vec<FaultReport>> {
    nemesis.check_schedule(schedule)?;
    let RunHooks { now_ns, primaries, record, stop } = hooks;
    let start = Instant::now();
    let mut reports = Vec::new();
    let mut healed_last = false;
    let (mut prev_at, mut prev_done): (u64, Option<Instant>) = (0, None);
    for step in &schedule.steps {
        // A slow fault (a membership change, a restart) must not be healed at
        // once: a heal waits at least half its scheduled gap after the fault was
        // applied; every other step keeps to its time (catching up when late).
        let scheduled = start + Duration::from_millis(step.at_ms);
        let held = prev_done
            .filter(|_| step.action == Action::HealAll)
            .map(|done| done + Duration::from_millis((step.at_ms - prev_at) / 2));
        sleep_until(held.map_or(scheduled, |h| h.max(scheduled)), stop);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        reports.push(play(nemesis, &step.action, now_ns, primaries, record));
        healed_last = step.action == Action::HealAll;
        (prev_at, prev_done) = (step.at_ms, Some(Instant::now()));
    }
    if !healed_last {
        reports.push(play(nemesis, &Action::HealAll, now_ns, primaries, record));
    }
    Ok(reports)
}

fn play(
    nemesis: &Nemesis,
    action: &Action,
    now_ns: &(dyn Fn() -> u64 + Sync),
    primaries: &(dyn Fn() -> Vec<usize> + Sync),
    record: &mut dyn FnMut(Op),
) -> FaultReport {
    let fault = match action {
        Action::Start { fault } => Some(fault),
        Action::HealAll => None,
    };
    record(nemesis.invoke_op(fault, now_ns()));
    let mut leaders = primaries();
    // A fault may be aimed at the leader: right after a heal the cluster may still
    // be electing one, so a fault waits a little for it (a heal never waits).
    let asked = Instant::now();
    while fault.is_some() && leaders.is_empty() && asked.elapsed() < LEADER_WAIT {
        std::thread::sleep(Duration::from_millis(100));
        leaders = primaries();
    }
    let (report, error) = match nemesis.step(action, &leaders) {
        Ok(report) => (report, None),
        Err(e) => {
            // Refusals happen before anything is touched: certainly not applied.
            let refused = matches!(
                e,
                NemesisError::Invalid(_)
                    | NemesisError::Unsupported(_)
                    | NemesisError::UnknownNode(_)
            );
            let outcome = |why: String| {
                if refused { Outcome::Skipped(why) } else { Outcome::Indeterminate(why) }
            };
            let nodes = (0..nemesis.node_count())
                .map(|n| (n, outcome(e.to_string())))
                .collect::<BTreeMap<_, _>>();
            let f = nemesis.op_name(fault);
            (FaultReport { f, fault: fault.cloned(), nodes, verification: None }, Some(e))
        }
    };
    let mut op = nemesis.completion_op(&report, now_ns());
    op.extra.insert(PRIMARIES.into(), nodes_value(&leaders));
    if let Some(e) = error {
        op.error = Some(Value::Str(e.to_string()));
    }
    record(op);
    report
}
