//! The JSON reader behind JSON Lines: one line of text straight into an [`Op`], with
//! no `serde_json::Value` tree in between.
//!
//! Two reasons to have our own: speed (a history of ten million lines must read at
//! well over a million operations a second, and building a tree per line then
//! converting it costs several times that), and a nesting limit of our choosing
//! ([`MAX_JSON_DEPTH`], deep enough for the JSON form of any value the EDN reader
//! accepts, where serde_json stops at 128).
//!
//! It means exactly what serde_json (with `preserve_order` and `float_roundtrip`)
//! followed by [`Value::from_json`] / `op_from_json` means, which the fuzz target
//! `jsonl_line` checks on every input: the same grammar (RFC 8259; no leading zeros,
//! no trailing commas, no lone surrogates), numbers as serde_json classifies them
//! (an integer that fits `u64`, else `i64`, else a float; `-0` is a float; a float
//! out of range is an error), and duplicate keys as `IndexMap` keeps them (the last
//! value, at the first key's position). When this reader fails for any reason other
//! than depth, the caller asks serde_json for its verdict and message, so errors
//! read as they always did; that path costs time only on bad lines.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::edn::parse_process;
use crate::op::{Op, OpKind, Process};
use crate::value::{MAX_JSON_DEPTH, Value};

/// Why a line could not be read. `deep` errors are final; others are re-asked of
/// serde_json for the canonical message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct JsonError {
    pub message: String,
    pub deep: bool,
}

type Result<T> = std::result::Result<T, JsonError>;

fn fail<T>(message: impl Into<String>) -> Result<T> {
    Err(JsonError { message: message.into(), deep: false })
}

/// A JSON number as serde_json classifies it.
enum Num {
    U64(u64),
    I64(i64),
    F64(f64),
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

/// Reads one JSON Lines operation; `position` stands in for a missing `index`.
pub(crate) fn parse_op_line(text: &str, position: u64) -> Result<Op> {
    let mut p = Parser { src: text.as_bytes(), text, pos: 0, depth: 0 };
    p.ws();
    if p.peek() != Some(b'{') {
        // serde_json first checks the syntax of whatever this is
        p.value()?;
        p.end()?;
        return fail("each line must be a JSON object");
    }
    let op = p.op(position)?;
    p.end()?;
    Ok(op)
}

/// Reads one JSON value into its [`Value`] (the JSON forms of `Value::to_json`).
#[cfg(test)]
pub(crate) fn parse_value(text: &str) -> Result<Value> {
    let mut p = Parser { src: text.as_bytes(), text, pos: 0, depth: 0 };
    let v = p.value()?;
    p.end()?;
    Ok(v)
}

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn end(&mut self) -> Result<()> {
        self.ws();
        if self.pos < self.src.len() { fail("trailing characters") } else { Ok(()) }
    }

