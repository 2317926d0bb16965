//! Clock skew through libfaketime on a real process, and the refusal of clock
//! faults for systems where it cannot work. Needs root, iproute2, nftables and
//! libfaketime.

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use nemesis::NemesisError;
use nemesis::clock::ClockSupport;
use nemesis::families::clock::ClockSkew;
use nemesis::inject::{Nemesis, Outcome};
use nemesis::schedule::{FaultParams, Schedule, ScheduleConfig};

fn skew_of(lab: &nemesis::Lab, node: usize) -> f64 {
    let reply = common::ask_from_switch(lab, node, "time").expect("time reply");
    let theirs: f64 = reply.parse().expect("seconds");
    let ours = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs_f64();
    theirs - ours
}

#[test]
fn libfaketime_moves_one_nodes_clock_and_heal_restores_it() {
    let e = common::echo_lab_with(3, |lab, node| match lab.faketime_env(node) {
        Ok(env) => env,
        Err(err) => panic!("{err}"),
    });
    let nemesis = Nemesis::new(e.lab.clone(), ClockSupport::Libfaketime, 0);
    assert!(skew_of(&e.lab, 1).abs() < 1.0);
    let report = nemesis.apply(&ClockSkew::bump(vec![1], 3_600_000).fault(), &[]).expect("skew");
    assert_eq!(report.nodes[&1], Outcome::Installed);
    let skew = skew_of(&e.lab, 1);
    assert!((skew - 3600.0).abs() < 2.0, "n2 is {skew:.3} s off, wanted +3600");
    assert!(skew_of(&e.lab, 0).abs() < 1.0, "n1 must keep the real time");
    nemesis.apply(&ClockSkew::bump(vec![1], -30_000).fault(), &[]).expect("skew");
    let skew = skew_of(&e.lab, 1);
    assert!((skew + 30.0).abs() < 2.0, "n2 is {skew:.3} s off, wanted -30");
    nemesis.heal_all().expect("heal");
    assert!(skew_of(&e.lab, 1).abs() < 1.0);
    common::destroy_and_check(e);
}

#[test]
fn skewing_a_node_not_under_libfaketime_is_skipped_not_claimed() {
    let e = common::echo_lab(2);
    let nemesis = Nemesis::new(e.lab.clone(), ClockSupport::Libfaketime, 0);
    let report = nemesis.apply(&ClockSkew::bump(vec![0], 5_000).fault(), &[]).expect("apply");
    assert!(matches!(&report.nodes[&0], Outcome::Skipped(why) if why.contains("libfaketime")));
    assert!(skew_of(&e.lab, 0).abs() < 1.0);
    common::destroy_and_check(e);
}

#[test]
fn clock_faults_are_refused_where_unsupported() {
    let e = common::echo_lab(3);
    let reason = "etcd is a Go program: it reads time through the vDSO, not libc";
    let nemesis =
        Nemesis::new(e.lab.clone(), ClockSupport::Unsupported { reason: reason.into() }, 0);
    let err = nemesis.apply(&ClockSkew::bump(vec![0], 1000).fault(), &[]).expect_err("must refuse");
    assert!(matches!(err, NemesisError::Unsupported(_)));
    assert!(err.to_string().contains("vDSO"), "{err}");
    // A whole schedule with clock faults is refused before the run starts.
    let mut config = ScheduleConfig::new(1, 3, 100, 2000);
    config.kinds = vec!["clock-skew".into()];
    let schedule = Schedule::generate(config).expect("schedule");
    assert!(nemesis.check_schedule(&schedule).is_err());
    common::destroy_and_check(e);
}
