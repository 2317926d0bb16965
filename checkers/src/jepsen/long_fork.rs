//! `long-fork`: Jepsen's long-fork checker (`jepsen.tests.long-fork/checker`), for
//! the anomaly parallel snapshot isolation allows and snapshot isolation forbids:
//! two inserts observed in opposite orders.
//!
//! The history: *write* transactions of one micro-op `[:w k v]`, each key written
//! once, and *read* transactions `[[:r k v] ...]` reading a whole group of `n` keys
//! (the group size, `-g` in elle-cli). Jepsen's rule:
//! - a key written more than once makes the history `unknown` (the analysis assumes
//!   one write per key);
//! - the `ok` reads are grouped by the set of keys they read; every group must have
//!   exactly `n` keys (else the history is unusable: an error naming the read);
//! - within a group, every pair of reads must be comparable: one must have seen a
//!   superset of what the other saw (each key goes from nil to its one value). Two
//!   reads that each saw a key the other missed are a *fork*: invalid.
//!
//! Two reads holding different values for one key contradict "one write per key":
//! Jepsen calls the history illegal, and so the verdict is `unknown`. Empty read
//! transactions tell nothing and are skipped. When the group size is not given (or
//! is 0, elle-cli's default), it is the number of keys of the first read.
//!
//! # Cost
//! Jepsen compares every pair of reads in a group. Whether a group has a fork is
//! decided here by sorting its reads by how many keys they saw and comparing
//! neighbours (a chain of subsets is a total order), so the check is near linear;
//! the forks listed are every incomparable pair when a group has at most
//! [`ALL_PAIRS_UP_TO`] reads (as Jepsen lists them), else the incomparable
//! neighbours.

use std::collections::BTreeMap;

use history::{Linted, OpKind, Value};
use serde::Serialize;

use super::{FastMap, bad_op, collection, options, place, secs};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Role, Section, Table};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats, Verdict};

/// `long-fork` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "long-fork",
    summary: "Jepsen's long-fork: single-key inserts and reads of key groups; invalid when \
              two reads see inserts in opposite orders; option group-size (elle-cli's -g)",
    make: |o| {
        let opts = options(o, "long-fork", &["group-size"])?;
        let n = opts.int("group-size")?;
        if n.is_some_and(|n| n < 0) {
            return Err(CheckError::BadModel("the long-fork group-size must be at least 1".into()));
        }
        Ok(Box::new(LongFork { group_size: n.filter(|&n| n > 0).map(|n| n as usize) }))
    },
};

/// Groups of at most this many reads list every incomparable pair.
pub const ALL_PAIRS_UP_TO: usize = 200;

/// Most forks the evidence lists.
pub const FORKS_KEPT: usize = 1000;

/// The long-fork checker.
#[derive(Debug, Clone, Copy, Default)]
pub struct LongFork {
    /// Keys every read observes; `None`: the first read's.
    pub group_size: Option<usize>,
}

/// Two reads that saw inserts in opposite orders.
#[derive(Debug, Clone, Serialize)]
pub struct Fork {
    /// Positions of the two reads' completions.
    pub reads: (usize, usize),
    /// A key the first saw and the second did not, and one the other way round.
    #[serde(serialize_with = "super::value_json")]
    pub seen_by_first_only: Value,
    #[serde(serialize_with = "super::value_json")]
    pub seen_by_second_only: Value,
}

/// What the long-fork checker found.
#[derive(Debug, Clone, Serialize)]
pub struct LongForkEvidence {
    pub group_size: Option<usize>,
    pub reads_count: usize,
    /// Reads that saw nothing yet, and reads that saw everything.
    pub early_read_count: usize,
    pub late_read_count: usize,
    pub groups: usize,
    pub fork_count: usize,
    pub forks: Vec<Fork>,
    /// A key written twice (`unknown`), or two reads that disagree on a value.
    pub error: Option<String>,
}

/// A micro-op `[f k v]` whose `f` is `f_name` (`:r` or `:w`).
fn micro_op<'a>(v: &'a Value, f_name: &str) -> Option<(&'a Value, &'a Value)> {
    match collection(v)? {
        [Value::Keyword(f) | Value::Str(f), k, v] if f == f_name => Some((k, v)),
        _ => None,
    }
}

/// The `(key, value)`s of a read transaction, when the value is one.
fn read_txn(v: &Value) -> Option<Vec<(&Value, &Value)>> {
    let mops = collection(v)?;
    if mops.is_empty() {
        return None;
    }
    mops.iter().map(|m| micro_op(m, "r")).collect()
}

