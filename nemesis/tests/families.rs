//! Every built-in fault family, drawn and played against in-memory controls: what
//! it changes, what it reports per node, and that heal-all undoes it; then what
//! the nemesis reports when a control fails or a node has nothing to act on. The
//! same families run in a real lab in `schedule_run.rs`. No root needed.

use nemesis::control::{Controls, Membership, Offer};
use nemesis::fakes::{FakeRun, ProcState};
use nemesis::families::kill::Kill;
use nemesis::families::partition::Partition;
use nemesis::families::{ALL, Registry, draw_one};
use nemesis::inject::{Nemesis, Outcome};
use nemesis::schedule::{Action, FaultParams, ScheduleConfig, Target};
use nemesis::{PartitionShape, PartitionSpec};

const NODES: usize = 5;

#[test]
fn every_family_draws_applies_and_heals() {
    for family in ALL {
        for seed in 0..5 {
            let name = format!("{} seed {seed}", family.name());
            let run = FakeRun::new(NODES);
            let nemesis = Nemesis::with_controls(run.controls(), Registry::builtin(), seed);
            let config = ScheduleConfig::new(seed, NODES, 10, 100);
            let fault = draw_one(*family, &config).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(fault, draw_one(*family, &config).expect("again"), "{name}: deterministic");
            assert_eq!(fault.kind, family.kind(), "{name}");
            let invoke = nemesis.invoke_op(Some(&fault), 0);
            assert_eq!(invoke.f, family.op_name(), "{name}");
            assert!(!invoke.value.is_nil(), "{name}: the invoke says what it intends");

            let report = nemesis.apply(&fault, &[2]).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(report.f, family.op_name(), "{name}");
            let installed: Vec<usize> = report
                .nodes
                .iter()
                .filter(|(_, o)| **o == Outcome::Installed)
                .map(|(&n, _)| n)
                .collect();
            assert!(!installed.is_empty(), "{name}: {report:?}");
            assert!(
                report.nodes.values().all(|o| !matches!(o, Outcome::Indeterminate(_))),
                "{name}: {report:?}"
            );
            let net = run.network.state();
            let states = run.processes.states();
            let changed = match family.op_name() {
                "start-partition" => {
                    report.verification.as_ref().is_some_and(|v| v.ok()) && !net.grudge.is_empty()
                }
                "start-loss" => net.loss.values().all(|&p| p == config.loss_percent),
                "start-delay" => net.delays.values().all(|&d| d == config.delay),
                "pause" => installed.iter().all(|&n| states[n] == ProcState::Paused),
                "kill" | "stop" => installed.iter().all(|&n| states[n] == ProcState::Dead),
                "clock-skew" => installed.iter().all(|n| run.clock.offsets().contains_key(n)),
                "remove-member" => {
                    let members = run.membership.members().expect("members");
                    installed.iter().all(|n| !members.contains(n))
                }
                other => panic!("{name}: no expectation for {other}: add one"),
            };
            assert!(changed, "{name}: the fakes show no effect: {net:?} {states:?}");
            assert!(!run.is_healed(), "{name}: nothing to heal?");

            let healed = nemesis.heal_all().expect("heal");
            assert!(run.is_healed(), "{name}: not healed: {:?}", run.processes.states());
            assert!(healed.nodes.values().all(|o| *o == Outcome::Installed), "{name}: {healed:?}");
            assert!(healed.verification.is_some_and(|v| v.ok()), "{name}: heal verified");
        }
    }
}

