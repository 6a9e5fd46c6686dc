//! Raft storage in RocksDB: the log and vote ([`LogStore`]) and the state
//! machine, which is the orderer's block store ([`BlockMachine`]).
//!
//! | column family | key | value |
//! |---|---|---|
//! | `raft_log` | log index, u64 BE | `pb::Entry` |
//! | `raft_meta` | `vote` | `pb::Vote` |
//! | `raft_meta` | `committed` | `pb::OptionalLogId` |
//! | `raft_meta` | `last_purged` | `pb::LogId` |
//! | `sm_blocks` | block number, u64 BE | encoded `Block` |
//! | `sm_meta` | `meta` (last applied log ID and membership) | `pb::SmMeta` |
//! | `sm_meta` | `snapshot` (the last one built or installed) | `pb::StoredSnapshot` |
//! | `default` | `format_version` | u32 BE, [`ORDERER_FORMAT`] |
//!
//! The `pb` messages are protobuf ([`super::codec::pb`]); a snapshot's
//! data is a `pb::SnapshotData`. Appends, votes and applied blocks are
//! synced writes.
// openraft's StorageError is large by design; the storage traits return it.
#![allow(clippy::result_large_err)]

use super::codec::{self, pb, Codec, CodecError};
use super::error::{BlockRef, StoreError, StoreOp};
use super::types::{ApplyOutcome, NodeId, RaftBlock, TypeConfig};
use crate::block::{self, Hash};
use crate::crashpoint::{self, CrashPoint};
use crate::identity::Msp;
use crate::store_format::{self, FormatSpec};
use consort_proto::Block;
use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    AnyError, BasicNode, Entry, EntryPayload, ErrorSubject, ErrorVerb, LogId, OptionalSend,
    RaftLogReader, RaftSnapshotBuilder, SnapshotMeta, StorageError, StorageIOError,
    StoredMembership, Vote,
};
use prost::Message;
use rocksdb::{
    ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB,
};
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

const CF_LOG: &str = "raft_log";
const CF_RAFT_META: &str = "raft_meta";
const CF_BLOCKS: &str = "sm_blocks";
const CF_SM_META: &str = "sm_meta";

/// The orderer store's format version, recorded when the store is created
/// and checked at every open (see [`crate::store_format`]). Format 0 was the
/// unversioned bincode layout.
pub const ORDERER_FORMAT: u32 = 1;

const FORMAT: FormatSpec<'static> = FormatSpec {
    store: "orderer store",
    expected: ORDERER_FORMAT,
    column_families: &[CF_LOG, CF_RAFT_META, CF_BLOCKS, CF_SM_META],
    remedy: "start the release that wrote this store, or move the orderer directory aside \
             and restart this one orderer (no other at the same time), which then catches \
             up from the other orderers",
};

type SErr = StorageError<NodeId>;

fn io_err(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    e: impl std::error::Error + 'static,
) -> SErr {
    StorageIOError::new(subject, verb, AnyError::new(&e)).into()
}

fn decode_block(raw: &[u8], what: BlockRef) -> Result<Block, StoreError> {
    Block::decode(raw).map_err(|source| StoreError::Decode { what, source })
}

/// The u64 a big-endian key of `cf` holds.
fn key_number(cf: &'static str, key: &[u8]) -> Result<u64, StoreError> {
    key.try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::BadKey { cf, len: key.len() })
}

/// The log entry stored under `key`.
fn decode_entry(key: &[u8], value: &[u8]) -> Result<Entry<TypeConfig>, StoreError> {
    let index = key_number(CF_LOG, key)?;
    codec::decode(value).map_err(|source| StoreError::LogEntry { index, source })
}

/// The orderer's RocksDB, shared by the log store and the state machine.
#[derive(Debug, Clone)]
pub struct OrdererDb {
    db: Arc<DB>,
}

