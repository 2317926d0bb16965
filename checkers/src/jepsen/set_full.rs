//! `set-full`: Jepsen's rigorous set analysis (`jepsen.checker/set-full`): `:add`
//! operations of single elements and `:read`s of the whole set all along the run.
//!
//! Jepsen's rule, per element (and per key when the history has keys). An element
//! is tracked from the invocation of its (last) add; an `ok` read *completing*
//! after that either holds it (*present*) or not (*absent*), remembered by the
//! read's *invocation*:
//! - *known*: the earliest of the add's `ok` and the completion of the first read
//!   that holds it;
//! - *stable*: some read holds it and the last read invoked to hold it began after
//!   the last read invoked to miss it (`last-absent < last-present`);
//! - *lost*: it is known, and the last read to miss it began after both the last
//!   read to hold it and the moment it became known (a read concurrent with the add
//!   that misses it may have come first, so it does not count);
//! - *never read*: neither.
//!
//! The *stable latency* is `max(0, stable time − known time)` in whole milliseconds,
//! the stable time being just after the last absent read's invocation (0 when none);
//! the *lost latency* likewise from the last present read. A *stale* element is a
//! stable one with a stable latency above 0: a read that began at least a
//! millisecond after it was known missed it. Jepsen's verdict: invalid when any
//! element is lost; else unknown when none is stable (nothing was ever read);
//! else, with the `linearizable` option, invalid when any is stale; else valid. A
//! read listing an element twice is a duplicate, which makes the history invalid
//! (Jepsen's `:duplicated`: its docstring's rule; the Jepsen code read here tests
//! `(< v 1)` and so never reports one).
//!
//! On top of Jepsen's numbers this reports each element's *visibility latency*
//! (Jepsen's docstring calls it the first read latency but does not compute it): 0
//! when the first read that began after the element was known (or one concurrent
//! with its add) holds it, else the time from known to the invocation of the first
//! read that does. Quantiles are Jepsen's (`frequency-distribution` at 0, 0.5, 0.95,
//! 0.99 and 1).
//!
//! # Cost
//! Jepsen updates every element on every read (reads × elements). Here each read
//! touches only the elements it holds: an element's last absent read is found by
//! walking the reads from the newest down, stepping over those that hold it, so the
//! whole check is linear in the history's size (every element a read holds is read
//! from the file anyway) plus one look at the reads open when each add began.

use std::collections::BTreeMap;

use history::{Linted, OpKind, Pair, Value};
use serde::Serialize;

use super::{
    FastMap, Judged, bad_op, collection, distribution, merge, options, parts, place, secs,
    values_json,
};
use crate::registry::CheckerDef;
use crate::verdict::{CheckError, Checker, Outcome, Stats, Verdict};

/// `set-full` in the checker registry.
pub static CHECKER: CheckerDef = CheckerDef {
    name: "set-full",
    summary: "Jepsen's set-full: adds with reads all along; per element stable, lost, \
              never read or stale, with visibility latencies (per key); option \
              linearizable=true makes stale reads invalid",
    make: |o| {
        let opts = options(o, "set-full", &["linearizable"])?;
        Ok(Box::new(SetFull {
            linearizable: opts.flag("linearizable")?.unwrap_or(false),
            partition: o.partition,
        }))
    },
};

/// The set-full checker.
#[derive(Debug, Clone, Copy)]
pub struct SetFull {
    /// Jepsen's `:linearizable?`: a stale element makes the history invalid.
    pub linearizable: bool,
    /// Judge each key's set on its own.
    pub partition: bool,
}

/// What became of one element (Jepsen's `:outcome`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElementOutcome {
    Stable,
    Lost,
    NeverRead,
}

/// One element's story, positions being history positions.
#[derive(Debug, Clone, Serialize)]
pub struct ElementReport {
    #[serde(serialize_with = "super::value_json")]
    pub element: Value,
    pub outcome: ElementOutcome,
    /// Invocation of its (last) add.
    pub add: usize,
    /// Where it became known (an add's `ok` or a read's completion).
    pub known: Option<usize>,
    /// Invocation of the last read that held it / missed it.
    pub last_present: Option<usize>,
    pub last_absent: Option<usize>,
    pub stable_latency_ms: Option<u64>,
    pub lost_latency_ms: Option<u64>,
    pub visibility_latency_ms: Option<u64>,
    /// For a lost element: how many reads began after it was last seen (or known)
    /// and all missed it.
    pub absent_reads_after: usize,
}

