//! The protobuf schema of the orderer's Raft records, on disk (the Raft log,
//! vote and state-machine metadata in the orderer's RocksDB) and on the wire
//! (the payloads of the `Raft` gRPC service between orderers).
//!
//! Internal to Consort: only orderers of the same release read these. A
//! change of a field's tag or type is a new storage format
//! ([`crate::ordering::store::ORDERER_FORMAT`]) and, for the messages in a
//! `RaftPayload`, a new [`super::RAFT_WIRE_FORMAT`].

use prost::{Message, Oneof};

/// No content (a marker in a `oneof`).
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Empty {}

/// openraft's `LogId`: the term and node of the leader that wrote the entry, and its index.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct LogId {
    /// Term of the leader that proposed the entry.
    #[prost(uint64, tag = "1")]
    pub term: u64,
    /// Node ID of that leader.
    #[prost(uint64, tag = "2")]
    pub node_id: u64,
    /// Index in the log.
    #[prost(uint64, tag = "3")]
    pub index: u64,
}

/// A log ID that may be absent, as a whole record.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct OptionalLogId {
    /// The log ID, if any.
    #[prost(message, optional, tag = "1")]
    pub log_id: Option<LogId>,
}

/// openraft's `Vote`: a candidate's or leader's term and node ID.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct Vote {
    /// The term.
    #[prost(uint64, tag = "1")]
    pub term: u64,
    /// The node voted for.
    #[prost(uint64, tag = "2")]
    pub node_id: u64,
    /// Whether a quorum granted it.
    #[prost(bool, tag = "3")]
    pub committed: bool,
}

/// A set of voter IDs (one configuration of a membership).
#[derive(Clone, PartialEq, Eq, Message)]
pub struct NodeSet {
    /// Node IDs, ascending.
    #[prost(uint64, repeated, tag = "1")]
    pub ids: Vec<u64>,
}

/// A Raft node and its address.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Node {
    /// Node ID.
    #[prost(uint64, tag = "1")]
    pub id: u64,
    /// Its `host:port`.
    #[prost(string, tag = "2")]
    pub addr: String,
}

/// openraft's `Membership`: voter configurations (two during a joint
/// change) and every node's address.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Membership {
    /// Voter configurations.
    #[prost(message, repeated, tag = "1")]
    pub configs: Vec<NodeSet>,
    /// Every node (voters and learners), ascending by ID.
    #[prost(message, repeated, tag = "2")]
    pub nodes: Vec<Node>,
}

/// openraft's `StoredMembership`: a membership and the entry that set it.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct StoredMembership {
    /// The entry that set it, if any.
    #[prost(message, optional, tag = "1")]
    pub log_id: Option<LogId>,
    /// The membership (required).
    #[prost(message, optional, tag = "2")]
    pub membership: Option<Membership>,
}

/// A Raft log entry.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Entry {
    /// Its log ID (required).
    #[prost(message, optional, tag = "1")]
    pub log_id: Option<LogId>,
    /// What it carries (required).
    #[prost(oneof = "EntryPayload", tags = "2, 3, 4")]
    pub payload: Option<EntryPayload>,
}

/// What a log entry carries.
#[derive(Clone, PartialEq, Eq, Oneof)]
pub enum EntryPayload {
    /// Nothing (a new leader's first entry).
    #[prost(message, tag = "2")]
    Blank(Empty),
    /// One encoded, signed `Block`.
    #[prost(bytes = "vec", tag = "3")]
    Normal(Vec<u8>),
    /// A membership change.
    #[prost(message, tag = "4")]
    Membership(Membership),
}

/// openraft's `SnapshotMeta`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct SnapshotMeta {
    /// The last entry the snapshot includes.
    #[prost(message, optional, tag = "1")]
    pub last_log_id: Option<LogId>,
    /// The membership as of that entry (required).
    #[prost(message, optional, tag = "2")]
    pub last_membership: Option<StoredMembership>,
    /// The snapshot's ID.
    #[prost(string, tag = "3")]
    pub snapshot_id: String,
}

/// The state machine's metadata record (`sm_meta` / `meta`).
#[derive(Clone, PartialEq, Eq, Message)]
pub struct SmMeta {
    /// The last applied entry.
    #[prost(message, optional, tag = "1")]
    pub last_applied: Option<LogId>,
    /// The last applied membership (required).
    #[prost(message, optional, tag = "2")]
    pub membership: Option<StoredMembership>,
}

/// A snapshot's content: the metadata and every block.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct SnapshotData {
    /// The state machine's metadata when it was built (required).
    #[prost(message, optional, tag = "1")]
    pub meta: Option<SmMeta>,
    /// Every block from the genesis block on, encoded.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub blocks: Vec<Vec<u8>>,
}

/// The last snapshot built or installed (`sm_meta` / `snapshot`).
#[derive(Clone, PartialEq, Eq, Message)]
pub struct StoredSnapshot {
    /// Its metadata (required).
    #[prost(message, optional, tag = "1")]
    pub meta: Option<SnapshotMeta>,
    /// An encoded [`SnapshotData`].
    #[prost(bytes = "vec", tag = "2")]
    pub data: Vec<u8>,
}

/// Request of `Raft.AppendEntries`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct AppendEntriesRequest {
    /// The leader's vote (required).
    #[prost(message, optional, tag = "1")]
    pub vote: Option<Vote>,
    /// The entry just before `entries`.
    #[prost(message, optional, tag = "2")]
    pub prev_log_id: Option<LogId>,
    /// Entries to append.
    #[prost(message, repeated, tag = "3")]
    pub entries: Vec<Entry>,
    /// The leader's committed entry.
    #[prost(message, optional, tag = "4")]
    pub leader_commit: Option<LogId>,
}

