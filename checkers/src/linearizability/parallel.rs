//! Checks partitions independently on all cores: workers take the next partition
//! (largest first) from a shared index; the first invalid partition raises a flag
//! that makes the others stop at their next look at the clock.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use super::Options;
use super::cache::Budget;
use super::compile::Compiled;
use super::model::Model;
use super::search::{Blocked, Found, GaveUp, Limits, Searched, search};

/// The merged answer over all partitions.
#[derive(Debug)]
pub enum Overall<S> {
    Valid,
    /// The first invalid partition in partition order (deterministic in its choice
    /// of partition when several are invalid and all were searched).
    Invalid {
        partition: usize,
        blocked: Blocked<S>,
    },
    Unknown(GaveUp),
}

impl GaveUp {
    pub fn describe(self, options: &Options) -> String {
        match self {
            GaveUp::TimeLimit => match options.time_limit {
                Some(t) => format!("time limit of {:.3} s reached", t.as_secs_f64()),
                None => "time limit reached".into(),
            },
            GaveUp::MemoryLimit => {
                format!("memory limit of {} MB reached", options.memory_limit >> 20)
            }
            GaveUp::Stopped => "stopped".into(),
        }
    }
}

pub struct Run<S> {
    pub result: Overall<S>,
    pub steps: u64,
    pub cache_entries: u64,
    pub peak_cache_bytes: u64,
}

pub fn run<M: Model>(
    model: &M,
    parts: &[Compiled<M>],
    options: &Options,
    deadline: Option<Instant>,
) -> Run<M::State> {
    let cores = options
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let threads = cores.clamp(1, parts.len().max(1));
    let stop = AtomicBool::new(false);
    let memory = Budget::new(options.memory_limit);
    let limits = Limits { deadline, memory: &memory, stop: &stop };
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&p| std::cmp::Reverse(parts[p].len()));
    let results: Mutex<Vec<Option<Searched<M::State>>>> =
        Mutex::new((0..parts.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    let work = || {
        while !stop.load(Ordering::Relaxed) {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(&p) = order.get(k) else { break };
            let searched = search(model, &parts[p], &limits);
            if matches!(searched.found, Found::Invalid(_)) {
                stop.store(true, Ordering::Relaxed);
            }
            // a poisoned lock means another worker panicked; its panic is reported
            // by the scope, so keep what we have
            let mut guard = results.lock().unwrap_or_else(|e| e.into_inner());
            guard[p] = Some(searched);
        }
    };
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    merge(results)
}

fn merge<S>(results: Vec<Option<Searched<S>>>) -> Run<S> {
    let mut run = Run { result: Overall::Valid, steps: 0, cache_entries: 0, peak_cache_bytes: 0 };
    let mut invalid = None;
    let mut gave_up = None;
    for (p, searched) in results.into_iter().enumerate() {
        let Some(s) = searched else {
            // never started: another partition was invalid and stopped the work
            gave_up.get_or_insert(GaveUp::Stopped);
            continue;
        };
        run.steps += s.steps;
        run.cache_entries += s.cache_entries;
        run.peak_cache_bytes = run.peak_cache_bytes.max(s.cache_bytes);
        match s.found {
            Found::Valid => {}
            Found::Invalid(blocked) => {
                if invalid.is_none() {
                    invalid = Some((p, blocked));
                }
            }
            Found::Unknown(why) => {
                // a real limit explains more than "stopped"
                if gave_up.is_none() || gave_up == Some(GaveUp::Stopped) {
                    gave_up = Some(why);
                }
            }
        }
    }
    run.result = match (invalid, gave_up) {
        (Some((partition, blocked)), _) => Overall::Invalid { partition, blocked },
        (None, Some(why)) => Overall::Unknown(why),
        (None, None) => Overall::Valid,
    };
    run
}
