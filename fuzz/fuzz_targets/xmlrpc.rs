//! Fuzz target: `vigil::fuzzing::xmlrpc`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vigil::fuzzing::xmlrpc(data);
});
