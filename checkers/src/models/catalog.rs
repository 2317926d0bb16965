//! `catalog`: a service catalog of instances and their health, as Consul's health API
//! serves it (`/v1/health/service/<name>`), for the `discovery` workload.
//!
//! Each instance is absent, `passing` or `critical` (its own check). Operations:
//! - `register {:instance i, :health h}`: the instance exists with health `h`
//!   (re-registering overwrites the health, as Consul's agent does);
//! - `deregister {:instance i}`: the instance is gone (an `ok` deregister of an
//!   instance already gone is allowed, as Consul's);
//! - `set-health {:instance i, :health h}`: only an existing instance; `ok` means it
//!   existed and now has health `h` (Consul's TTL check `pass` / `fail`);
//! - `read`, completing with `{:consistency c, :instances {i h ...}}`: every instance
//!   of the service with its health, all others absent. Only reads the node says were
//!   `consistent` are judged here (the `discovery` checker judges the others by how
//!   stale they were); a read of another consistency is dropped.
//! - a read whose completion also says `:filter "passing"` (Consul's `?passing`: only
//!   instances whose checks all pass, their node's `serfHealth` included) lists each
//!   instance it has as `passing`; one it leaves out may be absent, critical, or
//!   passing on a node whose checks fail (the node's health is not this model's
//!   state), so the read constrains only the instances it lists. An unfiltered read
//!   lists every instance with its own check, whatever its node's health: a node's
//!   health changes no instance's own check, and the `discovery` checker reads the
//!   node-level state from the read's `:node-critical`.
//!
//! The whole catalog is one object (a read returns all instances at once), so the
//! history is not split by key. The state packs two bits per instance: up to
//! [`MAX_INSTANCES`] instances per history.

use history::Value;

use super::register::unknown_f;
use crate::linearizability::{self, Completion, Model, Partitioning, Values};
use crate::ops::{field, text_field};
use crate::registry::CheckerDef;

pub const MAX_INSTANCES: usize = 32;

const ABSENT: u64 = 0;
const PASSING: u64 = 1;
const CRITICAL: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CatalogOp {
    /// Sets the slot's two bits.
    Register(u8, u64),
    Deregister(u8),
    /// Only when present.
    SetHealth(u8, u64),
    /// The state, on the bits of `mask` (all of them for an unfiltered read), must
    /// be `expect`.
    Read {
        expect: u64,
        mask: u64,
    },
}

#[derive(Debug, Clone, Default)]
pub struct Catalog;

impl Catalog {
    pub fn from_initial(initial: Option<&Value>) -> Result<Catalog, String> {
        match initial {
            None | Some(Value::Nil) => Ok(Catalog),
            // The discovery checker's options (a map) are not this model's business.
            Some(Value::Map(_)) => Ok(Catalog),
            Some(other) => Err(format!(
                "the catalog model starts empty; it takes no initial value (got {other})"
            )),
        }
    }
}

fn health(v: Option<&str>) -> Result<u64, String> {
    match v {
        Some("passing") => Ok(PASSING),
        Some("critical") => Ok(CRITICAL),
        other => Err(format!("a health is \"passing\" or \"critical\", found {other:?}")),
    }
}

fn slot(values: &mut Values, instance: &Value) -> Result<u8, String> {
    let s = values.name_slot(instance);
    if s >= MAX_INSTANCES {
        return Err(format!("the catalog model handles at most {MAX_INSTANCES} instances"));
    }
    Ok(s as u8)
}

fn instance_of(invoke: &history::Op) -> Result<&Value, String> {
    field(&invoke.value, "instance")
        .ok_or_else(|| format!("a {} needs {{:instance i}}, found {}", invoke.f, invoke.value))
}

/// Whether a read's completion says it lists only passing instances (`:filter
/// "passing"`, Consul's `?passing`).
pub fn is_filtered(done: &history::Op) -> bool {
    text_field(&done.value, "filter") == Some("passing")
}

