//! Raft storage in RocksDB: the log and vote ([`LogStore`]) and the state
//! machine, which is the orderer's block store ([`BlockMachine`]).
//!
//! | column family | key | value |
//! |---|---|---|
//! | `raft_log` | log index, u64 BE | `Entry` (bincode) |
//! | `raft_meta` | `vote`, `committed`, `last_purged` | bincode |
//! | `sm_blocks` | block number, u64 BE | encoded `Block` |
//! | `sm_meta` | `meta` (last applied log ID and membership), `snapshot` | bincode |
//!
//! Appends, votes and applied blocks are synced writes.
// openraft's StorageError is large by design; the storage traits return it.
#![allow(clippy::result_large_err)]

use super::types::{ApplyOutcome, NodeId, RaftBlock, TypeConfig};
use crate::block::{self, Hash};
use crate::identity::Msp;
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
use serde::{de::DeserializeOwned, Deserialize, Serialize};
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

type SErr = StorageError<NodeId>;

fn io_err(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    e: impl std::error::Error + 'static,
) -> SErr {
    StorageIOError::new(subject, verb, AnyError::new(&e)).into()
}

fn msg_err(subject: ErrorSubject<NodeId>, verb: ErrorVerb, msg: String) -> SErr {
    StorageIOError::new(subject, verb, AnyError::error(msg)).into()
}

/// The orderer's RocksDB, shared by the log store and the state machine.
#[derive(Debug, Clone)]
pub struct OrdererDb {
    db: Arc<DB>,
}

impl OrdererDb {
    /// Opens (or creates) the database.
    pub fn open(path: &Path) -> Result<Self, rocksdb::Error> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [CF_LOG, CF_RAFT_META, CF_BLOCKS, CF_SM_META]
            .into_iter()
            .map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(OrdererDb { db: Arc::new(db) })
    }

    fn cf(&self, name: &'static str) -> &rocksdb::ColumnFamily {
        #[allow(clippy::expect_used)]
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn get<T: DeserializeOwned>(&self, cf: &'static str, key: &[u8]) -> Result<Option<T>, String> {
        match self
            .db
            .get_cf(self.cf(cf), key)
            .map_err(|e| e.to_string())?
        {
            None => Ok(None),
            Some(raw) => bincode::deserialize(&raw)
                .map(Some)
                .map_err(|e| e.to_string()),
        }
    }

    fn synced(&self, batch: WriteBatch) -> Result<(), rocksdb::Error> {
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db.write_opt(batch, &wo)
    }

    /// An ordered block by number.
    pub fn block(&self, number: u64) -> Result<Option<Block>, String> {
        match self
            .db
            .get_cf(self.cf(CF_BLOCKS), number.to_be_bytes())
            .map_err(|e| e.to_string())?
        {
            None => Ok(None),
            Some(raw) => Block::decode(raw.as_slice())
                .map(Some)
                .map_err(|e| e.to_string()),
        }
    }
}

fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, String> {
    bincode::serialize(v).map_err(|e| e.to_string())
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

    fn last_purged(&self) -> Result<Option<LogId<NodeId>>, SErr> {
        self.db
            .get(CF_RAFT_META, b"last_purged")
            .map_err(|e| msg_err(ErrorSubject::Store, ErrorVerb::Read, e))
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
            let idx =
                u64::from_be_bytes(k.as_ref().try_into().map_err(|_| {
                    msg_err(ErrorSubject::Logs, ErrorVerb::Read, "bad log key".into())
                })?);
            if !range.contains(&idx) {
                break;
            }
            let entry: Entry<TypeConfig> = bincode::deserialize(&v)
                .map_err(|e| msg_err(ErrorSubject::Logs, ErrorVerb::Read, e.to_string()))?;
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
                let (_, v) = item.map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Read, e))?;
                let entry: Entry<TypeConfig> = bincode::deserialize(&v)
                    .map_err(|e| msg_err(ErrorSubject::Logs, ErrorVerb::Read, e.to_string()))?;
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
        let v = encode(vote).map_err(|e| msg_err(ErrorSubject::Vote, ErrorVerb::Write, e))?;
        batch.put_cf(self.db.cf(CF_RAFT_META), b"vote", v);
        self.db
            .synced(batch)
            .map_err(|e| io_err(ErrorSubject::Vote, ErrorVerb::Write, e))
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, SErr> {
        self.db
            .get(CF_RAFT_META, b"vote")
            .map_err(|e| msg_err(ErrorSubject::Vote, ErrorVerb::Read, e))
    }

    async fn save_committed(&mut self, committed: Option<LogId<NodeId>>) -> Result<(), SErr> {
        let v =
            encode(&committed).map_err(|e| msg_err(ErrorSubject::Store, ErrorVerb::Write, e))?;
        self.db
            .db
            .put_cf(self.db.cf(CF_RAFT_META), b"committed", v)
            .map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<NodeId>>, SErr> {
        Ok(self
            .db
            .get::<Option<LogId<NodeId>>>(CF_RAFT_META, b"committed")
            .map_err(|e| msg_err(ErrorSubject::Store, ErrorVerb::Read, e))?
            .flatten())
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<TypeConfig>) -> Result<(), SErr>
    where
        I: IntoIterator<Item = Entry<TypeConfig>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut batch = WriteBatch::default();
        for entry in entries {
            let v = encode(&entry).map_err(|e| msg_err(ErrorSubject::Logs, ErrorVerb::Write, e))?;
            batch.put_cf(self.db.cf(CF_LOG), entry.log_id.index.to_be_bytes(), v);
        }
        let result = self.db.synced(batch);
        let io = result
            .as_ref()
            .map(|_| ())
            .map_err(|e| std::io::Error::other(e.to_string()));
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
            .synced(batch)
            .map_err(|e| io_err(ErrorSubject::Logs, ErrorVerb::Delete, e))
    }

    async fn purge(&mut self, log_id: LogId<NodeId>) -> Result<(), SErr> {
        let mut batch = WriteBatch::default();
        let v =
            encode(&Some(log_id)).map_err(|e| msg_err(ErrorSubject::Logs, ErrorVerb::Delete, e))?;
        batch.put_cf(self.db.cf(CF_RAFT_META), b"last_purged", v);
        batch.delete_range_cf(
            self.db.cf(CF_LOG),
            0u64.to_be_bytes(),
            (log_id.index + 1).to_be_bytes(),
        );
        self.db
            .synced(batch)
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct SmMeta {
    last_applied: Option<LogId<NodeId>>,
    membership: StoredMembership<NodeId, BasicNode>,
}

/// A snapshot's content: every block plus the Raft metadata.
#[derive(Debug, Serialize, Deserialize)]
struct SnapshotData {
    meta: SmMeta,
    blocks: Vec<Vec<u8>>,
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
    snapshot: Option<(SnapshotMeta<NodeId, BasicNode>, Vec<u8>)>,
}

impl BlockMachine {
    /// Opens the state machine, writing the genesis block on first start.
    pub fn open(
        db: OrdererDb,
        genesis: &Block,
        channel_id: &str,
        msp: Arc<Msp>,
    ) -> Result<Self, String> {
        let meta: SmMeta = db.get(CF_SM_META, b"meta")?.unwrap_or_default();
        if db.block(0)?.is_none() {
            let mut batch = WriteBatch::default();
            batch.put_cf(
                db.cf(CF_BLOCKS),
                0u64.to_be_bytes(),
                genesis.encode_to_vec(),
            );
            db.synced(batch).map_err(|e| e.to_string())?;
        }
        let tip = Self::read_tip(&db)?;
        let (tip_tx, _) = watch::channel(tip);
        let snapshot = db.get(CF_SM_META, b"snapshot")?;
        Ok(BlockMachine {
            db,
            channel_id: channel_id.to_string(),
            msp,
            genesis: genesis.encode_to_vec(),
            meta,
            tip,
            tip_tx: Arc::new(tip_tx),
            snapshot,
        })
    }

    fn read_tip(db: &OrdererDb) -> Result<ChainTip, String> {
        let mut iter = db.db.iterator_cf(db.cf(CF_BLOCKS), IteratorMode::End);
        let Some(item) = iter.next() else {
            return Err("block store is empty".into());
        };
        let (k, v) = item.map_err(|e| e.to_string())?;
        let number = u64::from_be_bytes(
            k.as_ref()
                .try_into()
                .map_err(|_| "bad block key".to_string())?,
        );
        let b = Block::decode(v.as_ref()).map_err(|e| e.to_string())?;
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

    fn check_extends(&self, data: &RaftBlock) -> Result<(Block, u64), String> {
        let b =
            Block::decode(data.0.as_slice()).map_err(|e| format!("block does not decode: {e}"))?;
        let header = block::check_link(&b, &self.channel_id, self.tip.height, &self.tip.last_hash)
            .map_err(|e| e.to_string())?;
        block::check_signature(&b, header.number, &self.msp).map_err(|e| e.to_string())?;
        Ok((b, header.number))
    }

    /// Checks a received snapshot before it replaces anything: it must
    /// start with this channel's genesis block, and every later block must
    /// extend the one before it and carry a configured orderer's signature.
    /// Returns the chain tip it would give.
    fn verify_snapshot(&self, data: &SnapshotData) -> Result<ChainTip, String> {
        let Some((first, rest)) = data.blocks.split_first() else {
            return Err("snapshot holds no blocks".into());
        };
        if *first != self.genesis {
            return Err("snapshot does not start with this channel's genesis block".into());
        }
        let mut tip = ChainTip {
            height: 1,
            last_hash: block::sha256(
                &Block::decode(first.as_slice())
                    .map_err(|e| format!("snapshot block 0: {e}"))?
                    .header,
            ),
        };
        for raw in rest {
            let n = tip.height;
            let b =
                Block::decode(raw.as_slice()).map_err(|e| format!("snapshot block {n}: {e}"))?;
            block::check_link(&b, &self.channel_id, n, &tip.last_hash)
                .map_err(|e| format!("snapshot: {e}"))?;
            block::check_signature(&b, n, &self.msp).map_err(|e| format!("snapshot: {e}"))?;
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
        let serr = |e: String| msg_err(ErrorSubject::StateMachine, ErrorVerb::Read, e);
        let mut blocks = Vec::new();
        for item in self
            .db
            .db
            .iterator_cf(self.db.cf(CF_BLOCKS), IteratorMode::Start)
        {
            let (_, v) = item.map_err(|e| serr(e.to_string()))?;
            blocks.push(v.to_vec());
        }
        let data = encode(&SnapshotData {
            meta: self.meta.clone(),
            blocks,
        })
        .map_err(serr)?;
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
        let stored = encode(&Some((meta.clone(), data.clone()))).map_err(serr)?;
        self.db
            .db
            .put_cf(self.db.cf(CF_SM_META), b"snapshot", stored)
            .map_err(|e| serr(e.to_string()))?;
        self.snapshot = Some((meta.clone(), data.clone()));
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
                            tip = ChainTip {
                                height: number + 1,
                                last_hash: block::block_hash(&b),
                            };
                            out.push(ApplyOutcome::Accepted(number));
                        }
                        Err(reason) => {
                            tracing::info!(log = %entry.log_id, %reason, "dropped a block that does not extend the chain");
                            out.push(ApplyOutcome::Rejected(reason));
                        }
                    }
                }
            }
        }
        let meta = encode(&self.meta)
            .map_err(|e| msg_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
        batch.put_cf(self.db.cf(CF_SM_META), b"meta", meta);
        self.db
            .synced(batch)
            .map_err(|e| io_err(ErrorSubject::StateMachine, ErrorVerb::Write, e))?;
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
        let serr = |e: String| msg_err(ErrorSubject::StateMachine, ErrorVerb::Write, e);
        let bytes = snapshot.into_inner();
        let data: SnapshotData = bincode::deserialize(&bytes).map_err(|e| serr(e.to_string()))?;
        let tip = self.verify_snapshot(&data).map_err(|e| {
            tracing::error!(error = %e, "refused a snapshot");
            serr(format!("refused snapshot: {e}"))
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
        batch.put_cf(
            self.db.cf(CF_SM_META),
            b"meta",
            encode(&self.meta).map_err(serr)?,
        );
        batch.put_cf(
            self.db.cf(CF_SM_META),
            b"snapshot",
            encode(&Some((meta.clone(), bytes.clone()))).map_err(serr)?,
        );
        self.db.synced(batch).map_err(|e| serr(e.to_string()))?;
        self.snapshot = Some((meta.clone(), bytes));
        self.tip = tip;
        self.tip_tx.send_replace(self.tip);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, SErr> {
        Ok(self.snapshot.as_ref().map(|(meta, data)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(data.clone())),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ca::KeyKind;
    use crate::identity::{Role, SigningIdentity};
    use crate::testkit::{self, block_after, Consortium};
    use consort_proto::ChannelConfig;
    use openraft::CommittedLeaderId;

    const CH: &str = "testchannel";

    fn machine(c: &Consortium) -> (tempfile::TempDir, BlockMachine, Block) {
        let dir = tempfile::tempdir().unwrap();
        let db = OrdererDb::open(&dir.path().join("orderer")).unwrap();
        let genesis = block::genesis(&c.config);
        let sm = BlockMachine::open(db, &genesis, CH, c.msp.clone()).unwrap();
        (dir, sm, genesis)
    }

    fn entry(index: u64, b: &Block) -> Entry<TypeConfig> {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 1), index),
            payload: EntryPayload::Normal(RaftBlock(b.encode_to_vec())),
        }
    }

    fn rogue(c: &Consortium) -> Arc<SigningIdentity> {
        testkit::identity(
            &c.orgs[0].ca,
            "orderer9.org1",
            Role::Orderer,
            KeyKind::Ed25519,
        )
    }

    #[tokio::test]
    async fn applies_only_blocks_signed_by_a_configured_orderer() {
        let c = Consortium::new(3);
        let (_dir, mut sm, genesis) = machine(&c);
        let forged = block_after(CH, 1, &genesis, vec![b"tx".to_vec()], Some(&rogue(&c)));
        let good = block_after(
            CH,
            1,
            &genesis,
            vec![b"tx".to_vec()],
            Some(&c.orgs[1].orderer),
        );
        let out = sm
            .apply(vec![entry(1, &forged), entry(2, &good)])
            .await
            .unwrap();
        match &out[0] {
            ApplyOutcome::Rejected(reason) => {
                assert!(
                    reason.contains("not one of the channel's orderers"),
                    "{reason}"
                )
            }
            other => panic!("expected Rejected, got {other:?}"),
        }
        assert_eq!(out[1], ApplyOutcome::Accepted(1));
        assert_eq!(sm.db().block(1).unwrap(), Some(good));
        assert_eq!(sm.tip_watch().borrow().height, 2);
    }

    fn snapshot_of(blocks: &[&Block]) -> Box<Cursor<Vec<u8>>> {
        let data = SnapshotData {
            meta: SmMeta::default(),
            blocks: blocks.iter().map(|b| b.encode_to_vec()).collect(),
        };
        Box::new(Cursor::new(bincode::serialize(&data).unwrap()))
    }

    fn meta(index: u64) -> SnapshotMeta<NodeId, BasicNode> {
        SnapshotMeta {
            last_log_id: Some(LogId::new(CommittedLeaderId::new(1, 1), index)),
            last_membership: StoredMembership::default(),
            snapshot_id: format!("1-{index}"),
        }
    }

    #[tokio::test]
    async fn a_snapshot_is_verified_before_it_replaces_the_store() {
        let c = Consortium::new(3);
        let (_dir, mut sm, genesis) = machine(&c);
        let b1 = block_after(
            CH,
            1,
            &genesis,
            vec![b"one".to_vec()],
            Some(&c.orgs[0].orderer),
        );
        sm.apply(vec![entry(1, &b1)]).await.unwrap();

        let other_genesis = block::genesis(&ChannelConfig {
            channel_id: CH.into(),
            ..Default::default()
        });
        let forged = block_after(CH, 2, &b1, vec![b"evil".to_vec()], Some(&rogue(&c)));
        let unlinked = block_after(
            CH,
            2,
            &genesis,
            vec![b"x".to_vec()],
            Some(&c.orgs[0].orderer),
        );
        let refused = [
            snapshot_of(&[]),
            snapshot_of(&[&other_genesis, &b1]),
            snapshot_of(&[&genesis, &b1, &forged]),
            snapshot_of(&[&genesis, &b1, &unlinked]),
            Box::new(Cursor::new(b"not a snapshot".to_vec())),
        ];
        for snap in refused {
            assert!(sm.install_snapshot(&meta(9), snap).await.is_err());
            // Nothing was replaced.
            assert_eq!(sm.db().block(1).unwrap(), Some(b1.clone()));
            assert!(sm.db().block(2).unwrap().is_none());
            assert_eq!(sm.tip_watch().borrow().height, 2);
        }

        let b2 = block_after(CH, 2, &b1, vec![b"two".to_vec()], Some(&c.orgs[2].orderer));
        sm.install_snapshot(&meta(3), snapshot_of(&[&genesis, &b1, &b2]))
            .await
            .unwrap();
        assert_eq!(sm.db().block(2).unwrap(), Some(b2.clone()));
        let tip = *sm.tip_watch().borrow();
        assert_eq!(tip.height, 3);
        assert_eq!(tip.last_hash, block::block_hash(&b2));
    }
}
