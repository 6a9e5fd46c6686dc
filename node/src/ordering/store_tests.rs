//! Unit tests of the orderer's Raft storage, and openraft's own storage
//! test suite run against it.

use super::*;
use crate::block::BlockError;
use crate::identity::ca::KeyKind;
use crate::identity::{Role, SigningIdentity};
use crate::testkit::{self, block_after, Consortium};
use consort_proto::ChannelConfig;
use openraft::{CommittedLeaderId, Membership};
use std::error::Error as StdError;

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
    Box::new(Cursor::new(codec::encode(&data)))
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

// ---- openraft's storage suite ----

/// Builds a fresh log store and state machine in a temporary directory,
/// all over one consortium (certificates are made once).
///
/// openraft's suite appends and applies only blank and membership entries
/// (it cannot build application data), so the state machine's signature
/// check on blocks never comes into play, and a real MSP serves. Its
/// snapshot transfer case builds a snapshot on one machine and installs it
/// on another: both start from the same genesis block, so the snapshot
/// (the genesis block alone) passes `verify_snapshot`. Normal entries,
/// which must carry signed blocks, are covered by the tests below.
struct SuiteBuilder {
    c: Consortium,
}

impl openraft::testing::StoreBuilder<TypeConfig, LogStore, BlockMachine, tempfile::TempDir>
    for SuiteBuilder
{
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, BlockMachine), SErr> {
        let fail = |e: StoreError| io_err(ErrorSubject::Store, ErrorVerb::Write, e);
        let dir =
            tempfile::tempdir().map_err(|e| io_err(ErrorSubject::Store, ErrorVerb::Write, e))?;
        let db = OrdererDb::open(&dir.path().join("orderer")).map_err(fail)?;
        let genesis = block::genesis(&self.c.config);
        let sm = BlockMachine::open(db.clone(), &genesis, CH, self.c.msp.clone()).map_err(fail)?;
        Ok((dir, LogStore::new(db), sm))
    }
}

#[test]
fn passes_openraft_storage_suite() {
    // The suite runs each case on its own runtime: not inside #[tokio::test].
    openraft::testing::Suite::test_all(SuiteBuilder {
        c: Consortium::new(3),
    })
    .unwrap();
}

// ---- the log store ----

fn log_id(term: u64, index: u64) -> LogId<NodeId> {
    LogId::new(CommittedLeaderId::new(term, 1), index)
}

fn blank(term: u64, index: u64) -> Entry<TypeConfig> {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Blank,
    }
}

fn open_log(path: &Path) -> LogStore {
    LogStore::new(OrdererDb::open(path).unwrap())
}

async fn indexes(
    log: &mut LogStore,
    range: impl RangeBounds<u64> + Clone + Debug + Send,
) -> Vec<u64> {
    log.try_get_log_entries(range)
        .await
        .unwrap()
        .iter()
        .map(|e| e.log_id.index)
        .collect()
}

