//! Sample chaincodes that show how to use the SDK.

pub mod asset_transfer;
pub mod supply_chain;
pub mod token;
