//! Every shared history gets the verdict `testdata/histories/expected.tsv` gives it:
//! Porcupine's Jepsen etcd logs as a `cas-register`, its key-value logs as `kv`, both
//! split by key and not split.

use std::path::{Path, PathBuf};
use std::time::Duration;

use checkers::registry::{self, CheckerOptions};
use checkers::{Outcome, Verdict};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/histories")
}

fn check(path: &Path, model: &str, options: CheckerOptions) -> Outcome {
    let read = history::read_path(path, None)
        .unwrap_or_else(|e| panic!("{}: cannot read: {e}", path.display()));
    let linted = read.history.lint().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let checker = registry::by_name(model).unwrap().checker(&options).expect("model");
    checker.check(&linted).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// (path, expected verdict, model) rows of the table.
fn table() -> Vec<(String, Verdict, &'static str)> {
    let text = std::fs::read_to_string(root().join("expected.tsv")).expect("expected.tsv");
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            assert_eq!(cols.len(), 3, "bad row {line:?}");
            let verdict = match cols[1] {
                "linearizable" => Verdict::Valid,
                "not" => Verdict::Invalid,
                // etcd_095.log is empty: trivially linearizable
                "unknown" => Verdict::Valid,
                other => panic!("unknown expectation {other:?}"),
            };
            let model = if cols[2].starts_with("etcd-cas-register") {
                "cas-register"
            } else if cols[2].starts_with("porcupine-kv") || cols[0].contains("/kv/") {
                "kv"
            } else {
                panic!("unknown model {:?}", cols[2])
            };
            (cols[0].to_string(), verdict, model)
        })
        .collect()
}

#[test]
fn every_file_gets_its_expected_verdict_split() {
    let rows = table();
    assert_eq!(rows.len(), 109, "the table lists 103 etcd and 6 kv files");
    let mut wrong = Vec::new();
    for (path, expected, model) in &rows {
        let outcome = check(&root().join(path), model, CheckerOptions::default());
        if outcome.verdict != *expected {
            wrong.push(format!(
                "{path}: expected {expected}, got {} ({})",
                outcome.verdict, outcome.reason
            ));
        }
        if outcome.verdict == Verdict::Invalid {
            assert!(!outcome.explanation.is_empty(), "{path}: invalid without explanation");
            assert!(
                checkers::linearizability::anomaly_of(&outcome).is_some(),
                "{path}: invalid without anomaly data"
            );
        }
    }
    assert!(wrong.is_empty(), "{} wrong verdicts:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn kv_files_not_split() {
    for (path, expected, model) in table() {
        if model != "kv" {
            continue;
        }
        let big = path.contains("c50");
        let options = CheckerOptions {
            partition: false,
            time_limit: big.then(|| Duration::from_secs(2)),
            ..CheckerOptions::default()
        };
        let outcome = check(&root().join(&path), model, options);
        if big {
            // c50 unsplit: no known checker finishes it; a wrong verdict is never allowed
            assert!(
                outcome.verdict == expected || outcome.verdict == Verdict::Unknown,
                "{path} not split: expected {expected} or unknown, got {}",
                outcome.verdict
            );
            eprintln!("{path} not split: {} in {:?}", outcome.verdict, outcome.stats.elapsed);
        } else {
            assert_eq!(outcome.verdict, expected, "{path} not split: {}", outcome.reason);
        }
    }
}
