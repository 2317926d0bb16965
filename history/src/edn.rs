//! Jepsen EDN: the reader and writer of `history.edn`.
//!
//! Jepsen writes one operation map per line. Knossos' and Elle's test data also use a
//! top-level vector (or list) of maps, `;` comments, extra keys, missing commas and
//! `#jepsen.history.Op{..}` records; Porcupine's kv logs are a bare sequence of maps.
//! The reader takes all of them and remembers the line each operation started on, so
//! every later complaint (lint, checker) can name it.
//!
//! Conventions that keep EDN -> JSON Lines -> EDN lossless:
//! - `:f` is written as a keyword when it is a valid keyword name, as a string otherwise;
//! - keywords and symbols whose names cannot be printed bare are written as
//!   `#faultline/kw "name"` / `#faultline/sym "name"` and read back as such;
//! - chars (`\a`) are read as one-character strings (Jepsen histories carry none).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::mem::take;

use crate::op::{Op, OpKind, Process};
use crate::value::{MAX_DEPTH, Value};

/// A parse failure at a 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EdnError {
    pub line: usize,
    pub message: String,
}

struct Parser<'a> {
    src: &'a [u8],
    pos: usize,
    line: usize,
    /// Forms being parsed inside one another right now (see [`MAX_DEPTH`]).
    depth: usize,
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(b, b',' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b';')
}

impl<'a> Parser<'a> {
    fn new(src: &'a str, first_line: usize) -> Self {
        Parser { src: src.as_bytes(), pos: 0, line: first_line, depth: 0 }
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, EdnError> {
        Err(EdnError { line: self.line, message: message.into() })
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    /// Skips whitespace, commas, `;` comments and `#_` discarded forms.
    fn skip_ws(&mut self) -> Result<(), EdnError> {
        loop {
            match self.peek() {
                Some(b) if b.is_ascii_whitespace() || b == b',' => {
                    self.bump();
                }
                Some(b';') => {
                    while let Some(b) = self.bump() {
                        if b == b'\n' {
                            break;
                        }
                    }
                }
                Some(b'#') if self.src.get(self.pos + 1) == Some(&b'_') => {
                    self.pos += 2;
                    self.parse_form()?;
                }
                _ => return Ok(()),
            }
        }
    }

    fn at_end(&mut self) -> Result<bool, EdnError> {
        self.skip_ws()?;
        Ok(self.peek().is_none())
    }

    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_delimiter(b) {
                break;
            }
            self.pos += 1;
        }
        // Tokens are split at ASCII delimiters only, so they stay valid UTF-8.
        std::str::from_utf8(&self.src[start..self.pos]).unwrap_or("")
    }

    /// Parses elements until `close`, which it consumes.
    fn parse_seq(&mut self, close: u8, what: &str) -> Result<Vec<Value>, EdnError> {
        let open_line = self.line;
        let mut items = Vec::new();
        loop {
            self.skip_ws()?;
            match self.peek() {
                None => {
                    return Err(EdnError {
                        line: open_line,
                        message: format!("{what} opened here is never closed"),
                    });
                }
                Some(b) if b == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(b @ (b')' | b']' | b'}')) => {
                    return self.err(format!("unexpected '{}' inside {what}", b as char));
                }
                Some(_) => items.push(self.parse_form()?),
            }
        }
    }

    /// One form. Collections, tags and `#_` discards nest: past [`MAX_DEPTH`] levels
    /// the parser stops with an error instead of recursing on (a file of 100k `[`
    /// would otherwise overflow the stack).
    fn parse_form(&mut self) -> Result<Value, EdnError> {
        if self.depth > MAX_DEPTH {
            return self.err(format!(
                "forms nested deeper than {MAX_DEPTH} levels (collections, tags or #_); \
                 a history never needs that many"
            ));
        }
        self.depth += 1;
        let form = self.parse_form_inner();
        self.depth -= 1;
        form
    }

