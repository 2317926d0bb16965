//! JSON Lines, the native history format: one operation per line.
//!
//! ```text
//! {"index":0,"time":1200,"type":"invoke","process":3,"f":"write","key":"k1","value":4}
//! {"index":1,"time":5100,"type":"ok","process":3,"f":"write","key":"k1","value":4,"node":"n2"}
//! ```
//!
//! `process` is an integer or `"nemesis"`; `key`, `node` and `error` are omitted when
//! absent; any other field is kept as an extra. Values use the JSON forms of
//! [`Value::to_json`]. The harness appends to this file while a run goes, so a run
//! killed mid-write leaves a last line cut short: the reader keeps every complete line
//! and reports the cut one as a warning, never as an error.

use std::io::{self, BufRead, Write};

use serde_json::Value as Json;

use crate::edn::parse_process;
use crate::op::{Op, OpKind, Process};
use crate::value::Value;

/// Streams ops out of JSON Lines text, with their 1-based line numbers.
pub struct JsonlReader<R> {
    inner: R,
    line: usize,
    position: u64,
    buf: Vec<u8>,
    done: bool,
    /// Set when the last line had no newline and could not be read: (line, bytes).
    pub truncated: Option<(usize, usize)>,
}

impl<R: BufRead> JsonlReader<R> {
    pub fn new(inner: R) -> Self {
        JsonlReader { inner, line: 0, position: 0, buf: Vec::new(), done: false, truncated: None }
    }
}

impl<R: BufRead> Iterator for JsonlReader<R> {
    type Item = Result<(usize, Op), (usize, String)>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.done {
                return None;
            }
            self.buf.clear();
            let n = match self.inner.read_until(b'\n', &mut self.buf) {
                Ok(n) => n,
                Err(e) => {
                    self.done = true;
                    return Some(Err((self.line + 1, format!("read error: {e}"))));
                }
            };
            if n == 0 {
                self.done = true;
                return None;
            }
            self.line += 1;
            let complete = self.buf.last() == Some(&b'\n');
            let text = String::from_utf8_lossy(&self.buf);
            let text = text.trim();
            if text.is_empty() {
                continue;
            }
            let parsed = parse_line(text, self.position);
            match parsed {
                Ok(op) => {
                    self.position += 1;
                    return Some(Ok((self.line, op)));
                }
                Err(_) if !complete => {
                    // Only the very last line can lack its newline: a cut write.
                    self.truncated = Some((self.line, n));
                    self.done = true;
                    return None;
                }
                Err(m) => {
                    self.done = true;
                    return Some(Err((self.line, m)));
                }
            }
        }
    }
}

/// Reads one JSON Lines line (already trimmed) into an op; `position` stands in for
/// a missing `index`. The fast reader ([`crate::json`]) decides; when it refuses a
/// line for anything but its depth, serde_json gives the verdict and the message.
pub fn parse_line(text: &str, position: u64) -> Result<Op, String> {
    match crate::json::parse_op_line(text, position) {
        Ok(op) => Ok(op),
        Err(e) if e.deep => Err(e.message),
        Err(fast) => {
            let slow = serde_json::from_str::<Json>(text)
                .map_err(|e| format!("not valid JSON: {e}"))
                .and_then(|json| op_from_json(&json, position));
            match slow {
                Err(m) if m.contains("recursion limit") => Err(fast.message),
                other => other,
            }
        }
    }
}

/// The fast reader alone, with no fallback (for the fuzz target that compares it
/// with serde_json).
#[doc(hidden)]
pub fn fast_parse_line(text: &str, position: u64) -> Result<Op, String> {
    crate::json::parse_op_line(text, position).map_err(|e| e.message)
}

