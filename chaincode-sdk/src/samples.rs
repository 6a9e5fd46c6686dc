//! Sample chaincodes that show how to use the SDK.

pub mod token;
