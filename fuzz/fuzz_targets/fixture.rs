//! The fixed consortium every target that checks signatures uses.

use consort::fuzzing::Fixture;
use std::sync::OnceLock;

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        Fixture::from_json(include_str!("../fixture/consortium.json"))
            .expect("fuzz/fixture/consortium.json is a fixture")
    })
}
