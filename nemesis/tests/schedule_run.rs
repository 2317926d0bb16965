//! A seeded schedule played against a real 5-node lab: every step becomes a
//! nemesis invoke/completion pair in a history that passes the linter, every
//! partition is verified, and the run ends with everything healed. Needs root,
//! iproute2 and nftables.

mod common;

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use history::{History, Op, OpKind, Value};
use nemesis::clock::ClockSupport;
use nemesis::inject::Nemesis;
use nemesis::runner::{RunHooks, run_schedule};
use nemesis::schedule::{Action, FaultKind, Schedule, ScheduleConfig};

#[test]
fn a_schedule_becomes_a_valid_nemesis_history_and_ends_healed() {
    let e = common::echo_lab(5);
    let mut config = ScheduleConfig::new(11, 5, 150, 1800);
    config.kinds = vec![FaultKind::Partition, FaultKind::Kill, FaultKind::Pause, FaultKind::Loss];
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
