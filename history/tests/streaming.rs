//! `format::open_jsonl` streams a file one line at a time: the same ops as reading it
//! whole, errors naming the line, a cut last line reported and skipped.

use std::io::Write;

use history::{Format, History, Op, Value, format};

#[test]
fn streaming_reads_what_reading_whole_reads() {
    let ops: Vec<Op> = (0..10_000u64)
        .flat_map(|i| {
            [
                Op::invoke(i % 7, "write", Value::Int(i as i64)),
                Op::ok(i % 7, "write", Value::Int(i as i64)),
            ]
        })
        .collect();
    let h = History::from_ops(ops);
    let dir = std::env::temp_dir().join(format!("faultline-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("h.jsonl");
    let mut text = format::to_string(&h, Format::Jsonl).unwrap();
    text.push_str("{\"type\":\"ok\",\"proc"); // a cut last line
    std::fs::write(&path, &text).unwrap();
    let mut r = format::open_jsonl(&path).unwrap();
    let streamed: Vec<(usize, Op)> = r.by_ref().collect::<Result<_, _>>().unwrap();
    assert_eq!(streamed.len(), h.len());
    assert!(streamed.iter().zip(&h.ops).all(|((_, a), b)| a == b));
    assert_eq!(r.truncated.map(|(line, _)| line), Some(h.len() + 1));
    let mut f = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    writeln!(f, "\nnot json").unwrap();
    let err = format::open_jsonl(&path).unwrap().find_map(Result::err).unwrap();
    assert_eq!(err.0, h.len() + 1);
    assert!(format::open_jsonl(&dir.join("missing.jsonl")).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}
