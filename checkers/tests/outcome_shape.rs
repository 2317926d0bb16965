//! The generic outcome of the linearizability checker: it splits a keyed history
//! itself, names the invalid key as a part, and reports positions in the whole
//! history it was given (evidence, parts and report section alike), with the JSON
//! shape scripts read (`anomaly.kind`, `stats.steps`, `parts[].outcome.verdict`).

use checkers::linearizability::anomaly_of;
use checkers::registry::{self, CheckerOptions};
use checkers::section::Block;
use checkers::{Checker, Outcome, Verdict};
use history::{History, Op, Value};

fn check(
    name: &str,
    ops: &[Op],
    options: CheckerOptions,
) -> (Box<dyn Checker + Send + Sync>, Outcome) {
    let linted = History::from_ops(ops.to_vec()).lint().expect("well-formed");
    let checker = registry::by_name(name).unwrap().checker(&options).unwrap();
    let outcome = checker.check(&linted).expect("checkable");
    (checker, outcome)
}

/// Key "a" is a correct register; key "b" reads a value nobody wrote to it (but
/// that "a" holds): only per-key checking tells them apart.
fn two_keys(b_reads: i64) -> Vec<Op> {
    vec![
        Op::invoke(0, "write", 1.into()).with_key("a"),
        Op::ok(0, "write", 1.into()).with_key("a"),
        Op::invoke(1, "write", 2.into()).with_key("b"),
        Op::ok(1, "write", 2.into()).with_key("b"),
        Op::invoke(0, "read", Value::Nil).with_key("a"),
        Op::ok(0, "read", 1.into()).with_key("a"),
        Op::invoke(1, "read", Value::Nil).with_key("b"),
        Op::ok(1, "read", b_reads.into()).with_key("b"),
    ]
}

#[test]
fn keys_are_independent_registers() {
    for partition in [true, false] {
        let options = CheckerOptions { partition, ..CheckerOptions::default() };
        let (checker, good) = check("cas-register", &two_keys(2), options.clone());
        assert_eq!(good.verdict, Verdict::Valid, "partition {partition}: {}", good.reason);
        assert_eq!(checker.splits_by_key(), partition);
        assert_eq!(good.stats.partitions, if partition { 2 } else { 1 });
        // "b" reading 1 (what "a" holds) is not linearizable for "b"
        let (_, bad) = check("cas-register", &two_keys(1), options);
        assert_eq!(bad.verdict, Verdict::Invalid, "partition {partition}");
    }
}

#[test]
fn an_invalid_key_is_a_part_with_full_history_positions() {
    let (checker, out) = check("cas-register", &two_keys(1), CheckerOptions::default());
    assert_eq!(checker.name(), "linearizable cas-register, split by key");
    assert!(out.reason.contains("not linearizable on key \"b\""), "{}", out.reason);
    assert!(out.explanation.contains("line 7"), "{}", out.explanation);
    let a = anomaly_of(&out).expect("anomaly");
    // the read of key "b" is at position 6 of the whole history (not 2 of b's own)
    assert_eq!(a.op.invoke_position, 6);
    assert_eq!(a.key.as_deref(), Some("\"b\""));
    assert_eq!(out.parts.len(), 1);
    assert_eq!(out.parts[0].key, Some(Value::Str("b".into())));
    assert_eq!(out.parts[0].outcome.verdict, Verdict::Invalid);
    let views: Vec<_> = out.section.linearizations().collect();
    assert_eq!(views.len(), 1);
    assert_eq!((views[0].breaking_op, views[0].prefix.clone()), (6, vec![2]));
    assert_eq!(out.section.culprits(), vec![6]);

    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["verdict"], "invalid");
    assert_eq!(json["anomaly"]["kind"], "not-linearizable");
    assert_eq!(json["anomaly"]["op"]["invoke_position"], 6);
    assert_eq!(json["split_by_key"], true);
    assert!(json["stats"]["steps"].as_u64().is_some(), "{}", json["stats"]);
    assert_eq!(json["stats"]["partitions"], 2);
    assert_eq!(json["parts"][0]["key"], "b");
    assert_eq!(json["parts"][0]["outcome"]["verdict"], "invalid");
    assert_eq!(json["parts"][0]["outcome"]["anomaly"]["op"]["invoke_position"], 6);
    assert!(json.get("section").is_none(), "the section is not part of the outcome's JSON");
}

#[test]
fn valid_and_unkeyed_outcomes_carry_no_parts_or_section() {
    let (checker, out) = check(
        "register",
        &[Op::invoke(0, "write", 1.into()), Op::ok(0, "write", 1.into())],
        CheckerOptions::default(),
    );
    assert_eq!(out.verdict, Verdict::Valid);
    assert!(out.parts.is_empty() && out.section.is_empty());
    assert!(out.not_valid().is_empty());
    assert_eq!(checker.name(), "linearizable register, split by key");
    let (_, bad) = check(
        "register",
        &[
            Op::invoke(0, "write", 1.into()),
            Op::ok(0, "write", 1.into()),
            Op::invoke(0, "read", Value::Nil),
            Op::ok(0, "read", 3.into()),
        ],
        CheckerOptions::default(),
    );
    assert_eq!(bad.reason, "not linearizable");
    assert!(bad.parts.is_empty(), "one object: no parts");
    let whole = bad.not_valid();
    assert_eq!((whole.len(), whole[0].key.clone()), (1, None));
    assert!(
        matches!(bad.section.blocks.as_slice(), [Block::Linearization(l)] if l.breaking_op == 2)
    );
}

#[test]
fn every_registered_model_reads_its_initial_value_in_its_own_file() {
    let with = |name: &str, v: Value| {
        registry::by_name(name)
            .unwrap()
            .checker(&CheckerOptions { initial: Some(v), ..CheckerOptions::default() })
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(with("register", 3.into()), Ok(()));
    assert_eq!(with("kv", "x".into()), Ok(()));
    let err = with("kv", 3.into()).unwrap_err();
    assert!(err.contains("kv") && err.contains("string"), "{err}");
    let err = with("mutex", 3.into()).unwrap_err();
    assert!(err.contains("mutex"), "{err}");
}
