//! One object, long histories (issue 12): the checker's time and cache on a million
//! operations of one register / lock. Histories come from `tests/support/long.rs`
//! (a simulated correct object, so every one is valid); generating them is not
//! timed.
//!
//! `LONG_ONCE=1 cargo bench --bench long_object` runs each case once and prints
//! verdict, time, steps and cache instead (for `/usr/bin/time -v` peak RSS, and for
//! comparing with code whose search takes minutes on these).

#[path = "../tests/support/long.rs"]
mod long;

use std::hint::black_box;
use std::time::Duration;

use checkers::Checker;
use checkers::registry::{self, CheckerOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use long::Object;

/// (name, model, object, ops, concurrency, sequential)
const CASES: [(&str, &str, Object, usize, usize, bool); 6] = [
    ("register-seq-200k", "register", Object::Register, 200_000, 50, true),
    ("register-seq-1m", "register", Object::Register, 1_000_000, 50, true),
    ("register-c10-1m", "register", Object::Register, 1_000_000, 10, false),
    ("mutex-c50-1m", "mutex", Object::Mutex, 1_000_000, 50, false),
    ("fenced-lock-c50-1m", "fenced-lock", Object::FencedLock, 1_000_000, 50, false),
    ("session-lock-c50-1m", "session-lock", Object::Mutex, 1_000_000, 50, false),
];

fn checker(model: &str) -> Box<dyn Checker + Send + Sync> {
    let options =
        CheckerOptions { time_limit: Some(Duration::from_secs(60)), ..CheckerOptions::default() };
    registry::by_name(model)
        .unwrap()
        .checker(&CheckerOptions { initial: None, ..options })
        .expect("model")
}

fn once() {
    let only = std::env::var("LONG_CASE").ok();
    for (name, model, object, ops, concurrency, sequential) in CASES {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let h = long::history(object, ops, concurrency, sequential, 7).lint().expect("lint");
        let out = checker(model).check(&h).expect("checkable");
        eprintln!(
            "{name}: {} ({}) in {:.3} s, {} steps, {} cache entries, peak cache {:.1} MB",
            out.verdict,
            out.reason,
            out.stats.elapsed.as_secs_f64(),
            out.stats.counter("steps"),
            out.stats.counter("cache_entries"),
            out.stats.counter("peak_cache_bytes") as f64 / 1e6
        );
    }
}

fn benches(c: &mut Criterion) {
    if std::env::var_os("LONG_ONCE").is_some() {
        once();
        return;
    }
    let mut g = c.benchmark_group("long_object");
    g.sample_size(10).warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(5));
    for (name, model, object, ops, concurrency, sequential) in CASES {
        let h = long::history(object, ops, concurrency, sequential, 7).lint().expect("lint");
        let check = checker(model);
        g.bench_function(name, |b| b.iter(|| black_box(check.check(&h).expect("checkable"))));
    }
    g.finish();
}

criterion_group!(long_object, benches);
criterion_main!(long_object);