    #[inline]
    fn expect(&mut self, b: u8) -> Result<()> {
        self.ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            fail(format!("expected '{}'", b as char))
        }
    }

    fn enter(&mut self) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_JSON_DEPTH {
            return Err(JsonError {
                message: format!(
                    "JSON nested deeper than {MAX_JSON_DEPTH} levels; a history never needs \
                     that many"
                ),
                deep: true,
            });
        }
        Ok(())
    }

    /// The operation object: known fields straight into the `Op`.
    fn op(&mut self, position: u64) -> Result<Op> {
        self.enter()?;
        self.pos += 1; // '{'
        let mut op = Op::new(Process::Nemesis, OpKind::Invoke, "", Value::Nil);
        let (mut index, mut time, mut kind, mut process, mut f) = (None, None, None, None, None);
        // A repeated key keeps its last value (serde_json's map); repeats of the
        // known fields are rare enough to hand to serde_json.
        let mut seen = 0u16;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.ws();
                let key = self.string()?;
                self.expect(b':')?;
                self.ws();
                let bit = match &*key {
                    "index" => {
                        index = Some(self.unsigned()?);
                        1
                    }
                    "time" => {
                        time = Some(self.unsigned()?);
                        2
                    }
                    "type" => {
                        let t = self.string()?;
                        kind = Some(match OpKind::parse(&t) {
                            Some(k) => k,
                            None => return fail("unknown type"),
                        });
                        4
                    }
                    "process" => {
                        let v = self.value()?;
                        process = Some(
                            parse_process(&v).map_err(|m| JsonError { message: m, deep: false })?,
                        );
                        8
                    }
                    "f" => {
                        f = Some(self.string()?.into_owned());
                        16
                    }
                    "key" => {
                        op.key = Some(self.value()?);
                        32
                    }
                    "value" => {
                        op.value = self.value()?;
                        64
                    }
                    "node" => {
                        op.node = Some(self.string()?.into_owned());
                        128
                    }
                    "error" => {
                        op.error = Some(self.value()?);
                        256
                    }
                    _ => {
                        let v = self.value()?;
                        op.extra.insert(key.into_owned(), v);
                        0
                    }
                };
                if seen & bit != 0 {
                    return fail("repeated key");
                }
                seen |= bit;
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return fail("expected ',' or '}'"),
                }
            }
        }
        self.depth -= 1;
        let (Some(kind), Some(process), Some(f)) = (kind, process, f) else {
            return fail("missing type, process or f");
        };
        op.kind = kind;
        op.process = process;
        op.f = f;
        op.index = index.unwrap_or(position);
        op.time_ns = time.unwrap_or(op.index);
        Ok(op)
    }

    /// A number that must be a non-negative integer (`index`, `time`).
    fn unsigned(&mut self) -> Result<u64> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => match self.number()? {
                Num::U64(n) => Ok(n),
                _ => fail("not a non-negative integer"),
            },
            _ => fail("not a non-negative integer"),
        }
    }

    fn value(&mut self) -> Result<Value> {
        self.ws();
        let Some(b) = self.peek() else { return fail("EOF while parsing a value") };
        Ok(match b {
            b'n' => self.literal("null", Value::Nil)?,
            b't' => self.literal("true", Value::Bool(true))?,
            b'f' => self.literal("false", Value::Bool(false))?,
            b'"' => Value::Str(self.string()?.into_owned()),
            b'-' | b'0'..=b'9' => match self.number()? {
                Num::U64(n) => match i64::try_from(n) {
                    Ok(i) => Value::Int(i),
                    Err(_) => return fail(format!("integer {n} does not fit in 64 signed bits")),
                },
                Num::I64(i) => Value::Int(i),
                Num::F64(f) => Value::Float(f),
            },
            b'[' => {
                self.enter()?;
                self.pos += 1;
                let items = self.array_items()?;
                self.depth -= 1;
                Value::List(items)
            }
            b'{' => {
                self.enter()?;
                self.pos += 1;
                let v = self.object()?;
                self.depth -= 1;
                v
            }
            _ => return fail("expected value"),
        })
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value> {
        if self.src[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            fail("expected ident")
        }
    }

    /// After '[': the elements and the closing ']'.
    fn array_items(&mut self) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        self.ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(items);
                }
                _ => return fail("expected ',' or ']'"),
            }
        }
    }

    /// After '{': a map, or one of the `#`-forms of `Value::to_json`.
    fn object(&mut self) -> Result<Value> {
        let mut entries: Vec<(String, Value)> = Vec::new();
        let mut index: Option<HashMap<String, usize>> = None;
        self.ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
        } else {
            loop {
                self.ws();
                let key = self.string()?.into_owned();
                self.expect(b':')?;
                let v = self.value()?;
                insert_last_wins(&mut entries, &mut index, key, v);
                self.ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b'}') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return fail("expected ',' or '}'"),
                }
            }
        }
        if entries.len() == 1 && entries[0].0.starts_with('#') {
            let (tag, v) = entries.pop().unwrap_or_default();
            return decode_tagged(&tag, v);
        }
        Ok(Value::Map(entries.into_iter().map(|(k, v)| (Value::Str(k), v)).collect()))
    }

    /// A string at the cursor (which must be at its opening quote).
    fn string(&mut self) -> Result<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return fail("expected a string");
        }
        self.pos += 1;
        let start = self.pos;
        // fast path: no escapes
        while let Some(&b) = self.src.get(self.pos) {
            match b {
                b'"' => {
                    let s = &self.text[start..self.pos];
                    self.pos += 1;
                    return Ok(Cow::Borrowed(s));
                }
                b'\\' => break,
                0..=0x1f => return fail("control character in string"),
                _ => self.pos += 1,
            }
        }
        let mut out = String::from(&self.text[start..self.pos]);
        loop {
            let Some(&b) = self.src.get(self.pos) else {
                return fail("EOF while parsing a string");
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(Cow::Owned(out));
                }
                b'\\' => {
                    self.pos += 1;
                    let Some(&e) = self.src.get(self.pos) else {
                        return fail("EOF while parsing a string");
                    };
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return fail("invalid escape"),
                    }
                }
                0..=0x1f => return fail("control character in string"),
                _ => {
                    // copy the run up to the next quote or backslash (UTF-8 stays whole:
                    // both are ASCII)
                    let run = self.pos;
                    while let Some(&c) = self.src.get(self.pos) {
                        if c == b'"' || c == b'\\' || c < 0x20 {
                            break;
                        }
                        self.pos += 1;
                    }
                    out.push_str(&self.text[run..self.pos]);
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let Some(h) = self.src.get(self.pos..self.pos + 4) else {
            return fail("EOF while parsing a string");
        };
        let mut n = 0u32;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return fail("invalid escape"),
            };
            n = n * 16 + d as u32;
        }
        self.pos += 4;
        Ok(n)
    }

    /// After `\u`: one character, a surrogate pair counting as one.
    fn unicode_escape(&mut self) -> Result<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.src.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return fail("lone leading surrogate in hex escape");
                }
                self.pos += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return fail("lone leading surrogate in hex escape");
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return fail("lone trailing surrogate in hex escape"),
            c => c,
        };
        char::from_u32(code).map_or_else(|| fail("invalid unicode code point"), Ok)
    }

    /// A number, classified as serde_json does.
    fn number(&mut self) -> Result<Num> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return fail("invalid number");
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return fail("invalid number"),
        }
        let int_end = self.pos;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return fail("invalid number");
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
            float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return fail("invalid number");
            }
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
            float = true;
        }
        if !float {
            let mut n: u64 = 0;
            let mut fits = true;
            for &d in &self.src[digits..int_end] {
                match n.checked_mul(10).and_then(|n| n.checked_add((d - b'0') as u64)) {
                    Some(m) => n = m,
                    None => {
                        fits = false;
                        break;
                    }
                }
            }
            if fits {
                if !negative {
                    return Ok(Num::U64(n));
                }
                let neg = (n as i64).wrapping_neg();
                return Ok(if neg >= 0 { Num::F64(-(n as f64)) } else { Num::I64(neg) });
            }
        }
        match self.text[start..self.pos].parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Num::F64(f)),
            _ => fail("number out of range"),
        }
    }
}

