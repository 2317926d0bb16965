//! The nemesis crate's fault schedule as a [`NemesisHook`]: the schedule (computed
//! from the seed before the run, recorded in `test.json`) is played in real time on
//! a blocking thread during the main phase; every step goes into the history as a
//! `nemesis` invoke and completion; primaries (for faults aimed at leaders) come
//! from the system's own view of who leads.
//!
//! Thin by design: fault families are looked up in a [`Registry`]
//! (`nemesis::families`), their needs are checked against what the run offers
//! ([`Offers`]), and the nemesis acts through the run's [`Controls`] (a lab's
//! network and processes, or a host's processes alone). No family is named here.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nemesis::PartitionShape;
use nemesis::clock::ClockMethod;
use nemesis::control::{Controls, Offer, Offers};
use nemesis::families::{Family, Registry};
use nemesis::inject::{HEAL_ALL, Nemesis, Outcome};
use nemesis::plan::{self, Request, Tuning};
use nemesis::runner::{RunHooks, run_schedule};
use nemesis::schedule::{Action, Schedule};
use serde_json::Value as Json;

use crate::runtime::control::{Stats, Stop};
use crate::runtime::nemesis_hook::{BoxFuture, NemesisHook};
use crate::runtime::recorder::Recorder;
use crate::system::{MembershipMethod, System};

pub struct LabNemesis<S: System + ?Sized> {
    nemesis: Arc<Nemesis>,
    schedule: Arc<Schedule>,
    system: Arc<S>,
    /// The requested families' names, for logs.
    families: Vec<&'static str>,
}

/// What the progress line shows for a nemesis operation.
fn describe_step(op: &history::Op) -> Option<String> {
    (op.kind == history::OpKind::Invoke && op.f != HEAL_ALL).then(|| op.f.clone())
}

