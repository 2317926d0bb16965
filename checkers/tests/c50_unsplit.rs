//! Porcupine's kv c50 history checked as ONE object (not split by key), which Go
//! Porcupine does not finish in 120 s. Ignored in CI (it is a measurement); run with
//! `cargo test --release --test c50_unsplit -- --ignored --nocapture`.

use std::path::Path;
use std::time::Duration;

use checkers::linearizability::Options;
use checkers::models::ModelName;

#[test]
#[ignore]
fn c50_not_split_within_60_s() {
    for name in ["c50-ok.txt", "c50-bad.txt"] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../testdata/histories/porcupine/kv")
            .join(name);
        let h = history::read_path(&path, None).expect("readable").history.lint().expect("lint");
        let options = Options {
            partition: false,
            time_limit: Some(Duration::from_secs(60)),
            ..Options::default()
        };
        let out = ModelName::Kv.linearizable(None, options).unwrap().check(&h).unwrap();
        eprintln!(
            "{name} not split: {} ({}) in {:.1} s, {} steps, {} cache entries, peak cache {} MB",
            out.verdict,
            out.reason,
            out.stats.elapsed.as_secs_f64(),
            out.stats.steps,
            out.stats.cache_entries,
            out.stats.peak_cache_bytes >> 20
        );
    }
}
