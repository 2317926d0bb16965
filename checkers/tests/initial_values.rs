//! Every model takes `--initial` the way its Knossos / Porcupine counterpart does, and
//! refuses what it cannot use with a message saying what it accepts. Reads of `nil`
//! mean "holds nil" for register and cas-register (Porcupine's etcd model, not
//! Knossos': see `models/register.rs`), and constrain nothing in a multi-register
//! txn (Knossos).

use checkers::Verdict;
use checkers::registry::{self, CheckerOptions};
use history::{History, Op, Value, edn};

fn verdict(model: &str, initial: Option<&str>, ops: Vec<Op>) -> Verdict {
    let initial = initial.map(|t| edn::parse_value(t).expect("test EDN"));
    let linted = History::from_ops(ops).lint().expect("well-formed");
    let checker = registry::by_name(model)
        .unwrap()
        .checker(&CheckerOptions { initial, ..CheckerOptions::default() })
        .expect("model takes it");
    checker.check(&linted).expect("checkable").verdict
}

fn refusal(model: &str, initial: &str) -> String {
    let value = edn::parse_value(initial).expect("test EDN");
    match registry::by_name(model)
        .unwrap()
        .checker(&CheckerOptions { initial: Some(value), ..CheckerOptions::default() })
    {
        Ok(_) => panic!("{model} accepted {initial:?}"),
        Err(e) => e.to_string(),
    }
}

fn read(p: u64, v: Value) -> Vec<Op> {
    vec![Op::invoke(p, "read", Value::Nil), Op::ok(p, "read", v)]
}

#[test]
fn register_and_cas_register_take_any_value() {
    for model in ["register", "cas-register"] {
        assert_eq!(verdict(model, Some("7"), read(0, 7.into())), Verdict::Valid);
        assert_eq!(verdict(model, None, read(0, 7.into())), Verdict::Invalid);
        assert_eq!(
            verdict(model, Some("[1 :a]"), read(0, edn::parse_value("[1 :a]").unwrap())),
            Verdict::Valid
        );
    }
}

#[test]
fn a_nil_read_means_the_register_holds_nil() {
    let mut ops = vec![Op::invoke(0, "write", 1.into()), Op::ok(0, "write", 1.into())];
    ops.extend(read(1, Value::Nil));
    for model in ["register", "cas-register"] {
        assert_eq!(verdict(model, None, ops.clone()), Verdict::Invalid, "{model}");
        assert_eq!(verdict(model, Some("5"), read(0, Value::Nil)), Verdict::Invalid, "{model}");
        assert_eq!(verdict(model, None, read(0, Value::Nil)), Verdict::Valid, "{model}");
    }
}

fn txn(micro: &[(&str, &str, Value)]) -> Value {
    Value::List(
        micro
            .iter()
            .map(|(f, k, v)| Value::List(vec![Value::kw(f), Value::kw(k), v.clone()]))
            .collect(),
    )
}

#[test]
fn multi_register_takes_a_map_of_keys() {
    let ops = vec![
        Op::invoke(0, "txn", txn(&[("read", "x", Value::Nil), ("read", "y", Value::Nil)])),
        Op::ok(0, "txn", txn(&[("read", "x", 0.into()), ("read", "y", 5.into())])),
    ];
    let m = "multi-register";
    assert_eq!(verdict(m, Some("{:x 0 :y 5}"), ops.clone()), Verdict::Valid);
    assert_eq!(verdict(m, Some("{:x 0 :y 6}"), ops.clone()), Verdict::Invalid);
    assert_eq!(verdict(m, None, ops.clone()), Verdict::Invalid);
    // keys the map does not name start at nil; reading them as 0 is wrong
    assert_eq!(verdict(m, Some("{:x 0}"), ops), Verdict::Invalid);
    // the map shape of reads works with it too
    let map_read = vec![
        Op::invoke(0, "read", Value::Nil),
        Op::ok(0, "read", Value::Map(vec![(Value::kw("y"), 5.into())])),
    ];
    assert_eq!(verdict(m, Some("{:x 0 :y 5}"), map_read), Verdict::Valid);
    assert!(refusal(m, "3").contains("{:x 0 :y 0}"));
    assert!(refusal(m, "{:x 0 :x 1}").contains("twice"));
    assert!(refusal(m, "{:a 0 :b 0 :c 0 :d 0 :e 0 :f 0 :g 0 :h 0 :i 0}").contains("at most"));
}

fn acquire_release(first: &str) -> Vec<Op> {
    vec![Op::invoke(0, first, Value::Nil), Op::ok(0, first, Value::Nil)]
}

#[test]
fn mutex_and_session_lock_start_free_or_held() {
    for model in ["mutex", "session-lock"] {
        assert_eq!(verdict(model, None, acquire_release("release")), Verdict::Invalid);
        assert_eq!(verdict(model, Some(":held"), acquire_release("release")), Verdict::Valid);
        assert_eq!(verdict(model, Some("true"), acquire_release("acquire")), Verdict::Invalid);
        assert_eq!(verdict(model, Some("false"), acquire_release("acquire")), Verdict::Valid);
        assert!(refusal(model, "3").contains(":held"), "{model}");
    }
}

#[test]
fn fenced_lock_takes_the_last_token() {
    let acquire =
        |t: i64| vec![Op::invoke(0, "acquire", Value::Nil), Op::ok(0, "acquire", t.into())];
    let m = "fenced-lock";
    assert_eq!(verdict(m, None, acquire(3)), Verdict::Valid);
    assert_eq!(verdict(m, Some("5"), acquire(3)), Verdict::Invalid);
    assert_eq!(verdict(m, Some("5"), acquire(6)), Verdict::Valid);
    assert_eq!(verdict(m, Some("{:held true :token 1}"), acquire(6)), Verdict::Invalid);
    assert_eq!(verdict(m, Some("{:held false :token 1}"), acquire(6)), Verdict::Valid);
    assert!(refusal(m, "\"x\"").contains("integer"));
    assert!(refusal(m, "{:owner 1}").contains(":token"));
}

#[test]
fn kv_takes_a_string_as_porcupine_does() {
    let get = |v: &str| {
        vec![
            Op::invoke(0, "get", Value::Nil).with_key("k"),
            Op::ok(0, "get", v.into()).with_key("k"),
        ]
    };
    assert_eq!(verdict("kv", None, get("")), Verdict::Valid);
    assert_eq!(verdict("kv", Some("\"ab\""), get("ab")), Verdict::Valid);
    assert_eq!(verdict("kv", Some("\"ab\""), get("")), Verdict::Invalid);
    assert!(refusal("kv", "3").contains("string"));
}
