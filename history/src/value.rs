//! Values carried by operations: what a client wrote, read, or got back.
//!
//! The variants are EDN's data model (Jepsen's), because a history must survive a
//! trip through Jepsen's `history.edn` and back without losing anything:
//! nil, booleans, integers, floats, strings, keywords, symbols, vectors/lists, sets,
//! maps, and tagged literals. Sets and maps keep their elements in the order they were
//! read, so writing a value back out reproduces it exactly.
//!
//! In JSON (the native JSON Lines format) the scalars, strings and vectors are plain
//! JSON; the EDN-only shapes are objects with one reserved `#`-key:
//! `{"#kw": "timed-out"}`, `{"#sym": "x"}`, `{"#set": [..]}`,
//! `{"#tag": ["inst", ".."]}`, `{"#float": "NaN"}` and `{"#map": [[k, v], ..]}`.
//! A map whose keys are all strings is a plain JSON object, unless it has exactly one
//! key that starts with `#` (which would read back as one of the shapes above); such
//! a map is written in the `#map` form instead. This keeps the encoding lossless.
//!
//! # Depth
//! Every reader refuses values nested deeper than [`MAX_DEPTH`] (EDN) or JSON nested
//! deeper than [`MAX_JSON_DEPTH`] (enough for the JSON form of any value EDN can
//! give), with an error naming the line, so that the recursive functions over values
//! (printing, comparing, hashing, the JSON forms) never run out of stack on input a
//! user controls. Dropping a value is iterative, so even a value built in code to any
//! depth is freed without recursion.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

use serde_json::{Map as JsonMap, Number, Value as Json};

/// How deeply EDN values may nest: `[[[1]]]` is depth 3, a scalar depth 0. Jepsen
/// histories nest a handful of levels (an op map, a txn, a micro-op, a list).
pub const MAX_DEPTH: usize = 100;

/// How deeply JSON may nest in one line: the JSON form of a value of depth
/// [`MAX_DEPTH`] (each level at most three JSON levels: `{"#map": [[k, v]]}`) inside
/// the operation's object.
pub const MAX_JSON_DEPTH: usize = 3 * MAX_DEPTH + 1;

/// One EDN / JSON value.
#[derive(Debug, Clone, Default)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// `:name` in EDN; stored without the colon.
    Keyword(String),
    Symbol(String),
    /// EDN vector `[..]` (lists `(..)` read as vectors too).
    List(Vec<Value>),
    /// EDN set `#{..}`, in the order it was read.
    Set(Vec<Value>),
    /// EDN map `{..}`, in the order it was read.
    Map(Vec<(Value, Value)>),
    /// Tagged literal `#tag value`, e.g. `#inst "2024-01-01T00:00:00Z"`.
    Tagged(String, Box<Value>),
}

impl Value {
    pub fn kw(name: &str) -> Value {
        Value::Keyword(name.to_string())
    }

    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(v) => Some(v),
            _ => None,
        }
    }

    /// Looks a key up in a map value (`Keyword` keys are matched by name).
    pub fn get(&self, key: &Value) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Nil => 0,
            Value::Bool(_) => 1,
            Value::Int(_) => 2,
            Value::Float(_) => 3,
            Value::Str(_) => 4,
            Value::Keyword(_) => 5,
            Value::Symbol(_) => 6,
            Value::List(_) => 7,
            Value::Set(_) => 8,
            Value::Map(_) => 9,
            Value::Tagged(..) => 10,
        }
    }

    /// The JSON form used by the JSON Lines format (see the module docs).
    pub fn to_json(&self) -> Json {
        match self {
            Value::Nil => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::Number((*i).into()),
            Value::Float(f) => match Number::from_f64(*f) {
                Some(n) => Json::Number(n),
                None => tagged_json("#float", Json::String(float_special(*f).to_string())),
            },
            Value::Str(s) => Json::String(s.clone()),
            Value::Keyword(k) => tagged_json("#kw", Json::String(k.clone())),
            Value::Symbol(s) => tagged_json("#sym", Json::String(s.clone())),
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Set(items) => {
                tagged_json("#set", Json::Array(items.iter().map(Value::to_json).collect()))
            }
            Value::Map(entries) => {
                let plain = entries.iter().all(|(k, _)| matches!(k, Value::Str(_)))
                    && !(entries.len() == 1
                        && matches!(&entries[0].0, Value::Str(s) if s.starts_with('#')))
                    && !has_duplicate_string_keys(entries);
                if plain {
                    let mut obj = JsonMap::new();
                    for (k, v) in entries {
                        if let Value::Str(k) = k {
                            obj.insert(k.clone(), v.to_json());
                        }
                    }
                    Json::Object(obj)
                } else {
                    let pairs = entries
                        .iter()
                        .map(|(k, v)| Json::Array(vec![k.to_json(), v.to_json()]))
                        .collect();
                    tagged_json("#map", Json::Array(pairs))
                }
            }
            Value::Tagged(tag, v) => {
                tagged_json("#tag", Json::Array(vec![Json::String(tag.clone()), v.to_json()]))
            }
        }
    }

    /// How deeply this value nests (a scalar is 0, `[1]` is 1), computed without
    /// recursion.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 0usize)];
        while let Some((v, d)) = stack.pop() {
            deepest = deepest.max(d);
            match v {
                Value::List(items) | Value::Set(items) => {
                    stack.extend(items.iter().map(|i| (i, d + 1)))
                }
                Value::Map(entries) => {
                    for (k, v) in entries {
                        stack.push((k, d + 1));
                        stack.push((v, d + 1));
                    }
                }
                Value::Tagged(_, inner) => stack.push((inner, d + 1)),
                _ => {}
            }
        }
        deepest
    }

    /// Reads the JSON form back; the error says what was malformed. JSON nested
    /// deeper than [`MAX_JSON_DEPTH`] is refused (serde_json's own reader stops at
    /// 128 levels; a `Json` built in code may be deeper).
    pub fn from_json(json: &Json) -> Result<Value, String> {
        from_json_at(json, 0)
    }
}

