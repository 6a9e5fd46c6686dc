//! The Raft type configuration: the replicated entries are blocks.

use serde::{Deserialize, Serialize};
use std::io::Cursor;

/// A Raft node ID (the orderer's `id` in the channel config).
pub type NodeId = u64;

/// The application data of a Raft entry: one encoded, signed `Block`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaftBlock(pub Vec<u8>);

/// What applying an entry did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ApplyOutcome {
    /// The block extended the chain and is now block `n`.
    Accepted(u64),
    /// The block did not extend the last applied block (cut by a stale
    /// leader, or before the previous term's blocks were applied).
    Rejected(String),
    /// A blank or membership entry.
    NotABlock,
}

openraft::declare_raft_types!(
    /// Consort's Raft types.
    pub TypeConfig:
        D = RaftBlock,
        R = ApplyOutcome,
        NodeId = NodeId,
        Node = openraft::BasicNode,
        SnapshotData = Cursor<Vec<u8>>,
);

/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;
