#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| consort::fuzzing::envelope(data));
