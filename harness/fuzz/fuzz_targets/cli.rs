//! Fuzz target: the `faultline` command line never panics and every refusal says
//! why. The bytes are an argv (NUL-separated); see `harness::fuzzing::cli`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    harness::fuzzing::cli(data);
});