impl Checker for LongFork {
    fn name(&self) -> String {
        "long-fork".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let ops = history.ops();
        let mut written: FastMap<&Value, usize> = FastMap::default();
        let mut twice: Option<(usize, usize)> = None;
        let mut reads: Vec<(usize, Vec<(&Value, &Value)>)> = Vec::new();
        let mut clients = 0;
        for pair in history.client_pairs() {
            clients += 1;
            let inv = &ops[pair.invoke];
            if let Some([w]) = collection(&inv.value)
                && let Some((k, _)) = micro_op(w, "w")
            {
                if let Some(&first) = written.get(k) {
                    twice.get_or_insert((first, pair.invoke));
                }
                written.entry(k).or_insert(pair.invoke);
                continue;
            }
            if let (OpKind::Ok, Some(done)) = (history.outcome(pair), pair.completion)
                && let Some(mut kvs) = read_txn(&ops[done].value)
            {
                kvs.sort_by(|a, b| a.0.cmp(b.0));
                kvs.dedup_by(|a, b| a.0 == b.0);
                reads.push((done, kvs));
            }
        }
        let n = self.group_size.or(reads.first().map(|(_, kvs)| kvs.len()));
        let mut evidence = LongForkEvidence {
            group_size: n,
            reads_count: reads.len(),
            early_read_count: reads
                .iter()
                .filter(|(_, kvs)| kvs.iter().all(|(_, v)| v.is_nil()))
                .count(),
            late_read_count: reads
                .iter()
                .filter(|(_, kvs)| kvs.iter().all(|(_, v)| !v.is_nil()))
                .count(),
            groups: 0,
            fork_count: 0,
            forks: Vec::new(),
            error: None,
        };
        let finish = |verdict, reason: String, explanation: String, evidence: LongForkEvidence| {
            let mut o = Outcome::new(verdict, reason, explanation);
            o.section = section(history, &evidence);
            o.evidence = Evidence::new(evidence);
            o.stats = Stats {
                ops: clients,
                partitions: 1,
                elapsed: started.elapsed(),
                ..Stats::default()
            };
            Ok(o)
        };
        if let Some((first, second)) = twice {
            let key =
                micro_op(&collection(&ops[second].value).unwrap_or(&[])[0], "w").map(|(k, _)| k);
            let key = key.map_or("?".into(), Value::to_string);
            evidence.error = Some(format!("multiple writes to key {key}"));
            return finish(
                Verdict::Unknown,
                format!("key {key} is written more than once"),
                format!(
                    "Key {key} is written at {} and again at {}: the long-fork analysis assumes \
                     each key is written once.",
                    place(history, first),
                    place(history, second)
                ),
                evidence,
            );
        }
        // Group the reads by the keys they read.
        let mut groups: BTreeMap<Vec<&Value>, Vec<usize>> = BTreeMap::new();
        for (r, (_, kvs)) in reads.iter().enumerate() {
            groups.entry(kvs.iter().map(|(k, _)| *k).collect()).or_default().push(r);
        }
        evidence.groups = groups.len();
        for (keys, members) in &groups {
            if Some(keys.len()) != n {
                let at = reads[members[0]].0;
                return Err(bad_op(
                    history,
                    at,
                    format!(
                        "every read should observe exactly {} keys (the long-fork group size), \
                         but this read observed {}: {}",
                        n.unwrap_or(0),
                        keys.len(),
                        ops[at].value
                    ),
                ));
            }
            // One value per key: each key is written once.
            for (i, key) in keys.iter().enumerate() {
                let mut value: Option<(&Value, usize)> = None;
                for &r in members {
                    let v = reads[r].1[i].1;
                    if v.is_nil() {
                        continue;
                    }
                    match value {
                        None => value = Some((v, r)),
                        Some((w, other)) if w != v => {
                            evidence.error = Some(format!("distinct values for key {key}"));
                            return finish(
                                Verdict::Unknown,
                                format!("two reads hold different values for key {key}"),
                                format!(
                                    "The read at {} holds {w} for key {key} and the read at {} \
                                     holds {v}: the long-fork analysis assumes each key is \
                                     written once.",
                                    place(history, reads[other].0),
                                    place(history, reads[r].0)
                                ),
                                evidence,
                            );
                        }
                        Some(_) => {}
                    }
                }
            }
            forks_in(&reads, members, &mut evidence);
        }
        match evidence.forks.first().cloned() {
            None => {
                let reason =
                    format!("no long fork in {} reads of {} groups", reads.len(), groups.len());
                let verdict = if reads.is_empty() { Verdict::Unknown } else { Verdict::Valid };
                let reason =
                    if reads.is_empty() { "no read transaction completed".into() } else { reason };
                finish(verdict, reason, String::new(), evidence)
            }
            Some(f) => {
                let (a, b) = f.reads;
                let words = format!(
                    "The read at {} ({}) saw key {} but not key {}, while the read at {} ({}) saw \
                     key {} but not key {}: the two inserts were observed in opposite orders, \
                     a long fork.",
                    place(history, a),
                    secs(ops[a].time_ns),
                    f.seen_by_first_only,
                    f.seen_by_second_only,
                    place(history, b),
                    secs(ops[b].time_ns),
                    f.seen_by_second_only,
                    f.seen_by_first_only
                );
                let reason = format!("{} long fork(s)", evidence.fork_count);
                finish(Verdict::Invalid, reason, words, evidence)
            }
        }
    }
}

