//! Fuzz target: `vigil::fuzzing::http_auth`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    vigil::fuzzing::http_auth(data);
});
