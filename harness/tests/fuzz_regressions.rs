//! Replays the kept command-line fuzz corpus and every input the fuzzer ever crashed
//! on through the property the fuzz target checks (`harness::fuzzing::cli`: the
//! argv parses or is refused with a message, never a panic), and holds the fuzz
//! dictionary to the clap command. The kept corpus is `fuzz/kept/cli/` (hand-written
//! seeds from the README's examples and the 150 smallest inputs of the
//! `cargo fuzz cmin`-minimized corpus), the crashers are in `fuzz/regressions/cli/`;
//! `fuzz/README.md` says how to run the fuzzer.

use std::path::Path;

#[test]
fn cli_inputs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in ["kept", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join("cli")) else { continue };
        for entry in entries {
            let path = entry.expect("readable directory").path();
            let data = std::fs::read(&path).expect("readable input");
            let result = std::panic::catch_unwind(|| harness::fuzzing::cli(&data));
            assert!(result.is_ok(), "{} fails its property", path.display());
            count += 1;
        }
    }
    assert!(count > 0, "no inputs for the cli target");
    eprintln!("cli: {count} inputs replayed");
}

/// `fuzz/cli.dict` is what `harness::fuzzing::dictionary` generates from the clap
/// command; `FAULTLINE_WRITE_DICT=1` rewrites it after a change to the options.
#[test]
fn dictionary_matches_the_command_line() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/cli.dict");
    let generated = harness::fuzzing::dictionary();
    assert!(generated.contains("\"--nemesis\"\n"), "the dictionary lacks test's options");
    if std::env::var_os("FAULTLINE_WRITE_DICT").is_some() {
        std::fs::write(&path, &generated).expect("writable fuzz/cli.dict");
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == generated,
        "{} is out of date: run FAULTLINE_WRITE_DICT=1 cargo test -p harness --test fuzz_regressions",
        path.display()
    );
}