/// The forks of one group (members: read indices, all with the same keys).
fn forks_in(
    reads: &[(usize, Vec<(&Value, &Value)>)],
    members: &[usize],
    evidence: &mut LongForkEvidence,
) {
    let words = reads[members[0]].1.len().div_ceil(64);
    let seen = |r: usize| {
        let mut bits = vec![0u64; words];
        for (i, (_, v)) in reads[r].1.iter().enumerate() {
            if !v.is_nil() {
                bits[i / 64] |= 1 << (i % 64);
            }
        }
        bits
    };
    let sets: Vec<(usize, Vec<u64>)> = members.iter().map(|&r| (r, seen(r))).collect();
    let subset = |a: &[u64], b: &[u64]| a.iter().zip(b).all(|(x, y)| x & !y == 0);
    let fork = |a: usize, sa: &[u64], b: usize, sb: &[u64], evidence: &mut LongForkEvidence| {
        evidence.fork_count += 1;
        if evidence.forks.len() < FORKS_KEPT {
            let only = |x: &[u64], y: &[u64], r: usize| {
                let i = (0..words * 64).find(|&i| x[i / 64] & !y[i / 64] & (1 << (i % 64)) != 0);
                i.map_or(Value::Nil, |i| reads[r].1[i].0.clone())
            };
            let (a, b, sa, sb) =
                if reads[a].0 < reads[b].0 { (a, b, sa, sb) } else { (b, a, sb, sa) };
            evidence.forks.push(Fork {
                reads: (reads[a].0, reads[b].0),
                seen_by_first_only: only(sa, sb, a),
                seen_by_second_only: only(sb, sa, b),
            });
        }
    };
    if sets.len() <= ALL_PAIRS_UP_TO {
        for (i, (a, sa)) in sets.iter().enumerate() {
            for (b, sb) in &sets[i + 1..] {
                if !subset(sa, sb) && !subset(sb, sa) {
                    fork(*a, sa, *b, sb, evidence);
                }
            }
        }
        return;
    }
    let mut sorted = sets;
    sorted.sort_by_key(|(_, s)| s.iter().map(|w| w.count_ones()).sum::<u32>());
    for w in sorted.windows(2) {
        let ((a, sa), (b, sb)) = (&w[0], &w[1]);
        if !subset(sa, sb) {
            fork(*a, sa, *b, sb, evidence);
        }
    }
}

const SHOWN: usize = 50;

