//! Property tests: generated histories survive JSONL <-> EDN conversions unchanged, and a
//! JSON Lines file cut at any byte still yields every complete operation.

use std::collections::BTreeMap;

use history::{Format, History, Op, OpKind, Process, Value, format};
use proptest::prelude::*;

const RESERVED: [&str; 9] =
    ["index", "time", "type", "process", "f", "key", "value", "node", "error"];

fn bare_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9*+!_?<>=-]{0,8}(/[a-z][a-z0-9-]{0,5})?"
        .prop_filter("not a literal", |s| !matches!(s.as_str(), "nil" | "true" | "false"))
}

/// Names that cannot be printed bare (spaces, leading digits, quotes, unicode).
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![3 => bare_name(), 1 => "\\PC{0,6}", 1 => "[0-9 :#\"\\\\]{1,4}"]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => any::<f64>().prop_filter("finite", |f| f.is_finite()),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
        1 => Just(1.0),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::Int),
        float().prop_map(Value::Float),
        "(\\PC|[\\n\\t\\r\"\\\\\\x00-\\x1f])*".prop_map(Value::Str),
        any_name().prop_map(Value::Keyword),
        any_name().prop_map(Value::Symbol),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Set),
            prop::collection::vec((inner.clone(), inner.clone()), 0..3).prop_map(Value::Map),
            prop::collection::vec(("[a-z#]{1,3}", inner.clone()), 0..3).prop_map(|kv| {
                Value::Map(kv.into_iter().map(|(k, v)| (Value::Str(k), v)).collect())
            }),
            ("[a-z][a-z0-9.]{0,6}/[a-z]{1,4}", inner)
                .prop_filter("reserved tags", |(t, _)| !t.starts_with("faultline/"))
                .prop_map(|(t, v)| Value::Tagged(t, Box::new(v))),
        ]
    })
}

fn op() -> impl Strategy<Value = Op> {
    let kind =
        prop_oneof![Just(OpKind::Invoke), Just(OpKind::Ok), Just(OpKind::Fail), Just(OpKind::Info)];
    let process = prop_oneof![4 => (0..i64::MAX as u64).prop_map(Process::Client), 1 => Just(Process::Nemesis)];
    let extra = prop::collection::btree_map(
        any_name().prop_filter("reserved", |n| !RESERVED.contains(&n.as_str())),
        value(),
        0..2,
    );
    (
        (0..i64::MAX as u64, process, kind, any_name(), prop::option::of(value())),
        (value(), prop::option::of("\\PC{0,8}"), prop::option::of(value()), extra),
    )
        .prop_map(|((time_ns, process, kind, f, key), (value, node, error, extra))| Op {
            index: 0,
            time_ns,
            process,
            kind,
            f,
            key,
            value,
            node,
            error,
            extra: extra.into_iter().collect::<BTreeMap<_, _>>(),
        })
}

fn history() -> impl Strategy<Value = History> {
    (prop::collection::vec((op(), 1..1000u64), 0..12)).prop_map(|ops| {
        let mut index = 0;
        let ops = ops
            .into_iter()
            .map(|(mut op, gap)| {
                index += gap;
                op.index = index;
                op
            })
            .collect::<Vec<_>>();
        let lines = (1..=ops.len()).collect();
        History::with_lines(ops, lines)
    })
}

fn reread(h: &History, f: Format) -> History {
    let text = format::to_string(h, f).expect("write");
    format::read_str(&text, f).unwrap_or_else(|e| panic!("{e}\n{text}")).history
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn jsonl_edn_jsonl_is_lossless(h in history()) {
        let j = reread(&h, Format::Jsonl);
        prop_assert_eq!(&j.ops, &h.ops);
        let e = reread(&j, Format::Edn);
        prop_assert_eq!(&e.ops, &h.ops);
        prop_assert_eq!(
            format::to_string(&reread(&e, Format::Jsonl), Format::Jsonl).unwrap(),
            format::to_string(&h, Format::Jsonl).unwrap()
        );
    }

    #[test]
    fn edn_jsonl_edn_is_lossless(h in history()) {
        let edn = format::to_string(&h, Format::Edn).unwrap();
        let first = format::read_str(&edn, Format::Edn).unwrap().history;
        prop_assert_eq!(&first.ops, &h.ops);
        let again = reread(&first, Format::Jsonl);
        prop_assert_eq!(format::to_string(&again, Format::Edn).unwrap(), edn);
    }

    #[test]
    fn jsonl_cut_anywhere_keeps_complete_ops(h in history(), cut in any::<prop::sample::Index>()) {
        let text = format::to_string(&h, Format::Jsonl).unwrap();
        let cut = cut.index(text.len() + 1);
        let prefix = &text.as_bytes()[..cut];
        // An op is complete when its whole line (not necessarily the newline) is there.
        let mut complete = 0;
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let end = start + line.len() - 1; // without the newline
            if end <= cut { complete += 1; }
            start += line.len();
        }
        let read = format::read_jsonl(prefix).expect("a cut file is never an error");
        prop_assert_eq!(read.history.ops.as_slice(), &h.ops[..complete]);
        if complete < h.ops.len() && !prefix.is_empty() && prefix.last() != Some(&b'\n') {
            // Either the cut fell inside a line (warned), or right after a complete op.
            let ends_after_op = prefix.last() == Some(&b'}') && complete > 0
                && text.as_bytes().get(cut) == Some(&b'\n');
            prop_assert!(ends_after_op || !read.warnings.is_empty());
        }
    }
}

/// The same on a real 4,048-op history, at many cut points.
#[test]
fn real_history_cut_at_many_bytes() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/histories/porcupine/kv/c50-bad.txt");
    let h = history::read_path(&path, None).unwrap().history;
    let text = format::to_string(&h, Format::Jsonl).unwrap();
    let line_ends: Vec<usize> = text.match_indices('\n').map(|(i, _)| i).collect();
    let mut cut = 0;
    while cut <= text.len() {
        let complete = line_ends.iter().filter(|&&e| e <= cut).count();
        let read = format::read_jsonl(&text.as_bytes()[..cut]).unwrap();
        assert_eq!(read.history.len(), complete, "cut at {cut}");
        assert_eq!(read.history.ops[..], h.ops[..complete]);
        cut += 997;
    }
}
