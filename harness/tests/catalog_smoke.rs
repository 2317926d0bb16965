//! The bug catalog's smoke profile, as pull requests run it: `faultline test-all
//! --profile smoke` (the builtin node's stale default reads with the default,
//! leader-aware faults on 5 nodes, caught; its bug-free control, valid; etcd's
//! serializable reads with the leader cut off, caught), then the table, the JUnit
//! file with one case per scenario, and exit 0. Also: bad profile names and
//! catalog files are refused with 254, naming what is wrong.
//!
//! Needs root (the lab), nftables and etcd (`scripts/install-deps`), and
//! `target/<profile>/faultline-node`. Takes about 3 minutes.

mod common;

use std::process::Command;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

#[test]
fn the_smoke_profile_catches_its_bugs_and_keeps_its_controls_valid() {
    common::require_etcd();
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let out = Command::new(FAULTLINE)
        .args(["test-all", "--profile", "smoke", "--seed", "1", "--store"])
        .arg(dir.path())
        .output()
        .expect("faultline runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for scenario in
        ["builtin-stale-default-reads", "builtin-default-reads-control", "etcd-serializable-reads"]
    {
        let row = stdout.lines().find(|l| l.contains(scenario)).unwrap_or_else(|| {
            panic!("no row for {scenario}:\n{stdout}");
        });
        assert!(row.contains("pass"), "{row}");
    }
    let control = stdout.lines().find(|l| l.contains("builtin-default-reads-control")).unwrap();
    assert!(control.contains("0/2"), "the control had false alarms: {control}");
    let junit = std::fs::read_to_string(dir.path().join("catalog-smoke.junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), 3, "{junit}");
    assert!(!junit.contains("<failure") && !junit.contains("<error"), "{junit}");
    // Each stale-read run cut the leader off first (leader-minority) for about
    // 5 s: the CAP figures show the majority side serving again after it
    // elected a new leader, and where the leader was.
    let runs = std::fs::read_dir(dir.path().join("catalog-builtin-stale-default-reads")).unwrap();
    let mut seen = 0;
    for run in runs.flatten().filter(|r| r.file_type().is_ok_and(|t| t.is_dir())) {
        let results = std::fs::read_to_string(run.path().join("results.json")).unwrap();
        let results: serde_json::Value = serde_json::from_str(&results).unwrap();
        let first = &results["cap"][0];
        assert_eq!(first["shape"], "leader-minority", "{first}");
        assert_eq!(first["leader_side_at_start"], "minority", "{first}");
        assert!(first["majority"]["total"].as_u64().unwrap() > 0, "{first}");
        assert!(first["majority"]["ok"].as_u64().unwrap() > 0, "{first}");
        assert!(first["majority_recovery_ms"].as_f64().is_some(), "{first}");
        seen += 1;
    }
    assert_eq!(seen, 2, "two stale-read runs");
    assert!(common::processes_under(dir.path()).is_empty(), "no node left running");
}

#[test]
fn unknown_profiles_and_bad_catalogs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(FAULTLINE)
        .args(["test-all", "--profile", "weekly", "--store"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown profile \"weekly\" (known: nightly, smoke)"), "{stderr}");
    let bad = dir.path().join("catalog.json");
    std::fs::write(
        &bad,
        r#"{"floor": 0.8, "profiles": {"p": {"count": 1, "time_limit": 5}},
            "scenarios": [{"name": "x", "kind": "bug", "expect": "invalid",
                           "system": "builtin", "bug": "flaky", "profiles": ["p"]}]}"#,
    )
    .unwrap();
    let out = Command::new(FAULTLINE)
        .args(["test-all", "--profile", "p", "--catalog"])
        .arg(&bad)
        .arg("--store")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(254));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("catalog.json: scenario \"x\""), "{stderr}");
    assert!(stderr.contains("no bug switch \"flaky\""), "{stderr}");
}
