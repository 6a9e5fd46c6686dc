//! Chaincode lifecycle on the ledger, after Fabric's `_lifecycle`: each org's
//! admin approves a chaincode definition (name, version, sequence,
//! endorsement policy, where it runs) for the next sequence, and once enough
//! orgs approved the same definition anyone commits it. Definitions and
//! approvals are ordinary state of the system namespace [`NAMESPACE`], written
//! by ordinary transactions:
//!
//! | Key | Value | Written by |
//! |---|---|---|
//! | `approval/<name>/<sequence>/<MSP>` | encoded `ChaincodeDefinition` the org approved | `approve`, endorsed by a peer of `<MSP>` |
//! | `definition/<name>` | encoded `ChaincodeDefinition` in force | `commit`, endorsed per the lifecycle policy |
//!
//! The chaincodes of the genesis block are the sequence-1 definitions in
//! force from block 0; they are not written to state, the ledger's
//! `definition/<name>` overrides them once committed.
//!
//! - [`definition`]: a definition's JSON form, its checks and canonical encoding; the key layout.
//! - [`chaincode`]: the `_lifecycle` system chaincode.
//! - [`key_policy`]: which endorsements each `_lifecycle` write needs (used by validation).
//! - [`client`]: [`LifecycleClient`] (`approve_definition`, `commit_definition`, `definitions`, `approvals` on a `Client`).
//! - [`definitions`]: the definitions in force and the validation rules they give, updated from committed writes.

pub mod chaincode;
pub mod client;
pub mod definition;
pub mod definitions;
pub mod key_policy;

pub use chaincode::{Approvals, Approved, Lifecycle};
pub use client::LifecycleClient;
pub use definition::{DefinitionError, DefinitionJson};
pub use definitions::{DefinitionSet, Definitions};

/// The namespace (and chaincode name) of the lifecycle system chaincode.
pub const NAMESPACE: &str = "_lifecycle";
