//! Endorsement: checking a proposal, simulating the chaincode against world
//! state, and signing the result.

pub mod callees;
pub mod endorser;
mod recording;
pub mod simulator;

pub use endorser::{EndorseError, Endorser};
pub use simulator::Simulator;