/// Reply of `Raft.AppendEntries` (exactly one of the results).
#[derive(Clone, PartialEq, Eq, Message)]
pub struct AppendEntriesReply {
    /// The result (required).
    #[prost(oneof = "AppendEntriesResult", tags = "1, 2, 3, 4, 5")]
    pub result: Option<AppendEntriesResult>,
}

/// openraft's `AppendEntriesResponse`, or the error the follower's Raft returned.
#[derive(Clone, PartialEq, Eq, Oneof)]
pub enum AppendEntriesResult {
    /// Every entry appended.
    #[prost(message, tag = "1")]
    Success(Empty),
    /// Entries up to the given log ID appended.
    #[prost(message, tag = "2")]
    PartialSuccess(OptionalLogId),
    /// `prev_log_id` does not match.
    #[prost(message, tag = "3")]
    Conflict(Empty),
    /// The follower has seen a higher vote.
    #[prost(message, tag = "4")]
    HigherVote(Vote),
    /// The follower's Raft failed.
    #[prost(message, tag = "5")]
    Error(RaftError),
}

/// Request of `Raft.Vote`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct VoteRequest {
    /// The candidate's vote (required).
    #[prost(message, optional, tag = "1")]
    pub vote: Option<Vote>,
    /// The candidate's last log entry.
    #[prost(message, optional, tag = "2")]
    pub last_log_id: Option<LogId>,
}

/// openraft's `VoteResponse`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct VoteResponse {
    /// The voter's vote (required).
    #[prost(message, optional, tag = "1")]
    pub vote: Option<Vote>,
    /// Whether it was granted.
    #[prost(bool, tag = "2")]
    pub vote_granted: bool,
    /// The voter's last log entry.
    #[prost(message, optional, tag = "3")]
    pub last_log_id: Option<LogId>,
}

/// Reply of `Raft.Vote` (exactly one of the results).
#[derive(Clone, PartialEq, Eq, Message)]
pub struct VoteReply {
    /// The result (required).
    #[prost(oneof = "VoteResult", tags = "1, 2")]
    pub result: Option<VoteResult>,
}

/// The response or the voter's Raft error.
#[derive(Clone, PartialEq, Eq, Oneof)]
pub enum VoteResult {
    /// The answer.
    #[prost(message, tag = "1")]
    Response(VoteResponse),
    /// The voter's Raft failed.
    #[prost(message, tag = "2")]
    Error(RaftError),
}

/// Request of `Raft.InstallSnapshot`: one chunk of a snapshot.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct InstallSnapshotRequest {
    /// The leader's vote (required).
    #[prost(message, optional, tag = "1")]
    pub vote: Option<Vote>,
    /// The snapshot's metadata (required).
    #[prost(message, optional, tag = "2")]
    pub meta: Option<SnapshotMeta>,
    /// Offset of this chunk.
    #[prost(uint64, tag = "3")]
    pub offset: u64,
    /// The chunk.
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
    /// Whether it is the last chunk.
    #[prost(bool, tag = "5")]
    pub done: bool,
}

/// Reply of `Raft.InstallSnapshot` (exactly one of the results).
#[derive(Clone, PartialEq, Eq, Message)]
pub struct InstallSnapshotReply {
    /// The result (required).
    #[prost(oneof = "InstallSnapshotResult", tags = "1, 2")]
    pub result: Option<InstallSnapshotResult>,
}

/// openraft's `InstallSnapshotResponse` (the receiver's vote) or its error.
#[derive(Clone, PartialEq, Eq, Oneof)]
pub enum InstallSnapshotResult {
    /// The receiver's vote.
    #[prost(message, tag = "1")]
    Vote(Vote),
    /// The receiver's Raft failed or refused the chunk.
    #[prost(message, tag = "2")]
    Error(RaftError),
}

/// openraft's `RaftError` as the remote Raft returned it.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct RaftError {
    /// What failed (required).
    #[prost(oneof = "RaftErrorKind", tags = "1, 2, 3, 4")]
    pub kind: Option<RaftErrorKind>,
}

/// The kinds of remote Raft error.
#[derive(Clone, PartialEq, Eq, Oneof)]
pub enum RaftErrorKind {
    /// The remote Raft has stopped.
    #[prost(message, tag = "1")]
    Stopped(Empty),
    /// The remote Raft panicked.
    #[prost(message, tag = "2")]
    Panicked(Empty),
    /// The remote's storage failed; its description.
    #[prost(string, tag = "3")]
    Storage(String),
    /// A snapshot chunk did not follow the previous one.
    #[prost(message, tag = "4")]
    SnapshotMismatch(SnapshotMismatch),
}

/// openraft's `SnapshotMismatch`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct SnapshotMismatch {
    /// The chunk the receiver expected (required).
    #[prost(message, optional, tag = "1")]
    pub expect: Option<SnapshotSegmentId>,
    /// The chunk it got (required).
    #[prost(message, optional, tag = "2")]
    pub got: Option<SnapshotSegmentId>,
}

/// openraft's `SnapshotSegmentId`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct SnapshotSegmentId {
    /// Snapshot ID.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Chunk offset.
    #[prost(uint64, tag = "2")]
    pub offset: u64,
}
