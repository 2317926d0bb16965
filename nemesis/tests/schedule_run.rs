//! A seeded schedule played against a real 5-node lab: every step becomes a
//! nemesis invoke/completion pair in a history that passes the linter, every
//! partition is verified, and the run ends with everything healed; then the same
//! with every built-in fault family at once. Needs root, iproute2, nftables,
//! iptables (delays) and libfaketime (clocks).

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use history::{History, Op, OpKind, Value};
use nemesis::clock::ClockSupport;
use nemesis::families::Registry;
use nemesis::inject::Nemesis;
use nemesis::inject::Outcome;
use nemesis::plan::{Request, schedule};
use nemesis::runner::{RunHooks, run_schedule};
use nemesis::schedule::{Action, Schedule, ScheduleConfig};

#[test]
fn a_schedule_becomes_a_valid_nemesis_history_and_ends_healed() {
    let e = common::echo_lab(5);
    let mut config = ScheduleConfig::new(11, 5, 150, 1800);
    config.kinds = ["partition", "kill", "pause", "loss"].map(String::from).to_vec();
    let schedule = Schedule::generate(config).expect("schedule");
    assert_eq!(Schedule::generate(schedule.config.clone()).expect("again"), schedule);
    let nemesis =
        Nemesis::new(e.lab.clone(), ClockSupport::Unsupported { reason: "test".into() }, 11);

    let t0 = Instant::now();
    let now_ns = move || t0.elapsed().as_nanos() as u64;
    let primaries = || vec![0];
    let mut ops: Vec<Op> = Vec::new();
    let mut record = |op: Op| ops.push(op);
    let stop = AtomicBool::new(false);
    let reports = run_schedule(
        &nemesis,
        &schedule,
        RunHooks { now_ns: &now_ns, primaries: &primaries, record: &mut record, stop: &stop },
    )
    .expect("run");

    assert_eq!(reports.len(), schedule.steps.len());
    assert_eq!(ops.len(), 2 * schedule.steps.len());
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    for pair in ops.chunks(2) {
        assert_eq!(pair[0].kind, OpKind::Invoke);
        assert_eq!(pair[1].kind, OpKind::Info);
        assert_eq!(pair[0].f, pair[1].f);
        assert!(pair[1].error.is_none(), "step failed: {:?}", pair[1]);
        if pair[0].f == "start-partition" || pair[0].f == "heal-all" {
            let verified = pair[1].extra.get("verified").expect("partition verified");
            assert_eq!(verified.get(&Value::kw("ok")), Some(&Value::Bool(true)), "{:?}", pair[1]);
        }
    }
    assert!(
        ops.iter().any(|o| o.f != "heal-all"),
        "the schedule applied no fault at all: {:?}",
        schedule.steps.iter().map(|s| &s.action).collect::<Vec<_>>()
    );
    assert!(matches!(schedule.steps.last().map(|s| &s.action), Some(Action::HealAll)));
    let lines = (1..=ops.len()).collect();
    History { ops, lines, source: None }.lint().expect("the nemesis history lints clean");

    // Healed: every echo answers and every link carries traffic.
    for n in 0..5 {
        common::wait_answering(&e.lab, n);
    }
    assert_eq!(
        common::tcp_matrix_expecting(&e.lab, &vec![vec![true; 5]; 5]),
        vec![vec![true; 5]; 5]
    );
    common::destroy_and_check(e);
}

fn skew_of(lab: &nemesis::Lab, node: usize) -> f64 {
    let reply = common::ask_from_switch(lab, node, "time").expect("time reply");
    let theirs: f64 = reply.parse().expect("seconds");
    let ours = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    theirs - ours
}

#[test]
fn every_family_plays_in_a_real_lab_and_heals() {
    // Echo servers under libfaketime, so clock faults really move their clocks.
    let e = common::echo_lab_with(5, |lab, node| lab.faketime_env(node).expect("libfaketime"));
    let names: Vec<String> =
        ["partition", "loss", "delay", "pause", "kill", "stop", "clock"].map(String::from).to_vec();
    // Seed 1 draws all seven families within 15 faults (asserted below).
    let request = Request {
        seed: 1,
        nodes: 5,
        families: &names,
        shapes: &[],
        interval_ms: Some(200),
        duration_ms: 6000,
        tuning: Default::default(),
    };
    let schedule = schedule(&Registry::builtin(), &request).expect("schedule");
    let nemesis = Nemesis::new(e.lab.clone(), ClockSupport::Libfaketime, 1);

    let t0 = Instant::now();
    let now_ns = move || t0.elapsed().as_nanos() as u64;
    let primaries = || vec![0];
    let mut ops: Vec<Op> = Vec::new();
    let mut record = |op: Op| ops.push(op);
    let stop = AtomicBool::new(false);
    let reports = run_schedule(
        &nemesis,
        &schedule,
        RunHooks { now_ns: &now_ns, primaries: &primaries, record: &mut record, stop: &stop },
    )
    .expect("run");

    let played: std::collections::BTreeSet<&str> =
        ops.iter().filter(|o| o.kind == OpKind::Invoke).map(|o| o.f.as_str()).collect();
    let wanted = [
        "start-partition",
        "start-loss",
        "start-delay",
        "pause",
        "kill",
        "stop",
        "clock-skew",
        "heal-all",
    ];
    assert_eq!(played, wanted.into_iter().collect(), "families played");
    for r in &reports {
        assert!(
            r.nodes.values().all(|o| !matches!(o, Outcome::Indeterminate(_))),
            "{}: {:?}",
            r.f,
            r.nodes
        );
        if r.f != "heal-all" {
            assert!(r.nodes.values().any(|o| *o == Outcome::Installed), "{r:?}");
        }
        if let Some(v) = &r.verification {
            assert!(v.ok(), "{}: {v:?}", r.f);
        }
    }
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    assert!(ops.iter().all(|o| o.error.is_none()), "a step failed");
    let lines = (1..=ops.len()).collect();
    History { ops, lines, source: None }.lint().expect("the nemesis history lints clean");

    // Healed: every echo answers, at real time, and every link carries traffic.
    for n in 0..5 {
        common::wait_answering(&e.lab, n);
        let skew = skew_of(&e.lab, n);
        assert!(skew.abs() < 1.0, "n{} is {skew:.3} s off after heal", n + 1);
    }
    assert_eq!(
        common::tcp_matrix_expecting(&e.lab, &vec![vec![true; 5]; 5]),
        vec![vec![true; 5]; 5]
    );
    common::destroy_and_check(e);
}