impl<S: System + ?Sized> NemesisHook for LabNemesis<S> {
    fn describe(&self) -> String {
        format!("{} every {} ms", self.families.join(","), self.schedule.config.interval_ms)
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
            // A run ended early (Ctrl-C, the watchdog) drops this future mid-await: the
            // schedule must stop then too, or its thread plays on for the whole time
            // limit and the runtime's shutdown waits for it.
            let _stop_when_dropped = StopWhenDropped(flag.clone());
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
                            Outcome::Indeterminate(why) => {
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
                recorder.record(nemesis.invoke_op(None, recorder.elapsed_ns()));
                let result = nemesis.step(&Action::HealAll, &[]);
                match &result {
                    Ok(report) => {
                        recorder.record(nemesis.completion_op(report, recorder.elapsed_ns()));
                    }
                    Err(e) => {
                        let mut op = history::Op::new(
                            history::Process::Nemesis,
                            history::OpKind::Info,
                            HEAL_ALL,
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

/// What a fault schedule is made from: `faultline test`'s options.
#[derive(Debug, Clone)]
pub struct FaultRequest<'a> {
    /// The run seed (salted here).
    pub seed: u64,
    pub nodes: usize,
    /// `--nemesis` words (`none` stands for nothing).
    pub faults: &'a [String],
    /// `--partitions` shape names (empty: the partition family's defaults).
    pub shapes: &'a [String],
    /// `None`: adaptive (5 s, or shorter so one round of every family fits).
    pub interval: Option<Duration>,
    pub duration: Duration,
    /// Targets, loss, delay, skew, leader-aware (`FaultOptions`).
    pub tuning: Tuning,
}

impl FaultRequest<'_> {
    fn plan(&self) -> Request<'_> {
        Request {
            seed: self.seed ^ SCHEDULE_SALT,
            nodes: self.nodes,
            families: self.faults,
            shapes: self.shapes,
            interval_ms: self.interval.map(|i| i.as_millis().max(1) as u64),
            duration_ms: self.duration.as_millis() as u64,
            tuning: self.tuning.clone(),
        }
    }
}

/// `names` with `all` replaced by every family the run offers what it needs.
pub fn expand_all(registry: &Registry, names: &[String], offers: &Offers) -> Vec<String> {
    plan::expand_all(registry, names, offers)
}

/// The families `--nemesis` names, each once (`none` is none); refuses unknown
/// names (listing the known ones) and exclusive pairs (`kill` with `kill-all`).
pub fn families(registry: &Registry, names: &[String]) -> Result<Vec<&'static dyn Family>, String> {
    plan::families(registry, names)
}

/// Refuses a `--partitions` name that is no drawable shape (listing the shapes).
pub fn check_shapes(names: &[String]) -> Result<(), String> {
    nemesis::families::partition::Shapes::from_names(names, usize::MAX, false).map(|_| ())
}

/// The shape names `--partitions` takes.
pub fn shape_names() -> Vec<&'static str> {
    PartitionShape::names()
        .into_iter()
        .filter(|n| PartitionShape::by_name(n).is_ok_and(|s| s.is_drawable()))
        .collect()
}

/// What a run offers the nemesis: a lab gives network control; nodes that are
/// processes we run (in a lab, or on a host implementing
/// [`nemesis::control::Processes`]) give process control; the clock follows the
/// system's method (libfaketime only in a lab); membership, the system's (its
/// nodes must be processes we can restart with empty data). `system` names it in
/// the reasons.
pub fn offers(
    system: &str,
    in_lab: bool,
    has_processes: bool,
    clock: ClockMethod,
    membership: MembershipMethod,
) -> Offers {
    Offers {
        membership: match membership {
            MembershipMethod::Supported if has_processes => Offer::Yes,
            MembershipMethod::Supported => {
                Offer::No(format!("the {system} system has no node processes to restart"))
            }
            MembershipMethod::Unsupported(why) => Offer::No(format!("{system}: {why}")),
        },
        network: if in_lab {
            Offer::Yes
        } else {
            Offer::No(format!(
                "{system} nodes outside a lab share one network (use --host lab or auto)"
            ))
        },
        processes: if has_processes {
            Offer::Yes
        } else {
            Offer::No(format!("the {system} system has no node processes to signal"))
        },
        clock: match clock.offer(in_lab) {
            Offer::No(why) => Offer::No(format!("{system}: {why}")),
            yes => yes,
        },
    }
}

/// Refuses, before the run, a family whose needs the run does not offer: the
/// message names the family, what it lacks and why, and the faults the run
/// supports (the caller exits 254).
pub fn check(
    registry: &Registry,
    families: &[&'static dyn Family],
    offers: &Offers,
) -> Result<(), String> {
    plan::check(registry, families, offers).map_err(|r| r.to_string())
}

/// The seeded fault schedule for a request: a function of the seed and the options
/// alone (what `replay` compares).
pub fn schedule(registry: &Registry, request: &FaultRequest<'_>) -> Result<Schedule, String> {
    plan::schedule(registry, &request.plan())
}

/// The seeded schedule and the nemesis that plays it through `controls`, checked
/// before anything runs: a family the controls cannot serve refuses the run
/// with the reason ([`check`]).
pub fn build_nemesis<S: System + ?Sized>(
    registry: &Registry,
    controls: Controls,
    request: &FaultRequest<'_>,
    system: Arc<S>,
) -> Result<LabNemesis<S>, String> {
    let wanted = families(registry, request.faults)?;
    check(registry, &wanted, &controls.offers())?;
    let schedule = schedule(registry, request)?;
    let nemesis = Nemesis::with_controls(controls, registry.clone(), request.seed ^ SCHEDULE_SALT);
    nemesis.check_schedule(&schedule).map_err(|e| e.to_string())?;
    Ok(LabNemesis {
        nemesis: Arc::new(nemesis),
        schedule: Arc::new(schedule),
        system,
        families: wanted.iter().map(|f| f.name()).collect(),
    })
}

/// Sets the schedule's stop flag when dropped.
struct StopWhenDropped(Arc<AtomicBool>);

impl Drop for StopWhenDropped {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use nemesis::families::kill::Kill;
    use nemesis::families::partition::Partition;
    use nemesis::schedule::{Fault, FaultParams, Target};

    use super::*;

    fn request<'a>(seed: u64, faults: &'a [String], shapes: &'a [String]) -> FaultRequest<'a> {
        FaultRequest {
            seed,
            nodes: 3,
            faults,
            shapes,
            interval: Some(Duration::from_secs(2)),
            duration: Duration::from_secs(30),
            tuning: Tuning::default(),
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

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    const NO: MembershipMethod = MembershipMethod::Unsupported("no hook");

    #[test]
    fn the_schedule_is_a_function_of_the_seed_and_the_options() {
        let r = Registry::builtin();
        let faults = names(&["partition", "kill", "pause"]);
        let a = schedule(&r, &request(1, &faults, &[])).unwrap();
        assert_eq!(a, schedule(&r, &request(1, &faults, &[])).unwrap());
        assert_ne!(a, schedule(&r, &request(2, &faults, &[])).unwrap());
        assert!(faults_of(&a).len() >= 5, "a fault every other interval over 30 s");
        // Three nodes have no majorities ring.
        assert!(faults_of(&a).iter().all(|f| {
            Partition::of(f).map_or(true, |p| p.spec.shape != PartitionShape::MajoritiesRing)
        }));
    }

    #[test]
    fn only_the_requested_faults_and_shapes_are_drawn() {
        let r = Registry::builtin();
        let faults = names(&["partition"]);
        let shapes = names(&["primaries"]);
        let s = schedule(&r, &request(5, &faults, &shapes)).unwrap();
        assert!(
            faults_of(&s)
                .iter()
                .all(|f| Partition::of(f).is_ok_and(|p| p.spec.shape == PartitionShape::Primaries))
        );
        assert_eq!(s.steps.last().map(|st| &st.action), Some(&Action::HealAll));
        let bad = names(&["flood"]);
        let err = schedule(&r, &request(5, &bad, &[])).unwrap_err();
        assert!(err.contains("flood") && err.contains("kill-all"), "{err}");
        assert!(check_shapes(&names(&["bridge", "ring"])).is_ok());
        let err = check_shapes(&names(&["grudge"])).unwrap_err();
        assert!(err.contains("explicit links"), "{err}");
        assert!(!shape_names().contains(&"grudge") && shape_names().contains(&"primaries"));
    }

    #[test]
    fn kill_all_aims_every_kill_at_every_node() {
        let faults = names(&["kill-all", "pause"]);
        let s = schedule(&Registry::builtin(), &request(3, &faults, &[])).unwrap();
        let kills: Vec<Kill> = faults_of(&s).iter().filter_map(|f| Kill::of(f).ok()).collect();
        assert!(!kills.is_empty());
        assert!(kills.iter().all(|k| k.target == Target::All && k.nodes == Some(vec![0, 1, 2])));
        assert_eq!(s.config.kinds, ["kill", "pause"], "recorded as before: kill faults");
    }

    #[test]
    fn every_family_is_drawable_from_the_harness() {
        let r = Registry::builtin();
        for family in r.families() {
            let faults = vec![family.name().to_string()];
            let s = schedule(&r, &request(7, &faults, &[]))
                .unwrap_or_else(|e| panic!("{}: {e}", family.name()));
            assert!(faults_of(&s).iter().all(|f| f.kind == family.kind()), "{}", family.name());
        }
    }

    #[test]
    fn refusals_name_the_family_the_lack_and_what_is_supported() {
        let r = Registry::builtin();
        let loopback =
            offers("etcd", false, true, ClockMethod::Unsupported("Go ignores libfaketime"), NO);
        let wanted = families(&r, &names(&["kill", "partition"])).unwrap();
        let err = check(&r, &wanted, &loopback).unwrap_err();
        assert!(err.contains("the partition fault needs network control"), "{err}");
        assert!(err.contains("etcd nodes outside a lab share one network"), "{err}");
        assert!(err.contains("supports: pause, kill, kill-all, stop"), "{err}");
        let memory = offers("memory", false, false, ClockMethod::Unsupported("in-process"), NO);
        let err = check(&r, &wanted[..1], &memory).unwrap_err();
        assert!(err.contains("no node processes") && err.contains("supports: none"), "{err}");
        let clock = families(&r, &names(&["clock"])).unwrap();
        let lab =
            offers("etcd", true, true, ClockMethod::Unsupported("Go ignores libfaketime"), NO);
        let err = check(&r, &clock, &lab).unwrap_err();
        assert!(err.contains("etcd: Go ignores libfaketime"), "{err}");
        assert!(
            check(&r, &clock, &offers("builtin", false, true, ClockMethod::Injected, NO)).is_ok()
        );
        let faketime = offers("x", false, true, ClockMethod::Libfaketime, NO);
        assert!(check(&r, &clock, &faketime).is_err(), "libfaketime needs the lab");
    }

    /// Old runs replay only if the same options still give the same schedule:
    /// these were written by the harness before families were types.
    #[test]
    fn schedules_are_byte_identical_to_the_recorded_ones() {
        let golden = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../nemesis/tests/data/golden-harness-schedules.jsonl"
        ));
        let mut checked = 0;
        for line in golden.lines() {
            let case: Json = serde_json::from_str(line).unwrap();
            let list = |k: &str| -> Vec<String> {
                case[k].as_array().unwrap().iter().map(|v| v.as_str().unwrap().into()).collect()
            };
            let (faults, shapes) = (list("faults"), list("shapes"));
            let request = FaultRequest {
                seed: case["seed"].as_u64().unwrap(),
                nodes: case["nodes"].as_u64().unwrap() as usize,
                faults: &faults,
                shapes: &shapes,
                interval: Some(Duration::from_secs_f64(2.5)),
                duration: Duration::from_secs(40),
                tuning: Tuning::default(),
            };
            let want = serde_json::to_string(&case["schedule"]).unwrap();
            let via_new = schedule(&Registry::builtin(), &request).unwrap();
            assert_eq!(serde_json::to_string(&via_new).unwrap(), want, "{line}");
            assert_eq!(serde_json::to_value(&via_new).unwrap(), case["schedule"]);
            checked += 1;
        }
        assert_eq!(checked, 72);
    }
}
