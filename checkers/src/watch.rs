//! `watch`: did every watcher see the key's changes the way the watch API promises?
//!
//! The history (the `watch` workload writes it): writers `write` unique values to a
//! few keys (the completion may say the revision it was written at,
//! `{:value v, :revision r}`); watchers (`{:watcher w}`) `watch` a key from where
//! they last stood and record what they saw, `{:after a, :position p, :delivery d,
//! :events [[revision value] ...]}`; after the final heal each watcher runs a
//! `final-watch` of each key that also carries the key's linearizably read head
//! (`:head [revision value]`). Two deliveries, two rule sets:
//!
//! - **`every-revision`** (etcd's watch stream; Jepsen's etcd watch test, which
//!   checks that every watcher observed the same revisions in the same order): every
//!   event of a watch call comes after the revision it resumed from, in increasing
//!   order; every revision of the key known to anyone (a write's acknowledged
//!   revision, any watcher's event) between the call's start and its last event is in
//!   its events: no gaps; a revision has one value and a value one revision (no
//!   duplicates), which a write wrote (not a failed one) and, for an acknowledged
//!   write with a revision, exactly that one; each call resumes where the last
//!   ended.
//! - **`latest`** (Consul's blocking queries, which answer the key's state as of the
//!   index `X-Consul-Index` and may skip states between answers): per watcher, the
//!   index never goes back and neither does the entry's `ModifyIndex` (no watcher
//!   goes backwards); the entry is not newer than its index; every value seen was
//!   written, one value per `ModifyIndex`; and an answer at index `X` showing the
//!   entry written at `m` is wrong if anyone saw the key written at some `m'` with
//!   `m < m' <= X` (the answer claims a state the key was no longer in).
//!
//! For both: after the final heal every watcher converges: its last state is the
//! key's last known revision (which is also the head read then), and that state is
//! not one an acknowledged write is known to have overwritten. A watcher whose
//! final watch never completed makes the verdict `unknown` (Jepsen's rule: it may
//! simply not have caught up), unless something is invalid anyway.
//!
//! The report lists per watcher how often it reconnected (a failed watch followed by
//! one that worked: it resumed from its last position) and what it missed: for
//! `every-revision` nothing may be missed; for `latest` the states it never saw
//! because the blocking queries answered with a later one.

use std::collections::{BTreeMap, HashMap};

use history::{Linted, OpKind, Value};
use serde::Serialize;

use crate::ops::{ClientOp, client_ops, field, key_words, text_field, uint_field};
use crate::registry::CheckerDef;
use crate::section::{Block, Highlight, Operations, Role, Section, Table};
use crate::verdict::{CheckError, Checker, Evidence, Outcome, Stats, Verdict};

/// `watch` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "watch",
    summary: "watchers see every revision in order without gaps (etcd) or never go backwards \
              and never show a state older than their index (Consul), then converge",
    make: |o| match &o.initial {
        None => o.refuse_extension("watch").map(|()| Box::new(WatchChecker) as _),
        Some(v) => {
            Err(CheckError::BadModel(format!("the watch checker takes no initial value (got {v})")))
        }
    },
};

pub struct WatchChecker;

/// One rule broken.
#[derive(Debug, Clone, Serialize)]
pub struct WatchAnomaly {
    /// `gap`, `out-of-order`, `revision-conflict`, `duplicate`, `phantom`,
    /// `failed-write-seen`, `resume`, `index-backwards`, `went-backwards`,
    /// `entry-ahead-of-index`, `stale-at-index`, `not-converged`, `overwritten-final`.
    pub kind: &'static str,
    pub key: String,
    pub watcher: Option<i64>,
    /// Invocation positions of the operations involved, the culprit first.
    pub positions: Vec<usize>,
    pub message: String,
}

