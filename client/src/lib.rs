//! The Consort client library.
#![warn(missing_docs)]

mod client;
pub mod codes;
pub mod config;
pub mod genesis;
pub mod identity;
pub mod transport;
pub mod tx;

pub use client::*;
pub use config::ClientProfile;