fn from_json_at(json: &Json, depth: usize) -> Result<Value, String> {
    if depth > MAX_JSON_DEPTH {
        return Err(format!("JSON nested deeper than {MAX_JSON_DEPTH} levels"));
    }
    let from_json = |j: &Json| from_json_at(j, depth + 1);
    Ok(match json {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if n.is_u64() {
                return Err(format!("integer {n} does not fit in 64 signed bits"));
            } else {
                Value::Float(n.as_f64().ok_or_else(|| format!("bad number {n}"))?)
            }
        }
        Json::String(s) => Value::Str(s.clone()),
        Json::Array(items) => Value::List(items.iter().map(from_json).collect::<Result<_, _>>()?),
        Json::Object(obj) => {
            if obj.len() == 1 {
                let (k, v) = obj.iter().next().expect("one entry");
                if k.starts_with('#') {
                    return decode_tagged(k, v, depth);
                }
            }
            Value::Map(
                obj.iter()
                    .map(|(k, v)| Ok((Value::Str(k.clone()), from_json(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
    })
}

fn has_duplicate_string_keys(entries: &[(Value, Value)]) -> bool {
    let mut seen = std::collections::HashSet::new();
    entries.iter().any(|(k, _)| !seen.insert(k))
}

fn tagged_json(tag: &str, v: Json) -> Json {
    let mut obj = JsonMap::new();
    obj.insert(tag.to_string(), v);
    Json::Object(obj)
}

fn float_special(f: f64) -> &'static str {
    if f.is_nan() {
        "NaN"
    } else if f > 0.0 {
        "Inf"
    } else {
        "-Inf"
    }
}

fn decode_tagged(tag: &str, v: &Json, depth: usize) -> Result<Value, String> {
    let text =
        |v: &Json| v.as_str().map(str::to_string).ok_or_else(|| format!("{tag} needs a string"));
    let items = |v: &Json| {
        v.as_array()
            .ok_or_else(|| format!("{tag} needs an array"))?
            .iter()
            .map(|j| from_json_at(j, depth + 2))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(match tag {
        "#kw" => Value::Keyword(text(v)?),
        "#sym" => Value::Symbol(text(v)?),
        "#set" => Value::Set(items(v)?),
        "#float" => match text(v)?.as_str() {
            "NaN" => Value::Float(f64::NAN),
            "Inf" => Value::Float(f64::INFINITY),
            "-Inf" => Value::Float(f64::NEG_INFINITY),
            other => return Err(format!("#float must be NaN, Inf or -Inf, not {other:?}")),
        },
        "#map" => {
            let mut entries = Vec::new();
            for mut pair in items(v)? {
                match &mut pair {
                    Value::List(kv) if kv.len() == 2 => {
                        let v = kv.pop().unwrap_or_default();
                        let k = kv.pop().unwrap_or_default();
                        entries.push((k, v));
                    }
                    _ => return Err("#map needs [key, value] pairs".into()),
                }
            }
            Value::Map(entries)
        }
        "#tag" => match items(v)?.as_slice() {
            [Value::Str(t), inner] => Value::Tagged(t.clone(), Box::new(inner.clone())),
            _ => return Err("#tag needs [\"tag\", value]".into()),
        },
        // An ordinary one-entry map whose key happens to start with '#' is never
        // written this way (see `to_json`), so an unknown tag is a malformed file.
        other => return Err(format!("unknown reserved key {other:?}")),
    })
}

/// Frees nested values with a loop instead of recursion, so no value is too deep
/// to drop. Scalars and flat containers (the common case) take the fast path.
impl Drop for Value {
    fn drop(&mut self) {
        if !has_nested(self) {
            return;
        }
        let mut stack: Vec<Value> = Vec::new();
        detach_children(self, &mut stack);
        while let Some(mut v) = stack.pop() {
            if has_nested(&v) {
                detach_children(&mut v, &mut stack);
            }
            // `v` now holds no nested container: its own drop returns at once.
        }
    }
}

/// Whether any direct child of `v` is itself a container.
#[inline]
fn has_nested(v: &Value) -> bool {
    let container =
        |c: &Value| matches!(c, Value::List(_) | Value::Set(_) | Value::Map(_) | Value::Tagged(..));
    match v {
        Value::List(items) | Value::Set(items) => items.iter().any(container),
        Value::Map(entries) => entries.iter().any(|(k, v)| container(k) || container(v)),
        Value::Tagged(_, inner) => container(inner),
        _ => false,
    }
}

fn detach_children(v: &mut Value, stack: &mut Vec<Value>) {
    match v {
        Value::List(items) | Value::Set(items) => stack.append(items),
        Value::Map(entries) => {
            for (k, v) in entries.drain(..) {
                stack.push(k);
                stack.push(v);
            }
        }
        Value::Tagged(_, inner) => stack.push(std::mem::take(&mut **inner)),
        _ => {}
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A total order (floats by `total_cmp`) so values can be keys of maps and sets.
impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Nil, Nil) => Ordering::Equal,
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int(a), Int(b)) => a.cmp(b),
            (Float(a), Float(b)) => a.total_cmp(b),
            (Str(a), Str(b)) | (Keyword(a), Keyword(b)) | (Symbol(a), Symbol(b)) => a.cmp(b),
            (List(a), List(b)) | (Set(a), Set(b)) => a.cmp(b),
            (Map(a), Map(b)) => a.cmp(b),
            (Tagged(t1, v1), Tagged(t2, v2)) => t1.cmp(t2).then_with(|| v1.cmp(v2)),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.rank().hash(state);
        match self {
            Value::Nil => {}
            Value::Bool(b) => b.hash(state),
            Value::Int(i) => i.hash(state),
            Value::Float(f) => f.to_bits().hash(state),
            Value::Str(s) | Value::Keyword(s) | Value::Symbol(s) => s.hash(state),
            Value::List(v) | Value::Set(v) => v.hash(state),
            Value::Map(m) => m.hash(state),
            Value::Tagged(t, v) => {
                t.hash(state);
                v.hash(state)
            }
        }
    }
}

/// EDN text, as Jepsen prints it (`nil`, `:kw`, `[1 2]`, `{:a 1}`).
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        crate::edn::write_value(f, self)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(o: Option<T>) -> Self {
        o.map_or(Value::Nil, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_forms_round_trip() {
        let v = Value::Map(vec![
            (Value::kw("a"), Value::Set(vec![Value::Int(1), Value::Float(f64::NAN)])),
            (Value::Str("#set".into()), Value::Nil),
        ]);
        assert_eq!(Value::from_json(&v.to_json()).unwrap(), v);
        let one_hash_key = Value::Map(vec![(Value::Str("#kw".into()), Value::Int(1))]);
        assert!(one_hash_key.to_json().get("#map").is_some());
        assert_eq!(Value::from_json(&one_hash_key.to_json()).unwrap(), one_hash_key);
    }

    #[test]
    fn unknown_reserved_key_is_an_error() {
        let json: Json = serde_json::from_str(r##"{"#what": 1}"##).unwrap();
        assert!(Value::from_json(&json).unwrap_err().contains("#what"));
    }
}