/// What set-full found for one set (Jepsen's result map).
#[derive(Debug, Clone, Serialize)]
pub struct SetFullEvidence {
    #[serde(serialize_with = "super::key_json")]
    pub key: Option<Value>,
    pub linearizable: bool,
    pub attempt_count: usize,
    pub read_count: usize,
    pub stable_count: usize,
    pub lost_count: usize,
    #[serde(serialize_with = "values_json")]
    pub lost: Vec<Value>,
    pub never_read_count: usize,
    #[serde(serialize_with = "values_json")]
    pub never_read: Vec<Value>,
    pub stale_count: usize,
    #[serde(serialize_with = "values_json")]
    pub stale: Vec<Value>,
    /// The 8 stale elements with the highest stable latency (Jepsen's `:worst-stale`).
    pub worst_stale: Vec<ElementReport>,
    /// Every lost element in full (at most [`DETAILED`]).
    pub lost_details: Vec<ElementReport>,
    pub duplicated_count: usize,
    /// Element (JSON form) and its largest multiplicity in one read.
    pub duplicated: Vec<(serde_json::Value, usize)>,
    pub stable_latencies: Option<BTreeMap<String, u64>>,
    pub lost_latencies: Option<BTreeMap<String, u64>>,
    pub visibility_latencies: Option<BTreeMap<String, u64>>,
    /// Stale elements in full (at most [`DETAILED`]), worst first.
    pub stale_details: Vec<ElementReport>,
    /// (time of known in s, stable latency in ms) per stable element and (time,
    /// visibility latency) per element seen: the report's plot.
    #[serde(skip)]
    pub(crate) plot: (Points, Points),
}

/// (x, y) points of a plot series.
pub(crate) type Points = Vec<(f64, f64)>;

/// Most elements evidence lists in full.
pub const DETAILED: usize = 100;

impl Checker for SetFull {
    fn name(&self) -> String {
        if self.linearizable { "set-full (linearizable)".into() } else { "set-full".into() }
    }

    fn splits_by_key(&self) -> bool {
        self.partition
    }

    fn check(&self, history: &Linted) -> Result<Outcome, CheckError> {
        let started = std::time::Instant::now();
        let mut judged = Vec::new();
        let (mut ops, mut elements, mut reads) = (0, 0, 0);
        for (key, pairs) in parts(history, self.partition) {
            ops += pairs.len();
            let j = judge(history, key, &pairs, self.linearizable)?;
            elements += j.evidence.attempt_count as u64;
            reads += j.evidence.read_count as u64;
            judged.push(j);
        }
        let section = super::set_full_section::section(history, &judged, self.linearizable);
        let partitions = judged.len().max(1);
        let (verdict, reason, explanation, evidence, parts) = merge(judged, "no operations");
        Ok(Outcome {
            verdict,
            reason,
            explanation,
            stats: Stats {
                ops,
                partitions,
                elapsed: started.elapsed(),
                counters: BTreeMap::from([("elements", elements), ("reads", reads)]),
            },
            evidence,
            parts,
            section,
        })
    }
}

/// An element while the history is walked.
struct Element<'a> {
    value: &'a Value,
    /// Invocation of its last add.
    start: usize,
    /// The first `ok` of an add of it after `start`.
    add_ok: Option<usize>,
    /// Invocations of the reads that held it (completed after `start`), ascending.
    present: Vec<usize>,
    /// The first completion of such a read.
    first_seen: Option<usize>,
    /// The latest-invoked read open at `start` (invoked before, completed after)
    /// that missed it.
    absent_while_adding: Option<usize>,
}

/// An `ok` read.
struct Read {
    invoke: usize,
    completion: usize,
}

