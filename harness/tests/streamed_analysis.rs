//! The streamed analysis of a history file (read line by line, never held whole)
//! finds what the whole-history analysis finds: the same counts, latencies, keys,
//! verdict, explanation and per-key evidence, on Porcupine's etcd and kv logs
//! (valid and not) and on a history with nemesis operations, `info`, `fail` and
//! operations that never completed. Defects are named by file and line.

use std::path::{Path, PathBuf};

use harness::analysis::{self, Analysis, CheckWith, Verdict};
use history::{History, Op, Value};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/histories/porcupine")
}

fn checker(name: &str) -> CheckWith {
    checkers::registry::by_name(name).expect("registered").into()
}

/// The analysis without the checker's statistics: timings differ from run to run,
/// and the search's step counts with the order keys are searched in (all cores for
/// the whole history, one key at a time as keys end for the streamed one). With
/// `anomaly` false, also without the verdict's words and evidence: when several
/// keys are not linearizable, the search stops at the first found, which depends
/// on that order (both say so).
fn comparable(a: &Analysis, anomaly: bool) -> serde_json::Value {
    let mut v = serde_json::to_value(a).expect("json");
    let o = v.as_object_mut().expect("object");
    o.remove("check_seconds");
    o.remove("stats");
    if !anomaly {
        o.remove("explanation");
        o.remove("not_valid");
    }
    v
}

/// Writes `history` as JSON Lines and analyses it both ways.
fn both(dir: &Path, name: &str, history: &History, model: &str) -> (Analysis, Analysis) {
    let path = dir.join(format!("{name}.jsonl"));
    let text = history::format::to_string(history, history::Format::Jsonl).expect("jsonl");
    std::fs::write(&path, text).expect("write");
    let streamed = analysis::analyze_file(&path, checker(model)).expect("streamed");
    let read = history::read_path(&path, Some(history::Format::Jsonl)).expect("read");
    let whole =
        analysis::analyze(&read.history.lint().expect("lint"), checker(model)).expect("whole");
    (streamed, whole)
}

#[test]
fn porcupine_logs_analyse_the_same_streamed_and_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    let files = [
        // (file, model, verdict, one object: the same anomaly)
        ("jepsen/etcd_000.log", "cas-register", Verdict::Invalid, true),
        ("jepsen/etcd_002.log", "cas-register", Verdict::Valid, true),
        ("jepsen/etcd_040.log", "cas-register", Verdict::Invalid, true),
        ("kv/c10-ok.txt", "kv", Verdict::Valid, true),
        ("kv/c10-bad.txt", "kv", Verdict::Invalid, false),
        ("kv/c01-bad.txt", "kv", Verdict::Invalid, false),
    ];
    let mut verdicts = Vec::new();
    for (i, (file, model, _, one)) in files.iter().enumerate() {
        let read = history::read_path(&root().join(file), None).expect("read");
        let (streamed, whole) = both(dir.path(), &format!("h{i}"), &read.history, model);
        assert_eq!(comparable(&streamed, *one), comparable(&whole, *one), "{file}");
        assert_eq!(streamed.stats.map(|s| s.partitions), whole.stats.map(|s| s.partitions));
        if streamed.verdict == Verdict::Invalid {
            assert_eq!(streamed.not_valid.len(), 1, "{file}: the first invalid key");
        }
        verdicts.push(streamed.verdict);
    }
    let expected: Vec<Verdict> = files.iter().map(|f| f.2).collect();
    assert_eq!(verdicts, expected);
}

/// Register operations on three keys, with a nemesis, `fail`, `info` and two
/// operations the history ends before completing; `wrong` makes one read return a
/// value nobody wrote.
fn mixed(wrong: bool) -> History {
    let mut ops = vec![
        Op::invoke(0, "write", 1.into()).with_key(1),
        Op::invoke(1, "write", 2.into()).with_key(2),
        Op::ok(0, "write", 1.into()).with_key(1),
        Op::invoke(0, "start-partition", Value::Nil),
        Op::invoke(0, "read", Value::Nil).with_key(1),
        Op::info(1, "write", 2.into()).with_key(2),
        Op::ok(0, "read", if wrong { 7.into() } else { 1.into() }).with_key(1),
        Op::invoke(2, "cas", Value::List(vec![5.into(), 6.into()])).with_key(3),
        Op::fail(2, "cas", Value::List(vec![5.into(), 6.into()])).with_key(3),
        Op::invoke(3, "read", Value::Nil).with_key(2),
        Op::ok(3, "read", 2.into()).with_key(2),
        Op::invoke(2, "write", 4.into()).with_key(3),
        Op::invoke(0, "read", Value::Nil).with_key(1),
    ];
    ops[3].process = history::Process::Nemesis;
    let mut nemesis_end = Op::info(0, "start-partition", Value::Nil);
    nemesis_end.process = history::Process::Nemesis;
    ops.insert(9, nemesis_end);
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
        op.time_ns = 1_000 + 1_000_000 * i as u64;
    }
    History::from_ops(ops)
}

