//! Elle's list-append checker on long generated histories (issue 13's speed goals):
//! 100k and 1M transactions (concurrency 10, 1 to 4 micro-ops, a few hundred keys
//! over the run: 8 active, each retired after 32 writes) checked under
//! strict-serializable, and the 100k history with one stale read planted (a cycle
//! through a realtime edge), whose cycle search (everything after the graph is
//! built) is reported on its own. Histories come from `tests/support/txns.rs` (a
//! simulated strict-serializable store); generating and linting them is not timed.
//!
//! `ELLE_ONCE=1 cargo bench -p checkers --bench elle` runs each case once and prints
//! verdict, time, cycle-search time and the process's peak RSS (VmHWM) instead; run
//! one case per process (`ELLE_CASE=la-1m`) for a per-case peak.

#[path = "../tests/support/txns.rs"]
mod txns;

use std::hint::black_box;
use std::time::{Duration, Instant};

use checkers::elle::{self, ElleOptions, txn::Flavor};
use checkers::registry::CheckerOptions;
use criterion::{Criterion, criterion_group, criterion_main};
use history::Linted;
use txns::{Kind, Plant, Shape};

/// (name, transactions, planted stale read)
const CASES: [(&str, usize, bool); 3] =
    [("la-100k", 100_000, false), ("la-1m", 1_000_000, false), ("la-100k-cycle", 100_000, true)];

fn history(txns_n: usize, cycle: bool) -> Linted {
    let shape =
        Shape { active_keys: 8, max_writes_per_key: 32, ..Shape::new(Kind::ListAppend, txns_n) };
    let mut h = txns::history(shape, 7);
    if cycle {
        h = txns::plant(&h, Plant::StaleRead, txns_n / 2).expect("a read to plant in");
    }
    h.lint().expect("generated histories are well-formed")
}

fn options() -> ElleOptions {
    let o =
        CheckerOptions { time_limit: Some(Duration::from_secs(120)), ..CheckerOptions::default() };
    ElleOptions::from_checker(&o).expect("default options")
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn once() {
    let only = std::env::var("ELLE_CASE").ok();
    for (name, n, cycle) in CASES {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let made = Instant::now();
        let h = history(n, cycle);
        eprintln!("{name}: history made in {:.1} s", made.elapsed().as_secs_f64());
        let before = peak_rss_mb();
        let started = Instant::now();
        let report = elle::run(Flavor::ListAppend, &h, &options()).expect("checkable");
        let took = started.elapsed();
        eprintln!(
            "{name}: {} {:?} in {:.3} s (cycle search {:.1} ms), {} edges, peak RSS {:.0} MB \
             (before the check {:.0} MB)",
            report.analysis.valid.verdict(),
            report.analysis.reported,
            took.as_secs_f64(),
            report.stats.counter("cycle_search_us") as f64 / 1000.0,
            report.stats.counter("edges"),
            peak_rss_mb(),
            before,
        );
    }
}

fn bench(c: &mut Criterion) {
    if std::env::var_os("ELLE_ONCE").is_some() {
        once();
        return;
    }
    let mut g = c.benchmark_group("elle");
    g.sample_size(10);
    for (name, n, cycle) in CASES {
        let h = history(n, cycle);
        g.measurement_time(Duration::from_secs(if n >= 1_000_000 { 60 } else { 15 }));
        g.bench_function(name, |b| {
            b.iter(|| black_box(elle::run(Flavor::ListAppend, &h, &options()).expect("checkable")))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