impl OrdererDb {
    /// Opens (or creates) the database, refusing one of another format.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [CF_LOG, CF_RAFT_META, CF_BLOCKS, CF_SM_META]
            .into_iter()
            .map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db =
            DB::open_cf_descriptors(&opts, path, cfs).map_err(StoreError::db(StoreOp::Open))?;
        store_format::check_or_stamp(&db, path, &FORMAT)?;
        Ok(OrdererDb { db: Arc::new(db) })
    }

    fn cf(&self, name: &'static str) -> &rocksdb::ColumnFamily {
        #[allow(clippy::expect_used)]
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn get<T: Codec>(&self, cf: &'static str, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self
            .db
            .get_cf(self.cf(cf), key)
            .map_err(StoreError::db(StoreOp::Read(cf)))?
        {
            None => Ok(None),
            Some(raw) => codec::decode(&raw)
                .map(Some)
                .map_err(|source| StoreError::Record {
                    cf,
                    key: String::from_utf8_lossy(key).into_owned(),
                    source,
                }),
        }
    }

    fn synced(&self, batch: WriteBatch) -> Result<(), rocksdb::Error> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)
    }

    /// [`synced`](Self::synced) on a blocking thread: the fsync does not
    /// hold up one of the async runtime's threads (openraft's storage
    /// callbacks run on them).
    async fn synced_off_runtime(&self, batch: WriteBatch) -> std::io::Result<()> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.synced(batch))
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)
    }

    /// An ordered block by number.
    pub fn block(&self, number: u64) -> Result<Option<Block>, StoreError> {
        match self
            .db
            .get_cf(self.cf(CF_BLOCKS), number.to_be_bytes())
            .map_err(StoreError::db(StoreOp::Read(CF_BLOCKS)))?
        {
            None => Ok(None),
            Some(raw) => decode_block(&raw, BlockRef::Number(number)).map(Some),
        }
    }
}

/// The Raft log and vote.
#[derive(Debug, Clone)]
pub struct LogStore {
    db: OrdererDb,
}

impl LogStore {
    /// A log store over `db`.
    pub fn new(db: OrdererDb) -> Self {
        LogStore { db }
    }

    /// Writes `entries` to the log in one synced batch.
    async fn write_entries(
        &self,
        entries: impl IntoIterator<Item = Entry<TypeConfig>>,
    ) -> std::io::Result<()> {
        let mut batch = WriteBatch::default();
        for entry in entries {
            batch.put_cf(
                self.db.cf(CF_LOG),
                entry.log_id.index.to_be_bytes(),
                codec::encode(&entry),
            );
        }
        self.db.synced_off_runtime(batch).await
    }

    fn last_purged(&self) -> Result<Option<LogId<NodeId>>, SErr> {
        self.db
            .get(CF_RAFT_META, b"last_purged")
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Read, e))
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<TypeConfig>>, SErr> {
        let start = match range.start_bound() {
            Bound::Included(x) => *x,
            Bound::Excluded(x) => x.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let mut out = Vec::new();
        let iter = self.db.db.iterator_cf(
            self.db.cf(CF_LOG),
            IteratorMode::From(&start.to_be_bytes(), Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            let idx = key_number(CF_LOG, &k)
                .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
            if !range.contains(&idx) {
                break;
            }
            let entry = decode_entry(&k, &v)
                .map_err(|e| io_err(ErrorSubject::LogIndex(idx), ErrorVerb::Read, e))?;
            out.push(entry);
        }
        Ok(out)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, SErr> {
        let last_purged = self.last_purged()?;
        let mut iter = self
            .db
            .db
            .iterator_cf(self.db.cf(CF_LOG), IteratorMode::End);
        let last = match iter.next() {
            None => last_purged,
            Some(item) => {
                let (k, v) = item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
                let entry = decode_entry(&k, &v)
                    .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
                Some(entry.log_id)
            }
        };
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), SErr> {
        let mut batch = WriteBatch::default();
        batch.put_cf(self.db.cf(CF_RAFT_META), b"vote", codec::encode(vote));
        self.db
            .synced_off_runtime(batch)
            .await
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, SErr> {
        self.db
            .get(CF_RAFT_META, b"vote")
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Read, e))
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), SErr> {
        self.db
            .db
            .put_cf(
                self.db.cf(CF_RAFT_META),
                b"committed",
                codec::encode(&committed),
            )
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, SErr> {
        Ok(self
            .db
            .get::<Option<LogId<NodeId>>>(CF_RAFT_META, b"committed")
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Read, e))?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        crashpoint::hit(CrashPoint::LogAppendBeforeWrite);
        let result = self.write_entries(entries).await;
        if result.is_ok() {
            crashpoint::hit(CrashPoint::LogAppendAfterWrite);
        }
        let io = match &result {
            Ok(()) => Ok(()),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        };
        callback.log_io_completed(io);
        result.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Write, e))
    }

    async fn truncate(&mut self, log_id: LogId<NodeId>) -> Result<(), SErr> {
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.db.cf(CF_LOG),
            log_id.index.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        batch.delete_cf(self.db.cf(CF_LOG), u64::MAX.to_be_bytes());
        self.db
            .synced_off_runtime(batch)
            .await
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), SErr> {
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.db.cf(CF_RAFT_META),
            b"last_purged",
            codec::encode(&log_id),
        );
        batch.delete_range_cf(
            self.db.cf(CF_LOG),
            0u64.to_be_bytes(),
            (log_id.index + 1).to_be_bytes(),
        );
        self.db
            .synced_off_runtime(batch)
            .await
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }
}