/// Whether a read's completion says it was consistent.
pub fn is_consistent(done: &history::Op) -> bool {
    text_field(&done.value, "consistency") == Some("consistent")
}

fn with(state: u64, slot: u8, bits: u64) -> u64 {
    let shift = 2 * slot as u64;
    (state & !(3 << shift)) | (bits << shift)
}

fn get(state: u64, slot: u8) -> u64 {
    (state >> (2 * slot as u64)) & 3
}

impl Model for Catalog {
    type State = u64;
    type Op = CatalogOp;

    fn name(&self) -> &'static str {
        "catalog"
    }

    fn state_noun(&self) -> &'static str {
        "the catalog"
    }

    fn partition(&self) -> Partitioning {
        Partitioning::Whole
    }

    fn init(&self, _values: &mut Values) -> u64 {
        0
    }

    fn step(&self, s: &u64, op: &CatalogOp) -> Option<u64> {
        match *op {
            CatalogOp::Register(i, h) => Some(with(*s, i, h)),
            CatalogOp::Deregister(i) => Some(with(*s, i, ABSENT)),
            CatalogOp::SetHealth(i, h) => (get(*s, i) != ABSENT).then(|| with(*s, i, h)),
            CatalogOp::Read { expect, mask } => (*s & mask == expect).then_some(*s),
        }
    }

    fn is_read_only(&self, op: &CatalogOp) -> bool {
        matches!(op, CatalogOp::Read { .. })
    }

    fn encode(
        &self,
        invoke: &history::Op,
        completion: Completion<'_>,
        values: &mut Values,
    ) -> Result<Option<CatalogOp>, String> {
        match invoke.f.as_str() {
            "register" => {
                let i = slot(values, instance_of(invoke)?)?;
                Ok(Some(CatalogOp::Register(i, health(text_field(&invoke.value, "health"))?)))
            }
            "set-health" => {
                let i = slot(values, instance_of(invoke)?)?;
                Ok(Some(CatalogOp::SetHealth(i, health(text_field(&invoke.value, "health"))?)))
            }
            "deregister" => Ok(Some(CatalogOp::Deregister(slot(values, instance_of(invoke)?)?))),
            "read" => {
                let Completion::Ok(done) = completion else { return Ok(None) };
                if !is_consistent(done) {
                    return Ok(None);
                }
                let filtered = is_filtered(done);
                let mut expect = 0;
                let mut mask = if filtered { 0 } else { u64::MAX };
                match field(&done.value, "instances") {
                    Some(Value::Map(entries)) => {
                        for (i, h) in entries {
                            let h = health(match h {
                                Value::Str(s) | Value::Keyword(s) => Some(s.as_str()),
                                _ => None,
                            })?;
                            if filtered && h != PASSING {
                                return Err(format!(
                                    "a read filtered on passing lists {i} as critical"
                                ));
                            }
                            let at = slot(values, i)?;
                            expect = with(expect, at, h);
                            mask |= 3 << (2 * at as u64);
                        }
                    }
                    Some(Value::Nil) | None => {}
                    Some(other) => {
                        return Err(format!(
                            "a read's :instances is a map of instance to health, found {other}"
                        ));
                    }
                }
                Ok(Some(CatalogOp::Read { expect, mask }))
            }
            _ => Err(unknown_f(invoke, "register, deregister, set-health or read")),
        }
    }

    fn describe_op(&self, op: &CatalogOp, values: &Values) -> String {
        let name =
            |i: u8| values.names().get(i as usize).map_or("?".to_string(), |v| v.to_string());
        let h = |b: u64| match b {
            PASSING => "passing",
            CRITICAL => "critical",
            _ => "absent",
        };
        match *op {
            CatalogOp::Register(i, b) => format!("register {} {}", name(i), h(b)),
            CatalogOp::Deregister(i) => format!("deregister {}", name(i)),
            CatalogOp::SetHealth(i, b) => format!("set {} {}", name(i), h(b)),
            CatalogOp::Read { expect, mask: u64::MAX } => {
                format!("read returning {}", self.describe_state(&expect, values))
            }
            CatalogOp::Read { expect, .. } => format!(
                "read filtered on passing returning {}",
                self.describe_state(&expect, values)
            ),
        }
    }

    fn describe_state(&self, s: &u64, values: &Values) -> String {
        let parts: Vec<String> = values
            .names()
            .iter()
            .enumerate()
            .filter_map(|(i, name)| match get(*s, i as u8) {
                PASSING => Some(format!("{name} passing")),
                CRITICAL => Some(format!("{name} critical")),
                _ => None,
            })
            .collect();
        if parts.is_empty() { "no instances".into() } else { format!("{{{}}}", parts.join(", ")) }
    }
}

