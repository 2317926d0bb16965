//! The history files elle-cli reads, read the way it reads them:
//! - EDN: operation maps one after another, or one vector or list of them
//!   (`read-edn-history`); an operation may lack `:f` (Elle's transactions) or
//!   `:process` (elle-cli's README examples): `:f` becomes `:txn` when the value is
//!   a list of micro-operations, a missing `:process` is one process for them all
//!   (Jepsen's `nil` process);
//! - JSON: an array of objects (or one object per line), every key a keyword,
//!   `type` and `f` values keywords, and in a `value` that is a list of
//!   micro-operations the micro-operation names keywords (`["append", 1, 2]` is
//!   `[:append 1 2]`); keys and other strings stay strings (`read-json-history`);
//! - faultline's own JSON Lines (`.jsonl`), as every other command reads them.
//!
//! A process that invokes again after an `info` continues under a new process
//! number, as Jepsen would have numbered it (elle-cli does not check this).
//!
//! Every operation keeps the line it starts on, so checkers can name it.

use std::path::Path;

use history::{Format, History, Op, OpKind, Process, Value};
use serde_json::Value as Json;

/// How to read a file (`-f`), else by its extension as elle-cli does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Edn,
    Json,
    Jsonl,
}

impl Input {
    pub fn parse(text: &str) -> Result<Input, String> {
        match text {
            "edn" => Ok(Input::Edn),
            "json" => Ok(Input::Json),
            "jsonl" => Ok(Input::Jsonl),
            other => Err(format!("Must be one of edn, json (got {other:?})")),
        }
    }

    pub fn of_path(path: &Path) -> Option<Input> {
        match path.extension().and_then(|e| e.to_str()) {
            Some("edn") => Some(Input::Edn),
            Some("json") => Some(Input::Json),
            Some("jsonl") => Some(Input::Jsonl),
            _ => None,
        }
    }
}