fn judge(
    history: &Linted,
    key: Option<Value>,
    pairs: &[Pair],
    linearizable: bool,
) -> Result<Judged<SetFullEvidence>, CheckError> {
    let ops = history.ops();
    let time = |p: usize| ops[p].time_ns;
    let mut ids: FastMap<&Value, usize> = FastMap::default();
    let mut elements: Vec<Element> = Vec::new();
    // Adds: each invocation (re)starts its element, as Jepsen's `assoc` does.
    for pair in pairs.iter().filter(|p| ops[p.invoke].f == "add") {
        let value = &ops[pair.invoke].value;
        let id = *ids.entry(value).or_insert_with(|| {
            elements.push(Element {
                value,
                start: 0,
                add_ok: None,
                present: Vec::new(),
                first_seen: None,
                absent_while_adding: None,
            });
            elements.len() - 1
        });
        elements[id].start = pair.invoke;
    }
    for pair in pairs.iter().filter(|p| ops[p.invoke].f == "add") {
        if let (OpKind::Ok, Some(done)) = (history.outcome(pair), pair.completion)
            && let Some(&id) = ids.get(&ops[pair.invoke].value)
        {
            let e = &mut elements[id];
            if done > e.start && e.add_ok.is_none_or(|a| done < a) {
                e.add_ok = Some(done);
            }
        }
    }
    // Reads, in invocation order: each element a read holds gets the read.
    let mut reads: Vec<Read> = Vec::new();
    let mut seen_in_read: Vec<usize> = vec![usize::MAX; elements.len()];
    let mut duplicated: BTreeMap<&Value, usize> = BTreeMap::new();
    let mut untracked: FastMap<&Value, usize> = FastMap::default();
    for pair in pairs.iter().filter(|p| ops[p.invoke].f == "read") {
        let (OpKind::Ok, Some(done)) = (history.outcome(pair), pair.completion) else { continue };
        let Some(items) = collection(&ops[done].value) else {
            return Err(bad_op(
                history,
                done,
                format!(
                    "a set read must return a vector or set of elements, got {}",
                    ops[done].value
                ),
            ));
        };
        let r = reads.len();
        reads.push(Read { invoke: pair.invoke, completion: done });
        untracked.clear();
        for item in items {
            let Some(&id) = ids.get(item) else {
                let n = untracked.entry(item).or_insert(0);
                *n += 1;
                if *n > 1 {
                    let d = duplicated.entry(item).or_insert(0);
                    *d = (*d).max(*n);
                }
                continue;
            };
            let e = &mut elements[id];
            if seen_in_read[id] == r {
                // A second copy in one read: count its multiplicity.
                let n = items.iter().filter(|v| *v == item).count();
                let d = duplicated.entry(item).or_insert(0);
                *d = (*d).max(n);
                continue;
            }
            seen_in_read[id] = r;
            if e.start < done {
                e.present.push(pair.invoke);
                if e.first_seen.is_none_or(|f| done < f) {
                    e.first_seen = Some(done);
                }
            }
        }
    }
    absent_while_adding(&reads, &mut elements);

    // Per element: Jepsen's outcome and latencies.
    let read_invokes: Vec<usize> = reads.iter().map(|r| r.invoke).collect();
    let mut reports: Vec<ElementReport> = Vec::with_capacity(elements.len());
    for e in &elements {
        reports.push(element_report(e, &read_invokes, &time));
    }
    reports.sort_by(|a, b| a.element.cmp(&b.element));

    let by = |o: ElementOutcome| reports.iter().filter(move |r| r.outcome == o);
    let mut stale: Vec<&ElementReport> =
        by(ElementOutcome::Stable).filter(|r| r.stable_latency_ms.is_some_and(|l| l > 0)).collect();
    let lost: Vec<&ElementReport> = by(ElementOutcome::Lost).collect();
    let stable_count = by(ElementOutcome::Stable).count();
    let sorted = |f: fn(&ElementReport) -> Option<u64>| {
        let mut v: Vec<u64> = reports.iter().filter_map(f).collect();
        v.sort_unstable();
        v
    };
    let plot = (
        reports
            .iter()
            .filter_map(|r| Some((time(r.known?) as f64 / 1e9, r.stable_latency_ms? as f64)))
            .collect(),
        reports
            .iter()
            .filter_map(|r| Some((time(r.known?) as f64 / 1e9, r.visibility_latency_ms? as f64)))
            .collect(),
    );
    let stale_values: Vec<Value> = stale.iter().map(|r| r.element.clone()).collect();
    stale.sort_by_key(|r| std::cmp::Reverse(r.stable_latency_ms));
    let evidence = SetFullEvidence {
        key: key.clone(),
        linearizable,
        attempt_count: reports.len(),
        read_count: reads.len(),
        stable_count,
        lost_count: lost.len(),
        lost: lost.iter().map(|r| r.element.clone()).collect(),
        never_read_count: by(ElementOutcome::NeverRead).count(),
        never_read: by(ElementOutcome::NeverRead).map(|r| r.element.clone()).collect(),
        stale_count: stale.len(),
        stale: stale_values,
        worst_stale: stale.iter().take(8).map(|r| (*r).clone()).collect(),
        lost_details: lost.iter().take(DETAILED).map(|r| (*r).clone()).collect(),
        duplicated_count: duplicated.len(),
        duplicated: duplicated.iter().map(|(v, n)| (v.to_json(), *n)).collect(),
        stable_latencies: distribution(&sorted(|r| r.stable_latency_ms)),
        lost_latencies: distribution(&sorted(|r| r.lost_latency_ms)),
        visibility_latencies: distribution(&sorted(|r| r.visibility_latency_ms)),
        stale_details: stale.iter().take(DETAILED).map(|r| (*r).clone()).collect(),
        plot,
    };

    // Jepsen's verdict, then the duplicates.
    let verdict = if !lost.is_empty() {
        Verdict::Invalid
    } else if stable_count == 0 {
        Verdict::Unknown
    } else if linearizable && !stale.is_empty() {
        Verdict::Invalid
    } else {
        Verdict::Valid
    };
    let verdict = if duplicated.is_empty() { verdict } else { Verdict::Invalid };
    let mut words = Vec::new();
    for r in lost.iter().take(3) {
        words.push(lost_words(history, r));
    }
    if lost.len() > 3 {
        words.push(format!("{} more elements are lost.", lost.len() - 3));
    }
    if linearizable || lost.is_empty() {
        for r in stale.iter().take(if linearizable { 3 } else { 1 }) {
            words.push(stale_words(history, r, linearizable));
        }
    }
    if let Some((v, n)) = duplicated.iter().next() {
        words.push(format!(
            "A read holds element {v} {n} times: a set holds each element once ({} element(s) \
             duplicated).",
            duplicated.len()
        ));
    }
    let reason = match verdict {
        Verdict::Invalid => {
            let mut what = Vec::new();
            if !lost.is_empty() {
                what.push(format!("{} element(s) lost", lost.len()));
            }
            if linearizable && !stale.is_empty() {
                what.push(format!("{} stale element(s) (linearizable)", stale.len()));
            }
            if !duplicated.is_empty() {
                what.push(format!("{} duplicated element(s)", duplicated.len()));
            }
            what.join(", ")
        }
        Verdict::Unknown => {
            words.push(format!(
                "No element of the {} attempted was ever seen by a read that began after it \
                 ({} reads, {} elements never read): nothing to judge.",
                reports.len(),
                reads.len(),
                evidence.never_read_count
            ));
            "no element is stable: nothing was read after an add".into()
        }
        Verdict::Valid => format!(
            "{} of {} elements stable, none lost ({} stale)",
            stable_count,
            reports.len(),
            stale.len()
        ),
    };
    Ok(Judged { key, verdict, reason, explanation: words.join(" "), evidence })
}

