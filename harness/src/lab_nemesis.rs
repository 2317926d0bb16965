//! The nemesis crate's fault schedule as a [`NemesisHook`]: the schedule (computed
//! from the seed before the run, recorded in `test.json`) is played in real time on
//! a blocking thread during the main phase; every step goes into the history as a
//! `nemesis` invoke and completion; primaries (for faults aimed at leaders) come
//! from the system's own view of who leads.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nemesis::clock::ClockSupport;
use nemesis::inject::{Nemesis, completion_op, invoke_op};
use nemesis::runner::{RunHooks, run_schedule};
use nemesis::schedule::{Action, Fault, FaultKind, Schedule, ScheduleConfig, Target};
use nemesis::{Lab, PartitionShape};
use serde_json::Value as Json;

use crate::runtime::control::{Stats, Stop};
use crate::runtime::nemesis_hook::{BoxFuture, NemesisHook};
use crate::runtime::recorder::Recorder;
use crate::system::System;

pub struct LabNemesis<S: System + ?Sized> {
    nemesis: Arc<Nemesis>,
    schedule: Arc<Schedule>,
    system: Arc<S>,
}

impl<S: System + ?Sized> LabNemesis<S> {
    pub fn new(nemesis: Nemesis, schedule: Schedule, system: Arc<S>) -> Self {
        LabNemesis { nemesis: Arc::new(nemesis), schedule: Arc::new(schedule), system }
    }
}

/// What the progress line shows for a nemesis operation.
fn describe_step(op: &history::Op) -> Option<String> {
    match op.kind {
        history::OpKind::Invoke if op.f != "heal-all" => Some(op.f.clone()),
        history::OpKind::Invoke => None,
        _ => None,
    }
}

impl<S: System + ?Sized> NemesisHook for LabNemesis<S> {
    fn describe(&self) -> String {
        let kinds: Vec<String> = self
            .schedule
            .config
            .kinds
            .iter()
            .map(|k| {
                serde_json::to_value(k)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            })
            .collect();
        format!("{} every {} ms", kinds.join(","), self.schedule.config.interval_ms)
    }

    fn schedule(&self) -> Json {
        serde_json::to_value(&*self.schedule).unwrap_or(Json::Null)
    }

    fn run<'a>(
        &'a mut self,
        recorder: &'a Recorder,
        stats: &'a Arc<Stats>,
        stop: &'a Arc<Stop>,
    ) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let flag = Arc::new(AtomicBool::new(false));
            let (nemesis, schedule, system) =
                (self.nemesis.clone(), self.schedule.clone(), self.system.clone());
            let (recorder, stats2, flag2) = (recorder.clone(), stats.clone(), flag.clone());
            let handle = tokio::runtime::Handle::current();
            let job = tokio::task::spawn_blocking(move || {
                let now = recorder.clone();
                let primaries =
                    move || handle.block_on(system.leader()).into_iter().collect::<Vec<_>>();
                let mut record = |op: history::Op| {
                    if op.kind == history::OpKind::Invoke {
                        stats2.set_fault(describe_step(&op));
                    }
                    recorder.record(op);
                };
                run_schedule(
                    &nemesis,
                    &schedule,
                    RunHooks {
                        now_ns: &move || now.elapsed_ns(),
                        primaries: &primaries,
                        record: &mut record,
                        stop: &flag2,
                    },
                )
            });
            tokio::pin!(job);
            let joined = tokio::select! {
                r = &mut job => r,
                _ = stop.wait() => {
                    flag.store(true, Ordering::SeqCst);
                    job.await
                }
            };
            stats.set_fault(None);
            match joined {
                Ok(Ok(reports)) => reports
                    .iter()
                    .flat_map(|r| {
                        r.nodes.iter().filter_map(move |(n, o)| match o {
                            nemesis::inject::Outcome::Indeterminate(why) => {
                                Some(format!("{} on n{}: {why}", r.f, n + 1))
                            }
                            _ => None,
                        })
                    })
                    .collect(),
                Ok(Err(e)) => vec![format!("the fault schedule could not run: {e}")],
                Err(e) => vec![format!("the nemesis thread panicked: {e}")],
            }
        })
    }

    fn heal<'a>(
        &'a mut self,
        recorder: &'a Recorder,
        stats: &'a Arc<Stats>,
    ) -> BoxFuture<'a, Vec<String>> {
        Box::pin(async move {
            let nemesis = self.nemesis.clone();
            let recorder = recorder.clone();
            stats.set_fault(None);
            let job = tokio::task::spawn_blocking(move || {
                recorder.record(invoke_op(None, recorder.elapsed_ns()));
                let result = nemesis.step(&Action::HealAll, &[]);
                match &result {
                    Ok(report) => {
                        recorder.record(completion_op(report, recorder.elapsed_ns()));
                    }
                    Err(e) => {
                        let mut op = history::Op::new(
                            history::Process::Nemesis,
                            history::OpKind::Info,
                            "heal-all",
                            history::Value::Nil,
                        );
                        op.error = Some(history::Value::Str(e.to_string()));
                        recorder.record(op);
                    }
                }
                result.map(|_| ()).map_err(|e| e.to_string())
            });
            match job.await {
                Ok(Ok(())) => Vec::new(),
                Ok(Err(e)) => vec![format!("heal-all: {e}")],
                Err(e) => vec![format!("heal-all panicked: {e}")],
            }
        })
    }
}

