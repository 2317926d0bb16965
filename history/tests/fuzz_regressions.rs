//! Replays the kept fuzz corpus and every input a fuzzer ever crashed on through the
//! same properties the fuzz targets check (`history::fuzzing`), so CI guards what
//! fuzzing found. The kept corpus is `fuzz/kept/<target>/` (the seeds and the 150
//! smallest inputs of the `cargo fuzz cmin`-minimized corpus), the crashers are in
//! `fuzz/regressions/<target>/`; `fuzz/README.md` says how to run the fuzzers.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["kept", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            let data = std::fs::read(&path).expect("readable input");
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails its property", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for {target}");
    eprintln!("{target}: {count} inputs replayed");
}

#[test]
fn edn_inputs() {
    replay("edn", history::fuzzing::edn);
}

#[test]
fn jsonl_inputs() {
    replay("jsonl", history::fuzzing::jsonl);
}

#[test]
fn porcupine_inputs() {
    replay("porcupine", history::fuzzing::porcupine);
}

#[test]
fn options_inputs() {
    replay("options", history::fuzzing::options);
}