/// The tip of the orderer's chain: what the next block must extend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainTip {
    /// Number of blocks (the next block's number).
    pub height: u64,
    /// Hash of the last block.
    pub last_hash: Hash,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SmMeta {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
}

impl Codec for SmMeta {
    type Message = pb::SmMeta;

    fn to_message(&self) -> pb::SmMeta {
        pb::SmMeta {
            last_applied: self.last_applied.as_ref().map(Codec::to_message),
            membership: Some(self.membership.to_message()),
        }
    }

    fn from_message(m: pb::SmMeta) -> Result<Self, CodecError> {
        Ok(SmMeta {
            last_applied: m.last_applied.map(LogId::from_message).transpose()?,
            membership: StoredMembership::from_message(
                m.membership.ok_or(CodecError::Missing("membership"))?,
            )?,
        })
    }
}

/// A snapshot's content: every block plus the Raft metadata.
#[derive(Debug, PartialEq, Eq)]
struct SnapshotData {
    meta: SmMeta,
    blocks: Vec<Vec<u8>>,
}

impl Codec for SnapshotData {
    type Message = pb::SnapshotData;

    fn to_message(&self) -> pb::SnapshotData {
        pb::SnapshotData {
            meta: Some(self.meta.to_message()),
            blocks: self.blocks.clone(),
        }
    }

    fn from_message(m: pb::SnapshotData) -> Result<Self, CodecError> {
        Ok(SnapshotData {
            meta: SmMeta::from_message(m.meta.ok_or(CodecError::Missing("meta"))?)?,
            blocks: m.blocks,
        })
    }
}

/// The last snapshot built or installed: its metadata and encoded data.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StoredSnapshot {
    meta: SnapshotMeta<NodeId, BasicNode>,
    data: Vec<u8>,
}

impl Codec for StoredSnapshot {
    type Message = pb::StoredSnapshot;

    fn to_message(&self) -> pb::StoredSnapshot {
        pb::StoredSnapshot {
            meta: Some(self.meta.to_message()),
            data: self.data.clone(),
        }
    }

    fn from_message(m: pb::StoredSnapshot) -> Result<Self, CodecError> {
        Ok(StoredSnapshot {
            meta: SnapshotMeta::from_message(m.meta.ok_or(CodecError::Missing("meta"))?)?,
            data: m.data,
        })
    }
}

/// The state machine: applies Raft-committed blocks to the orderer's block
/// store, accepting a block only if it extends the last one.
#[derive(Debug, Clone)]
pub struct BlockMachine {
    db: OrdererDb,
    channel_id: String,
    /// Membership: blocks must be signed by a configured orderer.
    msp: Arc<Msp>,
    /// The encoded genesis block, which every snapshot must start with.
    genesis: Vec<u8>,
    meta: SmMeta,
    tip: ChainTip,
    tip_tx: Arc<watch::Sender<ChainTip>>,
}

