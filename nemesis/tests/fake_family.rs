//! Adding a fault family takes one file and one registry line: this file is the
//! family (`flap`: cut one node off and freeze it, then let it go), and
//! `Registry::builtin().with(&FLAP)` is the line. It is drawn into a seeded
//! schedule, checked against what the run offers, played in real time through
//! fake network and process controls, healed, and written into the history,
//! without the schedule, the nemesis, heal-all or the runner knowing its name.
//! No root needed.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use history::{History, Op, OpKind, Value};
use nemesis::control::{Controls, Needs, Offer, Offers};
use nemesis::error::Result;
use nemesis::fakes::{FakeRun, ProcState};
use nemesis::families::common::{kv, node_name, undo_nodes};
use nemesis::families::{Applied, ApplyCtx, DrawRng, Family, Registry};
use nemesis::inject::{FaultReport, Nemesis, Outcome};
use nemesis::plan::{self, Request};
use nemesis::runner::{RunHooks, run_schedule};
use nemesis::schedule::{Action, Fault, FaultParams, Schedule, ScheduleConfig};
use nemesis::{Grudge, rand::RngExt};
use serde::{Deserialize, Serialize};

// ---- the family: what a new file under nemesis/src/families/ would hold ----

struct FlapFamily;

static FLAP: FlapFamily = FlapFamily;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Flap {
    node: usize,
    /// Whether the node is also frozen (the family's own option).
    freeze: bool,
}

impl FaultParams for Flap {
    const KIND: &'static str = "flap";
}

impl Family for FlapFamily {
    fn name(&self) -> &'static str {
        "flap"
    }

    fn summary(&self) -> &'static str {
        "cut one node off and freeze it; heal lets it go"
    }

    fn needs(&self) -> Needs {
        Needs { network: true, processes: true, ..Needs::NOTHING }
    }

    fn op_name(&self) -> &'static str {
        "start-flap"
    }

    fn draw(&self, config: &ScheduleConfig, rng: &mut DrawRng) -> Result<Fault> {
        // Options of a family added after the format was fixed live in `extra`.
        let freeze = config
            .extra
            .get("flap")
            .and_then(|o| o.get("freeze"))
            .and_then(|f| f.as_bool())
            .unwrap_or(true);
        Ok(Flap { node: rng.random_range(0..config.nodes), freeze }.fault())
    }

    fn value(&self, fault: &Fault) -> Result<Value> {
        let f = Flap::of(fault)?;
        Ok(Value::Map(vec![kv("node", Value::Str(node_name(f.node)))]))
    }

    fn apply(&self, fault: &Fault, ctx: &mut ApplyCtx<'_>) -> Result<Applied> {
        let f = Flap::of(fault)?;
        let others = (0..ctx.nodes).filter(|&o| o != f.node);
        let grudge = Grudge { blocked: others.flat_map(|o| [(o, f.node), (f.node, o)]).collect() };
        ctx.controls.network()?.set_partition(&grudge)?;
        let mut nodes = BTreeMap::from([(f.node, Outcome::Installed)]);
        if f.freeze {
            let outcome = match ctx.controls.processes()?.pause(f.node) {
                Ok(_) => Outcome::Installed,
                Err(e) => Outcome::Indeterminate(e.to_string()),
            };
            nodes.insert(f.node, outcome);
        }
        Ok(Applied { fault: fault.clone(), nodes, verification: None })
    }

    fn heal(&self, applied: &[&FaultReport], controls: &Controls) -> BTreeMap<usize, Vec<String>> {
        // The partition goes with the network-wide heal; the freeze is ours.
        undo_nodes(applied, controls, "resume", |c, node| c.processes()?.resume(node))
    }
}

// ---- the tests ----

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn registry() -> Registry {
    Registry::builtin().with(&FLAP)
}

