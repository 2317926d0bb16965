//! Hand-made histories for every model: the checker says invalid on a known anomaly
//! (stale read, lost write, torn read, two lock holders, a token going backwards)
//! and valid on a correct history, and explains what it found.

use checkers::linearizability::Options;
use checkers::models::ModelName;
use checkers::{CheckError, Outcome, Verdict};
use history::{History, Op, Value};

fn check(model: ModelName, ops: Vec<Op>) -> Outcome {
    check_with(model, ops, Options::default())
}

fn check_with(model: ModelName, ops: Vec<Op>, options: Options) -> Outcome {
    let linted = History::from_ops(ops).lint().expect("well-formed test history");
    model.linearizable(None, options).unwrap().check(&linted).expect("checkable")
}

fn list(items: &[Value]) -> Value {
    Value::List(items.to_vec())
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

const NIL: Value = Value::Nil;

// ---- register ----

#[test]
fn register_stale_read_is_invalid_and_explained() {
    let out = check(
        ModelName::Register,
        vec![
            Op::invoke(0, "write", int(1)),
            Op::ok(0, "write", int(1)),
            Op::invoke(0, "write", int(2)),
            Op::ok(0, "write", int(2)),
            Op::invoke(1, "read", NIL),
            Op::ok(1, "read", int(1)),
        ],
    );
    assert_eq!(out.verdict, Verdict::Invalid);
    let text = &out.explanation;
    assert!(text.contains("read returning 1"), "{text}");
    assert!(text.contains("process 1"), "{text}");
    assert!(text.contains("line 5"), "{text}");
    assert!(text.contains("leaves the register at 2"), "{text}");
    let Some(checkers::Anomaly::NotLinearizable(a)) = &out.anomaly else { panic!("no anomaly") };
    assert_eq!(a.states_before, vec!["2".to_string()]);
    assert_eq!(a.prefix.len(), 2);
    assert_eq!(a.op.invoke_position, 4);
}

#[test]
fn register_concurrent_read_may_see_either_value() {
    for seen in [1, 2] {
        let out = check(
            ModelName::Register,
            vec![
                Op::invoke(0, "write", int(1)),
                Op::ok(0, "write", int(1)),
                Op::invoke(0, "write", int(2)),
                Op::invoke(1, "read", NIL),
                Op::ok(1, "read", int(seen)),
                Op::ok(0, "write", int(2)),
            ],
        );
        assert_eq!(out.verdict, Verdict::Valid, "read {seen}: {}", out.explanation);
    }
}

#[test]
fn info_write_may_happen_later_or_never() {
    for seen in [NIL, int(1)] {
        let out = check(
            ModelName::Register,
            vec![
                Op::invoke(0, "write", int(1)),
                Op::info(0, "write", Value::kw("timed-out")),
                Op::invoke(1, "read", NIL),
                Op::ok(1, "read", seen.clone()),
                Op::invoke(1, "read", NIL),
                Op::ok(1, "read", seen.clone()),
            ],
        );
        assert_eq!(out.verdict, Verdict::Valid, "read {seen}: {}", out.explanation);
    }
    // but once seen, it cannot be unseen
    let out = check(
        ModelName::Register,
        vec![
            Op::invoke(0, "write", int(1)),
            Op::info(0, "write", Value::kw("timed-out")),
            Op::invoke(1, "read", NIL),
            Op::ok(1, "read", int(1)),
            Op::invoke(1, "read", NIL),
            Op::ok(1, "read", NIL),
        ],
    );
    assert_eq!(out.verdict, Verdict::Invalid);
}

// ---- cas-register ----

#[test]
fn cas_register_lost_write_is_invalid() {
    let out = check(
        ModelName::CasRegister,
        vec![
            Op::invoke(0, "write", int(3)),
            Op::ok(0, "write", int(3)),
            Op::invoke(1, "cas", list(&[int(3), int(4)])),
            Op::ok(1, "cas", list(&[int(3), int(4)])),
            Op::invoke(2, "read", NIL),
            Op::ok(2, "read", int(3)), // the cas's write was lost
        ],
    );
    assert_eq!(out.verdict, Verdict::Invalid);
    assert!(out.explanation.contains("leaves the register at 4"), "{}", out.explanation);
}

#[test]
fn cas_register_failed_cas_did_not_happen() {
    let ops = |read: i64| {
        vec![
            Op::invoke(0, "cas", list(&[NIL, int(5)])),
            Op::fail(0, "cas", list(&[NIL, int(5)])),
            Op::invoke(1, "read", NIL),
            Op::ok(1, "read", int(read)),
        ]
    };
    assert_eq!(check(ModelName::CasRegister, ops(5)).verdict, Verdict::Invalid);
    let valid = check(
        ModelName::CasRegister,
        vec![
            Op::invoke(0, "cas", list(&[NIL, int(5)])),
            Op::ok(0, "cas", list(&[NIL, int(5)])),
            Op::invoke(1, "cas", list(&[int(5), int(6)])),
            Op::info(1, "cas", Value::kw("timed-out")),
            Op::invoke(2, "read", NIL),
            Op::ok(2, "read", int(6)),
        ],
    );
    assert_eq!(valid.verdict, Verdict::Valid, "{}", valid.explanation);
}

#[test]
fn cas_register_initial_value_is_configurable() {
    let ops = vec![Op::invoke(0, "read", NIL), Op::ok(0, "read", int(7))];
    let linted = History::from_ops(ops).lint().unwrap();
    let with = ModelName::CasRegister.linearizable(Some(int(7)), Options::default()).unwrap();
    assert_eq!(with.check(&linted).unwrap().verdict, Verdict::Valid);
    let without = ModelName::CasRegister.linearizable(None, Options::default()).unwrap();
    assert_eq!(without.check(&linted).unwrap().verdict, Verdict::Invalid);
}

#[test]
fn bad_operation_names_its_line() {
    let linted = History::from_ops(vec![
        Op::invoke(0, "read", NIL),
        Op::ok(0, "read", NIL),
        Op::invoke(0, "cas", int(3)),
        Op::ok(0, "cas", int(3)),
    ])
    .lint()
    .unwrap();
    let err = ModelName::CasRegister
        .linearizable(None, Options::default())
        .unwrap()
        .check(&linted)
        .unwrap_err();
    assert!(matches!(&err, CheckError::BadOperation { place, .. } if place == "line 3"), "{err}");
    assert!(err.to_string().contains("[from to]"), "{err}");
}

// ---- kv ----

fn kv(op: Op, key: &str) -> Op {
    op.with_key(key)
}

#[test]
fn kv_lost_append_is_invalid_split_and_not_split() {
    let ops = vec![
        kv(Op::invoke(0, "append", "x".into()), "a"),
        kv(Op::ok(0, "append", "x".into()), "a"),
        kv(Op::invoke(1, "put", "q".into()), "b"),
        kv(Op::ok(1, "put", "q".into()), "b"),
        kv(Op::invoke(0, "append", "y".into()), "a"),
        kv(Op::ok(0, "append", "y".into()), "a"),
        kv(Op::invoke(1, "get", NIL), "a"),
        kv(Op::ok(1, "get", "y".into()), "a"),
    ];
    for partition in [true, false] {
        let out =
            check_with(ModelName::Kv, ops.clone(), Options { partition, ..Options::default() });
        assert_eq!(out.verdict, Verdict::Invalid, "partition {partition}");
        assert!(out.explanation.contains("get returning \"y\""), "{}", out.explanation);
        assert!(out.explanation.contains("\"xy\""), "{}", out.explanation);
    }
}

#[test]
fn kv_concurrent_appends_in_either_order_are_valid() {
    for read in ["xy", "yx"] {
        let ops = vec![
            kv(Op::invoke(0, "append", "x".into()), "a"),
            kv(Op::invoke(1, "append", "y".into()), "a"),
            kv(Op::ok(0, "append", "x".into()), "a"),
            kv(Op::ok(1, "append", "y".into()), "a"),
            kv(Op::invoke(2, "get", NIL), "b"),
            kv(Op::ok(2, "get", "".into()), "b"),
            kv(Op::invoke(2, "get", NIL), "a"),
            kv(Op::ok(2, "get", read.into()), "a"),
        ];
        for partition in [true, false] {
            let out =
                check_with(ModelName::Kv, ops.clone(), Options { partition, ..Options::default() });
            assert_eq!(out.verdict, Verdict::Valid, "{read}, partition {partition}");
            assert_eq!(out.stats.partitions, if partition { 2 } else { 1 });
        }
    }
}

// ---- multi-register ----

fn txn(micro: &[(&str, &str, Value)]) -> Value {
    Value::List(
        micro.iter().map(|(f, k, v)| list(&[Value::kw(f), Value::kw(k), v.clone()])).collect(),
    )
}

#[test]
fn multi_register_torn_read_is_invalid() {
    let out = check(
        ModelName::MultiRegister,
        vec![
            Op::invoke(0, "txn", txn(&[("write", "x", int(1)), ("write", "y", int(1))])),
            Op::ok(0, "txn", txn(&[("write", "x", int(1)), ("write", "y", int(1))])),
            Op::invoke(1, "txn", txn(&[("read", "x", NIL), ("read", "y", NIL)])),
            Op::ok(1, "txn", txn(&[("read", "x", int(1)), ("read", "y", NIL)])),
        ],
    );
    // Knossos: a nil read is unconstrained, so reading y as nil proves nothing...
    assert_eq!(out.verdict, Verdict::Valid);
    let out = check(
        ModelName::MultiRegister,
        vec![
            Op::invoke(0, "txn", txn(&[("write", "x", int(1)), ("write", "y", int(1))])),
            Op::ok(0, "txn", txn(&[("write", "x", int(1)), ("write", "y", int(1))])),
            Op::invoke(0, "txn", txn(&[("write", "y", int(2))])),
            Op::ok(0, "txn", txn(&[("write", "y", int(2))])),
            Op::invoke(1, "txn", txn(&[("read", "x", NIL), ("read", "y", NIL)])),
            Op::ok(1, "txn", txn(&[("read", "x", int(1)), ("read", "y", int(1))])),
        ],
    );
    // ...but reading the overwritten y = 1 after y = 2 completed is a stale read
    assert_eq!(out.verdict, Verdict::Invalid);
    assert!(out.explanation.contains("{:x 1, :y 2}"), "{}", out.explanation);
}

#[test]
fn multi_register_map_reads_and_writes() {
    let map = |kv: &[(&str, Value)]| {
        Value::Map(kv.iter().map(|(k, v)| (Value::kw(k), v.clone())).collect())
    };
    let ops = |read_y: Value| {
        vec![
            Op::invoke(0, "write", map(&[("x", int(1)), ("y", int(2))])),
            Op::ok(0, "write", map(&[("x", int(1)), ("y", int(2))])),
            Op::invoke(1, "read", map(&[("x", NIL), ("y", NIL)])),
            Op::ok(1, "read", map(&[("x", int(1)), ("y", read_y)])),
        ]
    };
    assert_eq!(check(ModelName::MultiRegister, ops(int(2))).verdict, Verdict::Valid);
    assert_eq!(check(ModelName::MultiRegister, ops(NIL)).verdict, Verdict::Invalid);
}

// ---- mutex ----

#[test]
fn mutex_two_holders_is_invalid() {
    let out = check(
        ModelName::Mutex,
        vec![
            Op::invoke(0, "acquire", NIL),
            Op::ok(0, "acquire", NIL),
            Op::invoke(1, "acquire", NIL),
            Op::ok(1, "acquire", NIL),
        ],
    );
    assert_eq!(out.verdict, Verdict::Invalid);
    assert!(out.explanation.contains("leaves the lock at held"), "{}", out.explanation);
}

#[test]
fn mutex_handover_and_unknown_release_are_valid() {
    let out = check(
        ModelName::Mutex,
        vec![
            Op::invoke(0, "acquire", NIL),
            Op::ok(0, "acquire", NIL),
            Op::invoke(0, "release", NIL),
            Op::info(0, "release", NIL), // may have released
            Op::invoke(1, "acquire", NIL),
            Op::ok(1, "acquire", NIL),
            Op::invoke(1, "release", NIL),
            Op::ok(1, "release", NIL),
        ],
    );
    assert_eq!(out.verdict, Verdict::Valid, "{}", out.explanation);
}

// ---- session-lock ----

fn dead() -> Value {
    Value::Str("dead-session".into())
}

#[test]
fn session_lock_dead_session_grant_is_invalid_and_refusal_valid() {
    let ops = |granted: bool| {
        let done =
            if granted { Op::ok(1, "acquire", dead()) } else { Op::fail(1, "acquire", dead()) };
        vec![
            Op::invoke(0, "acquire", NIL),
            Op::ok(0, "acquire", NIL),
            Op::invoke(0, "release", NIL),
            Op::ok(0, "release", NIL),
            Op::invoke(1, "acquire", dead()),
            done,
            Op::invoke(0, "acquire", NIL),
            Op::ok(0, "acquire", NIL),
        ]
    };
    let refused = check(ModelName::SessionLock, ops(false));
    assert_eq!(refused.verdict, Verdict::Valid, "{}", refused.explanation);
    let granted = check(ModelName::SessionLock, ops(true));
    assert_eq!(granted.verdict, Verdict::Invalid);
    assert!(granted.explanation.contains("destroyed session"), "{}", granted.explanation);
}

#[test]
fn session_lock_unknown_dead_session_acquire_may_have_taken_the_lock() {
    // A faulty service may have granted it: the release that follows is then legal.
    let out = check(
        ModelName::SessionLock,
        vec![
            Op::invoke(1, "acquire", dead()),
            Op::info(1, "acquire", dead()),
            Op::invoke(2, "release", NIL),
            Op::ok(2, "release", NIL),
        ],
    );
    assert_eq!(out.verdict, Verdict::Valid, "{}", out.explanation);
    // Two live holders are still caught, as by `mutex`.
    let two = check(
        ModelName::SessionLock,
        vec![
            Op::invoke(0, "acquire", NIL),
            Op::ok(0, "acquire", NIL),
            Op::invoke(1, "acquire", NIL),
            Op::ok(1, "acquire", NIL),
        ],
    );
    assert_eq!(two.verdict, Verdict::Invalid);
}

// ---- fenced-lock ----

#[test]
fn fenced_lock_tokens_must_increase() {
    let ops = |second: i64| {
        vec![
            Op::invoke(0, "acquire", NIL),
            Op::ok(0, "acquire", int(5)),
            Op::invoke(0, "release", NIL),
            Op::ok(0, "release", NIL),
            Op::invoke(1, "acquire", NIL),
            Op::ok(1, "acquire", int(second)),
        ]
    };
    assert_eq!(check(ModelName::FencedLock, ops(6)).verdict, Verdict::Valid);
    let out = check(ModelName::FencedLock, ops(5));
    assert_eq!(out.verdict, Verdict::Invalid);
    assert!(out.explanation.contains("token 5"), "{}", out.explanation);
}

#[test]
fn fenced_lock_two_holders_is_invalid() {
    let out = check(
        ModelName::FencedLock,
        vec![
            Op::invoke(0, "acquire", NIL),
            Op::ok(0, "acquire", int(1)),
            Op::invoke(1, "acquire", NIL),
            Op::ok(1, "acquire", int(2)),
        ],
    );
    assert_eq!(out.verdict, Verdict::Invalid);
}

#[test]
fn unsplit_kv_names_the_key_beyond_its_limit() {
    let mut ops = Vec::new();
    for k in 0..17 {
        ops.push(kv(Op::invoke(0, "put", "v".into()), &format!("k{k}")));
        ops.push(kv(Op::ok(0, "put", "v".into()), &format!("k{k}")));
    }
    let linted = History::from_ops(ops.clone()).lint().unwrap();
    let unsplit = Options { partition: false, ..Options::default() };
    let err = ModelName::Kv.linearizable(None, unsplit).unwrap().check(&linted).unwrap_err();
    assert!(err.to_string().starts_with("line 33:"), "{err}");
    assert!(err.to_string().contains("\"k16\""), "{err}");
    // split by key, any number of keys is fine
    assert_eq!(check(ModelName::Kv, ops).verdict, Verdict::Valid);
}
