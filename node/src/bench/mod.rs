//! `consort bench`: measurements operators use to size a network.
//!
//! - [`run`]: a load of token transfers through a network's gateways, with
//!   throughput, validation codes and per-phase latency;
//! - [`ceiling`]: this machine's signature rates and the network's crypto
//!   ceiling;
//! - [`validate`]: one peer's verify → validate → commit path on blocks made
//!   offline ([`workload`]).

pub mod ceiling;
pub mod run;
pub mod validate;
pub mod workload;