/// Reads a history; the error names the file and, when known, the line.
pub fn read(path: &Path, input: Input) -> Result<History, String> {
    if input == Input::Jsonl {
        return history::read_path(path, Some(Format::Jsonl))
            .map(|r| r.history)
            .map_err(|e| e.to_string());
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let text = String::from_utf8_lossy(&bytes);
    let at = |line: usize, m: String| format!("{}:{line}: {m}", path.display());
    let json = input == Input::Json;
    let items = top_level_items(&text, json).map_err(|(line, m)| at(line, m))?;
    let mut forms: Vec<(usize, Value)> = Vec::with_capacity(items.len());
    for (line, range) in items {
        let slice = &text[range];
        let v = if json {
            let j: Json =
                serde_json::from_str(slice).map_err(|e| at(line, format!("not JSON: {e}")))?;
            json_value(&j)
        } else {
            history::edn::parse_value(slice).map_err(|m| at(line, m))?
        };
        forms.push((line, v));
    }
    let any_process = forms.iter().any(|(_, f)| f.get(&Value::kw("process")).is_some());
    let mut ops: Vec<Op> = Vec::with_capacity(forms.len());
    let mut lines = Vec::with_capacity(forms.len());
    for (position, (line, mut form)) in forms.into_iter().enumerate() {
        if json {
            keywordize(&mut form);
        }
        fill_in(&mut form, any_process);
        let op = history::edn::op_from_value(form, position as u64).map_err(|m| at(line, m))?;
        ops.push(op);
        lines.push(line);
    }
    retire_after_info(&mut ops);
    let mut h = History::with_lines(ops, lines);
    h.source = Some(path.to_path_buf());
    Ok(h)
}

/// elle-cli takes histories whose processes go on after an `info` (Jepsen gives
/// the worker a new process then, because the old operation may still be in
/// flight, and faultline's linter insists on it). Such a process's later
/// operations get a fresh process number, as Jepsen would have given them.
fn retire_after_info(ops: &mut [Op]) {
    use std::collections::HashMap;
    let mut next = 1 + ops
        .iter()
        .filter_map(|o| match o.process {
            Process::Client(p) => Some(p),
            Process::Nemesis => None,
        })
        .max()
        .unwrap_or(0);
    // original process -> (current number, whether its last op ended in info)
    let mut alias: HashMap<u64, (u64, bool)> = HashMap::new();
    for op in ops.iter_mut() {
        let Process::Client(p) = op.process else { continue };
        let entry = alias.entry(p).or_insert((p, false));
        if op.kind == OpKind::Invoke && entry.1 {
            *entry = (next, false);
            next += 1;
        }
        if op.kind == OpKind::Info {
            entry.1 = true;
        }
        op.process = Process::Client(entry.0);
    }
}

/// The top-level forms of a file: a single enclosing vector or list is looked
/// into. Returns each form's first line and byte range.
#[allow(clippy::type_complexity)]
fn top_level_items(
    text: &str,
    json: bool,
) -> Result<Vec<(usize, std::ops::Range<usize>)>, (usize, String)> {
    let forms = scan(text, 0, text.len(), json)?;
    if forms.len() == 1 {
        let (line, r) = &forms[0];
        let b = text.as_bytes()[r.start];
        if b == b'[' || b == b'(' {
            let inner = scan(text, r.start + 1, r.end - 1, json)?;
            return Ok(inner.into_iter().map(|(l, r2)| (l + line - 1, r2)).collect());
        }
    }
    Ok(forms)
}

/// The forms in `text[start..end]`: each one's line (counted from 1 at `start`'s
/// line) and byte range. Strings, `;` comments (EDN) and `\c` characters (EDN) are
/// skipped over; brackets must balance.
#[allow(clippy::type_complexity)]
fn scan(
    text: &str,
    start: usize,
    end: usize,
    json: bool,
) -> Result<Vec<(usize, std::ops::Range<usize>)>, (usize, String)> {
    let b = text.as_bytes();
    let mut line = 1 + b[..start].iter().filter(|c| **c == b'\n').count();
    let mut i = start;
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut form_start: Option<(usize, usize)> = None;
    while i < end {
        let c = b[i];
        match c {
            b'\n' => line += 1,
            b'"' => {
                if depth == 0 && form_start.is_none() {
                    form_start = Some((i, line));
                }
                i += 1;
                while i < end && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    if i < end && b[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                if i >= end {
                    return Err((line, "a string is never closed".into()));
                }
                if depth == 0
                    && let Some((s, l)) = form_start.take()
                {
                    out.push((l, s..i + 1));
                }
            }
            b';' if !json => {
                while i < end && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'\\' if !json => {
                if depth == 0 && form_start.is_none() {
                    form_start = Some((i, line));
                }
                i += 2;
                continue;
            }
            b'{' | b'[' | b'(' => {
                if depth == 0 && form_start.is_none() {
                    form_start = Some((i, line));
                }
                depth += 1;
            }
            b'}' | b']' | b')' => {
                if depth == 0 {
                    return Err((line, format!("unexpected {:?}", c as char)));
                }
                depth -= 1;
                if depth == 0
                    && let Some((s, l)) = form_start.take()
                {
                    out.push((l, s..i + 1));
                }
            }
            c if c.is_ascii_whitespace() || c == b',' => {
                if depth == 0
                    && let Some((s, l)) = form_start.take()
                {
                    out.push((l, s..i));
                }
            }
            _ => {
                if depth == 0 && form_start.is_none() {
                    form_start = Some((i, line));
                }
            }
        }
        i += 1;
    }
    if depth != 0 {
        return Err((line, "a bracket is never closed".into()));
    }
    if let Some((s, l)) = form_start {
        out.push((l, s..end));
    }
    // `#tag{..}` and `#{..}` read as one form: merge a `#...` atom with the
    // bracketed form right after it.
    let mut merged: Vec<(usize, std::ops::Range<usize>)> = Vec::new();
    for (l, r) in out {
        match merged.last_mut() {
            Some((_, prev)) if b[prev.start] == b'#' && prev.end == r.start => prev.end = r.end,
            _ => merged.push((l, r)),
        }
    }
    Ok(merged)
}

/// JSON as elle-cli's reader makes it: objects become maps with keyword keys.
fn json_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(json_value).collect()),
        Json::Object(m) => {
            Value::Map(m.iter().map(|(k, v)| (Value::kw(k), json_value(v))).collect())
        }
    }
}

