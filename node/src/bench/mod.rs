//! `consort bench`: measurements operators use to size a network.
//!
//! - [`ceiling`]: this machine's signature rates and the network's crypto
//!   ceiling;
//! - [`validate`]: one peer's verify → validate → commit path on blocks made
//!   offline ([`workload`]).

pub mod ceiling;
pub mod validate;
pub mod workload;
