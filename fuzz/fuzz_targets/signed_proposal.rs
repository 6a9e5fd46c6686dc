#![no_main]

mod fixture;

libfuzzer_sys::fuzz_target!(|data: &[u8]| consort::fuzzing::signed_proposal(fixture::fixture(), data));