/// Mixed into the run seed for the fault schedule, so the schedule's stream differs
/// from every worker's.
const SCHEDULE_SALT: u64 = 0x006e_656d_6573_6973; // "nemesis"

/// The fault families `--nemesis` names.
pub fn fault_kind(name: &str) -> Option<FaultKind> {
    Some(match name {
        "partition" => FaultKind::Partition,
        "kill" => FaultKind::Kill,
        // Drawn like `kill`, then every kill is aimed at all nodes (see `build`).
        "kill-all" => FaultKind::Kill,
        "pause" => FaultKind::Pause,
        _ => return None,
    })
}

/// Every fault family `--nemesis` takes, with a one-line summary.
pub fn families() -> Vec<(&'static str, &'static str)> {
    vec![
        ("partition", "network partitions by shape (isolate-one, halves, ring, bridge, primaries)"),
        ("kill", "SIGKILL of some nodes, restarted at the heal"),
        ("kill-all", "SIGKILL of every node at once (a whole-cluster crash)"),
        ("pause", "SIGSTOP of some nodes, SIGCONT at the heal"),
    ]
}

/// The fault families `--nemesis` asks for (`none` dropped, duplicates merged), or why
/// they cannot be played together.
pub fn requested(names: &[String]) -> Result<Vec<String>, String> {
    let known = ["partition", "kill", "kill-all", "pause"];
    let mut faults: Vec<String> = Vec::new();
    for n in names.iter().map(|n| n.trim()) {
        if n != "none" && fault_kind(n).is_none() {
            return Err(format!("unknown nemesis {n:?} (known: none, {})", known.join(", ")));
        }
        if n != "none" && !faults.iter().any(|f| f == n) {
            faults.push(n.to_string());
        }
    }
    if faults.iter().any(|f| f == "kill") && faults.iter().any(|f| f == "kill-all") {
        return Err("--nemesis kill and kill-all exclude each other: pick one".into());
    }
    Ok(faults)
}

/// Checks every `--partitions` shape is known.
pub fn check_shapes(shapes: &[String]) -> Result<(), String> {
    match shapes.iter().find(|s| partition_shape(s.trim()).is_none()) {
        None => Ok(()),
        Some(s) => Err(format!(
            "unknown partition shape {s:?} (known: isolate-one, random-halves, \
             majorities-ring, bridge, primaries)"
        )),
    }
}

/// The partition shapes `--partitions` names.
pub fn partition_shape(name: &str) -> Option<PartitionShape> {
    Some(match name {
        "isolate-one" => PartitionShape::IsolateOne { node: None },
        "random-halves" => PartitionShape::RandomHalves,
        "majorities-ring" => PartitionShape::MajoritiesRing,
        "bridge" => PartitionShape::Bridge,
        "primaries" => PartitionShape::Primaries,
        _ => return None,
    })
}

/// `kill-all`: a whole-cluster crash (every node SIGKILLed at once, as in a power
/// loss), which is what exposes acknowledged writes that were never made durable.
/// Rewriting the seeded schedule keeps it a pure function of the seed (replay).
fn aim_kills_at_all(schedule: &mut Schedule, nodes: usize) {
    for step in &mut schedule.steps {
        if let Action::Start { fault: Fault::Kill { target, nodes: chosen } } = &mut step.action {
            *target = Target::All;
            *chosen = Some((0..nodes).collect());
        }
    }
}

/// What a fault schedule is made from.
pub struct ScheduleRequest<'a> {
    pub seed: u64,
    pub nodes: usize,
    pub faults: &'a [String],
    pub shapes: &'a [String],
    pub interval: Duration,
    pub duration: Duration,
    /// Why clock faults cannot work on this system (Go programs ignore libfaketime).
    pub clock_unsupported: &'a str,
}

