//! Properties of Elle's checkers over generated histories (proptest):
//! - executions of a strictly serializable store, serial or concurrent, with
//!   failed and indeterminate transactions, are always valid under
//!   strict-serializable (and so under every weaker model);
//! - one planted anomaly (a stale read, an element dropped from or repeated in a
//!   read, a read of a failed write) in a serial execution is always found.

#[path = "support/txns.rs"]
mod txns;

use std::collections::BTreeMap;

use checkers::registry::{self, CheckerOptions};
use checkers::{Outcome, Verdict};
use history::{History, Value};
use proptest::prelude::*;
use txns::{Kind, Plant, Shape};

fn check(h: &History, kind: Kind, extra: &[(&str, bool)]) -> Outcome {
    let name = match kind {
        Kind::ListAppend => "list-append",
        Kind::RwRegister => "rw-register",
    };
    let mut e: BTreeMap<String, Value> =
        extra.iter().map(|(k, v)| (k.to_string(), Value::Bool(*v))).collect();
    e.insert("consistency-models".into(), Value::Str("strict-serializable".into()));
    let options = CheckerOptions { extension: e, ..CheckerOptions::default() };
    let linted = h.clone().lint().expect("generated histories are well-formed");
    registry::by_name(name).unwrap().checker(&options).unwrap().check(&linted).unwrap()
}

fn kinds() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::ListAppend), Just(Kind::RwRegister)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn serial_executions_are_valid(seed in any::<u64>(), kind in kinds(), n in 1usize..150, keys in 1u64..6) {
        let shape = Shape { serial: true, active_keys: keys, ..Shape::new(kind, n) };
        let h = txns::history(shape, seed);
        let o = check(&h, kind, &[("linearizable-keys", true), ("sequential-keys", true), ("wfr-keys", true)]);
        prop_assert!(o.verdict != Verdict::Invalid, "{}", o.summary());
    }

    #[test]
    fn concurrent_strict_serializable_executions_are_valid(
        seed in any::<u64>(), kind in kinds(), n in 1usize..300, keys in 1u64..8, c in 1usize..10,
    ) {
        let shape = Shape { active_keys: keys, concurrency: c, ..Shape::new(kind, n) };
        let h = txns::history(shape, seed);
        let o = check(&h, kind, &[("linearizable-keys", true), ("wfr-keys", true)]);
        prop_assert!(o.verdict != Verdict::Invalid, "{}", o.summary());
    }

    #[test]
    fn planted_list_append_anomalies_are_found(seed in any::<u64>(), n in 20usize..150, pick in any::<usize>()) {
        let shape = Shape { serial: true, active_keys: 3, fail_pct: 10, ..Shape::new(Kind::ListAppend, n) };
        let h = txns::history(shape, seed);
        for plant in [Plant::StaleRead, Plant::DropElement, Plant::Duplicate, Plant::AbortedRead] {
            if let Some(bad) = txns::plant(&h, plant, pick) {
                let o = check(&bad, Kind::ListAppend, &[]);
                prop_assert_eq!(o.verdict, Verdict::Invalid, "{:?} not found: {}", plant, o.summary());
            }
        }
    }

    #[test]
    fn planted_rw_register_anomalies_are_found(seed in any::<u64>(), n in 20usize..150, pick in any::<usize>()) {
        let shape = Shape { serial: true, active_keys: 3, fail_pct: 10, ..Shape::new(Kind::RwRegister, n) };
        let h = txns::history(shape, seed);
        for plant in [Plant::StaleRead, Plant::AbortedRead] {
            if let Some(bad) = txns::plant(&h, plant, pick) {
                let o = check(&bad, Kind::RwRegister, &[]);
                prop_assert_eq!(o.verdict, Verdict::Invalid, "{:?} not found: {}", plant, o.summary());
            }
        }
    }
}

/// Unknown verdicts in the valid properties would hide a weak check: the
/// generated histories must mostly be judged, not shrugged at.
#[test]
fn generated_histories_are_judged_valid_not_unknown() {
    let mut unknown = 0;
    for seed in 0..40 {
        for kind in [Kind::ListAppend, Kind::RwRegister] {
            let h = txns::history(Shape::new(kind, 200), seed);
            let o = check(&h, kind, &[]);
            assert_ne!(o.verdict, Verdict::Invalid, "{}", o.summary());
            unknown += usize::from(o.verdict == Verdict::Unknown);
        }
    }
    assert_eq!(unknown, 0);
}
