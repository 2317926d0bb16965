//! `faultline check --model set|set-full|counter|bank|unique-ids|long-fork|queue|
//! total-queue` on EDN histories in Jepsen's op shapes
//! (`testdata/histories/jepsen-shapes/`, one row of its `expected.tsv` each): the
//! exit code is the verdict's, the explanation names the operation's `file:line`,
//! `--option` reaches the checker, and a bad option or value is a 254 naming it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../testdata/histories/jepsen-shapes")
}

fn faultline(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faultline")).args(args).output().expect("faultline runs")
}

fn exit_of(verdict: &str) -> i32 {
    match verdict {
        "valid" => 0,
        "invalid" => 1,
        "unknown" => 2,
        other => panic!("unknown verdict {other:?} in expected.tsv"),
    }
}

#[test]
fn every_jepsen_shaped_history_gets_its_verdict_and_names_its_line() {
    let table = std::fs::read_to_string(dir().join("expected.tsv")).expect("expected.tsv");
    let mut models = std::collections::BTreeSet::new();
    let mut rows = 0;
    for line in table.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [file, model, options, expected, names] = cols[..] else { panic!("bad row {line:?}") };
        // Run from the folder so that places read `file.edn:LINE`.
        let mut args: Vec<String> =
            vec!["check".into(), file.into(), "--model".into(), model.into()];
        if options != "-" {
            for o in options.split(' ') {
                args.extend(["--option".to_string(), o.to_string()]);
            }
        }
        let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .current_dir(dir())
            .args(&args)
            .output()
            .expect("faultline runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(exit_of(expected)), "{args:?}\n{stdout}\n{stderr}");
        if names != "-" {
            assert!(stdout.contains(names), "{args:?}: the explanation names {names}:\n{stdout}");
        }
        models.insert(model.to_string());
        rows += 1;
    }
    assert_eq!(rows, 21);
    let want =
        ["bank", "counter", "long-fork", "queue", "set", "set-full", "total-queue", "unique-ids"];
    assert_eq!(models, want.iter().map(|s| s.to_string()).collect());
}

#[test]
fn json_output_carries_each_checkers_evidence() {
    let file = dir().join("bank-wrong-total.edn").display().to_string();
    let out = faultline(&["check".into(), file, "--model".into(), "bank".into(), "--json".into()]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let r = &json[0];
    assert_eq!(r["verdict"], "invalid");
    assert_eq!(r["total"], 30, "the total inferred from the first read: {r}");
    assert_eq!(r["errors"]["wrong-total"]["count"], 1, "{r}");
    assert_eq!(r["errors"]["wrong-total"]["first"]["total"], 28, "{r}");
}

#[test]
fn bad_options_are_refused_naming_the_option() {
    let file = |f: &str| dir().join(f).display().to_string();
    for (args, says) in [
        (
            vec!["set-ok.edn", "set", "linearizable"],
            "the set checker has no option \"linearizable\" (it takes: none)",
        ),
        (
            vec!["set-full-ok.edn", "set-full", "linearizble"],
            "has no option \"linearizble\" (it takes: linearizable)",
        ),
        (vec!["bank-ok.edn", "bank", "total-amount=lots"], "must be an integer"),
        (vec!["bank-ok.edn", "bank", "total-amount=[1"], "--option \"total-amount=[1\""),
        (vec!["long-fork-ok.edn", "long-fork", "group-size=3"], "exactly 3 keys"),
    ] {
        let out = faultline(&[
            "check".into(),
            file(args[0]),
            "--model".into(),
            args[1].into(),
            "--option".into(),
            args[2].into(),
        ]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(254), "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
    }
}

#[test]
fn a_run_history_in_jsonl_checks_the_same_as_its_edn() {
    // The same history converted by `faultline history convert` gets the same verdict.
    let tmp = tempfile::tempdir().unwrap();
    let jsonl = tmp.path().join("set-full-lost.jsonl");
    let src = dir().join("set-full-lost.edn");
    let out = faultline(&[
        "history".into(),
        "convert".into(),
        src.display().to_string(),
        jsonl.display().to_string(),
    ]);
    if !out.status.success() {
        panic!("convert: {}", String::from_utf8_lossy(&out.stderr));
    }
    let check = |p: &Path| {
        faultline(&["check".into(), p.display().to_string(), "--model".into(), "set-full".into()])
            .status
            .code()
    };
    assert_eq!(check(&jsonl), Some(1));
    assert_eq!(check(&src), Some(1));
}