#[test]
fn kill_all_aims_at_every_node_and_draws_like_kill() {
    let kill = nemesis::families::by_name("kill").expect("kill");
    let kill_all = nemesis::families::by_name("kill-all").expect("kill-all");
    let (mut seen_same, mut seen_aimed) = (0, 0);
    for seed in 0..10 {
        let config = ScheduleConfig::new(seed, NODES, 10, 100);
        let all = Kill::of(&draw_one(kill_all, &config).expect("draw")).expect("kill fault");
        assert_eq!(all, Kill { target: Target::All, nodes: Some((0..NODES).collect()) });
        // The same stream: with kill-all in kill's place, every fault is the same
        // one, or (where kill-all was picked) the same draw aimed at everyone.
        let a = nemesis::schedule::Schedule::draw(&[kill, kill], config.clone()).expect("a");
        let b = nemesis::schedule::Schedule::draw(&[kill_all, kill], config).expect("b");
        let (mut same, mut aimed) = (0, 0);
        for (x, y) in a.steps.iter().zip(&b.steps) {
            match (&x.action, &y.action) {
                (Action::Start { fault: x }, Action::Start { fault: y }) if x == y => same += 1,
                (Action::Start { .. }, Action::Start { fault: y }) => {
                    assert_eq!(Kill::of(y).expect("kill"), all, "seed {seed}");
                    aimed += 1;
                }
                (x, y) => assert_eq!(x, y),
            }
        }
        let starts = a.steps.iter().filter(|s| matches!(s.action, Action::Start { .. })).count();
        assert_eq!(same + aimed, starts, "seed {seed}");
        seen_same += same;
        seen_aimed += aimed;
    }
    assert!(seen_same > 0 && seen_aimed > 0, "{seen_same} {seen_aimed}");
}

#[test]
fn failures_and_empty_nodes_are_reported_not_claimed() {
    let run = FakeRun::new(3);
    run.processes.set(0, ProcState::Absent);
    run.processes.fail_on(2);
    let nemesis = Nemesis::with_controls(run.controls(), Registry::builtin(), 0);
    let report =
        nemesis.apply(&Kill { target: Target::All, nodes: None }.fault(), &[]).expect("kill");
    assert_eq!(report.nodes[&0], Outcome::Skipped("no process was started on this node".into()));
    assert_eq!(report.nodes[&1], Outcome::Installed);
    assert!(matches!(&report.nodes[&2], Outcome::Indeterminate(why) if why.contains("fake")));
    // A second kill of a dead node changes nothing, and says so.
    let again = nemesis.apply(&Kill { target: Target::Nodes(vec![1]), nodes: None }.fault(), &[]);
    assert_eq!(
        again.expect("kill").nodes[&1],
        Outcome::Skipped("its process(es) were not running".into())
    );
    // Heal restarts the killed node and tries the indeterminate one, which fails again.
    let healed = nemesis.heal_all().expect("heal");
    assert_eq!(run.processes.states()[1], ProcState::Running);
    assert!(
        matches!(&healed.nodes[&2], Outcome::Indeterminate(why) if why.starts_with("restart:")),
        "{healed:?}"
    );
    assert_eq!(healed.nodes[&0], Outcome::Installed);
    let restarts: Vec<usize> =
        run.processes.calls().into_iter().filter(|(v, _)| v == "restart").map(|(_, n)| n).collect();
    assert_eq!(restarts, [1, 2], "only the nodes it killed, or may have");

    // A partition whose probes disagree is indeterminate on the nodes of that link.
    run.network.leak((0, 1));
    let spec = PartitionSpec::new(PartitionShape::IsolateOne { node: Some(0) });
    let report = nemesis.apply(&Partition { spec, grudge: None }.fault(), &[]).expect("cut");
    assert!(
        matches!(&report.nodes[&0], Outcome::Indeterminate(w) if w.contains("n1 -> n2 measured open"))
    );
    assert!(matches!(&report.nodes[&2], Outcome::Installed));
}

#[test]
fn clock_faults_need_a_clock() {
    let run = FakeRun::new(3);
    let controls = Controls::none(3)
        .with_network(run.network.clone())
        .with_processes(run.processes.clone())
        .with_clock(nemesis::clock::ClockSupport::Unsupported {
            reason: "etcd reads time through the vDSO".into(),
        });
    assert_eq!(controls.offers().clock, Offer::No("etcd reads time through the vDSO".into()));
    let nemesis = Nemesis::with_controls(controls, Registry::builtin(), 0);
    let clock = nemesis::families::by_name("clock").expect("clock");
    let fault = draw_one(clock, &ScheduleConfig::new(0, 3, 10, 100)).expect("draw");
    let err = nemesis.apply(&fault, &[]).expect_err("refused");
    assert!(err.to_string().contains("vDSO"), "{err}");
    assert!(run.clock.offsets().is_empty());
    // libfaketime outside a lab is no clock control either.
    let outside = Controls::none(3).with_clock(nemesis::clock::ClockSupport::Libfaketime);
    assert!(matches!(outside.offers().clock, Offer::No(why) if why.contains("lab")));
}
