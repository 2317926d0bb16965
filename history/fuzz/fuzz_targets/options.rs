//! Fuzz target: the option values the command line hands to the history and checkers
//! crates (`--format`, `--model`, an EDN `--initial` for every checker) never panic.
//! See `history::fuzzing::options` for the history half.
#![no_main]

use checkers::registry::{self, CheckerOptions};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    history::fuzzing::options(data);
    let text = String::from_utf8_lossy(data);
    let _ = registry::by_name(&text);
    if let Ok(v) = history::edn::parse_value(&text) {
        for def in registry::ALL {
            let _ = def.checker(&CheckerOptions { initial: Some(v.clone()), ..Default::default() });
        }
    }
});