/// Adds a key as serde_json's `IndexMap` does: a repeated key keeps its first
/// position and takes the new value. Big objects get an index, so a line with a
/// hundred thousand keys stays linear.
fn insert_last_wins(
    entries: &mut Vec<(String, Value)>,
    index: &mut Option<HashMap<String, usize>>,
    key: String,
    v: Value,
) {
    const SCAN: usize = 16;
    if entries.len() < SCAN {
        if let Some(e) = entries.iter_mut().find(|(k, _)| *k == key) {
            e.1 = v;
        } else {
            entries.push((key, v));
        }
        return;
    }
    let index = index.get_or_insert_with(|| {
        entries.iter().enumerate().map(|(i, (k, _))| (k.clone(), i)).collect()
    });
    match index.get(&key) {
        Some(&i) => entries[i].1 = v,
        None => {
            index.insert(key.clone(), entries.len());
            entries.push((key, v));
        }
    }
}

/// The `#`-forms (see `Value::to_json`), from the already-read inner value: the same
/// rules and messages as `Value::from_json`.
fn decode_tagged(tag: &str, mut v: Value) -> Result<Value> {
    let text = |v: &mut Value| match v {
        Value::Str(s) => Ok(std::mem::take(s)),
        _ => fail(format!("{tag} needs a string")),
    };
    let items = |v: &mut Value| match v {
        Value::List(items) => Ok(std::mem::take(items)),
        _ => fail(format!("{tag} needs an array")),
    };
    Ok(match tag {
        "#kw" => Value::Keyword(text(&mut v)?),
        "#sym" => Value::Symbol(text(&mut v)?),
        "#set" => Value::Set(items(&mut v)?),
        "#float" => match text(&mut v)?.as_str() {
            "NaN" => Value::Float(f64::NAN),
            "Inf" => Value::Float(f64::INFINITY),
            "-Inf" => Value::Float(f64::NEG_INFINITY),
            other => return fail(format!("#float must be NaN, Inf or -Inf, not {other:?}")),
        },
        "#map" => {
            let mut entries = Vec::new();
            for mut pair in items(&mut v)? {
                match &mut pair {
                    Value::List(kv) if kv.len() == 2 => {
                        let v = kv.pop().unwrap_or_default();
                        let k = kv.pop().unwrap_or_default();
                        entries.push((k, v));
                    }
                    _ => return fail("#map needs [key, value] pairs"),
                }
            }
            Value::Map(entries)
        }
        "#tag" => {
            let mut parts = items(&mut v)?;
            match parts.as_mut_slice() {
                [Value::Str(t), inner] => {
                    Value::Tagged(std::mem::take(t), Box::new(std::mem::take(inner)))
                }
                _ => return fail("#tag needs [\"tag\", value]"),
            }
        }
        other => return fail(format!("unknown reserved key {other:?}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same_as_serde(text: &str) {
        let slow = serde_json::from_str::<serde_json::Value>(text)
            .map_err(|e| e.to_string())
            .and_then(|j| Value::from_json(&j));
        let fast = parse_value(text).map_err(|e| e.message);
        match (&slow, &fast) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(_), Err(_)) => {}
            _ => panic!("{text}: serde {slow:?}, ours {fast:?}"),
        }
    }

    #[test]
    fn agrees_with_serde_json_on_edge_cases() {
        for text in [
            "-0",
            "0",
            "-1",
            "1.5",
            "1e5",
            "1E+2",
            "-9223372036854775808",
            "-9223372036854775809",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551616",
            "1e400",
            "-1e400",
            "1e-400",
            "0e99999999999999999999",
            "01",
            "1.",
            ".5",
            "-",
            "+1",
            "\"a\\u00e9\\ud83d\\ude00\"",
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "\"\\x\"",
            "\"\t\"",
            "[1,]",
            "[1 2]",
            "{\"a\":1,\"a\":2}",
            "{\"#kw\":\"a\",\"#kw\":\"b\"}",
            "{\"#set\":[1,2]}",
            "{\"#map\":[[1,2],[3]]}",
            "{\"#tag\":[\"inst\",\"x\"]}",
            "{\"#float\":\"NaN\"}",
            "{\"#what\":1}",
            "{\"#kw\":1}",
            "{\"a\":1,\"#kw\":\"b\"}",
            "nul",
            "truex",
            "[] x",
            " [ ] ",
            "{\"a\" 1}",
            "{1:2}",
            "\"\u{7f}\"",
        ] {
            same_as_serde(text);
        }
    }
}
