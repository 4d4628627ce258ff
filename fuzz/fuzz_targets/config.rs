//! Fuzz target: `vigil::fuzzing::config`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vigil::fuzzing::config(data);
});
