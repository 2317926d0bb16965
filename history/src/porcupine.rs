//! Porcupine's Jepsen etcd logs (`test_data/jepsen/etcd_NNN.log`): a reader.
//!
//! Each line is `INFO  jepsen.util - <process> <type> <f> <value>`, fields split by
//! tabs or runs of spaces, with the value an EDN form (`nil`, `3`, `[1 2]`,
//! `:timed-out`). The files record no times: line order is the real-time order, so the
//! line's position becomes both the index and the time. Porcupine's key-value logs are
//! plain EDN maps and go through the EDN reader.

use crate::edn::{parse_process, parse_value};
use crate::op::{Op, OpKind};
use crate::value::Value;

/// The marker every event line carries before its fields.
pub const MARKER: &str = "jepsen.util - ";

/// Reads every op with its line number. Lines without the marker (log noise) are
/// skipped; a line with the marker that cannot be read is an error naming its line.
pub fn read_ops(text: &str) -> Result<Vec<(usize, Op)>, (usize, String)> {
    let mut ops = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let Some(at) = line.find(MARKER) else { continue };
        let rest = &line[at + MARKER.len()..];
        let op = parse_event(rest, ops.len() as u64).map_err(|m| (lineno, m))?;
        ops.push((lineno, op));
    }
    Ok(ops)
}

fn parse_event(rest: &str, position: u64) -> Result<Op, String> {
    // Fields are split by tabs in most files and by runs of spaces in others; the
    // value is whatever follows the third field (it may contain spaces: `[1 2]`).
    let mut rest = rest.trim();
    let mut next = |what: &str| {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let field = &rest[..end];
        rest = rest[end..].trim_start();
        if field.is_empty() { Err(format!("missing the {what} field")) } else { Ok(field) }
    };
    let process = parse_process(&parse_value(next("process")?)?)?;
    let kind_text = next("type")?;
    let kind = kind_text.strip_prefix(':').and_then(OpKind::parse).ok_or_else(|| {
        format!("unknown type {kind_text} (expected :invoke, :ok, :fail or :info)")
    })?;
    let f_text = next("f")?;
    let f = f_text
        .strip_prefix(':')
        .ok_or_else(|| format!("the f field must be a keyword, found {f_text}"))?;
    // The value may be absent on some lines; absent reads as nil.
    let value = if rest.is_empty() { Value::Nil } else { parse_value(rest)? };
    let mut op = Op::new(process, kind, f, value);
    op.index = position;
    op.time_ns = position;
    Ok(op)
}

/// True when the text looks like one of these logs.
pub fn looks_like(text: &str) -> bool {
    text.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| l.contains(MARKER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tabs_and_spaces() {
        let text = "INFO  jepsen.util - 2\t:invoke\t:cas\t[3 0]\nINFO  jepsen.util - 2   :fail :cas    [3 0]\n";
        let ops = read_ops(text).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[1].1.kind, OpKind::Fail);
        assert_eq!(ops[1].1.value, Value::List(vec![3.into(), 0.into()]));
    }

    #[test]
    fn bad_type_names_line() {
        let text = "INFO  jepsen.util - 2\t:invoke\t:read\tnil\nINFO  jepsen.util - 2\t:done\t:read\tnil\n";
        let (line, msg) = read_ops(text).unwrap_err();
        assert_eq!(line, 2);
        assert!(msg.contains(":done"));
    }
}
