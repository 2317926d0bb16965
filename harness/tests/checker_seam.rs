//! A new checker is one file plus one registry line. The test-only `fake` checker
//! (`checkers/src/fake.rs`, one line in `checkers::registry::ALL`, built with the
//! checkers crate's `fakes` feature) runs through `faultline check --model fake`
//! (valid 0, invalid 1, its evidence in `--json`, its summary in `--help`), through
//! the harness's analysis into `results.json`, and its report section (paragraph,
//! table, plot, highlighted operation) into `report.html`, also when `faultline
//! report` draws it again from `results.json` alone. Nothing outside its file
//! names it.

use std::path::Path;
use std::process::Command;

use harness::analysis;
use harness::commands::run_results::write_results;
use harness::exit::Exit;
use harness::store::RunDir;
use history::{History, Op, Value};

fn require_fake() {
    if let Err(e) = checkers::registry::by_name("fake") {
        panic!(
            "the fake checker is not built ({e}): the harness's tests need the checkers \
             crate's `fakes` feature, i.e. `checkers = {{ workspace = true, features = \
             [\"fakes\"] }}` under [dev-dependencies] in harness/Cargo.toml"
        );
    }
}

fn faultline(args: &[&str]) -> (i32, String, String) {
    let out =
        Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).output().expect("run faultline");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Two reads, 10 ms apart, on node n1; the second returns `second`.
fn write_history(path: &Path, second: &str) {
    let mut ops = vec![
        Op::invoke(0, "read", Value::Nil),
        Op::ok(0, "read", 1.into()),
        Op::invoke(1, "read", Value::Nil),
        Op::ok(1, "read", second.into()),
    ];
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
        op.time_ns = 1_000_000 + 10_000_000 * i as u64;
        op.node = Some("n1".into());
    }
    let text =
        history::format::to_string(&History::from_ops(ops), history::Format::Jsonl).expect("jsonl");
    std::fs::write(path, text).expect("write history");
}

#[test]
fn check_runs_the_fake_checker_by_its_registry_name() {
    require_fake();
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.jsonl");
    let bad = dir.path().join("bad.jsonl");
    write_history(&good, "fine");
    write_history(&bad, "forbidden");
    let (code, out, err) = faultline(&["check", good.to_str().unwrap(), "--model", "fake"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("valid") && out.contains("nothing forbidden"), "{out}");

    let (code, out, err) = faultline(&["check", bad.to_str().unwrap(), "--model", "fake"]);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(out.contains("returned \"forbidden\"") && out.contains("bad.jsonl:3"), "{out}");

    let (code, out, _) = faultline(&["check", bad.to_str().unwrap(), "--model", "fake", "--json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(json[0]["verdict"], "invalid");
    assert_eq!(json[0]["forbidden"], serde_json::json!([2]), "the evidence, by position");
    assert_eq!(json[0]["ok_by_f"]["read"], 2);

    // Options the checker refuses are refused by it, in its words (254).
    let (code, _, err) =
        faultline(&["check", good.to_str().unwrap(), "--model", "fake", "--initial", "3"]);
    assert_eq!(code, 254);
    assert!(err.contains("fake checker takes no initial value"), "{err}");

    // The help text comes from the registry.
    let (_, help, _) = faultline(&["check", "--help"]);
    assert!(help.contains("fake") && help.contains("test-only: invalid when"), "{help}");
    assert!(help.contains("session-lock"), "{help}");
}

#[test]
fn the_fake_checkers_section_reaches_results_json_and_the_report() {
    require_fake();
    let dir = tempfile::tempdir().expect("tmp");
    let history = dir.path().join("history.jsonl");
    write_history(&history, "forbidden");
    std::fs::write(dir.path().join("test.json"), r#"{"name": "fake-run", "seed": 1}"#)
        .expect("test.json");

    let fake = checkers::registry::by_name("fake").expect("the fake checker");
    let a = analysis::analyze_file(&history, fake).expect("analysis");
    assert_eq!(a.verdict, checkers::Verdict::Invalid);
    assert_eq!(a.checker, "fake");
    assert_eq!(a.not_valid[0].outcome.evidence.to_json()["forbidden"], serde_json::json!([2]));
    let run = RunDir::open(dir.path());
    let exit = Exit::of(a.verdict);
    assert!(write_results(&run, exit, a.explanation.clone(), Some(a), None, None).is_none());

    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("results.json")).unwrap())
            .unwrap();
    let check = &results["checks"][0];
    assert_eq!(check["name"], "fake");
    let types: Vec<&str> = check["section"]["blocks"]
        .as_array()
        .expect("blocks")
        .iter()
        .filter_map(|b| b["type"].as_str())
        .collect();
    assert_eq!(types, ["paragraph", "table", "plot", "operations"]);
    assert!(check.get("linearization").is_none());

    let report_has_the_section = |html: &str| {
        assert!(html.contains(r#"data-check="fake""#), "no section");
        assert!(html.contains("<h2>Forbidden values</h2>"));
        assert!(html.contains("1 of 2 client operations returned"), "paragraph");
        assert!(
            html.contains(r#"<p class="table-caption">ok operations by function</p>"#),
            "table"
        );
        assert!(html.contains("ok operations so far"), "plot");
        assert!(html.contains(r#"data-position="2" data-role="culprit""#), "highlight");
        assert!(html.contains("process 1 read"), "the highlighted op is described");
        assert!(html.contains(r#"id="breaking-op-bar""#), "the culprit in the timeline");
        assert!(!html.contains(r#"id="linearization""#), "not a linearizability check");
    };
    report_has_the_section(&std::fs::read_to_string(dir.path().join("report.html")).unwrap());

    // `faultline report` draws it again from results.json alone.
    std::fs::remove_file(dir.path().join("report.html")).expect("rm");
    let (code, out, err) = faultline(&["report", dir.path().to_str().unwrap()]);
    assert_eq!(code, 1, "{out}\n{err}");
    report_has_the_section(&std::fs::read_to_string(dir.path().join("report.html")).unwrap());
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("<failure") && junit.contains("fake"), "{junit}");
}