#[test]
fn a_new_family_is_drawn_played_healed_and_recorded() {
    let registry = registry();
    assert!(nemesis::families::by_name("flap").is_err(), "the built-in list is unchanged");
    let wanted = names(&["flap", "kill", "partition"]);
    let request = Request {
        seed: 3,
        nodes: 5,
        families: &wanted,
        shapes: &[],
        interval_ms: Some(5),
        duration_ms: 400,
        tuning: Default::default(),
    };
    let schedule = plan::schedule(&registry, &request).expect("schedule");
    assert_eq!(schedule, plan::schedule(&registry, &request).expect("again"), "deterministic");
    assert_eq!(schedule.config.kinds, ["flap", "kill", "partition"]);
    let flaps = schedule
        .steps
        .iter()
        .filter(|s| matches!(&s.action, Action::Start { fault } if fault.kind == "flap"))
        .count();
    assert!(flaps >= 3, "flap drawn {flaps} times in 40 faults");
    // The schedule is data: it prints and parses back without knowing the family.
    let back: Schedule = serde_json::from_str(&schedule.to_json()).expect("parse");
    assert_eq!(back, schedule);

    let run = FakeRun::new(5);
    let nemesis = Nemesis::with_controls(run.controls(), registry, 3);
    nemesis.check_schedule(&schedule).expect("the fakes offer everything flap needs");
    let t0 = Instant::now();
    let now_ns = move || t0.elapsed().as_nanos() as u64;
    let mut ops: Vec<Op> = Vec::new();
    let mut record = |op: Op| ops.push(op);
    let stop = AtomicBool::new(false);
    let reports = run_schedule(
        &nemesis,
        &schedule,
        RunHooks { now_ns: &now_ns, primaries: &|| vec![0], record: &mut record, stop: &stop },
    )
    .expect("run");
    assert_eq!(reports.len(), schedule.steps.len());
    assert!(run.is_healed(), "after the run: {:?}", run.processes.states());

    let flap_ops: Vec<&Op> = ops.iter().filter(|o| o.f == "start-flap").collect();
    assert_eq!(flap_ops.len(), 2 * flaps, "an invoke and a completion per flap");
    for pair in flap_ops.chunks(2) {
        assert_eq!(pair[0].kind, OpKind::Invoke);
        let node = pair[0].value.get(&Value::kw("node")).expect("node").clone();
        assert_eq!(pair[1].kind, OpKind::Info);
        assert_eq!(pair[1].value.get(&node), Some(&Value::kw("installed")), "{:?}", pair[1]);
    }
    let calls = run.processes.calls();
    let pauses = calls.iter().filter(|(verb, _)| verb == "pause").count();
    let resumes = calls.iter().filter(|(verb, _)| verb == "resume").count();
    assert_eq!((pauses, resumes), (flaps, flaps), "{calls:?}");
    assert!(run.network.state().calls.contains(&"set_partition"));
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    let lines = (1..=ops.len()).collect();
    History { ops, lines, source: None }.lint().expect("the nemesis history lints clean");
}

#[test]
fn a_new_family_is_refused_where_the_run_lacks_what_it_needs() {
    let registry = registry();
    let offers = Offers {
        network: Offer::Yes,
        processes: Offer::No("the memory system runs inside the harness".into()),
        clock: Offer::Yes,
        membership: Offer::No("no hook".into()),
    };
    let wanted = plan::families(&registry, &names(&["partition", "flap"])).expect("known");
    let refusal = plan::check(&registry, &wanted, &offers).expect_err("no processes");
    assert_eq!(refusal.family, "flap");
    assert!(refusal.supported.contains(&"partition") && !refusal.supported.contains(&"flap"));
    assert!(refusal.to_string().contains("process control"), "{refusal}");

    // And the nemesis itself refuses it without process control.
    let run = FakeRun::new(3);
    let controls = Controls::none(3).with_network(run.network.clone());
    let nemesis = Nemesis::with_controls(controls, registry.clone(), 0);
    let fault = Flap { node: 1, freeze: true }.fault();
    assert!(nemesis.apply(&fault, &[]).is_err());
    assert_eq!(run.network.state().calls, Vec::<&str>::new(), "nothing was touched");
    // A nemesis whose registry lacks the family cannot apply it either.
    let builtin = Nemesis::with_controls(run.controls(), Registry::builtin(), 0);
    let err = builtin.apply(&fault, &[]).expect_err("unknown kind");
    assert!(err.to_string().contains("\"flap\""), "{err}");
    assert_eq!(run.processes.states(), vec![ProcState::Running; 3]);
}

#[test]
fn its_options_come_from_the_schedule_config() {
    let mut config = ScheduleConfig::new(1, 3, 10, 100);
    config.extra.insert("flap".into(), serde_json::json!({"freeze": false}));
    let fault = nemesis::families::draw_one(&FLAP, &config).expect("draw");
    assert!(!Flap::of(&fault).expect("params").freeze);
    let json = serde_json::to_string(&Schedule::draw(&[&FLAP], config).expect("s")).expect("j");
    assert!(json.contains(r#""extra":{"flap":{"freeze":false}}"#), "{json}");
}
