//! A fast path for writing one operation as a JSON line, byte for byte what
//! [`crate::jsonl::op_to_json_line`] writes, without building `serde_json` values.
//!
//! The recorder writes hundreds of thousands of lines per second in benchmarks;
//! the general writer allocates several times per line. This one appends to a reused
//! buffer and handles the shapes clients produce (nil, booleans, integers, plain
//! strings, keywords, vectors of those); anything else (floats, sets, maps, strings
//! that need escaping, ...) makes it return `false`, and the caller falls back to
//! the general writer. A test compares both on many operations.

use crate::op::{Op, Process};
use crate::value::Value;

fn push_u64(buf: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&digits[i..]);
}

fn push_i64(buf: &mut Vec<u8>, n: i64) {
    if n < 0 {
        buf.push(b'-');
    }
    push_u64(buf, n.unsigned_abs());
}

/// A string that needs no escaping (printable ASCII without `"` and `\`).
fn push_plain_str(buf: &mut Vec<u8>, s: &str) -> bool {
    if !s.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\') {
        return false;
    }
    buf.push(b'"');
    buf.extend_from_slice(s.as_bytes());
    buf.push(b'"');
    true
}

fn push_value(buf: &mut Vec<u8>, v: &Value) -> bool {
    match v {
        Value::Nil => buf.extend_from_slice(b"null"),
        Value::Bool(true) => buf.extend_from_slice(b"true"),
        Value::Bool(false) => buf.extend_from_slice(b"false"),
        Value::Int(i) => push_i64(buf, *i),
        Value::Str(s) => return push_plain_str(buf, s),
        Value::Keyword(k) => {
            buf.extend_from_slice(b"{\"#kw\":");
            if !push_plain_str(buf, k) {
                return false;
            }
            buf.push(b'}');
        }
        Value::List(items) => {
            buf.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                if !push_value(buf, item) {
                    return false;
                }
            }
            buf.push(b']');
        }
        _ => return false,
    }
    true
}

/// Appends `op` and a newline to `buf`; on `false` the buffer is left as it was.
pub(crate) fn push_op_line(buf: &mut Vec<u8>, op: &Op) -> bool {
    let start = buf.len();
    if push_op(buf, op) {
        buf.push(b'\n');
        true
    } else {
        buf.truncate(start);
        false
    }
}

fn push_op(buf: &mut Vec<u8>, op: &Op) -> bool {
    buf.extend_from_slice(b"{\"index\":");
    push_u64(buf, op.index);
    buf.extend_from_slice(b",\"time\":");
    push_u64(buf, op.time_ns);
    buf.extend_from_slice(b",\"type\":\"");
    buf.extend_from_slice(op.kind.name().as_bytes());
    buf.extend_from_slice(b"\",\"process\":");
    match op.process {
        Process::Client(p) => push_u64(buf, p),
        Process::Nemesis => buf.extend_from_slice(b"\"nemesis\""),
    }
    buf.extend_from_slice(b",\"f\":");
    if !push_plain_str(buf, &op.f) {
        return false;
    }
    if let Some(k) = &op.key {
        buf.extend_from_slice(b",\"key\":");
        if !push_value(buf, k) {
            return false;
        }
    }
    buf.extend_from_slice(b",\"value\":");
    if !push_value(buf, &op.value) {
        return false;
    }
    if let Some(n) = &op.node {
        buf.extend_from_slice(b",\"node\":");
        if !push_plain_str(buf, n) {
            return false;
        }
    }
    if let Some(e) = &op.error {
        buf.extend_from_slice(b",\"error\":");
        if !push_value(buf, e) {
            return false;
        }
    }
    for (k, v) in &op.extra {
        buf.push(b',');
        if !push_plain_str(buf, k) {
            return false;
        }
        buf.push(b':');
        if !push_value(buf, v) {
            return false;
        }
    }
    buf.push(b'}');
    true
}

#[cfg(test)]
mod tests {
    use crate::jsonl::op_to_json_line;
    use crate::op::OpKind;
    use crate::value::Value;
    use rand::rngs::ChaCha8Rng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    fn random_value(rng: &mut ChaCha8Rng, depth: u32) -> Value {
        match rng.random_range(0..if depth > 2 { 8 } else { 10 }) {
            0 => Value::Nil,
            1 => Value::Bool(rng.random()),
            2 => Value::Int(rng.random()),
            3 => Value::Int(rng.random_range(-5..5)),
            4 => Value::Str(
                ["k1", "a \"quoted\" one", "tab\there", "ünï", "", "#kw"][rng.random_range(0..6)]
                    .into(),
            ),
            5 => Value::kw(["timeout", "mismatch", "we\"ird"][rng.random_range(0..3)]),
            6 => Value::Float([0.5, f64::NAN, 3.0][rng.random_range(0..3)]),
            7 => Value::Set(vec![Value::Int(1)]),
            _ => Value::List(
                (0..rng.random_range(0..4)).map(|_| random_value(rng, depth + 1)).collect(),
            ),
        }
    }

    #[test]
    fn fast_lines_equal_the_general_writer_or_fall_back() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let (mut fast, mut fallback) = (0, 0);
        for i in 0..20_000u64 {
            let kind =
                [OpKind::Invoke, OpKind::Ok, OpKind::Fail, OpKind::Info][rng.random_range(0..4)];
            let process = if rng.random_range(0..10) == 0 {
                Process::Nemesis
            } else {
                Process::Client(rng.random_range(0..1000))
            };
            let mut op = Op::new(
                process,
                kind,
                ["read", "write", "cas", "start \"x\""][rng.random_range(0..4)],
                random_value(&mut rng, 0),
            );
            op.index = i;
            op.time_ns = rng.random();
            if rng.random() {
                op.key = Some(random_value(&mut rng, 0));
            }
            if rng.random() {
                op.node = Some(["n1", "n\"2"][rng.random_range(0..2)].into());
            }
            if rng.random() {
                op.error = Some(random_value(&mut rng, 0));
            }
            if rng.random_range(0..4) == 0 {
                op.extra.insert("phase".into(), random_value(&mut rng, 0));
            }
            let mut buf = b"prefix".to_vec();
            if push_op_line(&mut buf, &op) {
                fast += 1;
                assert_eq!(
                    String::from_utf8(buf).unwrap(),
                    format!("prefix{}\n", op_to_json_line(&op))
                );
            } else {
                fallback += 1;
                assert_eq!(buf, b"prefix");
            }
        }
        // Both paths were exercised.
        assert!(fast > 1000 && fallback > 1000, "fast {fast}, fallback {fallback}");
    }
}