    fn parse_form_inner(&mut self) -> Result<Value, EdnError> {
        self.skip_ws()?;
        let Some(b) = self.peek() else {
            return self.err("unexpected end of input");
        };
        match b {
            b'(' | b'[' => {
                self.bump();
                let close = if b == b'(' { b')' } else { b']' };
                Ok(Value::List(self.parse_seq(close, "a list")?))
            }
            b'{' => {
                self.bump();
                let items = self.parse_seq(b'}', "a map")?;
                pairs(items).map(Value::Map).or_else(|m| self.err(m))
            }
            b'"' => self.parse_string(),
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return self.err("a keyword needs a name after ':'");
                }
                Ok(Value::Keyword(name.to_string()))
            }
            b'\\' => {
                self.bump();
                // A char: `\a`, `\newline`, `\uXXXX`. Take at least one char.
                let start = self.pos;
                let ch =
                    std::str::from_utf8(&self.src[start..]).ok().and_then(|s| s.chars().next());
                let Some(ch) = ch else { return self.err("bad character literal") };
                self.pos += ch.len_utf8();
                let rest = self.token();
                let name = format!("{ch}{rest}");
                let c = match name.as_str() {
                    "newline" => '\n',
                    "space" => ' ',
                    "tab" => '\t',
                    "return" => '\r',
                    "formfeed" => '\u{c}',
                    "backspace" => '\u{8}',
                    n if n.starts_with('u') && n.len() == 5 => u32::from_str_radix(&n[1..], 16)
                        .ok()
                        .and_then(char::from_u32)
                        .ok_or(())
                        .or_else(|_| self.err(format!("bad character \\{n}")))?,
                    n if n.chars().count() == 1 => ch,
                    n => return self.err(format!("bad character \\{n}")),
                };
                Ok(Value::Str(c.to_string()))
            }
            b'#' => {
                self.bump();
                match self.peek() {
                    Some(b'{') => {
                        self.bump();
                        Ok(Value::Set(self.parse_seq(b'}', "a set")?))
                    }
                    Some(b'#') => {
                        self.bump();
                        match self.token() {
                            "NaN" => Ok(Value::Float(f64::NAN)),
                            "Inf" => Ok(Value::Float(f64::INFINITY)),
                            "-Inf" => Ok(Value::Float(f64::NEG_INFINITY)),
                            t => self.err(format!("unknown symbolic value ##{t}")),
                        }
                    }
                    _ => {
                        // `#tag form`; records like `#jepsen.history.Op{...}` are tags
                        // too, with no space before their map.
                        let tag = self.token().to_string();
                        if tag.is_empty() {
                            return self.err("'#' must start a set, a tag or ##NaN");
                        }
                        let mut inner = self.parse_form()?;
                        match (tag.as_str(), &mut inner) {
                            ("faultline/kw", Value::Str(s)) => Ok(Value::Keyword(take(s))),
                            ("faultline/sym", Value::Str(s)) => Ok(Value::Symbol(take(s))),
                            _ => Ok(Value::Tagged(tag, Box::new(inner))),
                        }
                    }
                }
            }
            b')' | b']' | b'}' => self.err(format!("unexpected '{}'", b as char)),
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return self.err(format!("unexpected character {:?}", b as char));
                }
                parse_atom(tok).or_else(|m| self.err(m))
            }
        }
    }

    fn parse_string(&mut self) -> Result<Value, EdnError> {
        let start_line = self.line;
        self.bump(); // opening quote
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.bump() else {
                return Err(EdnError {
                    line: start_line,
                    message: "string opened here is never closed".into(),
                });
            };
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(e) = self.bump() else { continue };
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'u' => {
                            let hex = self.src.get(self.pos..self.pos + 4);
                            let c = hex
                                .and_then(|h| std::str::from_utf8(h).ok())
                                .and_then(|h| u32::from_str_radix(h, 16).ok())
                                .and_then(char::from_u32);
                            let Some(c) = c else { return self.err("bad \\u escape in string") };
                            self.pos += 4;
                            let mut buf = [0; 4];
                            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                        }
                        other => return self.err(format!("unknown escape \\{}", other as char)),
                    }
                }
                _ => out.push(b),
            }
        }
        match String::from_utf8(out) {
            Ok(s) => Ok(Value::Str(s)),
            Err(_) => self.err("string is not valid UTF-8"),
        }
    }
}