#[tokio::test]
async fn the_log_appends_reads_truncates_and_purges() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_log(&dir.path().join("orderer"));
    let state = log.get_log_state().await.unwrap();
    assert_eq!((state.last_purged_log_id, state.last_log_id), (None, None));

    // The log does not look into blocks; any bytes do.
    let normal = Entry {
        log_id: log_id(2, 11),
        payload: EntryPayload::Normal(RaftBlock(b"a block".to_vec())),
    };
    log.write_entries((1..=10).map(|i| blank(1, i)))
        .await
        .unwrap();
    log.write_entries([normal.clone()]).await.unwrap();
    assert_eq!(
        indexes(&mut log, 1..=11).await,
        (1..=11).collect::<Vec<_>>()
    );
    assert_eq!(indexes(&mut log, 3..5).await, vec![3, 4]);
    assert_eq!(indexes(&mut log, 10..).await, vec![10, 11]);
    assert_eq!(
        log.try_get_log_entries(11..=11).await.unwrap(),
        vec![normal.clone()]
    );
    assert_eq!(
        log.get_log_state().await.unwrap().last_log_id,
        Some(log_id(2, 11))
    );

    // Truncate from 8 on: 8..=11 go.
    log.truncate(log_id(1, 8)).await.unwrap();
    assert_eq!(indexes(&mut log, ..).await, (1..=7).collect::<Vec<_>>());
    assert_eq!(
        log.get_log_state().await.unwrap().last_log_id,
        Some(log_id(1, 7))
    );

    // Purge up to 4: 1..=4 go, and the purge point is remembered.
    log.purge(log_id(1, 4)).await.unwrap();
    assert_eq!(indexes(&mut log, ..).await, vec![5, 6, 7]);
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 4)));
    assert_eq!(state.last_log_id, Some(log_id(1, 7)));

    // Purging everything leaves the purge point as the last log ID.
    log.purge(log_id(1, 7)).await.unwrap();
    assert!(indexes(&mut log, ..).await.is_empty());
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(log_id(1, 7)));

    // All of it survives a reopen.
    drop(log);
    let mut log = open_log(&dir.path().join("orderer"));
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 7)));
    assert_eq!(state.last_log_id, Some(log_id(1, 7)));
}

#[tokio::test]
async fn vote_and_committed_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orderer");
    {
        let mut log = open_log(&path);
        assert_eq!(log.read_vote().await.unwrap(), None);
        assert_eq!(log.read_committed().await.unwrap(), None);
        log.save_vote(&Vote::new(3, 2)).await.unwrap();
        log.save_vote(&Vote::new_committed(4, 3)).await.unwrap();
        log.save_committed(Some(log_id(4, 9))).await.unwrap();
    }
    let mut log = open_log(&path);
    assert_eq!(
        log.read_vote().await.unwrap(),
        Some(Vote::new_committed(4, 3))
    );
    assert_eq!(log.read_committed().await.unwrap(), Some(log_id(4, 9)));
    log.save_committed(None).await.unwrap();
    assert_eq!(log.read_committed().await.unwrap(), None);
}

#[tokio::test]
async fn a_damaged_log_record_is_a_storage_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = open_log(&dir.path().join("orderer"));
    log.write_entries([blank(1, 1)]).await.unwrap();
    log.db
        .db
        .put_cf(log.db.cf(CF_LOG), 2u64.to_be_bytes(), b"\xff\xff garbage")
        .unwrap();
    log.db
        .db
        .put_cf(log.db.cf(CF_RAFT_META), b"vote", b"\xff")
        .unwrap();
    assert!(log.try_get_log_entries(1..=2).await.is_err());
    assert!(log.get_log_state().await.is_err());
    assert!(log.read_vote().await.is_err());
}

// ---- format version ----

#[test]
fn a_new_orderer_store_records_its_format_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orderer");
    {
        let db = OrdererDb::open(&path).unwrap();
        let raw = db.db.get(store_format::FORMAT_KEY).unwrap().unwrap();
        assert_eq!(raw, ORDERER_FORMAT.to_be_bytes());
        db.db
            .put_cf(db.cf(CF_BLOCKS), 0u64.to_be_bytes(), b"x")
            .unwrap();
    }
    OrdererDb::open(&path).unwrap();
}

