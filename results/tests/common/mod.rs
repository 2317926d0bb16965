//! Fixture run directories built from real histories: Porcupine's Jepsen etcd logs
//! (etcd_000 is not linearizable, etcd_002 is), given times, nodes and a few
//! nemesis faults, written as a run directory the way the harness stores one.
//!
//! The invalid run's checker result is the real output of the `checkers` crate's
//! linearizability check (`linearizable cas-register`) on etcd_000, recorded in
//! `fixtures/etcd_000.checker-outcome.json`; its positions are remapped here
//! because the fixture inserts nemesis operations into the history.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};

use history::{History, Op, OpKind, Process, Value};
use serde_json::{Value as Json, json};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn etcd_log(n: &str) -> PathBuf {
    repo_root().join(format!("testdata/histories/porcupine/jepsen/etcd_{n}.log"))
}

/// Where tests keep artifacts (screenshots, sample reports): under `target/`.
pub fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("results-artifacts");
    fs::create_dir_all(&dir).expect("create the artifacts directory under target/");
    dir
}

fn nemesis(kind: OpKind, f: &str, value: Value) -> Op {
    Op::new(Process::Nemesis, kind, f, value)
}

/// Reads an etcd log and returns it with times (5 ms per entry), the node each
/// client talked to (process mod 3), and nemesis ops inserted before the entries
/// at the given original positions. Returns the history and, for each original
/// position, its new position.
pub fn timed_with_faults(log: &Path, faults: &[(usize, Vec<Op>)]) -> (History, Vec<usize>) {
    let read = history::read_path(log, None).expect("read the etcd log");
    let mut ops = Vec::new();
    let mut map = Vec::new();
    for (i, mut op) in read.history.ops.into_iter().enumerate() {
        for (at, nem) in faults {
            if *at == i {
                for n in nem {
                    let mut n = n.clone();
                    n.time_ns = i as u64 * 5_000_000 - 1_000_000 + ops.len() as u64;
                    ops.push(n);
                }
            }
        }
        op.time_ns = i as u64 * 5_000_000 + 1;
        if let Process::Client(p) = op.process {
            op.node = Some(format!("n{}", p % 3 + 1));
        }
        map.push(ops.len());
        ops.push(op);
    }
    for (k, op) in ops.iter_mut().enumerate() {
        op.index = k as u64;
    }
    let lines = (1..=ops.len()).collect();
    (History::with_lines(ops, lines), map)
}

/// Replaces every `invoke_position` / `completion_position` through `map`.
fn remap(v: &mut Json, map: &[usize]) {
    match v {
        Json::Object(m) => {
            for (k, x) in m.iter_mut() {
                if (k == "invoke_position" || k == "completion_position")
                    && let Some(p) = x.as_u64()
                {
                    *x = json!(map[p as usize]);
                } else {
                    remap(x, map);
                }
            }
        }
        Json::Array(a) => a.iter_mut().for_each(|x| remap(x, map)),
        _ => {}
    }
}

fn write_history(dir: &Path, h: &History) {
    let text = history::format::to_string(h, history::Format::Jsonl).expect("jsonl");
    fs::write(dir.join("history.jsonl"), text).expect("write history");
}

fn test_json(name: &str, nemesis: &[&str], seed: u64) -> Json {
    json!({
        "name": name,
        "args": {"system": "etcd", "workload": "register", "nemesis": nemesis, "seed": seed},
        "seed": seed,
        "started_at": "2026-11-26T16:00:00Z",
        "argv": ["faultline", "test", "--system", "etcd", "--nemesis", nemesis.join(",")]
    })
}

/// `store/etcd-register/<stamp>/` for etcd_000 with a partition spanning the
/// breaking read and a kill later; results.json in the harness' own shape
/// (`analysis` with the checker's anomaly).
pub fn invalid_run(store: &Path, stamp: &str) -> PathBuf {
    let dir = store.join("etcd-register").join(stamp);
    fs::create_dir_all(&dir).expect("run dir");
    let part = Value::Str("majorities-ring".into());
    let (h, map) = timed_with_faults(
        &etcd_log("000"),
        &[
            (
                60,
                vec![
                    nemesis(OpKind::Invoke, "start-partition", part.clone()),
                    nemesis(OpKind::Info, "start-partition", part),
                ],
            ),
            (
                100,
                vec![
                    nemesis(OpKind::Invoke, "stop-partition", Value::Nil),
                    nemesis(OpKind::Info, "stop-partition", Value::Nil),
                ],
            ),
            (
                130,
                vec![
                    nemesis(OpKind::Invoke, "kill", Value::Str("n2".into())),
                    nemesis(OpKind::Info, "kill", Value::Str("n2".into())),
                ],
            ),
        ],
    );
    write_history(&dir, &h);
    fs::write(
        dir.join("test.json"),
        test_json("etcd-register", &["partition", "kill"], 7).to_string(),
    )
    .expect("test.json");
    let text = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/etcd_000.checker-outcome.json"),
    )
    .expect("fixture");
    let mut recorded: Json = serde_json::from_str(&text).expect("fixture json");
    remap(&mut recorded, &map);
    let outcome = &recorded["outcome"];
    let results = json!({
        "verdict": "invalid",
        "exit_code": 1,
        "explanation": outcome["explanation"],
        "analysis": {
            "checker": recorded["name"],
            "verdict": outcome["verdict"],
            "explanation": outcome["explanation"],
            "anomaly": outcome["anomaly"],
        }
    });
    fs::write(dir.join("results.json"), results.to_string()).expect("results.json");
    fs::create_dir_all(dir.join("n1")).expect("node dir");
    fs::write(dir.join("n1/node.log"), "etcd started\n").expect("node log");
    dir
}

/// The breaking op's position in the invalid run's history.
pub fn invalid_breaking_position(store_run: &Path) -> usize {
    let loaded = results::run_dir::load(store_run).expect("load");
    loaded.view.checks[0].linearization.as_ref().expect("linearization").breaking_op
}

/// etcd_002 (linearizable) with a pause of n1 healed by heal-all; results.json in
/// this crate's `checks` shape.
pub fn valid_run(store: &Path, stamp: &str) -> PathBuf {
    let dir = store.join("etcd-register").join(stamp);
    fs::create_dir_all(&dir).expect("run dir");
    let (h, _) = timed_with_faults(
        &etcd_log("002"),
        &[
            (
                40,
                vec![
                    nemesis(OpKind::Invoke, "pause", Value::Str("n1".into())),
                    nemesis(OpKind::Info, "pause", Value::Str("n1".into())),
                ],
            ),
            (
                90,
                vec![
                    nemesis(OpKind::Invoke, "heal-all", Value::Nil),
                    nemesis(OpKind::Info, "heal-all", Value::Nil),
                ],
            ),
        ],
    );
    write_history(&dir, &h);
    fs::write(dir.join("test.json"), test_json("etcd-register", &["pause"], 8).to_string())
        .expect("test.json");
    let results = json!({"checks": [{
        "name": "linearizable cas-register",
        "verdict": "valid",
        "explanation": "a linearization exists"
    }]});
    fs::write(dir.join("results.json"), results.to_string()).expect("results.json");
    dir
}