#[test]
fn mixed_histories_analyse_the_same_streamed_and_whole() {
    let dir = tempfile::tempdir().expect("tmp");
    for wrong in [false, true] {
        let (streamed, whole) =
            both(dir.path(), &format!("m{wrong}"), &mixed(wrong), "cas-register");
        assert_eq!(comparable(&streamed, true), comparable(&whole, true), "wrong read: {wrong}");
        assert_eq!(streamed.verdict, if wrong { Verdict::Invalid } else { Verdict::Valid });
        assert_eq!((streamed.nemesis_operations, streamed.totals.open), (1, 2));
        assert_eq!(streamed.keys, 3);
    }
}

#[test]
fn defects_are_named_by_file_and_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("bad.jsonl");
    let mut ops = vec![Op::invoke(0, "read", Value::Nil), Op::invoke(0, "read", Value::Nil)];
    for (i, op) in ops.iter_mut().enumerate() {
        op.index = i as u64;
    }
    let text =
        history::format::to_string(&History::from_ops(ops), history::Format::Jsonl).expect("jsonl");
    std::fs::write(&path, &text).expect("write");
    let err = analysis::analyze_file(&path, checker("cas-register")).unwrap_err();
    let message = err.to_string();
    assert!(message.contains(&format!("{}:2: process 0 invokes", path.display())), "{message}");
    std::fs::write(&path, format!("{text}{{\"index\": 2, \"type\"")).expect("write");
    let err = analysis::analyze_file(&path, checker("cas-register")).unwrap_err().to_string();
    assert!(err.contains(":2:"), "the lint error still comes first: {err}");
    std::fs::write(&path, "{\"index\": 0, \"type\": 3}\n").expect("write");
    let err = analysis::analyze_file(&path, checker("cas-register")).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:1:", path.display())), "{err}");
}

#[test]
fn a_cut_last_line_is_a_warning_as_in_memory() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("cut.jsonl");
    let text = history::format::to_string(&mixed(false), history::Format::Jsonl).expect("jsonl");
    std::fs::write(&path, format!("{text}{{\"index\": 99, \"ty")).expect("write");
    let streamed = analysis::analyze_file(&path, checker("cas-register")).expect("streamed");
    assert!(
        streamed.warnings.iter().any(|w| w.contains("the last line is cut short")),
        "{:?}",
        streamed.warnings
    );
    assert_eq!(streamed.verdict, Verdict::Valid);
}

/// A checker without a streaming form (here: per-key checking unsplit) gets the
/// whole history, unless it would not fit the checker's memory limit: then the
/// verdict is `unknown`, saying why, with the counts of a streamed scan.
#[test]
fn a_whole_history_checker_is_bounded_by_its_memory_limit() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("m.jsonl");
    let text = history::format::to_string(&mixed(false), history::Format::Jsonl).expect("jsonl");
    std::fs::write(&path, &text).expect("write");
    let def = checkers::registry::by_name("cas-register").expect("registered");
    let unsplit = checkers::registry::CheckerOptions { partition: false, ..Default::default() };
    let fits = analysis::analyze_file(&path, CheckWith { def, options: unsplit.clone() })
        .expect("analysis");
    assert_eq!(fits.verdict, Verdict::Valid, "{}", fits.explanation);
    let tight = checkers::registry::CheckerOptions { memory_limit: text.len(), ..unsplit };
    let refused =
        analysis::analyze_file(&path, CheckWith { def, options: tight }).expect("analysis");
    assert_eq!(refused.verdict, Verdict::Unknown);
    assert!(
        refused.explanation.contains("needs the whole history in memory"),
        "{}",
        refused.explanation
    );
    assert_eq!((refused.client_operations, refused.keys), (fits.client_operations, fits.keys));
}