/// Finds, for each element, the latest-invoked read that was open when its add
/// began and missed it: a sweep over the positions where reads open and close and
/// adds begin, keeping the reads open.
fn absent_while_adding(reads: &[Read], elements: &mut [Element]) {
    #[derive(Clone, Copy)]
    enum Event {
        Open(usize),
        Close(usize),
        Start(usize),
    }
    let mut events: Vec<(usize, Event)> = Vec::with_capacity(reads.len() * 2 + elements.len());
    for (r, read) in reads.iter().enumerate() {
        events.push((read.invoke, Event::Open(r)));
        events.push((read.completion, Event::Close(r)));
    }
    for (id, e) in elements.iter().enumerate() {
        events.push((e.start, Event::Start(id)));
    }
    events.sort_unstable_by_key(|(at, _)| *at);
    let mut open: Vec<usize> = Vec::new();
    let mut slot: Vec<usize> = vec![usize::MAX; reads.len()];
    for (_, event) in events {
        match event {
            Event::Open(r) => {
                slot[r] = open.len();
                open.push(r);
            }
            Event::Close(r) => {
                let at = slot[r];
                open.swap_remove(at);
                if let Some(&moved) = open.get(at) {
                    slot[moved] = at;
                }
            }
            Event::Start(id) => {
                let e = &mut elements[id];
                for &r in &open {
                    let inv = reads[r].invoke;
                    if e.present.binary_search(&inv).is_err() && e.absent_while_adding < Some(inv) {
                        e.absent_while_adding = Some(inv);
                    }
                }
            }
        }
    }
}