/// elle-cli's `value-reader`: `type` and `f` strings become keywords, and in a
/// `value` whose first micro-operation's name is a string, every micro-operation's
/// name does.
fn keywordize(form: &mut Value) {
    let Value::Map(entries) = form else { return };
    for (k, v) in entries.iter_mut() {
        let name = match k {
            Value::Keyword(s) => s.as_str(),
            _ => "",
        };
        match (name, &mut *v) {
            ("type" | "f", Value::Str(s)) => *v = Value::Keyword(std::mem::take(s)),
            ("value", Value::List(mops))
                if matches!(
                    mops.first().and_then(Value::as_list).and_then(|m| m.first()),
                    Some(Value::Str(_))
                ) =>
            {
                for m in mops.iter_mut() {
                    if let Value::List(parts) = m
                        && let Some(first) = parts.first_mut()
                        && let Value::Str(f) = first
                    {
                        *first = Value::Keyword(std::mem::take(f));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Adds `:f :txn` to a transaction without `:f`, and `:process 0` to an operation
/// without `:process` when no operation of the file has one.
fn fill_in(form: &mut Value, any_process: bool) {
    let Value::Map(entries) = form else { return };
    let has =
        |entries: &[(Value, Value)], k: &str| entries.iter().any(|(key, _)| *key == Value::kw(k));
    if !has(entries, "f") {
        let txn = entries.iter().any(|(k, v)| {
            *k == Value::kw("value")
                && v.as_list().is_some_and(|mops| {
                    mops.iter().all(|m| m.as_list().is_some_and(|l| l.len() == 3))
                })
        });
        if txn {
            entries.push((Value::kw("f"), Value::kw("txn")));
        }
    }
    if !has(entries, "process") && !any_process {
        entries.push((Value::kw("process"), Value::Int(0)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_str(text: &str, input: Input) -> Result<History, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(match input {
            Input::Edn => "h.edn",
            Input::Json => "h.json",
            Input::Jsonl => "h.jsonl",
        });
        std::fs::write(&path, text).unwrap();
        read(&path, input)
    }

    #[test]
    fn edn_bare_in_a_vector_or_a_list_with_lines() {
        let bare = "{:index 2 :type :invoke, :value [[:append 255 8] [:r 253 nil]]}\n; note\n\
                    {:index 3 :type :ok, :value [[:append 255 8] [:r 253 [1 3 \"a]b\"]]]}\n";
        for text in [bare.to_string(), format!("[{bare}]"), format!("(\n{bare})")] {
            let h = read_str(&text, Input::Edn).unwrap();
            assert_eq!(h.ops.len(), 2, "{text}");
            assert_eq!(h.ops[1].f, "txn");
            assert_eq!(h.ops[1].process, history::Process::Client(0));
            let last = h.lines[1];
            assert!(last == 3 || last == 4, "{:?}", h.lines);
            assert!(h.clone().lint().is_ok());
        }
        let e = read_str("{:index 1 :type :ok\n:value [[:r 1 nil]]", Input::Edn).unwrap_err();
        assert!(e.contains("h.edn:2") && e.contains("never closed"), "{e}");
    }

    #[test]
    fn json_keywords_types_fs_and_micro_op_names_but_not_keys() {
        let text = r#"[{"index":0,"process":0,"type":"invoke","f":"txn","value":[["w","x",1]]},
 {"index":1,"process":0,"type":"ok","f":"txn","value":[["w","x",1],["r","y",null]]}]"#;
        let h = read_str(text, Input::Json).unwrap();
        assert_eq!(h.lines, vec![1, 2]);
        let v = h.ops[1].value.as_list().unwrap();
        assert_eq!(v[0], Value::List(vec![Value::kw("w"), Value::Str("x".into()), Value::Int(1)]));
        assert_eq!(v[1].as_list().unwrap()[2], Value::Nil);
        assert_eq!(h.ops[1].kind, history::OpKind::Ok);
        let lines = "{\"process\":3,\"type\":\"invoke\",\"f\":\"read\",\"value\":null}\n{\"process\":3,\"type\":\"ok\",\"f\":\"read\",\"value\":{\"a\":1}}\n";
        let h = read_str(lines, Input::Json).unwrap();
        assert_eq!(h.ops[1].value.get(&Value::kw("a")), Some(&Value::Int(1)));
        assert!(read_str("[{\"type\": \"ok\"", Input::Json).is_err());
    }
}