fn pairs(items: Vec<Value>) -> Result<Vec<(Value, Value)>, String> {
    if !items.len().is_multiple_of(2) {
        return Err("a map needs an even number of forms".into());
    }
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    Ok(out)
}

fn parse_atom(tok: &str) -> Result<Value, String> {
    match tok {
        "nil" => return Ok(Value::Nil),
        "true" => return Ok(Value::Bool(true)),
        "false" => return Ok(Value::Bool(false)),
        _ => {}
    }
    let first = tok.as_bytes()[0];
    let numeric = first.is_ascii_digit()
        || ((first == b'-' || first == b'+')
            && tok.len() > 1
            && tok.as_bytes()[1].is_ascii_digit());
    if !numeric {
        return Ok(Value::Symbol(tok.to_string()));
    }
    let body = tok.strip_suffix('N').unwrap_or(tok);
    if let Ok(i) = body.parse::<i64>() {
        return Ok(Value::Int(i));
    }
    let body = tok.strip_suffix('M').unwrap_or(tok);
    match body.parse::<f64>() {
        Ok(f) if body.contains(['.', 'e', 'E']) => Ok(Value::Float(f)),
        _ => Err(format!("cannot read number {tok:?} (integers must fit in 64 bits)")),
    }
}

/// Parses exactly one EDN value (used for the value column of Porcupine's etcd logs).
pub fn parse_value(text: &str) -> Result<Value, String> {
    let mut p = Parser::new(text, 1);
    let v = p.parse_form().map_err(|e| e.message)?;
    if !p.at_end().map_err(|e| e.message)? {
        return Err(format!("unexpected text after the value: {:?}", &text[p.pos..]));
    }
    Ok(v)
}

/// Reads every operation of an EDN history with the line it starts on.
pub fn read_ops(text: &str) -> Result<Vec<(usize, Op)>, EdnError> {
    let mut p = Parser::new(text, 1);
    let mut forms: Vec<(usize, Value)> = Vec::new();
    let mut first = true;
    while !p.at_end()? {
        let line = p.line;
        // A top-level vector or list of ops: read its elements one by one so each
        // keeps its own line number.
        if first && matches!(p.peek(), Some(b'[' | b'(')) {
            let close = if p.peek() == Some(b'[') { b']' } else { b')' };
            p.bump();
            loop {
                p.skip_ws()?;
                match p.peek() {
                    None => {
                        return Err(EdnError {
                            line,
                            message: "the vector of operations opened here is never closed".into(),
                        });
                    }
                    Some(b) if b == close => {
                        p.bump();
                        break;
                    }
                    Some(_) => {
                        let l = p.line;
                        forms.push((l, p.parse_form()?));
                    }
                }
            }
        } else {
            forms.push((line, p.parse_form()?));
        }
        first = false;
    }
    let mut ops = Vec::with_capacity(forms.len());
    for (position, (line, form)) in forms.into_iter().enumerate() {
        let op =
            op_from_value(form, position as u64).map_err(|message| EdnError { line, message })?;
        ops.push((line, op));
    }
    Ok(ops)
}

fn key_name(k: &Value) -> Option<&str> {
    match k {
        Value::Keyword(s) | Value::Str(s) => Some(s),
        _ => None,
    }
}