/// The seeded fault schedule for a request: a function of the seed and the options
/// alone (what `replay` compares).
pub fn schedule_for(request: &ScheduleRequest<'_>) -> Result<Schedule, String> {
    let mut config = ScheduleConfig::new(
        request.seed ^ SCHEDULE_SALT,
        request.nodes,
        request.interval.as_millis().max(1) as u64,
        request.duration.as_millis() as u64,
    );
    config.kinds = request
        .faults
        .iter()
        .map(|f| fault_kind(f).ok_or_else(|| format!("unknown fault {f:?}")))
        .collect::<Result<_, _>>()?;
    let defaults: Vec<String>;
    let shapes = if request.shapes.is_empty() {
        // Jepsen's usual mix; a majorities ring only exists from 4 nodes on.
        let mut d = vec!["isolate-one", "random-halves", "bridge"];
        if request.nodes >= 4 {
            d.push("majorities-ring");
        }
        defaults = d.into_iter().map(String::from).collect();
        &defaults
    } else {
        request.shapes
    };
    config.shapes = shapes
        .iter()
        .map(|s| partition_shape(s.trim()).ok_or_else(|| format!("unknown partition shape {s:?}")))
        .collect::<Result<_, _>>()?;
    let mut schedule = Schedule::generate(config).map_err(|e| e.to_string())?;
    if request.faults.iter().any(|f| f == "kill-all") {
        aim_kills_at_all(&mut schedule, request.nodes);
    }
    Ok(schedule)
}

/// The seeded schedule and the nemesis that plays it, checked before anything runs
/// (an unsupported fault refuses the run with a message saying why).
pub fn build<S: System + ?Sized>(
    lab: &Lab,
    request: &ScheduleRequest<'_>,
    system: Arc<S>,
) -> Result<LabNemesis<S>, String> {
    let schedule = schedule_for(request)?;
    let clock = ClockSupport::Unsupported { reason: request.clock_unsupported.to_string() };
    let nemesis = Nemesis::new(lab.clone(), clock, request.seed ^ SCHEDULE_SALT);
    nemesis.check_schedule(&schedule).map_err(|e| e.to_string())?;
    Ok(LabNemesis::new(nemesis, schedule, system))
}

#[cfg(test)]
mod tests {
    use nemesis::schedule::Fault;

    use super::*;

    fn request<'a>(seed: u64, faults: &'a [String], shapes: &'a [String]) -> ScheduleRequest<'a> {
        ScheduleRequest {
            seed,
            nodes: 3,
            faults,
            shapes,
            interval: Duration::from_secs(2),
            duration: Duration::from_secs(30),
            clock_unsupported: "test",
        }
    }

    fn faults_of(s: &Schedule) -> Vec<&Fault> {
        s.steps
            .iter()
            .filter_map(|st| match &st.action {
                Action::Start { fault } => Some(fault),
                Action::HealAll => None,
            })
            .collect()
    }

    #[test]
    fn the_schedule_is_a_function_of_the_seed_and_the_options() {
        let faults: Vec<String> = ["partition", "kill", "pause"].map(String::from).to_vec();
        let a = schedule_for(&request(1, &faults, &[])).unwrap();
        assert_eq!(a, schedule_for(&request(1, &faults, &[])).unwrap());
        assert_ne!(a, schedule_for(&request(2, &faults, &[])).unwrap());
        assert!(faults_of(&a).len() >= 5, "a fault every other interval over 30 s");
        // Three nodes have no majorities ring.
        assert!(faults_of(&a).iter().all(|f| !matches!(
            f,
            Fault::Partition { spec, .. } if spec.shape == PartitionShape::MajoritiesRing
        )));
    }

    #[test]
    fn only_the_requested_faults_and_shapes_are_drawn() {
        let faults = vec!["partition".to_string()];
        let shapes = vec!["primaries".to_string()];
        let s = schedule_for(&request(5, &faults, &shapes)).unwrap();
        assert!(faults_of(&s).iter().all(|f| matches!(
            f,
            Fault::Partition { spec, .. } if spec.shape == PartitionShape::Primaries
        )));
        assert_eq!(s.steps.last().map(|st| &st.action), Some(&Action::HealAll));
        let bad = vec!["flood".to_string()];
        assert!(schedule_for(&request(5, &bad, &[])).is_err());
    }
}
