#![no_main]

mod fixture;

libfuzzer_sys::fuzz_target!(|data: &[u8]| consort::fuzzing::transaction(fixture::fixture(), data));
