//! Adding a system, a workload, a fault family and a checker takes one file each
//! (`tests/extend/*.rs`) and one registry line each ([`registry`] below); nothing
//! else in the harness names them. The run goes through the whole of `faultline
//! test` (plan, capability checks, the node host, the nemesis, the recorder, the
//! checker, results.json and the report) on loopback, so it needs no root.

mod common;
mod extend {
    pub mod fake_checker;
    pub mod fake_fault;
    pub mod fake_system;
    pub mod fake_workload;
}

use extend::{fake_checker, fake_fault, fake_system, fake_workload};
use harness::controller::{Registry, run_test_in};
use harness::exit::Exit;
use harness::options::HostChoice;
use harness::store;
use history::{OpKind, Process};

/// The command line's registries plus one line per new thing.
fn registry() -> Registry {
    let mut r = Registry::default();
    r.systems.push(&fake_system::SYSTEM);
    r.workloads.push(&fake_workload::WORKLOAD);
    r.faults = r.faults.with(&fake_fault::NAP);
    r.checkers.push(&fake_checker::CHECKER);
    r
}

fn args(dir: &std::path::Path, net: u8) -> harness::options::TestArgs {
    let mut a = common::args("toy", dir, net);
    a.workload = "tally".into();
    a.nemesis = vec!["nap".into()];
    a.host = HostChoice::Loopback;
    a.time_limit = 3.0;
    a.nemesis_interval = 0.4;
    a.recovery = Some(0.2);
    a.op_timeout_ms = 500;
    a
}

fn results(run: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(run.join(store::RESULTS_JSON)).unwrap()).unwrap()
}

#[test]
fn a_new_system_workload_fault_and_checker_run_through_faultline_test() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let (exit, run) = run_test_in(args(dir.path(), 120), &registry()).expect("the run completes");
    let results = results(&run);
    assert_eq!(exit, Exit::Valid, "{}", results["explanation"]);
    assert_eq!(results["analysis"]["checker"], "seen-written");
    // The fault played: naps in the history, each installed on a node, then healed.
    let read = history::read_path(&run.join(store::HISTORY), None).unwrap();
    let naps: Vec<_> = read
        .history
        .ops
        .iter()
        .filter(|o| o.process == Process::Nemesis && o.f == "start-nap" && o.kind == OpKind::Info)
        .collect();
    assert!(naps.len() >= 2, "naps played: {}", naps.len());
    assert!(naps.iter().all(|o| o.value.to_string().contains("installed")), "{naps:?}");
    // While a node napped, its clients' calls were unknown (info), never ok.
    let infos =
        read.history.ops.iter().filter(|o| o.kind == OpKind::Info && o.process != Process::Nemesis);
    assert!(infos.count() > 0, "paused nodes made some calls unknown");
    // The checker's own section reached the report.
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("Values read"), "the checker's section is in report.html");
    let test_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join(store::TEST_JSON)).unwrap())
            .unwrap();
    assert_eq!(test_json["checker"], "seen-written");
    assert!(common::processes_under(dir.path()).is_empty(), "no toy node left running");
}

#[test]
fn the_new_checker_catches_the_new_systems_bug_switch() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let mut a = args(dir.path(), 121);
    a.node_bug = vec!["phantom".into()];
    let (exit, run) = run_test_in(a, &registry()).expect("the run completes");
    let results = results(&run);
    assert_eq!(exit, Exit::Invalid, "{}", results["explanation"]);
    assert!(results["explanation"].as_str().unwrap().contains("nobody wrote"), "{results}");
}

#[test]
fn the_new_system_runs_the_existing_workloads_it_has_the_apis_for() {
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let mut a = args(dir.path(), 122);
    a.workload = "register".into();
    a.nemesis = vec!["kill".into()];
    let (exit, run) = run_test_in(a, &registry()).expect("the run completes");
    assert_eq!(exit, Exit::Valid, "{}", results(&run)["explanation"]);
    // ...and is refused the ones it has no API for, with what it lacks.
    let mut lock = args(dir.path(), 123);
    lock.workload = "lock".into();
    let err = run_test_in(lock, &registry()).expect_err("refused");
    assert_eq!(err.exit, Exit::BadInput);
    assert!(err.message.contains("needs the locks API") && err.message.contains("toy"), "{err}");
    // A partition needs a lab, which --host loopback does not give: refused, naming it.
    let mut cut = args(dir.path(), 124);
    cut.nemesis = vec!["partition".into()];
    let err = run_test_in(cut, &registry()).expect_err("refused");
    assert!(err.message.contains("partition fault needs network control"), "{err}");
    // Membership changes need the system's own hook, which the toy states it lacks.
    let mut members = args(dir.path(), 125);
    members.nemesis = vec!["membership".into()];
    let err = run_test_in(members, &registry()).expect_err("refused");
    assert_eq!(err.exit, Exit::BadInput);
    assert!(err.message.contains("membership fault needs membership control"), "{err}");
    assert!(err.message.contains("toy nodes have no cluster to leave"), "{err}");
}

#[test]
fn faultline_list_shows_the_new_things_from_the_registry() {
    let listing = serde_json::to_value(harness::commands::list::listing(&registry())).unwrap();
    let names = |section: &str| -> Vec<String> {
        listing[section]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().into())
            .collect()
    };
    assert!(names("systems").contains(&"toy".to_string()));
    assert!(names("workloads").contains(&"tally".to_string()));
    assert!(names("nemeses").contains(&"nap".to_string()));
    assert!(names("checkers").contains(&"seen-written".to_string()));
    let toy = listing["systems"].as_array().unwrap().iter().find(|s| s["name"] == "toy").unwrap();
    assert_eq!(toy["workloads"], serde_json::json!(["register", "tally"]));
}