impl BlockMachine {
    /// Opens the state machine, writing the genesis block on first start.
    pub fn open(
        db: OrdererDb,
        genesis: &Block,
        channel_id: &str,
        msp: Arc<Msp>,
    ) -> Result<Self, StoreError> {
        let meta: SmMeta = db.get(CF_SM_META, b"meta")?.unwrap_or_default();
        if db.block(0)?.is_none() {
            let mut batch = WriteBatch::default();
            batch.put_cf(
                db.cf(CF_BLOCKS),
                0u64.to_be_bytes(),
                genesis.encode_to_vec(),
            );
            db.synced(batch)
                .map_err(StoreError::db(StoreOp::Write(CF_BLOCKS)))?;
        }
        let tip = Self::read_tip(&db)?;
        let (tip_tx, _) = watch::channel(tip);
        Ok(BlockMachine {
            db,
            channel_id: channel_id.to_string(),
            msp,
            genesis: genesis.encode_to_vec(),
            meta,
            tip,
            tip_tx: Arc::new(tip_tx),
        })
    }

    fn read_tip(db: &OrdererDb) -> Result<ChainTip, StoreError> {
        let mut iter = db.db.iterator_cf(db.cf(CF_BLOCKS), IteratorMode::End);
        let Some(item) = iter.next() else {
            return Err(StoreError::EmptyBlockStore);
        };
        let (k, v) = item.map_err(StoreError::db(StoreOp::Read(CF_BLOCKS)))?;
        let number = key_number(CF_BLOCKS, &k)?;
        let b = decode_block(&v, BlockRef::Number(number))?;
        Ok(ChainTip {
            height: number + 1,
            last_hash: block::block_hash(&b),
        })
    }

    /// Watches the chain tip (for the block cutter and Deliver streams).
    pub fn tip_watch(&self) -> watch::Receiver<ChainTip> {
        self.tip_tx.subscribe()
    }

    /// The orderer database.
    pub fn db(&self) -> &OrdererDb {
        &self.db
    }

    fn check_extends(&self, data: &RaftBlock) -> Result<(Block, u64), StoreError> {
        let b = decode_block(&data.0, BlockRef::Proposed)?;
        let header = block::check_link(&b, &self.channel_id, self.tip.height, &self.tip.last_hash)
            .map_err(StoreError::NotNext)?;
        block::check_signature(&b, header.number, &self.msp).map_err(StoreError::Signature)?;
        Ok((b, header.number))
    }

    /// Checks a received snapshot before it replaces anything: it must
    /// start with this channel's genesis block, and every later block must
    /// extend the one before it and carry a configured orderer's signature.
    /// Returns the chain tip it would give.
    fn verify_snapshot(&self, data: &SnapshotData) -> Result<ChainTip, StoreError> {
        let Some((first, rest)) = data.blocks.split_first() else {
            return Err(StoreError::SnapshotEmpty);
        };
        if *first != self.genesis {
            return Err(StoreError::SnapshotForeignGenesis);
        }
        let refused = |number: u64| {
            move |e: StoreError| StoreError::SnapshotBlock {
                number,
                source: Box::new(e),
            }
        };
        let mut tip = ChainTip {
            height: 1,
            last_hash: block::block_hash(
                &decode_block(first, BlockRef::Number(0)).map_err(refused(0))?,
            ),
        };
        for raw in rest {
            let n = tip.height;
            let b = decode_block(raw, BlockRef::Number(n)).map_err(refused(n))?;
            block::check_link(&b, &self.channel_id, n, &tip.last_hash)
                .map_err(|e| refused(n)(StoreError::NotNext(e)))?;
            block::check_signature(&b, n, &self.msp)
                .map_err(|e| refused(n)(StoreError::Signature(e)))?;
            tip = ChainTip {
                height: n + 1,
                last_hash: block::block_hash(&b),
            };
        }
        Ok(tip)
    }
}