#[test]
fn an_orderer_store_of_another_format_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orderer");
    {
        let db = OrdererDb::open(&path).unwrap();
        db.db
            .put(store_format::FORMAT_KEY, 2u32.to_be_bytes())
            .unwrap();
    }
    let e = OrdererDb::open(&path).unwrap_err();
    assert!(matches!(e, StoreError::Format(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("orderer store"), "{msg}");
    assert!(msg.contains("format 2"), "{msg}");
    assert!(
        msg.contains(&format!("reads format {ORDERER_FORMAT}")),
        "{msg}"
    );
    assert!(msg.contains("catches up from the other orderers"), "{msg}");

    // A store from before versions (records, no version) is format 0.
    {
        let mut opts = Options::default();
        opts.create_missing_column_families(true);
        let cfs = [CF_LOG, CF_RAFT_META, CF_BLOCKS, CF_SM_META]
            .map(|n| ColumnFamilyDescriptor::new(n, Options::default()));
        let db = DB::open_cf_descriptors(&opts, &path, cfs).unwrap();
        db.delete(store_format::FORMAT_KEY).unwrap();
        db.put_cf(db.cf_handle(CF_RAFT_META).unwrap(), b"vote", b"old")
            .unwrap();
    }
    let msg = OrdererDb::open(&path).unwrap_err().to_string();
    assert!(msg.contains("format 0"), "{msg}");
}

// ---- snapshots ----

#[tokio::test]
async fn a_built_snapshot_installs_on_another_orderer_and_persists() {
    let c = Consortium::new(3);
    let (_dir, mut leader, genesis) = machine(&c);
    let b1 = block_after(
        CH,
        1,
        &genesis,
        vec![b"1".to_vec()],
        Some(&c.orgs[0].orderer),
    );
    let b2 = block_after(CH, 2, &b1, vec![b"2".to_vec()], Some(&c.orgs[1].orderer));
    let members = Membership::new(vec![[1, 2, 3].into_iter().collect()], ());
    leader
        .apply(vec![
            Entry {
                log_id: log_id(1, 1),
                payload: EntryPayload::Membership(members.clone()),
            },
            entry(2, &b1),
            entry(3, &b2),
        ])
        .await
        .unwrap();
    let snap = leader
        .get_snapshot_builder()
        .await
        .build_snapshot()
        .await
        .unwrap();
    assert_eq!(snap.meta.last_log_id, Some(log_id(1, 3)));
    assert_eq!(
        snap.meta.last_membership,
        StoredMembership::new(Some(log_id(1, 1)), members)
    );
    // The builder is a clone: the machine itself serves what it built.
    let current = leader.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snap.meta);

    let follower_dir = tempfile::tempdir().unwrap();
    let path = follower_dir.path().join("orderer");
    {
        let db = OrdererDb::open(&path).unwrap();
        let mut follower = BlockMachine::open(db, &genesis, CH, c.msp.clone()).unwrap();
        follower
            .install_snapshot(&snap.meta, snap.snapshot)
            .await
            .unwrap();
        assert_eq!(follower.db().block(2).unwrap(), Some(b2.clone()));
        assert_eq!(follower.tip_watch().borrow().height, 3);
    }
    // After a restart: blocks, applied state and the snapshot are all there.
    let db = OrdererDb::open(&path).unwrap();
    let mut follower = BlockMachine::open(db, &genesis, CH, c.msp.clone()).unwrap();
    assert_eq!(follower.tip_watch().borrow().height, 3);
    assert_eq!(
        follower.applied_state().await.unwrap(),
        leader.applied_state().await.unwrap()
    );
    let current = follower.get_current_snapshot().await.unwrap().unwrap();
    assert_eq!(current.meta, snap.meta);
    // The next block applies on top of the installed chain.
    let b3 = block_after(CH, 3, &b2, vec![b"3".to_vec()], Some(&c.orgs[2].orderer));
    let out = follower.apply(vec![entry(4, &b3)]).await.unwrap();
    assert_eq!(out, vec![ApplyOutcome::Accepted(3)]);
}

