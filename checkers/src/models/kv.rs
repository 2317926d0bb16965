//! `kv`: Porcupine's key-value model. Per key, the state is a string, initially
//! empty; `put v` sets it, `append v` concatenates, `get` must return it whole.
//! Keys are independent, so the history is split by key by default.
//!
//! States are not strings but polynomial hashes of them (one modulo the prime
//! 2^61 - 1, one modulo the prime 2^31 - 1, and the length: 16 bytes), so a state is
//! a small `Copy` value, an `append` is O(1), and nothing is allocated while
//! searching: `hash(s + t) = hash(s) * B^|t| + hash(t)`. Two different strings of
//! the same length get the same state only if both hashes collide at once
//! (probability about |s|^2 / 2^92 per comparison), far below the chance of a
//! hardware fault for histories of any real size.

use history::Value;

use super::register::unknown_f;
use crate::linearizability::{self, Completion, Model, Partitioning, Values};
use crate::registry::CheckerDef;

const P: u64 = (1 << 61) - 1;
const B1: u64 = 0x1234_5678_9abc_def1 % P;
const Q: u64 = (1 << 31) - 1;
const B2: u64 = 0x0fed_cba9 % Q;

#[inline]
fn mul_mod(a: u64, b: u64) -> u64 {
    let x = a as u128 * b as u128;
    let r = (x as u64 & P) + (x >> 61) as u64;
    if r >= P { r - P } else { r }
}

#[inline]
fn add_mod(a: u64, b: u64) -> u64 {
    let r = a + b;
    if r >= P { r - P } else { r }
}

/// `a * b + c` modulo Q (all below Q, so no overflow in u64).
#[inline]
fn mul_add_q(a: u32, b: u32, c: u32) -> u32 {
    ((a as u64 * b as u64 + c as u64) % Q) as u32
}

/// A string, by its hashes and length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct StrState {
    h1: u64,
    h2: u32,
    len: u32,
}

/// A string an operation carries: its hash, `B^len` for appending it, and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Piece {
    s: StrState,
    pow1: u64,
    pow2: u32,
    id: u32,
}

impl Piece {
    fn of(text: &str, id: u32) -> Piece {
        let (mut h1, mut h2, mut pow1, mut pow2) = (0u64, 0u32, 1u64, 1u32);
        for &b in text.as_bytes() {
            h1 = add_mod(mul_mod(h1, B1), b as u64 + 1);
            h2 = mul_add_q(h2, B2 as u32, b as u32 + 1);
            pow1 = mul_mod(pow1, B1);
            pow2 = mul_add_q(pow2, B2 as u32, 0);
        }
        Piece { s: StrState { h1, h2, len: text.len() as u32 }, pow1, pow2, id }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// A get that returned this string.
    Get(Piece),
    Put(Piece),
    Append(Piece),
}

#[derive(Debug, Clone, Default)]
pub struct Kv {
    /// The initial string of every key (Porcupine: empty).
    pub initial: String,
}

impl Kv {
    /// The model for `--initial`: the string every key starts with; nothing or `nil`
    /// is Porcupine's kv model's `Init`, the empty string.
    pub fn from_initial(initial: Option<&Value>) -> Result<Kv, String> {
        match initial {
            None | Some(Value::Nil) => Ok(Kv::default()),
            Some(Value::Str(s)) => Ok(Kv { initial: s.clone() }),
            Some(other) => {
                Err(format!("the kv model's initial value must be a string, got {other}"))
            }
        }
    }
}

impl Model for Kv {
    type State = StrState;
    type Op = KvOp;

    fn name(&self) -> &'static str {
        "kv"
    }

