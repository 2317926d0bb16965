//! `multi-register`: several registers read and written together (Knossos'
//! `multi-register`). Two operation shapes are accepted:
//! - `txn` with a list of micro-operations `[[:read k v] [:write k v] ...]`, applied
//!   in order, as Knossos does: a read whose `v` is `nil` is unconstrained (it was
//!   not returned);
//! - `read` / `write` whose value is a map `{k v ...}`: a read returned every `v`;
//!   a write sets every key.
//!
//! In the `txn` shape a read of `nil` constrains nothing, as in
//! `knossos.model/MultiRegister` ("Nil reads are always legal"): that is how Jepsen
//! writes a txn's reads before they return. In the map shape (ours) a `nil` means
//! the register was never written. `--initial` is a map of keys to their starting
//! values, as `(multi-register {:x 0 :y 0})` takes; keys it does not name start at
//! `nil`.
//!
//! The state is a fixed array of interned values, one slot per key, so it is `Copy`:
//! up to [`MAX_KEYS`] keys per history and [`MAX_MICRO`] micro-operations per op.

use history::Value;

use super::register::unknown_f;
use crate::linearizability::{self, Completion, Model, Values};
use crate::registry::CheckerDef;

pub const MAX_KEYS: usize = 8;
pub const MAX_MICRO: usize = 8;