impl RaftSnapshotBuilder<TypeConfig> for BlockMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, SErr> {
        let mut blocks = Vec::new();
        for item in self
            .db
            .db
            .iterator_cf(self.db.cf(CF_BLOCKS), IteratorMode::Start)
        {
            let (_, v) =
                item.map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Read, e))?;
            blocks.push(v.to_vec());
        }
        let data = codec::encode(&SnapshotData {
            meta: self.meta.clone(),
            blocks,
        });
        let last = self.meta.last_applied;
        let meta = SnapshotMeta {
            last_log_id: last,
            last_membership: self.meta.membership.clone(),
            snapshot_id: format!(
                "{}-{}",
                last.map(|l| l.leader_id.term).unwrap_or(0),
                last.map(|l| l.index).unwrap_or(0)
            ),
        };
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: data.clone(),
        };
        self.db
            .db
            .put_cf(self.db.cf(CF_SM_META), b"snapshot", codec::encode(&stored))
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for BlockMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<NodeId>>, StoredMembership<NodeId, BasicNode>), SErr> {
        Ok((self.meta.last_applied, self.meta.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ApplyOutcome>, SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        crashpoint::hit(CrashPoint::ApplyStart);
        let mut batch = WriteBatch::default();
        let mut out = Vec::new();
        let mut tip = self.tip;
        for entry in entries {
            self.meta.last_applied = Some(entry.log_id);
            match entry.payload {
                EntryPayload::Blank => out.push(ApplyOutcome::NotABlock),
                EntryPayload::Membership(m) => {
                    self.meta.membership = StoredMembership::new(Some(entry.log_id), m);
                    out.push(ApplyOutcome::NotABlock);
                }
                EntryPayload::Normal(data) => {
                    // Check against the tip as advanced by this batch so far.
                    let saved = self.tip;
                    self.tip = tip;
                    let checked = self.check_extends(&data);
                    self.tip = saved;
                    match checked {
                        Ok((b, number)) => {
                            batch.put_cf(self.db.cf(CF_BLOCKS), number.to_be_bytes(), &data.0);
                            crashpoint::hit(CrashPoint::ApplyBlockAdded);
                            tip = ChainTip {
                                height: number + 1,
                                last_hash: block::block_hash(&b),
                            };
                            out.push(ApplyOutcome::Accepted(number));
                        }
                        Err(reason) => {
                            tracing::info!(log = %entry.log_id, %reason, "dropped a block that does not extend the chain");
                            out.push(ApplyOutcome::Rejected(reason.to_string()));
                        }
                    }
                }
            }
        }
        crashpoint::hit(CrashPoint::ApplyBeforeMeta);
        batch.put_cf(self.db.cf(CF_SM_META), b"meta", codec::encode(&self.meta));
        self.db
            .synced_off_runtime(batch)
            .await
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
        crashpoint::hit(CrashPoint::ApplyAfterWrite);
        if tip != self.tip {
            self.tip = tip;
            self.tip_tx.send_replace(tip);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, SErr> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<NodeId, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), SErr> {
        let serr = |e: StoreError| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e);
        let bytes = snapshot.into_inner();
        let data: SnapshotData =
            codec::decode(&bytes).map_err(|e| serr(StoreError::SnapshotDecode(e)))?;
        let tip = self.verify_snapshot(&data).map_err(|e| {
            tracing::error!(error = %e, "refused a snapshot");
            serr(e)
        })?;
        let mut batch = WriteBatch::default();
        batch.delete_range_cf(
            self.db.cf(CF_BLOCKS),
            0u64.to_be_bytes(),
            u64::MAX.to_be_bytes(),
        );
        for (i, b) in data.blocks.iter().enumerate() {
            batch.put_cf(self.db.cf(CF_BLOCKS), (i as u64).to_be_bytes(), b);
        }
        self.meta = SmMeta {
            last_applied: meta.last_log_id,
            membership: meta.last_membership.clone(),
        };
        batch.put_cf(self.db.cf(CF_SM_META), b"meta", codec::encode(&self.meta));
        let stored = StoredSnapshot {
            meta: meta.clone(),
            data: bytes,
        };
        batch.put_cf(self.db.cf(CF_SM_META), b"snapshot", codec::encode(&stored));
        self.db
            .synced_off_runtime(batch)
            .await
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
        self.tip = tip;
        self.tip_tx.send_replace(self.tip);
        Ok(())
    }

    /// Read from the database, where both the snapshot builder (a clone of
    /// this machine) and `install_snapshot` put it.
    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, SErr> {
        let stored: Option<StoredSnapshot> = self
            .db
            .get(CF_SM_META, b"snapshot")
            .map_err(|e| io_err(ErrorSubject::Snapshot(None), ErrorVerb::Read, e))?;
        Ok(stored.map(|s| Snapshot {
            meta: s.meta,
            snapshot: Box::new(Cursor::new(s.data)),
        }))
    }
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