    fn state_noun(&self) -> &'static str {
        "the key's value"
    }

    fn partition(&self) -> Partitioning {
        Partitioning::ByKey
    }

    fn init(&self, values: &mut Values) -> StrState {
        let id = values.intern(&Value::Str(self.initial.clone()));
        Piece::of(&self.initial, id).s
    }

    #[inline]
    fn step(&self, state: &StrState, op: &KvOp) -> Option<StrState> {
        match op {
            KvOp::Get(p) => (p.s == *state).then_some(*state),
            KvOp::Put(p) => Some(p.s),
            KvOp::Append(p) => Some(StrState {
                h1: add_mod(mul_mod(state.h1, p.pow1), p.s.h1),
                h2: mul_add_q(state.h2, p.pow2, p.s.h2),
                len: state.len.checked_add(p.s.len)?,
            }),
        }
    }

    fn is_read_only(&self, op: &KvOp) -> bool {
        matches!(op, KvOp::Get(_))
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        values: &mut Values,
    ) -> Result<Option<KvOp>, String> {
        let mut piece = |v: &Value, what: &str| match v {
            Value::Str(s) => Ok(Piece::of(s, values.intern(v))),
            // Porcupine writes an empty get result as "", some logs as nil
            Value::Nil => Ok(Piece::of("", values.intern(&Value::Str(String::new())))),
            other => Err(format!("the {what} must be a string, found {other}")),
        };
        match invoke.f.as_str() {
            "get" => match completion {
                Completion::Ok(done) => {
                    Ok(Some(KvOp::Get(piece(&done.value, "value a get returned")?)))
                }
                Completion::Unknown => Ok(None),
            },
            "put" => Ok(Some(KvOp::Put(piece(&invoke.value, "value of a put")?))),
            "append" => Ok(Some(KvOp::Append(piece(&invoke.value, "value of an append")?))),
            _ => Err(unknown_f(invoke, "get, put or append")),
        }
    }

    fn describe_op(&self, op: &KvOp, values: &Values) -> String {
        match op {
            KvOp::Get(p) => format!("get returning {}", values.get(p.id)),
            KvOp::Put(p) => format!("put of {}", values.get(p.id)),
            KvOp::Append(p) => format!("append of {}", values.get(p.id)),
        }
    }

    fn describe_state(&self, state: &StrState, values: &Values) -> String {
        // States are hashes; name the string when some operation carried it whole.
        for (id, v) in values.all().iter().enumerate() {
            if let Value::Str(s) = v
                && Piece::of(s, id as u32).s == *state
            {
                return v.to_string();
            }
        }
        format!("a string of {} bytes that no operation read or wrote whole", state.len)
    }

    fn describe_reached(&self, state: &StrState, run: &[KvOp], values: &Values) -> String {
        // replay the run on real strings
        let mut text = self.initial.clone();
        for op in run {
            match op {
                KvOp::Get(_) => {}
                KvOp::Put(p) => text = values.get(p.id).as_str().unwrap_or("").to_string(),
                KvOp::Append(p) => text += values.get(p.id).as_str().unwrap_or(""),
            }
        }
        if Piece::of(&text, 0).s == *state {
            Value::Str(text).to_string()
        } else {
            self.describe_state(state, values)
        }
    }
}

/// `kv` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "kv",
    summary: "Porcupine's key-value model: get, put, append of strings; --initial sets every key's string (default \"\")",
    make: |o| linearizability::checker(Kv::from_initial(o.initial.as_ref()), o),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_hash_equals_hash_of_concatenation() {
        let kv = Kv::default();
        let mut values = Values::new();
        let mut s = kv.init(&mut values);
        for part in ["x 1 0 y", "", "x 2 0 y", "abc"] {
            s = kv.step(&s, &KvOp::Append(Piece::of(part, 0))).unwrap();
        }
        assert_eq!(s, Piece::of("x 1 0 yx 2 0 yabc", 0).s);
        assert_ne!(s, Piece::of("x 1 0 yx 2 0 yab", 0).s);
        assert_ne!(Piece::of("ab", 0).s, Piece::of("ba", 0).s);
    }
}