fn section(history: &Linted, e: &LongForkEvidence) -> Section {
    let ops = history.ops();
    let mut section = Section::new("Long fork").with(Block::paragraph(format!(
        "{} read transactions in {} groups of {} keys ({} saw nothing yet, {} saw everything); \
         {} long fork(s){}.",
        e.reads_count,
        e.groups,
        e.group_size.map_or("?".into(), |n| n.to_string()),
        e.early_read_count,
        e.late_read_count,
        e.fork_count,
        e.error.as_ref().map_or(String::new(), |x| format!("; not judged: {x}"))
    )));
    if !e.forks.is_empty() {
        section.blocks.push(Block::Table(Table {
            caption: Some(format!("forks ({} shown)", e.forks.len().min(SHOWN))),
            columns: ["first read", "second read", "only the first saw", "only the second saw"]
                .map(String::from)
                .to_vec(),
            rows: e
                .forks
                .iter()
                .take(SHOWN)
                .map(|f| {
                    vec![
                        format!("{} {}", place(history, f.reads.0), ops[f.reads.0].value),
                        format!("{} {}", place(history, f.reads.1), ops[f.reads.1].value),
                        f.seen_by_first_only.to_string(),
                        f.seen_by_second_only.to_string(),
                    ]
                })
                .collect(),
        }));
        section.blocks.push(Block::Operations(Operations {
            caption: Some("reads that saw inserts in opposite orders".into()),
            ops: e
                .forks
                .iter()
                .take(SHOWN / 2)
                .flat_map(|f| {
                    [
                        Highlight {
                            position: f.reads.0,
                            role: Role::Related,
                            label: format!(
                                "saw {} without {}",
                                f.seen_by_first_only, f.seen_by_second_only
                            ),
                        },
                        Highlight {
                            position: f.reads.1,
                            role: Role::Culprit,
                            label: format!(
                                "saw {} without {}",
                                f.seen_by_second_only, f.seen_by_first_only
                            ),
                        },
                    ]
                })
                .collect(),
        }));
    }
    section
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn r(k: i64, v: Option<i64>) -> Value {
        Value::List(vec![Value::kw("r"), k.into(), v.into()])
    }

    fn read(p: u64, kvs: &[(i64, Option<i64>)]) -> [Op; 2] {
        let txn = |with: bool| {
            Value::List(kvs.iter().map(|&(k, v)| r(k, if with { v } else { None })).collect())
        };
        [Op::invoke(p, "read", txn(false)), Op::ok(p, "read", txn(true))]
    }

    fn write(p: u64, k: i64) -> [Op; 2] {
        let w = Value::List(vec![Value::List(vec![Value::kw("w"), k.into(), 1.into()])]);
        [Op::invoke(p, "write", w.clone()), Op::ok(p, "write", w)]
    }

    fn check(lf: LongFork, ops: Vec<Op>) -> Result<Outcome, CheckError> {
        lf.check(&History::from_ops(ops).lint().unwrap())
    }

    #[test]
    fn reads_in_one_order_are_valid_opposite_orders_are_a_fork() {
        let ok = [
            write(0, 0),
            write(1, 1),
            read(2, &[(0, None), (1, None)]),
            read(2, &[(0, Some(1)), (1, None)]),
            read(3, &[(1, Some(1)), (0, Some(1))]),
        ]
        .concat();
        let o = check(LongFork { group_size: Some(2) }, ok).unwrap();
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let e = o.evidence.get::<LongForkEvidence>().unwrap();
        assert_eq!((e.early_read_count, e.late_read_count, e.groups), (1, 1, 1));
        let fork =
            [read(2, &[(0, Some(1)), (1, None)]), read(3, &[(1, Some(1)), (0, None)])].concat();
        let o = check(LongFork::default(), fork).unwrap();
        assert_eq!(o.verdict, Verdict::Invalid);
        let e = o.evidence.get::<LongForkEvidence>().unwrap();
        assert_eq!(e.forks[0].reads, (1, 3));
        assert_eq!(
            (e.forks[0].seen_by_first_only.clone(), e.forks[0].seen_by_second_only.clone()),
            (0.into(), 1.into())
        );
        assert!(
            o.explanation.contains("line 2")
                && o.explanation.contains("line 4")
                && o.explanation.contains("long fork"),
            "{}",
            o.explanation
        );
    }

    #[test]
    fn double_writes_and_conflicting_values_are_unknown_wrong_group_sizes_are_errors() {
        let o = check(LongFork::default(), [write(0, 5), write(1, 5)].concat()).unwrap();
        assert_eq!(o.verdict, Verdict::Unknown);
        assert!(o.reason.contains("key 5"), "{}", o.reason);
        let conflict =
            [read(0, &[(0, Some(1)), (1, None)]), read(1, &[(0, Some(2)), (1, None)])].concat();
        assert_eq!(check(LongFork::default(), conflict).unwrap().verdict, Verdict::Unknown);
        let err = check(LongFork { group_size: Some(3) }, read(0, &[(0, None), (1, None)]).into())
            .unwrap_err();
        assert!(
            err.to_string().starts_with("line 2:") && err.to_string().contains("exactly 3 keys"),
            "{err}"
        );
        assert_eq!(check(LongFork::default(), vec![]).unwrap().verdict, Verdict::Unknown);
        // Failed and info reads observe nothing.
        let mut ops: Vec<Op> = read(0, &[(0, Some(1)), (1, None)]).into();
        let [inv, _] = read(1, &[(1, Some(1)), (0, None)]);
        ops.extend([inv.clone(), Op::info(1, "read", inv.value.clone())]);
        assert_eq!(check(LongFork::default(), ops).unwrap().verdict, Verdict::Valid);
    }

    /// Above [`ALL_PAIRS_UP_TO`] reads a group is judged by its sorted chain: the
    /// verdict is the same as comparing every pair.
    #[test]
    fn large_groups_are_judged_by_the_chain() {
        let mut ops = Vec::new();
        for i in 0..300u64 {
            // Reads see keys 0..3 fill up in order 0, 1, 2.
            let seen = (i % 4) as i64;
            let kvs: Vec<(i64, Option<i64>)> =
                (0..3).map(|k| (k, (k < seen).then_some(1))).collect();
            ops.extend(read(i, &kvs));
        }
        assert_eq!(check(LongFork::default(), ops.clone()).unwrap().verdict, Verdict::Valid);
        ops.extend(read(999, &[(0, None), (1, None), (2, Some(1))]));
        let o = check(LongFork::default(), ops).unwrap();
        assert_eq!(o.verdict, Verdict::Invalid);
    }
}