/// Reads one op object; `position` stands in for a missing `index`.
pub fn op_from_json(json: &Json, position: u64) -> Result<Op, String> {
    let obj = json.as_object().ok_or("each line must be a JSON object")?;
    let mut op = Op::new(Process::Nemesis, OpKind::Invoke, "", Value::Nil);
    let (mut index, mut time, mut kind, mut process, mut f) = (None, None, None, None, None);
    for (k, v) in obj {
        match k.as_str() {
            "index" => index = Some(v.as_u64().ok_or("\"index\" must be a non-negative integer")?),
            "time" => time = Some(v.as_u64().ok_or("\"time\" must be a non-negative integer")?),
            "type" => {
                let t = v.as_str().ok_or("\"type\" must be a string")?;
                kind = Some(OpKind::parse(t).ok_or_else(|| {
                    format!("unknown type {t:?} (expected invoke, ok, fail or info)")
                })?);
            }
            "process" => process = Some(parse_process(&Value::from_json(v)?)?),
            "f" => f = Some(v.as_str().ok_or("\"f\" must be a string")?.to_string()),
            "key" => op.key = Some(Value::from_json(v)?),
            "value" => op.value = Value::from_json(v)?,
            "node" => op.node = Some(v.as_str().ok_or("\"node\" must be a string")?.to_string()),
            "error" => op.error = Some(Value::from_json(v)?),
            other => {
                op.extra.insert(other.to_string(), Value::from_json(v)?);
            }
        }
    }
    op.kind = kind.ok_or("operation has no \"type\"")?;
    op.process = process.ok_or("operation has no \"process\"")?;
    op.f = f.ok_or("operation has no \"f\"")?;
    op.index = index.unwrap_or(position);
    op.time_ns = time.unwrap_or(op.index);
    Ok(op)
}

/// One op as a JSON line (without the newline).
pub fn op_to_json_line(op: &Op) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(96);
    let _ = write!(
        s,
        "{{\"index\":{},\"time\":{},\"type\":\"{}\",\"process\":",
        op.index, op.time_ns, op.kind
    );
    match op.process {
        Process::Client(p) => {
            let _ = write!(s, "{p}");
        }
        Process::Nemesis => s.push_str("\"nemesis\""),
    }
    let json = |v: &Json| serde_json::to_string(v).unwrap_or_else(|_| "null".into());
    let _ = write!(s, ",\"f\":{}", json(&Json::String(op.f.clone())));
    if let Some(k) = &op.key {
        let _ = write!(s, ",\"key\":{}", json(&k.to_json()));
    }
    let _ = write!(s, ",\"value\":{}", json(&op.value.to_json()));
    if let Some(n) = &op.node {
        let _ = write!(s, ",\"node\":{}", json(&Json::String(n.clone())));
    }
    if let Some(e) = &op.error {
        let _ = write!(s, ",\"error\":{}", json(&e.to_json()));
    }
    for (k, v) in &op.extra {
        let _ = write!(s, ",{}:{}", json(&Json::String(k.clone())), json(&v.to_json()));
    }
    s.push('}');
    s
}

/// Appends `op` as one JSON line, newline included, to `buf`: the same bytes as
/// [`op_to_json_line`], through a fast path (no `serde_json` values) for the shapes
/// clients record, and the general writer for anything else. The one JSONL writer:
/// the harness's recorder and [`JsonlWriter`] both use it.
pub fn push_op_line(buf: &mut Vec<u8>, op: &Op) {
    if !crate::jsonl_fast::push_op_line(buf, op) {
        buf.extend_from_slice(op_to_json_line(op).as_bytes());
        buf.push(b'\n');
    }
}

/// Appends ops to a JSON Lines sink. Callers decide when to flush (the harness
/// flushes at least every second and at every phase change).
pub struct JsonlWriter<W: Write> {
    out: io::BufWriter<W>,
    line: Vec<u8>,
}

impl<W: Write> JsonlWriter<W> {
    pub fn new(out: W) -> Self {
        JsonlWriter { out: io::BufWriter::new(out), line: Vec::with_capacity(256) }
    }

    pub fn write(&mut self, op: &Op) -> io::Result<()> {
        self.line.clear();
        push_op_line(&mut self.line, op);
        self.out.write_all(&self.line)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    pub fn into_inner(self) -> io::Result<W> {
        self.out.into_inner().map_err(|e| e.into_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncated_last_line_is_a_warning() {
        let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\",\"value\":null}\n{\"type\":\"ok\",\"pro";
        let mut r = JsonlReader::new(text.as_bytes());
        let ops: Vec<_> = r.by_ref().collect::<Result<_, _>>().unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(r.truncated, Some((2, 17)));
    }

    #[test]
    fn bad_middle_line_is_an_error() {
        let text = "{\"type\":\"invoke\",\"process\":0,\"f\":\"read\"}\nnot json\n{}\n";
        let err = JsonlReader::new(text.as_bytes()).collect::<Result<Vec<_>, _>>().unwrap_err();
        assert_eq!(err.0, 2);
    }
}