/// One value per register slot (`Values::NIL` when never written).
pub type MultiState = [u32; MAX_KEYS];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Micro {
    /// The register must hold this value.
    Read(u8, u32),
    Write(u8, u32),
    Empty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MultiOp {
    micro: [Micro; MAX_MICRO],
}

#[derive(Debug, Clone, Default)]
pub struct MultiRegister {
    /// Starting values, by key (the rest start at `nil`).
    pub initial: Vec<(Value, Value)>,
}

impl MultiRegister {
    /// The model for `--initial`: nothing (every register `nil`) or a map
    /// `{key value ...}` of at most [`MAX_KEYS`] keys, e.g. `{:x 0 :y 0}`.
    pub fn from_initial(initial: Option<&Value>) -> Result<MultiRegister, String> {
        let entries = match initial {
            None | Some(Value::Nil) => Vec::new(),
            Some(Value::Map(entries)) => entries.clone(),
            Some(other) => {
                return Err(format!(
                    "the multi-register model's initial value is a map of keys to values, \
                     such as {{:x 0 :y 0}}; got {other}"
                ));
            }
        };
        let mut keys: Vec<&Value> = entries.iter().map(|(k, _)| k).collect();
        keys.sort();
        keys.dedup();
        if keys.len() != entries.len() {
            return Err("the multi-register initial map names a key twice".into());
        }
        if entries.len() > MAX_KEYS {
            return Err(format!(
                "the multi-register initial map has {} keys; this model handles at most \
                 {MAX_KEYS}",
                entries.len()
            ));
        }
        Ok(MultiRegister { initial: entries })
    }
}

impl Model for MultiRegister {
    type State = MultiState;
    type Op = MultiOp;

    fn name(&self) -> &'static str {
        "multi-register"
    }

    fn state_noun(&self) -> &'static str {
        "the registers"
    }

    fn init(&self, values: &mut Values) -> MultiState {
        let mut state = [Values::NIL; MAX_KEYS];
        for (k, v) in &self.initial {
            // from_initial allows at most MAX_KEYS keys, so every slot fits
            if let Some(cell) = state.get_mut(values.name_slot(k)) {
                *cell = values.intern(v);
            }
        }
        state
    }

    fn step(&self, state: &MultiState, op: &MultiOp) -> Option<MultiState> {
        let mut s = *state;
        for m in op.micro {
            match m {
                Micro::Read(k, v) => {
                    if s[k as usize] != v {
                        return None;
                    }
                }
                Micro::Write(k, v) => s[k as usize] = v,
                Micro::Empty => break,
            }
        }
        Some(s)
    }

    fn is_read_only(&self, op: &MultiOp) -> bool {
        op.micro.iter().all(|m| matches!(m, Micro::Read(..) | Micro::Empty))
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        values: &mut Values,
    ) -> Result<Option<MultiOp>, String> {
        let known = match completion {
            Completion::Ok(done) => Some(done),
            Completion::Unknown => None,
        };
        let mut micro = Vec::new();
        match invoke.f.as_str() {
            "txn" => {
                // the completion carries the values read; an unknown one, only the writes
                let source = known.map_or(&invoke.value, |d| &d.value);
                let Some(list) = source.as_list() else {
                    return Err(format!("a txn value must be a list of [f k v], found {source}"));
                };
                for m in list {
                    let Some([f, k, v]) = m.as_list() else {
                        return Err(format!("a micro-operation must be [f k v], found {m}"));
                    };
                    let slot = slot(values, k)?;
                    match f {
                        Value::Keyword(f) | Value::Str(f) if f == "read" || f == "r" => {
                            if known.is_some() && !v.is_nil() {
                                micro.push(Micro::Read(slot, values.intern(v)));
                            }
                        }
                        Value::Keyword(f) | Value::Str(f) if f == "write" || f == "w" => {
                            micro.push(Micro::Write(slot, values.intern(v)))
                        }
                        _ => return Err(format!("unknown micro-operation {f} (read or write)")),
                    }
                }
            }
            "read" => {
                let Some(done) = known else { return Ok(None) };
                let Value::Map(entries) = &done.value else {
                    return Err(format!(
                        "a read must return a map {{key value}}, found {}",
                        done.value
                    ));
                };
                for (k, v) in entries {
                    let slot = slot(values, k)?;
                    micro.push(Micro::Read(slot, values.intern(v)));
                }
            }
            "write" => {
                let Value::Map(entries) = &invoke.value else {
                    return Err(format!(
                        "a write value must be a map {{key value}}, found {}",
                        invoke.value
                    ));
                };
                for (k, v) in entries {
                    let slot = slot(values, k)?;
                    micro.push(Micro::Write(slot, values.intern(v)));
                }
            }
            _ => return Err(unknown_f(invoke, "txn, read or write")),
        }
        if micro.iter().all(|m| matches!(m, Micro::Read(..))) && known.is_none() {
            return Ok(None);
        }
        if micro.len() > MAX_MICRO {
            return Err(format!(
                "{} micro-operations in one op; this model handles at most {MAX_MICRO}",
                micro.len()
            ));
        }
        let mut op = MultiOp { micro: [Micro::Empty; MAX_MICRO] };
        op.micro[..micro.len()].copy_from_slice(&micro);
        Ok(Some(op))
    }

    fn describe_op(&self, op: &MultiOp, values: &Values) -> String {
        let name = |k: u8| values.names().get(k as usize).map_or("?".into(), |n| n.to_string());
        let parts: Vec<String> = op
            .micro
            .iter()
            .filter_map(|m| match *m {
                Micro::Read(k, v) => Some(format!("read {} = {}", name(k), values.get(v))),
                Micro::Write(k, v) => Some(format!("write {} := {}", name(k), values.get(v))),
                Micro::Empty => None,
            })
            .collect();
        format!("transaction [{}]", parts.join(", "))
    }

    fn describe_state(&self, state: &MultiState, values: &Values) -> String {
        let parts: Vec<String> = values
            .names()
            .iter()
            .zip(state.iter())
            .map(|(k, &v)| format!("{k} {}", values.get(v)))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }
}

fn slot(values: &mut Values, key: &Value) -> Result<u8, String> {
    let slot = values.name_slot(key);
    if slot >= MAX_KEYS {
        return Err(format!(
            "key {key} is the {}th register; this model handles at most {MAX_KEYS}",
            slot + 1
        ));
    }
    Ok(slot as u8)
}

/// `multi-register` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "multi-register",
    summary: "several registers read and written together (Knossos' multi-register): txn, or read/write of maps",
    make: |o| linearizability::checker(MultiRegister::from_initial(o.initial.as_ref()), o),
};
