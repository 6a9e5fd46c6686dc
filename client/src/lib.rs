#![doc = include_str!("../README.md")]
#![warn(missing_docs)]

mod client;
pub mod codes;
pub mod config;
mod contract;
mod error;
mod events;
pub mod genesis;
pub mod identity;
pub mod reason;
pub mod transport;
pub mod tx;

#[cfg(test)]
mod testutil;

pub use client::{
    args, dialer_for, orderer_status, signer_for, Client, Committed, Endorsed, SignedCall,
    UnsignedProposal,
};
pub use config::ClientProfile;
pub use contract::Contract;
pub use error::{ClientError, IdentityUse, Operation, Retry};
pub use events::{BlockEvent, BlockEvents, ChaincodeEventItem, ChaincodeEvents, Checkpoint};
pub use identity::SigningIdentity;
