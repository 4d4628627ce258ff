//! Fuzz target: `vigil::fuzzing::listener_protocol`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vigil::fuzzing::listener_protocol(data);
});