fn element_report(
    e: &Element,
    read_invokes: &[usize],
    time: &impl Fn(usize) -> u64,
) -> ElementReport {
    // The last absent read: walk the reads from the newest down while they began
    // after the add, stepping over those that hold the element.
    let mut last_absent = None;
    let mut k = e.present.len();
    for &inv in read_invokes.iter().rev() {
        if inv < e.start {
            break;
        }
        if k > 0 && e.present[k - 1] == inv {
            k -= 1;
            continue;
        }
        last_absent = Some(inv);
        break;
    }
    let last_absent = last_absent.or(e.absent_while_adding);
    let last_present = e.present.last().copied();
    let known = match (e.add_ok, e.first_seen) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let stable = last_present.is_some_and(|p| last_absent.is_none_or(|a| a < p));
    let lost = match (known, last_absent) {
        (Some(k), Some(a)) => last_present.is_none_or(|p| p < a) && k < a,
        _ => false,
    };
    let ms = |from: u64, to: u64| to.saturating_sub(from) / 1_000_000;
    let known_time = known.map(time);
    let stable_latency = match (stable, known_time) {
        (true, Some(kt)) => Some(ms(kt, last_absent.map_or(0, |a| time(a) + 1))),
        _ => None,
    };
    let lost_latency = match (lost, known_time) {
        (true, Some(kt)) => Some(ms(kt, last_present.map_or(0, |p| time(p) + 1))),
        _ => None,
    };
    // Visibility: 0 when a read that began before it was known holds it, or when the
    // first read that began after holds it; else until that read began.
    let visibility = known.and_then(|k| {
        let first_after = e.present.partition_point(|&p| p < k);
        if first_after > 0 {
            return Some(0);
        }
        let seen_at = *e.present.get(first_after)?;
        let reads_between = read_invokes.partition_point(|&r| r < seen_at)
            - read_invokes.partition_point(|&r| r <= k);
        Some(if reads_between == 0 { 0 } else { ms(time(k), time(seen_at)) })
    });
    let since = last_present.or(known).unwrap_or(e.start);
    ElementReport {
        element: e.value.clone(),
        outcome: if stable {
            ElementOutcome::Stable
        } else if lost {
            ElementOutcome::Lost
        } else {
            ElementOutcome::NeverRead
        },
        add: e.start,
        known,
        last_present,
        last_absent,
        stable_latency_ms: stable_latency,
        lost_latency_ms: lost_latency,
        visibility_latency_ms: visibility,
        absent_reads_after: if lost {
            read_invokes.len() - read_invokes.partition_point(|&r| r <= since)
        } else {
            0
        },
    }
}

fn lost_words(history: &Linted, r: &ElementReport) -> String {
    let ops = history.ops();
    let Some(known) = r.known else { return String::new() };
    let how = if ops[known].f == "add" { "acknowledged" } else { "first read" };
    let after = match r.last_present {
        Some(p) => format!(
            "after {} (the last read that held it began then, {})",
            secs(ops[p].time_ns),
            place(history, p)
        ),
        None => "after it was known, and none ever held it".to_string(),
    };
    format!(
        "Element {}, {how} at {} ({}), is absent from all {} reads that began {after}: lost.",
        r.element,
        secs(ops[known].time_ns),
        place(history, known),
        r.absent_reads_after
    )
}

fn stale_words(history: &Linted, r: &ElementReport, linearizable: bool) -> String {
    let ops = history.ops();
    let (Some(known), Some(absent)) = (r.known, r.last_absent) else { return String::new() };
    format!(
        "Element {}, known at {} ({}), was missing from the read that began at {} ({}): it \
         became stable only {} ms after it was known{}.",
        r.element,
        secs(ops[known].time_ns),
        place(history, known),
        secs(ops[absent].time_ns),
        place(history, absent),
        r.stable_latency_ms.unwrap_or(0),
        if linearizable { ", a stale read a linearizable set must not serve" } else { "" }
    )
}