/// What one watcher did with one key.
#[derive(Debug, Clone, Serialize)]
pub struct WatcherSummary {
    pub watcher: i64,
    pub key: String,
    pub delivery: String,
    pub watches_ok: usize,
    pub watches_not_ok: usize,
    /// Watches that worked right after one that did not: resumed from the position
    /// the watcher had reached.
    pub reconnects: usize,
    /// Distinct revisions it saw.
    pub revisions_seen: usize,
    /// Known revisions (within the span it watched) it never saw: none allowed for
    /// `every-revision`; skipped states for `latest`.
    pub skipped: usize,
    /// The revisions delivered by the first watch after each reconnect (what it had
    /// to catch up on), or for `latest` the states it skipped across the reconnect.
    pub after_reconnects: Vec<String>,
    /// `None`: it did not finish a final watch.
    pub converged: Option<bool>,
    pub final_revision: Option<u64>,
}

/// The watch checker's evidence.
#[derive(Debug, Clone, Serialize)]
pub struct WatchEvidence {
    pub anomalies: Vec<WatchAnomaly>,
    pub watchers: Vec<WatcherSummary>,
    /// Why a watcher was not judged converged.
    pub unconverged: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    EveryRevision,
    Latest,
}

/// A watch operation read back from the history.
struct Watched<'a> {
    op: &'a ClientOp<'a>,
    watcher: i64,
    is_final: bool,
    /// Known only for `ok` watches.
    seen: Option<Seen>,
}

struct Seen {
    after: u64,
    position: u64,
    delivery: Delivery,
    events: Vec<(u64, Value)>,
    head: Option<(u64, Value)>,
}

/// The known revisions in `(after, upto]` (none when the span is empty).
fn span(
    known: &BTreeMap<u64, (Value, usize)>,
    after: u64,
    upto: u64,
) -> impl Iterator<Item = (&u64, &(Value, usize))> {
    let range = if after < upto { Some(known.range(after + 1..=upto)) } else { None };
    range.into_iter().flatten()
}

fn bad(history: &Linted, pos: usize, message: impl Into<String>) -> CheckError {
    CheckError::BadOperation { place: history.history().place(pos), message: message.into() }
}

fn read_pair(v: &Value) -> Option<(u64, Value)> {
    match v.as_list()? {
        [rev, value] => Some((u64::try_from(rev.as_int()?).ok()?, value.clone())),
        _ => None,
    }
}