#[tokio::test]
async fn a_snapshot_with_a_forged_block_is_refused_with_its_reason() {
    let c = Consortium::new(3);
    let (_dir, mut sm, genesis) = machine(&c);
    let forged = block_after(CH, 1, &genesis, vec![b"evil".to_vec()], Some(&rogue(&c)));
    let e = sm
        .install_snapshot(&meta(5), snapshot_of(&[&genesis, &forged]))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("refused snapshot"), "{msg}");
    assert!(msg.contains("not one of the channel's orderers"), "{msg}");
    // openraft's error keeps the chain down to the block's own error.
    let chain = source_chain(&e);
    let last = chain.last().map(String::as_str).unwrap_or_default();
    assert!(chain.len() >= 3, "{chain:?}");
    assert!(
        last.starts_with("block 1: bad orderer signature"),
        "{chain:?}"
    );
    assert_eq!(sm.tip_watch().borrow().height, 1);
    assert!(sm.get_current_snapshot().await.unwrap().is_none());
}

/// The messages of `e`'s sources, nearest first.
fn source_chain(e: &(dyn StdError + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = e.source();
    while let Some(s) = next {
        out.push(s.to_string());
        next = s.source();
    }
    out
}

// ---- typed errors ----

fn snapshot_data(blocks: Vec<Vec<u8>>) -> SnapshotData {
    SnapshotData {
        meta: SmMeta::default(),
        blocks,
    }
}

#[tokio::test]
async fn a_refused_snapshot_names_its_reason_as_a_variant() {
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
    let enc = |b: &Block| b.encode_to_vec();

    let e = sm.verify_snapshot(&snapshot_data(vec![])).unwrap_err();
    assert!(matches!(e, StoreError::SnapshotEmpty), "{e:?}");

    let other_genesis = block::genesis(&ChannelConfig {
        channel_id: CH.into(),
        ..Default::default()
    });
    let e = sm
        .verify_snapshot(&snapshot_data(vec![enc(&other_genesis), enc(&b1)]))
        .unwrap_err();
    assert!(matches!(e, StoreError::SnapshotForeignGenesis), "{e:?}");
    assert!(
        e.to_string()
            .contains("snapshot does not start with this channel's genesis block"),
        "{e}"
    );

    let forged = block_after(CH, 2, &b1, vec![b"evil".to_vec()], Some(&rogue(&c)));
    let e = sm
        .verify_snapshot(&snapshot_data(vec![enc(&genesis), enc(&b1), enc(&forged)]))
        .unwrap_err();
    let StoreError::SnapshotBlock { number: 2, source } = e else {
        panic!("expected SnapshotBlock 2, got {e:?}");
    };
    assert!(
        matches!(
            *source,
            StoreError::Signature(BlockError::BadSignature { number: 2, .. })
        ),
        "{source:?}"
    );

    let unlinked = block_after(
        CH,
        2,
        &genesis,
        vec![b"x".to_vec()],
        Some(&c.orgs[0].orderer),
    );
    let e = sm
        .verify_snapshot(&snapshot_data(vec![
            enc(&genesis),
            enc(&b1),
            enc(&unlinked),
        ]))
        .unwrap_err();
    let StoreError::SnapshotBlock { number: 2, source } = e else {
        panic!("expected SnapshotBlock 2, got {e:?}");
    };
    assert!(
        matches!(*source, StoreError::NotNext(BlockError::BrokenChain(2))),
        "{source:?}"
    );

    let e = sm
        .verify_snapshot(&snapshot_data(vec![
            enc(&genesis),
            b"\xff garbage".to_vec(),
        ]))
        .unwrap_err();
    let StoreError::SnapshotBlock { number: 1, source } = e else {
        panic!("expected SnapshotBlock 1, got {e:?}");
    };
    assert!(
        matches!(
            *source,
            StoreError::Decode {
                what: BlockRef::Number(1),
                ..
            }
        ),
        "{source:?}"
    );
}

#[tokio::test]
async fn a_refused_block_keeps_the_block_error_as_its_source() {
    let c = Consortium::new(3);
    let (_dir, sm, genesis) = machine(&c);
    let forged = block_after(CH, 1, &genesis, vec![b"tx".to_vec()], Some(&rogue(&c)));
    let e = sm
        .check_extends(&RaftBlock(forged.encode_to_vec()))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Signature(BlockError::BadSignature { number: 1, .. })
        ),
        "{e:?}"
    );
    let source = e.source().and_then(|s| s.downcast_ref::<BlockError>());
    assert!(
        matches!(source, Some(BlockError::BadSignature { number: 1, .. })),
        "{source:?}"
    );

    let unsigned = block_after(CH, 1, &genesis, vec![b"tx".to_vec()], None);
    let e = sm
        .check_extends(&RaftBlock(unsigned.encode_to_vec()))
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Signature(BlockError::Unsigned(1))),
        "{e:?}"
    );

    let skipping = block_after(
        CH,
        2,
        &genesis,
        vec![b"tx".to_vec()],
        Some(&c.orgs[0].orderer),
    );
    let e = sm
        .check_extends(&RaftBlock(skipping.encode_to_vec()))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::NotNext(BlockError::WrongNumber {
                expected: 1,
                got: 2
            })
        ),
        "{e:?}"
    );
    assert!(e.source().is_some_and(|s| s.is::<BlockError>()));

    let e = sm
        .check_extends(&RaftBlock(b"\xff garbage".to_vec()))
        .unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Decode {
                what: BlockRef::Proposed,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn damaged_records_keep_the_decode_error_as_their_source() {
    let c = Consortium::new(3);
    let (_dir, sm, _genesis) = machine(&c);
    let db = sm.db();
    db.db
        .put_cf(db.cf(CF_BLOCKS), 1u64.to_be_bytes(), b"\xff garbage")
        .unwrap();
    let e = db.block(1).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Decode {
                what: BlockRef::Number(1),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.source().is_some_and(|s| s.is::<prost::DecodeError>()));

    db.db.put_cf(db.cf(CF_RAFT_META), b"vote", b"\xff").unwrap();
    let e = db.get::<Vote<NodeId>>(CF_RAFT_META, b"vote").unwrap_err();
    let StoreError::Record {
        cf: CF_RAFT_META,
        ref key,
        source: CodecError::Decode(_),
    } = e
    else {
        panic!("expected a raft_meta record error, got {e:?}");
    };
    assert_eq!(key, "vote");
    let decode = e.source().and_then(|s| s.source());
    assert!(decode.is_some_and(|s| s.is::<prost::DecodeError>()));

    let e = decode_entry(&7u64.to_be_bytes(), b"\xff garbage").unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::LogEntry {
                index: 7,
                source: CodecError::Decode(_)
            }
        ),
        "{e:?}"
    );
    let e = decode_entry(b"short", b"").unwrap_err();
    assert!(
        matches!(e, StoreError::BadKey { cf: CF_LOG, len: 5 }),
        "{e:?}"
    );
}

#[test]
fn a_block_store_without_blocks_or_with_a_bad_key_is_an_error() {
    let c = Consortium::new(1);
    let dir = tempfile::tempdir().unwrap();
    let db = OrdererDb::open(&dir.path().join("orderer")).unwrap();
    let e = BlockMachine::read_tip(&db).unwrap_err();
    assert!(matches!(e, StoreError::EmptyBlockStore), "{e:?}");

    db.db.put_cf(db.cf(CF_BLOCKS), b"\xff", b"").unwrap();
    let genesis = block::genesis(&c.config);
    let e = BlockMachine::open(db, &genesis, CH, c.msp.clone()).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::BadKey {
                cf: CF_BLOCKS,
                len: 1
            }
        ),
        "{e:?}"
    );
}

#[test]
fn a_database_that_cannot_open_is_a_db_error_with_rocksdbs_source() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orderer");
    std::fs::write(&path, b"not a directory").unwrap();
    let e = OrdererDb::open(&path).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Db {
                op: StoreOp::Open,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.source().is_some_and(|s| s.is::<rocksdb::Error>()));
}
