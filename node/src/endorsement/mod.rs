//! Endorsement: checking a proposal, simulating the chaincode against world
//! state, and signing the result.

pub mod endorser;
pub mod simulator;

pub use endorser::{EndorseError, Endorser};
pub use simulator::Simulator;
