//! Fuzz target: see `history::fuzzing::jsonl` for the property it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| history::fuzzing::jsonl(data));