/// Turns one op map into an `Op`; `position` stands in for a missing `:index`.
pub fn op_from_value(mut form: Value, position: u64) -> Result<Op, String> {
    let entries = match &mut form {
        Value::Map(e) => take(e),
        Value::Tagged(_, inner) => match &mut **inner {
            Value::Map(e) => take(e),
            other => return Err(format!("expected an operation map, found {other}")),
        },
        other => return Err(format!("expected an operation map, found {other}")),
    };
    let mut index = None;
    let mut time = None;
    let mut kind = None;
    let mut process = None;
    let mut f = None;
    let mut op = Op::new(Process::Nemesis, OpKind::Invoke, "", Value::Nil);
    for (k, v) in entries {
        let Some(name) = key_name(&k) else {
            return Err(format!("operation keys must be keywords, found {k}"));
        };
        match name {
            "index" => index = Some(non_negative(&v, "index")?),
            "time" => time = Some(non_negative(&v, "time")?),
            "type" => {
                let t =
                    key_name(&v).ok_or_else(|| format!(":type must be a keyword, found {v}"))?;
                kind = Some(OpKind::parse(t).ok_or_else(|| {
                    format!("unknown :type :{t} (expected :invoke, :ok, :fail or :info)")
                })?);
            }
            "process" => process = Some(parse_process(&v)?),
            "f" => {
                f = Some(
                    key_name(&v)
                        .ok_or_else(|| format!(":f must be a keyword, found {v}"))?
                        .to_string(),
                )
            }
            "key" => op.key = Some(v),
            "value" => op.value = v,
            "node" => {
                op.node = Some(match &v {
                    Value::Str(s) | Value::Keyword(s) => s.clone(),
                    other => other.to_string(),
                })
            }
            "error" => op.error = Some(v),
            other => {
                op.extra.insert(other.to_string(), v);
            }
        }
    }
    op.kind = kind.ok_or("operation has no :type")?;
    op.process = process.ok_or("operation has no :process")?;
    op.f = f.ok_or("operation has no :f")?;
    op.index = index.unwrap_or(position);
    op.time_ns = time.unwrap_or(op.index);
    Ok(op)
}

fn non_negative(v: &Value, what: &str) -> Result<u64, String> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(*i as u64),
        other => Err(format!(":{what} must be a non-negative integer, found {other}")),
    }
}

pub(crate) fn parse_process(v: &Value) -> Result<Process, String> {
    match v {
        Value::Int(i) if *i >= 0 => Ok(Process::Client(*i as u64)),
        Value::Keyword(k) | Value::Str(k) if k == "nemesis" => Ok(Process::Nemesis),
        other => Err(format!(":process must be a non-negative integer or :nemesis, found {other}")),
    }
}

/// A keyword or symbol name that reads back unchanged when printed bare.
fn is_bare_name(s: &str) -> bool {
    let Some(first) = s.chars().next() else { return false };
    if first.is_ascii_digit() || first == ':' || first == '#' {
        return false;
    }
    if matches!(s, "nil" | "true" | "false") {
        return false;
    }
    if (first == '-' || first == '+') && s[1..].starts_with(|c: char| c.is_ascii_digit()) {
        return false;
    }
    s.chars().all(|c| c.is_ascii_alphanumeric() || "*+!-_?$%&=<>/.'".contains(c))
}

fn write_str(out: &mut impl fmt::Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\t' => out.write_str("\\t")?,
            '\r' => out.write_str("\\r")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// Writes a value as EDN text.
pub fn write_value(out: &mut impl fmt::Write, v: &Value) -> fmt::Result {
    match v {
        Value::Nil => out.write_str("nil"),
        Value::Bool(b) => write!(out, "{b}"),
        Value::Int(i) => write!(out, "{i}"),
        Value::Float(f) if f.is_nan() => out.write_str("##NaN"),
        Value::Float(f) if f.is_infinite() => {
            out.write_str(if *f > 0.0 { "##Inf" } else { "##-Inf" })
        }
        // `{:?}` is the shortest text that reads back to the same f64, with a `.0`.
        Value::Float(f) => write!(out, "{f:?}"),
        Value::Str(s) => write_str(out, s),
        Value::Keyword(k) if is_bare_name(k) => write!(out, ":{k}"),
        Value::Keyword(k) => {
            out.write_str("#faultline/kw ")?;
            write_str(out, k)
        }
        Value::Symbol(s) if is_bare_name(s) => out.write_str(s),
        Value::Symbol(s) => {
            out.write_str("#faultline/sym ")?;
            write_str(out, s)
        }
        Value::List(items) => write_items(out, "[", items, "]"),
        Value::Set(items) => write_items(out, "#{", items, "}"),
        Value::Map(entries) => {
            out.write_char('{')?;
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_value(out, k)?;
                out.write_char(' ')?;
                write_value(out, v)?;
            }
            out.write_char('}')
        }
        Value::Tagged(tag, inner) => {
            write!(out, "#{tag} ")?;
            write_value(out, inner)
        }
    }
}

