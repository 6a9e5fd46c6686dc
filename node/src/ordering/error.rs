//! Errors of the orderer's store ([`super::store`]): its RocksDB, the
//! records in it, and the blocks and snapshots the state machine checks.

use super::codec::CodecError;
use crate::block::BlockError;
use crate::store_format::FormatError;
use std::fmt;

/// What the orderer store was doing when RocksDB failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreOp {
    /// Opening the database.
    Open,
    /// Reading the named column family.
    Read(&'static str),
    /// Writing to the named column family.
    Write(&'static str),
}

impl fmt::Display for StoreOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreOp::Open => f.write_str("open the database"),
            StoreOp::Read(cf) => write!(f, "read '{cf}'"),
            StoreOp::Write(cf) => write!(f, "write '{cf}'"),
        }
    }
}

/// Which block did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRef {
    /// The block of this number (in the store or in a snapshot).
    Number(u64),
    /// The block a Raft entry proposes for the chain, before its number is known.
    Proposed,
}

impl fmt::Display for BlockRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockRef::Number(n) => write!(f, "block {n}"),
            BlockRef::Proposed => f.write_str("proposed block"),
        }
    }
}

/// Why the orderer store failed, or refused a block or a snapshot.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// RocksDB failed.
    #[error("orderer store cannot {op}: {source}")]
    Db {
        /// What was being done.
        op: StoreOp,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// The store is in another storage format than this release reads, or
    /// its format version cannot be read.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A stored Raft record (vote, commit point, purge point, state-machine
    /// metadata, snapshot) does not decode: the store is damaged.
    #[error("orderer store record {cf}/{key} does not decode: {source}")]
    Record {
        /// Column family.
        cf: &'static str,
        /// The record's key.
        key: String,
        /// Why it does not decode.
        source: CodecError,
    },
    /// A Raft log entry does not decode: the store is damaged.
    #[error("Raft log entry {index} does not decode: {source}")]
    LogEntry {
        /// Its log index.
        index: u64,
        /// Why it does not decode.
        source: CodecError,
    },
    /// A key is not a big-endian u64 (a log index or block number): the
    /// store is damaged.
    #[error("bad key in '{cf}': {len} bytes, not an 8-byte number")]
    BadKey {
        /// Column family.
        cf: &'static str,
        /// The key's length.
        len: usize,
    },
    /// A block does not decode.
    #[error("{what} does not decode: {source}")]
    Decode {
        /// Which block.
        what: BlockRef,
        /// protobuf's error.
        source: prost::DecodeError,
    },
    /// The block store holds no block, not even the genesis block.
    #[error("block store is empty")]
    EmptyBlockStore,
    /// A block is not the next block of the chain: wrong number, channel,
    /// previous hash or data hash.
    #[error("block does not extend the chain: {0}")]
    NotNext(#[source] BlockError),
    /// A block is not signed by one of the channel's configured orderers.
    #[error("block is not signed by a configured orderer: {0}")]
    Signature(#[source] BlockError),
    /// A received snapshot does not decode.
    #[error("refused snapshot: it does not decode: {0}")]
    SnapshotDecode(#[source] CodecError),
    /// A received snapshot holds no blocks.
    #[error("refused snapshot: snapshot holds no blocks")]
    SnapshotEmpty,
    /// A received snapshot starts with another block than this channel's
    /// genesis block.
    #[error("refused snapshot: snapshot does not start with this channel's genesis block")]
    SnapshotForeignGenesis,
    /// A block of a received snapshot does not decode, does not extend the
    /// block before it, or is not signed by a configured orderer
    /// ([`StoreError::Decode`], [`StoreError::NotNext`] or
    /// [`StoreError::Signature`]).
    #[error("refused snapshot: block {number}: {source}")]
    SnapshotBlock {
        /// The block's number.
        number: u64,
        /// Why it is refused.
        source: Box<StoreError>,
    },
}

impl StoreError {
    /// A RocksDB failure while doing `op`.
    pub(crate) fn db(op: StoreOp) -> impl FnOnce(rocksdb::Error) -> StoreError {
        move |source| StoreError::Db { op, source }
    }
}
