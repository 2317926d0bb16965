//! Linearizability checker speed on the shared histories (parsing excluded, as in
//! Porcupine's anchors): the 103 etcd logs, etcd_002 (the hardest), kv c50-ok split
//! by key, kv c10-ok not split. Small sample counts keep `cargo bench` short.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use checkers::registry::{self, CheckerOptions};
use checkers::{Checker, Verdict};
use criterion::{Criterion, criterion_group, criterion_main};
use history::Linted;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/histories/porcupine")
}

fn load(path: &Path) -> Linted {
    let read = history::read_path(path, None).expect("readable history");
    read.history.lint().expect("lint-clean history")
}

fn etcd_all() -> Vec<Linted> {
    (0..=102).map(|i| load(&root().join(format!("jepsen/etcd_{i:03}.log")))).collect()
}

fn checker(model: &str, partition: bool) -> Box<dyn Checker + Send + Sync> {
    registry::by_name(model)
        .unwrap()
        .checker(&CheckerOptions { partition, ..CheckerOptions::default() })
        .expect("model")
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("linearizability");
    g.sample_size(10).warm_up_time(Duration::from_millis(500));
    g.measurement_time(Duration::from_secs(3));

    let cas = checker("cas-register", true);
    let etcd = etcd_all();
    g.bench_function("etcd-all-103", |b| {
        b.iter(|| {
            for h in &etcd {
                black_box(cas.check(h).expect("checkable"));
            }
        })
    });
    let etcd_002 = load(&root().join("jepsen/etcd_002.log"));
    g.bench_function("etcd_002", |b| b.iter(|| black_box(cas.check(&etcd_002).expect("ok"))));

    let kv_split = checker("kv", true);
    let c50_ok = load(&root().join("kv/c50-ok.txt"));
    g.bench_function("kv-c50-ok-split", |b| {
        b.iter(|| black_box(kv_split.check(&c50_ok).expect("ok")))
    });
    let c50_bad = load(&root().join("kv/c50-bad.txt"));
    g.bench_function("kv-c50-bad-split", |b| {
        b.iter(|| black_box(kv_split.check(&c50_bad).expect("ok")))
    });

    let kv_whole = checker("kv", false);
    let c10_ok = load(&root().join("kv/c10-ok.txt"));
    let c10_bad = load(&root().join("kv/c10-bad.txt"));
    g.bench_function("kv-c10-ok-not-split", |b| {
        b.iter(|| black_box(kv_whole.check(&c10_ok).expect("ok")))
    });
    g.bench_function("kv-c10-bad-not-split", |b| {
        b.iter(|| black_box(kv_whole.check(&c10_bad).expect("ok")))
    });
    g.finish();

    // Not a timing: say once what each check found and how much cache it used.
    for (name, out) in [
        ("etcd_002", cas.check(&etcd_002)),
        ("c50-ok split", kv_split.check(&c50_ok)),
        ("c10-ok not split", kv_whole.check(&c10_ok)),
    ] {
        let out = out.expect("ok");
        assert_ne!(out.verdict, Verdict::Unknown);
        eprintln!(
            "{name}: {} in {:?}, {} steps, {} cache entries, peak cache {:.1} MB",
            out.verdict,
            out.stats.elapsed,
            out.stats.counter("steps"),
            out.stats.counter("cache_entries"),
            out.stats.counter("peak_cache_bytes") as f64 / 1e6
        );
    }
}

criterion_group!(linearizability, benches);
criterion_main!(linearizability);
