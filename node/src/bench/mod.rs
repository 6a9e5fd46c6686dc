//! `consort bench`: measurements operators use to size a network.
//!
//! - [`run`]: a load of token transfers through a network's gateways, with
//!   throughput, validation codes and per-phase latency.

pub mod run;
