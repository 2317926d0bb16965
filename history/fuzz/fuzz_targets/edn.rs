//! Fuzz target: see `history::fuzzing::edn` for the property it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| history::fuzzing::edn(data));
