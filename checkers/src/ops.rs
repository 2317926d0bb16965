//! What the checkers that are not linearizability searches share: a client
//! operation as one record (its invocation and completion paired, with times and
//! positions), the nemesis operations likewise, and reading fields of the map values
//! workloads record (`{:watcher 3, :after 12}`: keyword or string keys alike).

use history::{Linted, OpKind, Value};

/// One client operation: its invocation and what is known of its completion.
#[derive(Debug, Clone)]
pub struct ClientOp<'a> {
    /// Position of the invocation in the history.
    pub invoke: usize,
    /// Position of the completion (`None`: the history ended first).
    pub completion: Option<usize>,
    /// `Ok`, `Fail` or `Info` (no completion counts as `Info`).
    pub kind: OpKind,
    pub f: &'a str,
    pub key: Option<&'a Value>,
    pub process: u64,
    pub node: Option<&'a str>,
    /// The invocation's value.
    pub input: &'a Value,
    /// The completion's value (`nil` when there was none).
    pub output: &'a Value,
    pub invoked_ns: u64,
    /// When it completed; `u64::MAX` when it never did.
    pub completed_ns: u64,
}

impl ClientOp<'_> {
    pub fn ok(&self) -> bool {
        self.kind == OpKind::Ok
    }
}

static NIL: Value = Value::Nil;

/// Every client operation of the history, in invocation order.
pub fn client_ops(history: &Linted) -> Vec<ClientOp<'_>> {
    let ops = history.ops();
    history
        .client_pairs()
        .map(|pair| {
            let inv = &ops[pair.invoke];
            let done = pair.completion.map(|c| &ops[c]);
            ClientOp {
                invoke: pair.invoke,
                completion: pair.completion,
                kind: history.outcome(pair),
                f: inv.f.as_str(),
                key: inv.key.as_ref(),
                process: match inv.process {
                    history::Process::Client(p) => p,
                    history::Process::Nemesis => u64::MAX,
                },
                node: done.and_then(|d| d.node.as_deref()),
                input: &inv.value,
                output: done.map_or(&NIL, |d| &d.value),
                invoked_ns: inv.time_ns,
                completed_ns: done.map_or(u64::MAX, |d| d.time_ns),
            }
        })
        .collect()
}

/// One nemesis operation: what it meant to do and what it did.
#[derive(Debug, Clone)]
pub struct NemesisOp<'a> {
    pub invoke: usize,
    pub f: &'a str,
    /// The fault as applied: the completion's `fault` field when it has one (targets
    /// resolved at apply time), else the invocation's value.
    pub fault: &'a Value,
    /// The completion's value (per node outcomes), `nil` without a completion.
    pub outcome: &'a Value,
    pub invoked_ns: u64,
    pub completed_ns: u64,
}

/// Every nemesis operation, in invocation order.
pub fn nemesis_ops(history: &Linted) -> Vec<NemesisOp<'_>> {
    let ops = history.ops();
    history
        .pairs()
        .iter()
        .filter(|p| ops[p.invoke].is_nemesis())
        .map(|pair| {
            let inv = &ops[pair.invoke];
            let done = pair.completion.map(|c| &ops[c]);
            NemesisOp {
                invoke: pair.invoke,
                f: inv.f.as_str(),
                fault: done.and_then(|d| d.extra.get("fault")).unwrap_or(&inv.value),
                outcome: done.map_or(&NIL, |d| &d.value),
                invoked_ns: inv.time_ns,
                completed_ns: done.map_or(inv.time_ns, |d| d.time_ns),
            }
        })
        .collect()
}

/// The field `name` of a map value, whether its key is a keyword or a string.
pub fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Map(entries) => entries.iter().find_map(|(k, v)| match k {
            Value::Keyword(k) | Value::Str(k) if k == name => Some(v),
            _ => None,
        }),
        _ => None,
    }
}

/// A non-negative integer field.
pub fn uint_field(value: &Value, name: &str) -> Option<u64> {
    field(value, name).and_then(Value::as_int).and_then(|i| u64::try_from(i).ok())
}

/// A text field (string or keyword).
pub fn text_field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    match field(value, name)? {
        Value::Str(s) | Value::Keyword(s) => Some(s),
        _ => None,
    }
}

/// Seconds on the history's clock, for words and tables.
pub fn secs(ns: u64) -> String {
    if ns == u64::MAX { "never".into() } else { format!("{:.3} s", ns as f64 / 1e9) }
}

/// A key as words: its EDN form, or "(no key)".
pub fn key_words(key: Option<&Value>) -> String {
    key.map_or_else(|| "(no key)".to_string(), |k| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_by_keyword_or_string() {
        let v = Value::Map(vec![
            (Value::kw("after"), Value::Int(3)),
            (Value::Str("delivery".into()), Value::Str("latest".into())),
        ]);
        assert_eq!(uint_field(&v, "after"), Some(3));
        assert_eq!(text_field(&v, "delivery"), Some("latest"));
        assert!(field(&v, "none").is_none() && field(&Value::Nil, "after").is_none());
        assert_eq!(secs(1_500_000_000), "1.500 s");
        assert_eq!(secs(u64::MAX), "never");
    }
}
