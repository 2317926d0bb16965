//! Byte-compatibility with the runs recorded before fault families were types:
//! `tests/data/golden-*.jsonl` were written by the code as it was then (the
//! closed `Fault` enum), and today's code must write exactly the same bytes for
//! the same inputs: schedules (test.json's `fault_schedule`), the nemesis ops of
//! the history (invoke values, completion values and extras), and the schedules
//! the harness drew (`golden-harness-schedules.jsonl`, checked in the harness).
//! Old runs replay only if these stay equal. No root needed.

use std::collections::{BTreeMap, BTreeSet};

use nemesis::PartitionShape;
use nemesis::control::Controls;
use nemesis::families::Registry;
use nemesis::families::clock::ClockSkew;
use nemesis::families::delay::Delay;
use nemesis::families::kill::Kill;
use nemesis::families::loss::Loss;
use nemesis::families::partition::Partition;
use nemesis::families::pause::Pause;
use nemesis::families::stop::Stop;
use nemesis::inject::{FaultReport, Nemesis, Outcome};
use nemesis::latency::LinkDelay;
use nemesis::probe::Verification;
use nemesis::schedule::{Action, FaultParams, Schedule, ScheduleConfig, Target};
use nemesis::{Grudge, PartitionSpec};

const SCHEDULES: &str = include_str!("data/golden-schedules.jsonl");
const OPS: &str = include_str!("data/golden-nemesis-ops.jsonl");
const HANDMADE: &str = include_str!("data/golden-handmade.jsonl");

fn check_lines(what: &str, got: &str, want: &str) {
    let (got, want): (Vec<&str>, Vec<&str>) = (got.lines().collect(), want.lines().collect());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "{what}, line {}", i + 1);
    }
    assert_eq!(got.len(), want.len(), "{what}: line count");
}

#[test]
fn schedules_and_nemesis_ops_are_byte_identical_to_the_recorded_ones() {
    let all: Vec<String> = ["partition", "loss", "delay", "kill", "pause", "stop", "clock-skew"]
        .map(String::from)
        .to_vec();
    let kind_sets: Vec<Vec<String>> = vec![
        all.clone(),
        vec!["partition".into()],
        vec!["kill".into(), "pause".into()],
        vec!["loss".into(), "delay".into(), "stop".into(), "clock-skew".into()],
    ];
    let (mut schedules, mut ops) = (String::new(), String::new());
    for nodes in [2usize, 3, 5, 7] {
        let nemesis = Nemesis::with_controls(Controls::none(nodes), Registry::builtin(), 0);
        for (ki, kinds) in kind_sets.iter().enumerate() {
            for seed in 0..2u64 {
                let mut c = ScheduleConfig::new(seed * 7919 + nodes as u64, nodes, 1000, 16_000);
                c.kinds = kinds.clone();
                if ki == 0 {
                    c.shapes.push(PartitionShape::Primaries);
                }
                let line = match Schedule::generate(c) {
                    Ok(s) => {
                        for st in &s.steps {
                            let fault = match &st.action {
                                Action::Start { fault } => Some(fault),
                                Action::HealAll => None,
                            };
                            let invoke = nemesis.invoke_op(fault, st.at_ms);
                            ops.push_str(&history::jsonl::op_to_json_line(&invoke));
                            ops.push('\n');
                            let per_node = (0..nodes)
                                .map(|n| {
                                    let o = match n % 3 {
                                        0 => Outcome::Installed,
                                        1 => Outcome::Skipped("why \"not\"".into()),
                                        _ => Outcome::Indeterminate("maybe".into()),
                                    };
                                    (n, o)
                                })
                                .collect::<BTreeMap<_, _>>();
                            let report = FaultReport {
                                f: nemesis.op_name(fault),
                                fault: fault.cloned(),
                                nodes: per_node,
                                verification: (seed % 2 == 0)
                                    .then(|| Verification { leaked: vec![(0, 1)], broken: vec![] }),
                            };
                            let done = nemesis.completion_op(&report, st.at_ms + 1);
                            ops.push_str(&history::jsonl::op_to_json_line(&done));
                            ops.push('\n');
                        }
                        serde_json::to_string(&s).expect("json")
                    }
                    Err(e) => format!("ERROR {e}"),
                };
                schedules.push_str(&line);
                schedules.push('\n');
            }
        }
    }
    check_lines("schedules", &schedules, SCHEDULES);
    check_lines("nemesis ops", &ops, OPS);
    // And every recorded schedule parses back into the same bytes.
    for line in SCHEDULES.lines().filter(|l| !l.starts_with("ERROR")) {
        let parsed: Schedule = serde_json::from_str(line).expect("parse");
        assert_eq!(serde_json::to_string(&parsed).expect("json"), line);
    }
}

#[test]
fn hand_made_faults_write_the_recorded_json_and_values() {
    let faults = vec![
        Kill { target: Target::Primaries, nodes: None }.fault(),
        Pause { target: Target::Nodes(vec![0, 2]), nodes: Some(vec![0, 2]) }.fault(),
        Stop { target: Target::RandomSubset, nodes: None, grace_ms: 1500 }.fault(),
        Partition {
            spec: PartitionSpec::one_way(PartitionShape::IsolateOne { node: Some(1) }),
            grudge: Some(Grudge { blocked: BTreeSet::from([(1, 0), (1, 2)]) }),
        }
        .fault(),
        Partition {
            spec: PartitionSpec::new(PartitionShape::Explicit {
                grudge: Grudge { blocked: BTreeSet::from([(0, 1)]) },
            }),
            grudge: None,
        }
        .fault(),
        Partition {
            spec: PartitionSpec::new(PartitionShape::MajorityMinority { minority: Some(vec![0]) }),
            grudge: None,
        }
        .fault(),
        Loss { links: vec![(0, 1)], percent: 100 }.fault(),
        Delay { links: vec![(2, 1), (1, 2)], delay: LinkDelay { delay_ms: 7, jitter_ms: 0 } }
            .fault(),
        ClockSkew::bump(vec![0, 1], -5).fault(),
    ];
    let nemesis = Nemesis::with_controls(Controls::none(3), Registry::builtin(), 0);
    let mut out = String::new();
    for f in &faults {
        out.push_str(&serde_json::to_string(f).expect("json"));
        out.push('\n');
        out.push_str(&history::jsonl::op_to_json_line(&nemesis.invoke_op(Some(f), 5)));
        out.push('\n');
    }
    check_lines("hand-made faults", &out, HANDMADE);
}