/// `catalog` in the checker registry ([`crate::registry::ALL`]).
pub static CHECKER: CheckerDef = CheckerDef {
    name: "catalog",
    summary: "a service catalog (instances absent / passing / critical): register, deregister, set-health, consistent reads",
    make: |o| linearizability::checker(Catalog::from_initial(o.initial.as_ref()), o),
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;
    use crate::registry::CheckerOptions;
    use history::{History, Op};

    fn inst(i: &str, h: Option<&str>) -> Value {
        let mut m = vec![(Value::kw("instance"), Value::Str(i.into()))];
        if let Some(h) = h {
            m.push((Value::kw("health"), Value::Str(h.into())));
        }
        Value::Map(m)
    }

    fn read(consistency: &str, instances: &[(&str, &str)]) -> Value {
        Value::Map(vec![
            (Value::kw("consistency"), Value::Str(consistency.into())),
            (
                Value::kw("instances"),
                Value::Map(
                    instances
                        .iter()
                        .map(|(i, h)| (Value::Str((*i).into()), Value::Str((*h).into())))
                        .collect(),
                ),
            ),
        ])
    }

    fn check(ops: Vec<Op>) -> Verdict {
        let c = CHECKER.checker(&CheckerOptions::default()).unwrap();
        c.check(&History::from_ops(ops).lint().unwrap()).unwrap().verdict
    }

    #[test]
    fn reads_must_match_the_catalog() {
        let mut ops = vec![
            Op::invoke(0, "register", inst("a", Some("passing"))),
            Op::ok(0, "register", inst("a", Some("passing"))),
            Op::invoke(0, "set-health", inst("a", Some("critical"))),
            Op::ok(0, "set-health", inst("a", Some("critical"))),
            Op::invoke(1, "read", Value::Nil),
            Op::ok(1, "read", read("consistent", &[("a", "critical")])),
            Op::invoke(0, "deregister", inst("a", None)),
            Op::ok(0, "deregister", inst("a", None)),
            Op::invoke(1, "read", Value::Nil),
            Op::ok(1, "read", read("consistent", &[])),
        ];
        assert_eq!(check(ops.clone()), Verdict::Valid);
        // A stale read is not this model's business...
        ops.push(Op::invoke(1, "read", Value::Nil));
        ops.push(Op::ok(1, "read", read("stale", &[("a", "passing")])));
        assert_eq!(check(ops.clone()), Verdict::Valid);
        // ...a consistent one that shows the deregistered instance is.
        ops.push(Op::invoke(1, "read", Value::Nil));
        ops.push(Op::ok(1, "read", read("consistent", &[("a", "critical")])));
        assert_eq!(check(ops), Verdict::Invalid);
        // set-health of an absent instance cannot succeed.
        let bad = vec![
            Op::invoke(0, "set-health", inst("b", Some("passing"))),
            Op::ok(0, "set-health", inst("b", Some("passing"))),
        ];
        assert_eq!(check(bad), Verdict::Invalid);
    }
}
