//! Fuzz target: see `history::fuzzing::porcupine` for the property it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| history::fuzzing::porcupine(data));
