//! Fuzz target: the option values the command line hands to the history and checkers
//! crates (`--format`, `--model`, an EDN `--initial` for every model) never panic.
//! See `history::fuzzing::options` for the history half.
#![no_main]

use checkers::linearizability::Options;
use checkers::models::ModelName;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    history::fuzzing::options(data);
    let text = String::from_utf8_lossy(data);
    let _ = text.parse::<ModelName>();
    if let Ok(v) = history::edn::parse_value(&text) {
        for model in ModelName::ALL {
            let _ = model.linearizable(Some(v.clone()), Options::default());
        }
    }
});
