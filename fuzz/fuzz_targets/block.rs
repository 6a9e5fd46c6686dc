#![no_main]

mod fixture;

libfuzzer_sys::fuzz_target!(|data: &[u8]| consort::fuzzing::block(fixture::fixture(), data));