fn write_items(out: &mut impl fmt::Write, open: &str, items: &[Value], close: &str) -> fmt::Result {
    out.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.write_char(' ')?;
        }
        write_value(out, item)?;
    }
    out.write_str(close)
}

/// One op as a Jepsen `history.edn` line (without the newline).
pub fn op_to_edn(op: &Op) -> String {
    let mut s = String::with_capacity(96);
    let _ = write_op(&mut s, op);
    s
}

fn write_op(s: &mut String, op: &Op) -> fmt::Result {
    write!(s, "{{:index {}, :time {}, :type :{}, :process ", op.index, op.time_ns, op.kind)?;
    match op.process {
        Process::Client(p) => write!(s, "{p}")?,
        Process::Nemesis => s.push_str(":nemesis"),
    }
    s.push_str(", :f ");
    if is_bare_name(&op.f) {
        write!(s, ":{}", op.f)?;
    } else {
        write_str(s, &op.f)?;
    }
    if let Some(k) = &op.key {
        s.push_str(", :key ");
        write_value(s, k)?;
    }
    s.push_str(", :value ");
    write_value(s, &op.value)?;
    if let Some(n) = &op.node {
        s.push_str(", :node ");
        write_str(s, n)?;
    }
    if let Some(e) = &op.error {
        s.push_str(", :error ");
        write_value(s, e)?;
    }
    write_extra(s, &op.extra)?;
    s.push('}');
    Ok(())
}

fn write_extra(s: &mut String, extra: &BTreeMap<String, Value>) -> fmt::Result {
    for (k, v) in extra {
        s.push_str(", ");
        if is_bare_name(k) {
            write!(s, ":{k}")?;
        } else {
            write_str(s, k)?;
        }
        s.push(' ');
        write_value(s, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_knossos_variants() {
        let text = "; a comment\n[{:process 0 :type :invoke :f :read :value nil}\n\
                    ;; between ops\n #jepsen.history.Op{:process 0, :type :ok, :f :read, :value 3, :extra-key #{1 2}}]\n";
        let ops = read_ops(text).unwrap();
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].0, 2);
        assert_eq!(ops[1].0, 4);
        assert_eq!(ops[1].1.value, Value::Int(3));
        assert_eq!(ops[1].1.index, 1);
        assert!(ops[1].1.extra.contains_key("extra-key"));
    }

    #[test]
    fn errors_name_the_line() {
        let e =
            read_ops("{:process 0 :type :invoke :f :read}\n{:process 0 :type :bogus :f :read}\n")
                .unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains(":bogus"), "{}", e.message);
        let e = read_ops("{:process 0\n :type :invoke\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("never closed"));
    }

    #[test]
    fn atoms() {
        assert_eq!(parse_value("[3 0]").unwrap(), Value::List(vec![Value::Int(3), Value::Int(0)]));
        assert_eq!(parse_value(":timed-out").unwrap(), Value::kw("timed-out"));
        assert_eq!(parse_value("-12N").unwrap(), Value::Int(-12));
        assert_eq!(parse_value("1.5").unwrap(), Value::Float(1.5));
        assert_eq!(parse_value("#_ 1 2").unwrap(), Value::Int(2));
        assert!(parse_value("99999999999999999999").is_err());
    }
}