fn read_seen(op: &ClientOp<'_>) -> Result<Seen, String> {
    let out = op.output;
    let delivery = match text_field(out, "delivery") {
        Some("every-revision") => Delivery::EveryRevision,
        Some("latest") => Delivery::Latest,
        other => {
            return Err(format!(
                "a watch must say its :delivery (every-revision or latest), found {other:?}"
            ));
        }
    };
    let after = uint_field(out, "after").ok_or("a watch needs :after (a revision)")?;
    let position = uint_field(out, "position").ok_or("a watch needs :position (a revision)")?;
    let events = field(out, "events")
        .and_then(Value::as_list)
        .ok_or("a watch needs :events, a list of [revision value]")?
        .iter()
        .map(|e| {
            read_pair(e).ok_or_else(|| format!("an event must be [revision value], found {e}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let head = match field(out, "head") {
        None | Some(Value::Nil) => None,
        Some(h) => Some(
            read_pair(h).ok_or_else(|| format!("a head must be [revision value], found {h}"))?,
        ),
    };
    Ok(Seen { after, position, delivery, events, head })
}

/// Everything known about one key, gathered from every operation.
struct Key<'a> {
    name: String,
    /// Written value -> its write.
    written: HashMap<&'a Value, &'a ClientOp<'a>>,
    /// Revision -> value, and the position of the first operation that showed it.
    known: BTreeMap<u64, (Value, usize)>,
    anomalies: Vec<WatchAnomaly>,
}

impl<'a> Key<'a> {
    fn anomaly(
        &mut self,
        kind: &'static str,
        watcher: Option<i64>,
        positions: Vec<usize>,
        message: String,
    ) {
        self.anomalies.push(WatchAnomaly {
            kind,
            key: self.name.clone(),
            watcher,
            positions,
            message,
        });
    }

    fn learn(&mut self, history: &Linted, rev: u64, value: &Value, pos: usize, who: &str) {
        if rev == 0 && value.is_nil() {
            return; // absent: no revision
        }
        match self.known.get(&rev) {
            Some((v, first)) if v != value => {
                let (v, first) = (v.clone(), *first);
                let msg = format!(
                    "revision {rev} of key {} holds {v} for the operation at {} but {value} for {who} at {}",
                    self.name,
                    history.history().place(first),
                    history.history().place(pos)
                );
                self.anomaly("revision-conflict", None, vec![pos, first], msg);
            }
            Some(_) => {}
            None => {
                self.known.insert(rev, (value.clone(), pos));
            }
        }
    }
}

impl Checker for WatchChecker {
    fn name(&self) -> String {
        "watch".into()
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let ops = client_ops(history);
        let mut watched = Vec::new();
        let mut by_key: BTreeMap<Option<&Value>, Vec<usize>> = BTreeMap::new();
        for (i, op) in ops.iter().enumerate() {
            by_key.entry(op.key).or_default().push(i);
        }
        let mut keys: BTreeMap<Option<&Value>, Key<'_>> = BTreeMap::new();
        for (key, indices) in &by_key {
            let mut k = Key {
                name: key_words(*key),
                written: HashMap::new(),
                known: BTreeMap::new(),
                anomalies: vec![],
            };
            for &i in indices {
                let op = &ops[i];
                match op.f {
                    "write" => {
                        if op.input.is_nil() {
                            return Err(bad(history, op.invoke, "a write needs a value"));
                        }
                        if k.written.insert(op.input, op).is_some() {
                            return Err(bad(
                                history,
                                op.invoke,
                                format!(
                                    "the value {} is written twice: watch histories need unique values",
                                    op.input
                                ),
                            ));
                        }
                    }
                    "watch" | "final-watch" => {
                        let watcher = field(op.input, "watcher")
                            .and_then(Value::as_int)
                            .ok_or_else(|| bad(history, op.invoke, "a watch needs {:watcher n}"))?;
                        let seen = match op.ok() {
                            true => Some(read_seen(op).map_err(|m| bad(history, op.invoke, m))?),
                            false => None,
                        };
                        watched.push(Watched {
                            op,
                            watcher,
                            is_final: op.f == "final-watch",
                            seen,
                        });
                    }
                    other => {
                        return Err(bad(
                            history,
                            op.invoke,
                            format!(
                                "the watch checker knows write, watch and final-watch, not {other:?}"
                            ),
                        ));
                    }
                }
            }
            keys.insert(*key, k);
        }
        // What everyone saw, per key.
        for w in &watched {
            let Some(seen) = &w.seen else { continue };
            let k = keys.get_mut(&w.op.key).expect("grouped above");
            for (rev, v) in seen.events.iter().chain(&seen.head) {
                k.learn(history, *rev, v, w.op.invoke, &format!("watcher {}", w.watcher));
            }
        }
        for k in keys.values_mut() {
            let writes: Vec<&ClientOp<'_>> = k.written.values().copied().collect();
            for w in writes {
                if let (true, Some(rev)) = (w.ok(), uint_field(w.output, "revision")) {
                    k.learn(history, rev, w.input, w.invoke, "its acknowledged write");
                }
            }
            judge_values(history, k);
        }
        let mut summaries = Vec::new();
        let mut unconverged = Vec::new();
        let mut chains: BTreeMap<(Option<&Value>, i64), Vec<&Watched<'_>>> = BTreeMap::new();
        for w in &watched {
            chains.entry((w.op.key, w.watcher)).or_default().push(w);
        }
        for ((key, watcher), chain) in &chains {
            let k = keys.get_mut(key).expect("grouped above");
            let summary = judge_chain(history, k, *watcher, chain, &mut unconverged);
            summaries.push(summary);
        }
        let anomalies: Vec<WatchAnomaly> = keys.into_values().flat_map(|k| k.anomalies).collect();
        let ok_watches = watched.iter().filter(|w| w.seen.is_some()).count();
        let mut outcome = if let Some(first) = anomalies.first() {
            Outcome::new(
                Verdict::Invalid,
                format!(
                    "{} watch anomal{} ({})",
                    anomalies.len(),
                    if anomalies.len() == 1 { "y" } else { "ies" },
                    first.kind
                ),
                first.message.clone(),
            )
        } else if ok_watches == 0 {
            Outcome::new(Verdict::Unknown, "no watch completed: nothing to judge", "")
        } else if !unconverged.is_empty() {
            Outcome::new(
                Verdict::Unknown,
                format!(
                    "{} watcher(s) did not finish a final watch: convergence not shown",
                    unconverged.len()
                ),
                unconverged.join("; "),
            )
        } else {
            Outcome::new(
                Verdict::Valid,
                format!("{} watchers saw every change as promised and converged", summaries.len()),
                "",
            )
        };
        outcome.section = section(&anomalies, &summaries);
        outcome.evidence =
            Evidence::new(WatchEvidence { anomalies, watchers: summaries, unconverged });
        outcome.stats = Stats {
            ops: ops.len(),
            partitions: by_key.len(),
            elapsed: started.elapsed(),
            ..Stats::default()
        };
        Ok(outcome)
    }
}

/// One value per revision is checked as revisions are learnt; here: one revision per
/// value, and every value from a write that was not refused.
fn judge_values(history: &Linted, k: &mut Key<'_>) {
    let mut rev_of: HashMap<&Value, u64> = HashMap::new();
    let mut found = Vec::new();
    for (rev, (value, pos)) in &k.known {
        if let Some(other) = rev_of.insert(value, *rev) {
            found.push(("duplicate", vec![*pos], format!("the value {value} of key {} appears at revisions {other} and {rev}: written once, seen twice", k.name)));
        }
        match k.written.get(value) {
            None if !value.is_nil() => found.push(("phantom", vec![*pos], format!("revision {rev} of key {} holds {value}, which nobody wrote", k.name))),
            Some(w) if w.kind == OpKind::Fail => found.push(("failed-write-seen", vec![*pos, w.invoke], format!("revision {rev} of key {} holds {value}, whose write at {} failed (it must not have happened)", k.name, history.history().place(w.invoke)))),
            _ => {}
        }
    }
    for (kind, positions, msg) in found {
        k.anomaly(kind, None, positions, msg);
    }
}

/// The rules about one watcher's calls on one key, and its summary.
fn judge_chain(
    history: &Linted,
    k: &mut Key<'_>,
    watcher: i64,
    chain: &[&Watched<'_>],
    unconverged: &mut Vec<String>,
) -> WatcherSummary {
    let place = |p: usize| history.history().place(p);
    let mut summary = WatcherSummary {
        watcher,
        key: k.name.clone(),
        delivery: String::new(),
        watches_ok: 0,
        watches_not_ok: 0,
        reconnects: 0,
        revisions_seen: 0,
        skipped: 0,
        after_reconnects: vec![],
        converged: None,
        final_revision: None,
    };
    let mut seen_revs: std::collections::BTreeSet<u64> = Default::default();
    // (position, entry revision, op position) of the last answer.
    let mut last: Option<(u64, u64, usize)> = None;
    let mut failed_since_last = false;
    let mut found = Vec::new();
    let mut final_ok = None;
    for w in chain {
        let Some(seen) = &w.seen else {
            summary.watches_not_ok += 1;
            failed_since_last = true;
            continue;
        };
        summary.watches_ok += 1;
        summary.delivery = match seen.delivery {
            Delivery::EveryRevision => "every-revision",
            Delivery::Latest => "latest",
        }
        .into();
        let pos = w.op.invoke;
        let top = seen.events.last().map_or(seen.after, |e| e.0);
        match seen.delivery {
            Delivery::EveryRevision => {
                let mut prev = seen.after;
                for (rev, _) in &seen.events {
                    if *rev <= prev {
                        found.push(("out-of-order", vec![pos], format!("watcher {watcher}'s watch of key {} at {} (from revision {}) delivered revision {rev} after {prev}", k.name, place(pos), seen.after)));
                    }
                    prev = prev.max(*rev);
                }
                let delivered: std::collections::BTreeSet<u64> =
                    seen.events.iter().map(|e| e.0).collect();
                for (rev, (value, src)) in span(&k.known, seen.after, top) {
                    if !delivered.contains(rev) {
                        found.push(("gap", vec![pos, *src], format!("watcher {watcher}'s watch of key {} at {} went from revision {} to {top} without revision {rev} ({value}, seen at {})", k.name, place(pos), seen.after, place(*src))));
                    }
                }
                if let Some((last_pos, _, last_op)) = last
                    && seen.after != last_pos
                {
                    found.push(("resume", vec![pos, last_op], format!("watcher {watcher} resumed key {} at {} from revision {} though it had reached {last_pos}", k.name, place(pos), seen.after)));
                }
                if failed_since_last && last.is_some() {
                    summary.reconnects += 1;
                    let revs: Vec<String> = seen.events.iter().map(|e| e.0.to_string()).collect();
                    summary.after_reconnects.push(format!(
                        "resumed after {}: caught up on {} revision(s) [{}], missed none",
                        seen.after,
                        revs.len(),
                        revs.join(" ")
                    ));
                }
                seen_revs.extend(delivered);
                last = Some((seen.position.max(top), top, pos));
            }
            Delivery::Latest => {
                if seen.events.len() > 1 {
                    found.push(("out-of-order", vec![pos], format!("watcher {watcher}'s blocking query of key {} at {} answered {} states; it has one", k.name, place(pos), seen.events.len())));
                }
                let (m, value) = seen.events.last().cloned().unwrap_or((0, Value::Nil));
                if m > seen.position {
                    found.push(("entry-ahead-of-index", vec![pos], format!("watcher {watcher}'s answer at {} shows key {} written at {m}, after its index {}", place(pos), k.name, seen.position)));
                }
                if let Some((m2, (v2, src))) = span(&k.known, m, seen.position).next() {
                    found.push(("stale-at-index", vec![pos, *src], format!("watcher {watcher}'s answer at {} says key {} held {value} (written at {m}) as of index {}, but it was rewritten at {m2} ({v2}, seen at {})", place(pos), k.name, seen.position, place(*src))));
                }
                if let Some((last_pos, last_m, last_op)) = last {
                    if seen.position < last_pos {
                        found.push(("index-backwards", vec![pos, last_op], format!("watcher {watcher}'s index for key {} went back from {last_pos} to {} at {}", k.name, seen.position, place(pos))));
                    }
                    if m < last_m {
                        found.push(("went-backwards", vec![pos, last_op], format!("watcher {watcher} saw key {} go back from the write at {last_m} to the one at {m} ({value}) at {}", k.name, place(pos))));
                    }
                    let skipped: Vec<String> = span(&k.known, last_m, m.saturating_sub(1))
                        .map(|(r, _)| r.to_string())
                        .collect();
                    summary.skipped += skipped.len();
                    if failed_since_last {
                        summary.reconnects += 1;
                        summary.after_reconnects.push(format!(
                            "resumed from index {}: skipped {} state(s) [{}]",
                            seen.after,
                            skipped.len(),
                            skipped.join(" ")
                        ));
                    }
                }
                if m > 0 {
                    seen_revs.insert(m);
                }
                last = Some((seen.position, m, pos));
            }
        }
        failed_since_last = false;
        if w.is_final {
            final_ok = Some((w, seen));
        }
    }
    summary.revisions_seen = seen_revs.len();
    if summary.delivery == "every-revision"
        && let (Some(first), Some(&(lp, _, _))) =
            (chain.iter().find_map(|w| w.seen.as_ref()), last.as_ref())
    {
        summary.skipped =
            span(&k.known, first.after, lp).filter(|(r, _)| !seen_revs.contains(r)).count();
    }
    // Convergence after the final heal.
    let target = k.known.iter().next_back().map(|(r, (v, _))| (*r, v.clone()));
    match (final_ok, last) {
        (Some((w, seen)), Some((_, final_rev, _))) => {
            summary.final_revision = Some(final_rev);
            let pos = w.op.invoke;
            let head = seen.head.clone();
            let converged = target.as_ref().is_none_or(|(r, _)| *r == final_rev)
                && head.as_ref().is_none_or(|(hr, _)| target.as_ref().is_none_or(|(r, _)| r == hr));
            summary.converged = Some(converged);
            if !converged {
                let (tr, tv) = target.clone().unwrap_or((0, Value::Nil));
                let head_words = head.map_or("no head".into(), |(r, v)| {
                    format!("the head read then was revision {r} ({v})")
                });
                found.push(("not-converged", vec![pos], format!("after the final heal watcher {watcher} ended key {} at revision {final_rev}, but the key's last known revision is {tr} ({tv}); {head_words}", k.name)));
            }
        }
        (None, _) | (_, None) => {
            let why = chain
                .iter()
                .rev()
                .find(|w| w.is_final)
                .map_or("it ran no final watch".to_string(), |w| {
                    format!("its final watch at {} ended {}", place(w.op.invoke), w.op.kind)
                });
            unconverged.push(format!("watcher {watcher} on key {}: {why}", k.name));
        }
    }
    // The final state must not be one an acknowledged write overwrote.
    if let Some((rev, value)) = &target
        && let Some(w) = k.written.get(value)
        && w.ok()
        && let Some(later) = k
            .written
            .values()
            .filter(|o| o.ok() && o.invoked_ns > w.completed_ns)
            .min_by_key(|o| o.invoked_ns)
        && !k.anomalies.iter().any(|a| a.kind == "overwritten-final")
    {
        found.push(("overwritten-final", vec![later.invoke, w.invoke], format!("key {} ended at revision {rev} ({value}, written at {}), but the write of {} at {} was acknowledged after that write completed: the key lost it", k.name, place(w.invoke), later.input, place(later.invoke))));
    }
    for (kind, positions, msg) in found {
        k.anomaly(kind, Some(watcher), positions, msg);
    }
    summary
}

fn section(anomalies: &[WatchAnomaly], watchers: &[WatcherSummary]) -> Section {
    let mut s = Section::new("Watches").with(Block::paragraph(format!(
        "{} watcher/key pairs; {} anomalies. A watcher that reconnects resumes from the last revision \
         (etcd) or index (Consul) it reached; the table says what it caught up on or skipped.",
        watchers.len(),
        anomalies.len()
    )));
    s.blocks.push(Block::Table(Table {
        caption: Some("each watcher, per key".into()),
        columns: [
            "watcher",
            "key",
            "delivery",
            "ok",
            "not ok",
            "reconnects",
            "revisions seen",
            "skipped",
            "converged",
            "after reconnects",
        ]
        .map(String::from)
        .to_vec(),
        rows: watchers
            .iter()
            .map(|w| {
                vec![
                    w.watcher.to_string(),
                    w.key.clone(),
                    w.delivery.clone(),
                    w.watches_ok.to_string(),
                    w.watches_not_ok.to_string(),
                    w.reconnects.to_string(),
                    w.revisions_seen.to_string(),
                    w.skipped.to_string(),
                    match w.converged {
                        Some(true) => format!("yes (revision {})", w.final_revision.unwrap_or(0)),
                        Some(false) => "NO".into(),
                        None => "not shown".into(),
                    },
                    w.after_reconnects.join("; "),
                ]
            })
            .collect(),
    }));
    if !anomalies.is_empty() {
        s.blocks.push(Block::Table(Table {
            caption: Some("anomalies".into()),
            columns: vec!["kind".into(), "what happened".into()],
            rows: anomalies
                .iter()
                .take(50)
                .map(|a| vec![a.kind.to_string(), a.message.clone()])
                .collect(),
        }));
        s.blocks.push(Block::Operations(Operations {
            caption: Some("operations that broke a rule".into()),
            ops: anomalies
                .iter()
                .take(50)
                .flat_map(|a| {
                    a.positions.iter().enumerate().map(|(i, &p)| Highlight {
                        position: p,
                        role: if i == 0 { Role::Culprit } else { Role::Related },
                        label: a.kind.to_string(),
                    })
                })
                .collect(),
        }));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use history::{History, Op};

    fn kw(k: &str) -> Value {
        Value::kw(k)
    }

    fn map(entries: Vec<(&str, Value)>) -> Value {
        Value::Map(entries.into_iter().map(|(k, v)| (kw(k), v)).collect())
    }

    fn events(evs: &[(u64, i64)]) -> Value {
        Value::List(
            evs.iter()
                .map(|&(r, v)| Value::List(vec![Value::Int(r as i64), Value::Int(v)]))
                .collect(),
        )
    }

    struct H {
        ops: Vec<Op>,
        t: u64,
    }

    impl H {
        fn new() -> H {
            H { ops: vec![], t: 0 }
        }

        fn push(&mut self, mut op: Op) {
            self.t += 1_000_000;
            op.time_ns = self.t;
            op.index = self.ops.len() as u64;
            op.key = Some(Value::Int(0));
            self.ops.push(op);
        }

        fn write(&mut self, p: u64, v: i64, rev: Option<u64>) {
            self.push(Op::invoke(p, "write", Value::Int(v)));
            let out = match rev {
                Some(r) => map(vec![("value", Value::Int(v)), ("revision", Value::Int(r as i64))]),
                None => Value::Int(v),
            };
            self.push(Op::ok(p, "write", out));
        }

        #[allow(clippy::too_many_arguments)]
        fn watch(
            &mut self,
            p: u64,
            f: &str,
            delivery: &str,
            after: u64,
            position: u64,
            evs: &[(u64, i64)],
            head: Option<(u64, i64)>,
        ) {
            let who = map(vec![("watcher", Value::Int(p as i64))]);
            self.push(Op::invoke(p, f, who));
            let mut out = vec![
                ("after", Value::Int(after as i64)),
                ("position", Value::Int(position as i64)),
                ("delivery", Value::Str(delivery.into())),
                ("events", events(evs)),
            ];
            if let Some((r, v)) = head {
                out.push(("head", Value::List(vec![Value::Int(r as i64), Value::Int(v)])));
            }
            self.push(Op::ok(p, f, map(out)));
        }

        fn failed_watch(&mut self, p: u64) {
            let who = map(vec![("watcher", Value::Int(p as i64))]);
            self.push(Op::invoke(p, "watch", who.clone()));
            self.push(Op::fail(p, "watch", who));
        }

        fn check(self) -> Outcome {
            WatchChecker.check(&History::from_ops(self.ops).lint().unwrap()).unwrap()
        }
    }

    fn kinds(o: &Outcome) -> Vec<&'static str> {
        o.evidence.get::<WatchEvidence>().unwrap().anomalies.iter().map(|a| a.kind).collect()
    }

    const EVERY: &str = "every-revision";

    #[test]
    fn every_revision_in_order_with_a_reconnect_is_valid() {
        let mut h = H::new();
        h.write(0, 10, Some(2));
        h.watch(1, "watch", EVERY, 0, 2, &[(2, 10)], None);
        h.write(0, 11, Some(3));
        h.write(0, 12, Some(4));
        h.failed_watch(1);
        h.watch(1, "watch", EVERY, 2, 4, &[(3, 11), (4, 12)], None);
        h.watch(3, "watch", EVERY, 0, 4, &[(2, 10), (3, 11), (4, 12)], None);
        h.watch(1, "final-watch", EVERY, 4, 4, &[], Some((4, 12)));
        h.watch(3, "final-watch", EVERY, 4, 4, &[], Some((4, 12)));
        let o = h.check();
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let ev = o.evidence.get::<WatchEvidence>().unwrap();
        let w1 = ev.watchers.iter().find(|w| w.watcher == 1).unwrap();
        assert_eq!((w1.reconnects, w1.skipped, w1.converged), (1, 0, Some(true)));
        assert!(
            w1.after_reconnects[0].contains("caught up on 2 revision(s) [3 4]"),
            "{:?}",
            w1.after_reconnects
        );
    }

    #[test]
    fn a_gap_a_wrong_value_and_a_stuck_watcher_are_caught() {
        // Watcher 1 skips revision 3, which watcher 3 and the write saw.
        let mut h = H::new();
        h.write(0, 10, Some(2));
        h.write(0, 11, Some(3));
        h.watch(1, "watch", EVERY, 0, 4, &[(2, 10), (4, 12)], None);
        h.write(0, 12, Some(4));
        h.watch(3, "watch", EVERY, 0, 4, &[(2, 10), (3, 11), (4, 12)], None);
        let o = h.check();
        assert_eq!(o.verdict, Verdict::Invalid);
        assert_eq!(kinds(&o), vec!["gap"], "{}", o.summary());
        assert!(o.explanation.contains("without revision 3"), "{}", o.explanation);

        // A revision shown with a value its write did not put there.
        let mut h = H::new();
        h.write(0, 10, Some(2));
        h.write(0, 11, Some(3));
        h.watch(1, "watch", EVERY, 0, 3, &[(2, 11), (3, 10)], None);
        let k = kinds(&h.check());
        assert!(k.contains(&"revision-conflict"), "{k:?}");

        // Events out of order, and a value nobody wrote.
        let mut h = H::new();
        h.write(0, 10, None);
        h.watch(1, "watch", EVERY, 0, 3, &[(3, 10), (2, 99)], None);
        let k = kinds(&h.check());
        assert!(k.contains(&"out-of-order") && k.contains(&"phantom"), "{k:?}");

        // A watcher that ends behind the key's last revision did not converge.
        let mut h = H::new();
        h.write(0, 10, Some(2));
        h.write(0, 11, Some(3));
        h.watch(1, "final-watch", EVERY, 0, 2, &[(2, 10)], Some((2, 10)));
        assert_eq!(kinds(&h.check()), vec!["not-converged"]);

        // Without a final watch nothing says it converged: unknown.
        let mut h = H::new();
        h.write(0, 10, Some(2));
        h.watch(1, "watch", EVERY, 0, 2, &[(2, 10)], None);
        assert_eq!(h.check().verdict, Verdict::Unknown);
    }

    #[test]
    fn blocking_queries_may_skip_states_but_never_go_back_or_lie_about_their_index() {
        let mut h = H::new();
        h.write(0, 10, None);
        h.watch(1, "watch", "latest", 0, 7, &[(7, 10)], None);
        h.write(0, 11, None);
        h.write(0, 12, None);
        h.watch(3, "watch", "latest", 0, 9, &[(9, 11)], None);
        h.failed_watch(1);
        h.watch(1, "watch", "latest", 7, 12, &[(12, 12)], None);
        h.watch(1, "final-watch", "latest", 12, 12, &[(12, 12)], Some((12, 12)));
        h.watch(3, "final-watch", "latest", 9, 12, &[(12, 12)], Some((12, 12)));
        let o = h.check();
        assert_eq!(o.verdict, Verdict::Valid, "{}", o.summary());
        let ev = o.evidence.get::<WatchEvidence>().unwrap();
        let w1 = ev.watchers.iter().find(|w| w.watcher == 1).unwrap();
        assert_eq!((w1.reconnects, w1.skipped), (1, 1), "{w1:?}");
        assert!(
            w1.after_reconnects[0].contains("skipped 1 state(s) [9]"),
            "{:?}",
            w1.after_reconnects
        );

        // The stale-wake bug: at index 9 the answer still shows the write at 7, which
        // another watcher saw replaced at 9.
        let mut h = H::new();
        h.write(0, 10, None);
        h.write(0, 11, None);
        h.watch(1, "watch", "latest", 5, 9, &[(7, 10)], None);
        h.watch(3, "watch", "latest", 0, 9, &[(9, 11)], None);
        let o = h.check();
        assert_eq!(kinds(&o), vec!["stale-at-index"], "{}", o.summary());

        // Going back: the index and the entry.
        let mut h = H::new();
        h.write(0, 10, None);
        h.write(0, 11, None);
        h.watch(1, "watch", "latest", 0, 9, &[(9, 11)], None);
        h.watch(1, "watch", "latest", 9, 8, &[(7, 10)], None);
        let k = kinds(&h.check());
        assert!(k.contains(&"index-backwards") && k.contains(&"went-backwards"), "{k:?}");

        // The final value was overwritten by an acknowledged later write.
        let mut h = H::new();
        h.write(0, 10, None);
        h.write(2, 11, None);
        h.watch(1, "final-watch", "latest", 0, 7, &[(7, 10)], Some((7, 10)));
        assert_eq!(kinds(&h.check()), vec!["overwritten-final"]);
    }

    #[test]
    fn unreadable_watches_name_their_line() {
        let mut h = H::new();
        h.push(Op::invoke(1, "watch", Value::Nil));
        h.push(Op::ok(1, "watch", Value::Nil));
        let err = WatchChecker.check(&History::from_ops(h.ops).lint().unwrap()).unwrap_err();
        assert!(err.to_string().contains("line 1") && err.to_string().contains("watcher"), "{err}");
    }
}
