//! Every fault family in a short real `faultline test` run (`--nemesis all`): on
//! the builtin node (all eight families: partition, loss, delay, pause, kill,
//! stop, clock, membership) and on etcd (all but clock, which etcd cannot take),
//! each fault visible in the history with what it really did on each node, drawn
//! as a fault band in the report, healed at the end; the clock read back from the
//! node; the leader-aware schedule cutting the leader off; the CAP figures of that
//! partition in results.json. And the refusals: `--nemesis clock` on etcd, with
//! the reason.
//!
//! Needs root (the lab), nftables, iptables and etcd (`scripts/install-deps`), and
//! `target/<profile>/faultline-node` (`cargo build -p node`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use harness::store;
use history::{OpKind, Process, Value};
use serde_json::Value as Json;

const FAULTLINE: &str = env!("CARGO_BIN_EXE_faultline");

/// Each run builds a lab and uses both cores: one at a time.
static LAB: Mutex<()> = Mutex::new(());

/// The history's `f` of each family's faults.
const BUILTIN_FAULTS: &[&str] = &[
    "start-partition",
    "start-loss",
    "start-delay",
    "pause",
    "kill",
    "stop",
    "clock-skew",
    "remove-member",
];

fn run(store: &Path, args: &[&str]) -> (i32, PathBuf, String) {
    let out = Command::new(FAULTLINE)
        .args(["test", "--quiet", "--store"])
        .arg(store)
        .args(args)
        .output()
        .expect("faultline runs");
    let code = out.status.code().unwrap_or(-1);
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let latest = std::fs::canonicalize(store.join("latest")).unwrap_or_default();
    (code, latest, text)
}

fn json(path: &Path) -> Json {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn nemesis_ops(run: &Path) -> Vec<history::Op> {
    let read = history::read_path(&run.join(store::HISTORY), None).expect("history");
    read.history.ops.into_iter().filter(|o| o.process == Process::Nemesis).collect()
}

fn installed_somewhere(op: &history::Op) -> bool {
    match &op.value {
        Value::Map(m) => m.iter().any(|(_, o)| *o == Value::kw("installed")),
        _ => false,
    }
}

/// Every family in `faults` was applied (installed on some node), shows in the
/// report as a fault band, and everything was healed at the end.
fn check_every_family(run: &Path, faults: &[&str], text: &str) {
    let ops = nemesis_ops(run);
    for f in faults {
        let done: Vec<&history::Op> =
            ops.iter().filter(|o| o.f == *f && o.kind == OpKind::Info).collect();
        assert!(!done.is_empty(), "{f} never played:\n{text}");
        assert!(done.iter().any(|o| installed_somewhere(o)), "{f} installed nowhere: {done:?}");
    }
    let last = ops.last().expect("nemesis ops");
    assert_eq!((last.f.as_str(), last.kind), ("heal-all", OpKind::Info), "{last:?}");
    assert!(last.value.to_string().contains("installed"), "{last:?}");
    assert!(!last.value.to_string().contains("indeterminate"), "not fully healed: {last:?}");
    // Every completion names where the leader was when it was applied.
    assert!(
        ops.iter()
            .filter(|o| o.kind == OpKind::Info)
            .all(|o| o.extra.contains_key("primaries") || o == last)
    );
    let html = std::fs::read_to_string(run.join("report.html")).expect("report");
    for f in faults {
        assert!(html.contains(&format!("data-fault=\"{f}\"")), "no fault band for {f}");
    }
}

#[test]
fn every_family_plays_on_builtin_and_heals() {
    let _lab = LAB.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let (code, run, text) =
        run(dir.path(), &["--nemesis", "all", "--nodes", "5", "--time-limit", "20", "--seed", "5"]);
    assert_eq!(code, 0, "consistent reads under every fault: valid\n{text}");
    check_every_family(&run, BUILTIN_FAULTS, &text);
    let test_json = json(&run.join(store::TEST_JSON));
    assert_eq!(test_json["args"]["nemesis"], serde_json::json!(["all"]));
    assert_eq!(test_json["args"]["leader_aware"], true);
    let config = &test_json["fault_schedule"]["config"];
    assert_eq!(config["kinds"].as_array().unwrap().len(), 8, "{config}");
    assert!(config["interval_ms"].as_u64().unwrap() < 2_000, "adaptive: {config}");

    let ops = nemesis_ops(&run);
    // The clock moved, and the node said so.
    let clock = ops.iter().find(|o| o.f == "clock-skew" && o.kind == OpKind::Info).unwrap();
    let fault = clock.extra.get("fault").expect("resolved fault").to_string();
    assert!(fault.contains("read-back-ms"), "{fault}");
    // Membership: the leader-aware schedule removed the leader, then added it back.
    let removed = ops.iter().find(|o| o.f == "remove-member" && o.kind == OpKind::Info).unwrap();
    let fault = removed.extra.get("fault").unwrap().to_string();
    assert!(fault.contains("primaries") && fault.contains(":members"), "{fault}");
    // The partition cut the leader off: the CAP figures say so.
    let results = json(&run.join(store::RESULTS_JSON));
    let cap = results["cap"].as_array().expect("cap figures");
    let first = cap.first().expect("a partition window");
    assert_eq!(first["shape"], "leader-minority", "{first}");
    assert_eq!(first["leader_side_at_start"], "minority", "{first}");
    assert_eq!(first["minority"]["nodes"].as_array().unwrap().len(), 2, "{first}");
    // With eight families in 20 s this cut lasts about half a second, and every
    // client may be blocked in it (the leader is on the minority side, the
    // majority still electing): the figures must be there and consistent; the
    // catalog's smoke test checks them on 5 s partitions, where clients run.
    for side in ["majority", "minority"] {
        let (ok, total) = (&first[side]["ok"], &first[side]["total"]);
        assert!(ok.as_u64().unwrap() <= total.as_u64().unwrap(), "{first}");
    }
    assert!(text.contains("leader-minority") && text.contains("majority served again"), "{text}");
    assert!(common::processes_under(dir.path()).is_empty(), "no node left running");
}

#[test]
fn every_family_etcd_supports_plays_and_clock_is_refused() {
    common::require_etcd();
    let _lab = LAB.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let _cleanup = common::KillUnder(dir.path());
    let (code, _, text) = run(dir.path(), &["--system", "etcd", "--nemesis", "clock"]);
    assert_eq!(code, 254, "{text}");
    assert!(text.contains("the clock fault needs clock control"), "{text}");
    assert!(text.contains("vDSO") && text.contains("supports: partition"), "{text}");
    let (code, run, text) = run(
        dir.path(),
        &["--system", "etcd", "--nemesis", "all", "--time-limit", "20", "--seed", "2"],
    );
    assert_eq!(code, 0, "etcd under every fault it takes: valid\n{text}");
    let etcd_faults: Vec<&str> =
        BUILTIN_FAULTS.iter().copied().filter(|f| *f != "clock-skew").collect();
    check_every_family(&run, &etcd_faults, &text);
    assert!(nemesis_ops(&run).iter().all(|o| o.f != "clock-skew"), "all leaves clock out");
    let config = &json(&run.join(store::TEST_JSON))["fault_schedule"]["config"];
    assert_eq!(config["kinds"].as_array().unwrap().len(), 7, "{config}");
    assert!(common::processes_under(dir.path()).is_empty(), "no member left running");
}
