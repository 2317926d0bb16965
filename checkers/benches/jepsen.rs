//! Jepsen's other checkers on long histories (issue 14): each at 250k and 1M lines
//! (invocations and completions) of a simulated correct object
//! (`tests/support/jepsen_histories.rs`), so the ratio of the two medians shows how
//! the time grows (4 = linear). Generating the histories is not timed.
//!
//! `JEPSEN_ONCE=1 cargo bench --bench jepsen` runs each case once and prints its
//! time instead (for `/usr/bin/time -v` peak RSS); `JEPSEN_CASE=set-full-1m` picks
//! one; `JEPSEN_WRITE=DIR` also writes each history as `DIR/<case>.jsonl`, for
//! timing `faultline check` on it end to end (reading included).
//!
//! Measured (2 Dec 2026, this 2-core machine shared with other builds, load
//! average 12-20, so ratios are rough), criterion medians at 250k / 1M lines:
//! set-full 247 ms / 915 ms (3.7x), counter 79 / 321 ms (4.1x), set 192 ms / 2.2 s
//! (11.6x; 834 ms / 3.45 s = 4.1x in a paired run: the one case that grows faster
//! than linearly here, its 500k-element hash sets outgrowing the caches), bank
//! 146 / 548 ms (3.8x), unique-ids 117 / 356 ms (3.0x), long-fork 289 ms / 1.12 s
//! (3.9x), queue 101 / 604 ms (6.0x), total-queue 301 ms / 1.23 s (4.1x). Peak RSS
//! of `JEPSEN_ONCE=1` (generating the history included): set-full-1m 485 MB,
//! counter-1m 308 MB.

#[path = "../tests/support/jepsen_histories.rs"]
mod jepsen_histories;

use std::hint::black_box;
use std::time::Duration;

use checkers::Checker;
use checkers::registry::{self, CheckerOptions};
use criterion::{Criterion, criterion_group, criterion_main};
use jepsen_histories::Kind;

const CHECKERS: [(&str, Kind); 8] = [
    ("set-full", Kind::SetFull),
    ("counter", Kind::Counter),
    ("set", Kind::Set),
    ("bank", Kind::Bank),
    ("unique-ids", Kind::UniqueIds),
    ("long-fork", Kind::LongFork),
    ("queue", Kind::Queue),
    ("total-queue", Kind::Queue),
];

const SIZES: [(&str, usize); 2] = [("250k", 250_000), ("1m", 1_000_000)];

fn checker(model: &str) -> Box<dyn Checker + Send + Sync> {
    registry::by_name(model).unwrap().checker(&CheckerOptions::default()).expect("checker")
}

fn cases() -> impl Iterator<Item = (String, &'static str, Kind, usize)> {
    let only = std::env::var("JEPSEN_CASE").ok();
    CHECKERS
        .into_iter()
        .flat_map(|(model, kind)| {
            SIZES.map(move |(size, lines)| (format!("{model}-{size}"), model, kind, lines))
        })
        .filter(move |(name, ..)| only.as_deref().is_none_or(|o| o == name))
}

fn once() {
    let write = std::env::var_os("JEPSEN_WRITE").map(std::path::PathBuf::from);
    for (name, model, kind, lines) in cases() {
        let h = jepsen_histories::history(kind, lines, 7);
        if let Some(dir) = &write {
            let path = dir.join(format!("{name}.jsonl"));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).expect("create"));
            history::format::write(&h, history::Format::Jsonl, &mut out).expect("write");
        }
        let linted = h.lint().expect("lint");
        let out = checker(model).check(&linted).expect("checkable");
        eprintln!(
            "{name}: {} ({}) in {:.3} s, {} lines",
            out.verdict,
            out.reason,
            out.stats.elapsed.as_secs_f64(),
            linted.ops().len()
        );
    }
}

fn benches(c: &mut Criterion) {
    if std::env::var_os("JEPSEN_ONCE").is_some() {
        once();
        return;
    }
    let mut g = c.benchmark_group("jepsen");
    g.sample_size(10).warm_up_time(Duration::from_millis(100));
    g.measurement_time(Duration::from_secs(4));
    for (name, model, kind, lines) in cases() {
        let h = jepsen_histories::history(kind, lines, 7).lint().expect("lint");
        let check = checker(model);
        g.bench_function(name, |b| b.iter(|| black_box(check.check(&h).expect("checkable"))));
    }
    g.finish();
}

criterion_group!(jepsen, benches);
criterion_main!(jepsen);
