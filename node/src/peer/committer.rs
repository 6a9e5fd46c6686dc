//! The committer: checks each block against the chain and the orderers'
//! signatures, validates its transactions and writes the result to the
//! ledger in one batch. It is the ledger's only writer.

use crate::block::{self, BlockError};
use crate::ledger::{BlockUpdate, Ledger, LedgerError};
use crate::lifecycle::{DefinitionSet, Definitions};
use crate::validation;
use crate::validation::phase1::Phase1Timings;
use consort_proto::{Block, CommittedBlock, TxValidationCode as Code};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Why a block was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The block does not verify (chain, data hash, signature).
    #[error(transparent)]
    Block(#[from] BlockError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The local genesis block differs from the ledger's block 0.
    #[error("the ledger's genesis block differs from the configured genesis block")]
    GenesisMismatch,
}

/// Commits blocks to one ledger.
pub struct Committer {
    ledger: Arc<Ledger>,
    definitions: Definitions,
    height: watch::Sender<u64>,
    /// Held for a whole commit: blocks arrive from the orderers and from
    /// other peers at once, and each number is committed once.
    lock: std::sync::Mutex<()>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("height", &self.ledger.height())
            .finish()
    }
}

/// Phase 1's outcome for each transaction of a block.
type Phase1Results = Vec<Result<validation::CheckedTx, validation::Rejected>>;

/// A block whose phase 1 ran ahead of its commit ([`Committer::pre_check`]).
pub struct PreChecked {
    block: Block,
    /// The definitions phase 1 used.
    in_force: Arc<DefinitionSet>,
    checked: Phase1Results,
    timings: Phase1Timings,
}

impl std::fmt::Debug for PreChecked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreChecked")
            .field("txs", &self.checked.len())
            .finish()
    }
}

/// Where one block's commit spent its time.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitTimings {
    /// Chain link and the orderer's signature on the block.
    pub block_checks: Duration,
    /// Phase 1: decoding, identities and structure.
    pub prepare: Duration,
    /// Phase 1: the transactions' signatures.
    pub signatures: Duration,
    /// Phase 1: counting endorsers, evaluating endorsement policies.
    pub policy: Duration,
    /// Phase 2: duplicate IDs, MVCC read versions, phantom reads.
    pub mvcc: Duration,
    /// Building the block's write batch.
    pub write_batch: Duration,
    /// Writing the batch to RocksDB, synced to disk.
    pub write_sync: Duration,
}

impl CommitTimings {
    /// The sum of the parts.
    pub fn total(&self) -> Duration {
        self.block_checks
            + self.prepare
            + self.signatures
            + self.policy
            + self.mvcc
            + self.write_batch
            + self.write_sync
    }
}

impl std::ops::AddAssign for CommitTimings {
    fn add_assign(&mut self, o: Self) {
        self.block_checks += o.block_checks;
        self.prepare += o.prepare;
        self.signatures += o.signatures;
        self.policy += o.policy;
        self.mvcc += o.mvcc;
        self.write_batch += o.write_batch;
        self.write_sync += o.write_sync;
    }
}

impl Committer {
    /// A committer for `ledger`; commits the genesis block if the ledger is
    /// new. `definitions` must be the definitions in force at the ledger's
    /// height; the committer moves them forward with every block.
    pub fn new(
        ledger: Arc<Ledger>,
        definitions: impl Into<Definitions>,
        genesis: &Block,
    ) -> Result<Self, CommitError> {
        let definitions = definitions.into();
        if ledger.height() == 0 {
            let update = BlockUpdate {
                block: CommittedBlock {
                    block: Some(genesis.clone()),
                    validation_codes: vec![],
                },
                number: 0,
                hash: block::block_hash(genesis),
                timestamp_ms: 0,
                writes: vec![],
                txs: vec![],
            };
            ledger.commit(&update)?;
        } else {
            let stored = ledger.block(0)?.and_then(|b| b.block);
            if stored.as_ref() != Some(genesis) {
                return Err(CommitError::GenesisMismatch);
            }
        }
        let (height, _) = watch::channel(ledger.height());
        Ok(Committer {
            ledger,
            definitions,
            height,
            lock: std::sync::Mutex::new(()),
        })
    }

    /// Watches the ledger height.
    pub fn height_watch(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// The chaincode definitions in force, as of the last committed block.
    pub fn definitions(&self) -> &Definitions {
        &self.definitions
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Verifies, validates and commits the next block. Blocking (CPU and a
    /// synced RocksDB write): call from a blocking thread.
    pub fn commit(&self, b: Block) -> Result<Vec<Code>, CommitError> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.commit_locked(b).map(|(codes, _)| codes)
    }

    /// As [`commit`](Self::commit), with where the time went.
    pub fn commit_timed(&self, b: Block) -> Result<(Vec<Code>, CommitTimings), CommitError> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.commit_locked(b)
    }

    /// As [`commit`](Self::commit), but a block the ledger already has is
    /// skipped (`Ok(None)`): the same block may come from an orderer and
    /// from another peer.
    pub fn commit_next(&self, b: Block) -> Result<Option<Vec<Code>>, CommitError> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if block::decode_header(&b)?.number < self.ledger.height() {
            return Ok(None);
        }
        self.commit_locked(b).map(|(codes, _)| Some(codes))
    }

    /// Phase 1 of `b` ahead of its commit, against the definitions in force
    /// now, without waiting for the commit in progress: blocking CPU work on
    /// all cores. [`commit_checked`](Self::commit_checked) uses the result
    /// if the definitions are still the same when the block commits (the
    /// block before it did not change a chaincode definition), and redoes
    /// phase 1 otherwise.
    pub fn pre_check(&self, b: Block) -> PreChecked {
        let in_force = self.definitions.current();
        let (checked, timings) = validation::phase1::check_block_timed(in_force.rules(), &b.data);
        PreChecked {
            block: b,
            in_force,
            checked,
            timings,
        }
    }

    /// Commits a block checked ahead by [`pre_check`](Self::pre_check);
    /// otherwise as [`commit_timed`](Self::commit_timed).
    pub fn commit_checked(
        &self,
        pre: PreChecked,
    ) -> Result<(Vec<Code>, CommitTimings), CommitError> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        self.commit_pre_checked(pre)
    }

    /// As [`commit_checked`](Self::commit_checked), but a block the ledger
    /// already has is skipped (`Ok(None)`), as in
    /// [`commit_next`](Self::commit_next).
    pub fn commit_checked_next(&self, pre: PreChecked) -> Result<Option<Vec<Code>>, CommitError> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        if block::decode_header(&pre.block)?.number < self.ledger.height() {
            return Ok(None);
        }
        self.commit_pre_checked(pre).map(|(codes, _)| Some(codes))
    }

    fn commit_pre_checked(
        &self,
        pre: PreChecked,
    ) -> Result<(Vec<Code>, CommitTimings), CommitError> {
        let PreChecked {
            block,
            in_force,
            checked,
            timings,
        } = pre;
        self.commit_with(block, Some((in_force, checked, timings)))
    }

    fn commit_locked(&self, b: Block) -> Result<(Vec<Code>, CommitTimings), CommitError> {
        self.commit_with(b, None)
    }

    #[tracing::instrument(skip_all, fields(block))]
    fn commit_with(
        &self,
        b: Block,
        pre: Option<(Arc<DefinitionSet>, Phase1Results, Phase1Timings)>,
    ) -> Result<(Vec<Code>, CommitTimings), CommitError> {
        let started = Instant::now();
        let mut t = CommitTimings::default();
        let height = self.ledger.height();
        let prev = self.ledger.last_hash()?.unwrap_or([0; 32]);
        // Block N is validated against the definitions as of block N-1.
        let in_force = self.definitions.current();
        let rules = in_force.rules();
        let header = block::check_link(&b, &rules.channel_id, height, &prev)?;
        tracing::Span::current().record("block", header.number);
        block::check_signature(&b, header.number, &rules.msp)?;
        t.block_checks = started.elapsed();
        let (checked, phase1) = match pre {
            Some((checked_against, checked, timings))
                if Arc::ptr_eq(&checked_against, &in_force) =>
            {
                (checked, timings)
            }
            _ => validation::phase1::check_block_timed(rules, &b.data),
        };
        t.prepare = phase1.prepare;
        t.signatures = phase1.signatures;
        t.policy = phase1.policy;
        for (tx, rejected) in checked.iter().enumerate() {
            if let Err(validation::Rejected {
                tx_id,
                code,
                reason: Some(reason),
            }) = rejected
            {
                tracing::warn!(
                    block = header.number,
                    tx,
                    tx_id = tx_id.as_deref().unwrap_or("unknown"),
                    code = code.as_str_name(),
                    %reason,
                    "transaction invalid"
                );
            }
        }
        let mvcc_started = Instant::now();
        let result = validation::validate_block(self.ledger.as_ref(), checked)?;
        t.mvcc = mvcc_started.elapsed();
        let codes = result.codes.clone();
        let update = BlockUpdate {
            hash: block::block_hash(&b),
            number: header.number,
            timestamp_ms: header.timestamp_ms,
            block: CommittedBlock {
                block: Some(b),
                validation_codes: codes.iter().map(|c| *c as i32).collect(),
            },
            writes: result.writes,
            txs: result.txs,
        };
        let written = self.ledger.commit_timed(&update)?;
        t.write_batch = written.batch;
        t.write_sync = written.write;
        self.definitions.apply(&update.writes);
        self.height.send_replace(header.number + 1);
        crate::operations::metrics::block_committed(
            &rules.channel_id,
            header.number + 1,
            codes.iter().map(|c| c.as_str_name()),
            started.elapsed(),
        );
        let valid = codes.iter().filter(|c| **c == Code::Valid).count();
        tracing::info!(
            block = header.number,
            txs = codes.len(),
            valid,
            "committed block"
        );
        Ok((codes, t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::BlockError;
    use crate::identity::ca::{CertAuthority, KeyKind};
    use crate::identity::Role;
    use crate::testkit::{self, block_after, endorsed_envelope, rwset, version, Consortium};
    use consort_proto::TxValidationCode as Code;
    use prost::Message;

    const CH: &str = "testchannel";

    struct Fixture {
        c: Consortium,
        genesis: Block,
        committer: Committer,
        /// Last, so the ledger closes before its directory goes.
        _dir: tempfile::TempDir,
    }

    fn fixture() -> Fixture {
        let c = Consortium::new(3);
        let genesis = block::genesis(&c.config);
        let (dir, ledger) = testkit::temp_ledger();
        let committer = Committer::new(ledger, c.rules(), &genesis).unwrap();
        Fixture {
            c,
            genesis,
            committer,
            _dir: dir,
        }
    }

    /// A transaction by org1's client writing `key`, endorsed by org1 and org2.
    fn tx(
        c: &Consortium,
        reads: &[(&str, Option<consort_proto::Version>)],
        key: &str,
    ) -> (Vec<u8>, String) {
        endorsed_envelope(
            &c.orgs[0].client,
            CH,
            rwset("token", reads, &[(key, Some("v"))]),
            &[&c.orgs[0].peer, &c.orgs[1].peer],
        )
    }

    #[test]
    fn commits_genesis_on_a_new_ledger_and_checks_it_on_reopen() {
        let c = Consortium::new(1);
        let genesis = block::genesis(&c.config);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger");
        {
            let ledger = Arc::new(Ledger::open(&path).unwrap());
            let committer = Committer::new(ledger.clone(), c.rules(), &genesis).unwrap();
            assert_eq!(ledger.height(), 1);
            assert_eq!(*committer.height_watch().borrow(), 1);
            assert_eq!(
                ledger.last_hash().unwrap(),
                Some(block::block_hash(&genesis))
            );
            let stored = ledger.block(0).unwrap().unwrap();
            assert_eq!(stored.block.as_ref(), Some(&genesis));
            assert!(stored.validation_codes.is_empty());
        }
        {
            let ledger = Arc::new(Ledger::open(&path).unwrap());
            Committer::new(ledger.clone(), c.rules(), &genesis).unwrap();
            assert_eq!(
                ledger.height(),
                1,
                "the genesis block is not committed twice"
            );
        }
        let mut other = c.config.clone();
        other.max_message_bytes += 1;
        let ledger = Arc::new(Ledger::open(&path).unwrap());
        match Committer::new(ledger.clone(), c.rules(), &block::genesis(&other)) {
            Err(CommitError::GenesisMismatch) => {}
            other => panic!("expected GenesisMismatch, got {other:?}"),
        }
        assert_eq!(ledger.height(), 1);
    }

    #[test]
    fn refuses_blocks_that_do_not_verify() {
        let f = fixture();
        let c = &f.c;
        let orderer = &*c.orgs[0].orderer;
        let data = vec![tx(c, &[], "a").0];
        let refused = |b: Block| match f.committer.commit(b) {
            Err(CommitError::Block(e)) => e,
            other => panic!("expected a block error, got {other:?}"),
        };

        assert_eq!(
            refused(block_after(CH, 2, &f.genesis, data.clone(), Some(orderer))),
            BlockError::WrongNumber {
                expected: 1,
                got: 2
            }
        );
        let mut unlinked = block::build(CH, 1, &[7; 32], 0, data.clone());
        block::sign(&mut unlinked, orderer).unwrap();
        assert_eq!(refused(unlinked), BlockError::BrokenChain(1));
        assert!(matches!(
            refused(block_after(
                "otherchannel",
                1,
                &f.genesis,
                data.clone(),
                Some(orderer)
            )),
            BlockError::WrongChannel { number: 1, .. }
        ));
        let mut swapped = block_after(CH, 1, &f.genesis, data.clone(), Some(orderer));
        swapped.data = vec![tx(c, &[], "b").0];
        assert_eq!(refused(swapped), BlockError::DataHashMismatch(1));
        assert_eq!(
            refused(block_after(CH, 1, &f.genesis, data.clone(), None)),
            BlockError::Unsigned(1)
        );
        for not_orderer in [&*c.orgs[1].peer, &*c.orgs[2].client] {
            match refused(block_after(
                CH,
                1,
                &f.genesis,
                data.clone(),
                Some(not_orderer),
            )) {
                BlockError::BadSignature { number: 1, reason } => {
                    assert!(reason.contains("not an orderer"), "{reason}")
                }
                other => panic!("expected BadSignature, got {other:?}"),
            }
        }
        let outside_ca = CertAuthority::generate("Org9MSP", KeyKind::Ed25519).unwrap();
        let outsider = testkit::identity(
            &outside_ca,
            "orderer0.org9",
            Role::Orderer,
            KeyKind::Ed25519,
        );
        match refused(block_after(
            CH,
            1,
            &f.genesis,
            data.clone(),
            Some(&outsider),
        )) {
            BlockError::BadSignature { number: 1, reason } => {
                assert!(reason.contains("Org9MSP"), "{reason}")
            }
            other => panic!("expected BadSignature, got {other:?}"),
        }
        // An orderer-role certificate from a member org's CA that the channel
        // config does not list among its orderers.
        let rogue = testkit::identity(
            &c.orgs[0].ca,
            "orderer9.org1",
            Role::Orderer,
            KeyKind::Ed25519,
        );
        match refused(block_after(CH, 1, &f.genesis, data.clone(), Some(&rogue))) {
            BlockError::BadSignature { number: 1, reason } => {
                assert!(
                    reason.contains("not one of the channel's orderers"),
                    "{reason}"
                )
            }
            other => panic!("expected BadSignature, got {other:?}"),
        }
        // A configured orderer's certificate presented as another org's.
        let mut misattributed = block_after(CH, 1, &f.genesis, data.clone(), Some(orderer));
        if let Some(sig) = misattributed.signature.as_mut() {
            sig.signer = consort_proto::SerializedIdentity {
                msp_id: "Org2MSP".into(),
                cert_der: orderer.cert_der().to_vec(),
            }
            .encode_to_vec();
        }
        assert!(matches!(
            refused(misattributed),
            BlockError::BadSignature { number: 1, .. }
        ));
        // A member orderer's signature over another header.
        let mut forged = block_after(CH, 1, &f.genesis, data.clone(), None);
        let other = block_after(CH, 1, &f.genesis, vec![], Some(orderer));
        forged.signature = other.signature;
        assert!(matches!(
            refused(forged),
            BlockError::BadSignature { number: 1, .. }
        ));

        assert_eq!(f.committer.ledger().height(), 1);
        assert!(f.committer.ledger().block(1).unwrap().is_none());
        // The good block still commits after all those refusals.
        let good = block_after(CH, 1, &f.genesis, data, Some(orderer));
        assert_eq!(f.committer.commit(good).unwrap(), vec![Code::Valid]);
    }

    #[test]
    fn commits_a_good_block_returns_codes_and_advances_the_height_watch() {
        let f = fixture();
        let c = &f.c;
        let mut height = f.committer.height_watch();
        assert_eq!(*height.borrow_and_update(), 1);

        let (valid, valid_id) = tx(c, &[("a", None)], "a");
        let (one_org, one_org_id) = endorsed_envelope(
            &c.orgs[2].client,
            CH,
            rwset("token", &[], &[("x", Some("1"))]),
            &[&c.orgs[2].peer],
        );
        let b1 = block_after(
            CH,
            1,
            &f.genesis,
            vec![valid.clone(), one_org, valid.clone(), vec![]],
            Some(&c.orgs[1].orderer),
        );
        let codes = f.committer.commit(b1.clone()).unwrap();
        assert_eq!(
            codes,
            vec![
                Code::Valid,
                Code::EndorsementPolicyFailure,
                Code::DuplicateTxid,
                Code::NilEnvelope
            ]
        );
        assert!(height.has_changed().unwrap());
        assert_eq!(*height.borrow_and_update(), 2);

        let ledger = f.committer.ledger();
        assert_eq!(ledger.height(), 2);
        assert_eq!(ledger.last_hash().unwrap(), Some(block::block_hash(&b1)));
        let stored = ledger.block(1).unwrap().unwrap();
        assert_eq!(
            stored.validation_codes,
            codes.iter().map(|c| *c as i32).collect::<Vec<_>>()
        );
        assert_eq!(
            ledger.get_version("token", "a").unwrap(),
            Some(version(1, 0))
        );
        assert_eq!(ledger.get_state("token", "x").unwrap(), None);
        assert_eq!(ledger.tx(&valid_id).unwrap().unwrap().tx_num, 0);
        assert_eq!(
            ledger.tx(&one_org_id).unwrap().unwrap().code,
            Code::EndorsementPolicyFailure as i32
        );

        // Block 2: a stale read conflicts, a fresh one (signed by the P-256 org's orderer) is valid.
        let (stale, _) = tx(c, &[("a", None)], "a");
        let (fresh, _) = tx(c, &[("a", Some(version(1, 0)))], "a");
        let b2 = block_after(CH, 2, &b1, vec![stale, fresh], Some(&c.orgs[2].orderer));
        assert_eq!(
            f.committer.commit(b2).unwrap(),
            vec![Code::MvccReadConflict, Code::Valid]
        );
        assert_eq!(*height.borrow_and_update(), 3);
        assert_eq!(
            ledger.get_version("token", "a").unwrap(),
            Some(version(2, 1))
        );
    }

    #[test]
    fn a_committed_definition_applies_from_the_next_block() {
        use crate::lifecycle::{definition, DefinitionSet, NAMESPACE};
        let c = Consortium::new(3);
        let genesis = block::genesis(&c.config);
        let (_dir, ledger) = testkit::temp_ledger();
        let defs =
            crate::lifecycle::Definitions::new(DefinitionSet::new(c.rules(), &c.config.chaincodes));
        let committer = Committer::new(ledger, defs.clone(), &genesis).unwrap();
        let only_org3 = consort_proto::ChaincodeDefinition {
            name: "token".into(),
            version: "2".into(),
            endorsement_policy: "OR('Org3MSP.peer')".into(),
            sequence: 2,
            external: None,
        };
        let value = definition::encode(&only_org3);
        let mut upgrade = rwset(NAMESPACE, &[], &[]);
        upgrade.writes.push(consort_proto::KvWrite {
            key: "definition/token".into(),
            value,
            is_delete: false,
        });
        let (upgrade, _) = endorsed_envelope(
            &c.orgs[0].client,
            CH,
            upgrade,
            &[&c.orgs[0].peer, &c.orgs[1].peer],
        );
        // In the same block, the old policy (2 of 3) still holds.
        let b1 = block_after(
            CH,
            1,
            &genesis,
            vec![upgrade, tx(&c, &[], "a").0],
            Some(&c.orgs[0].orderer),
        );
        assert_eq!(
            committer.commit(b1.clone()).unwrap(),
            vec![Code::Valid, Code::Valid]
        );
        assert_eq!(defs.current().definition("token"), Some(&only_org3));
        // From the next block on, only Org3's peer can endorse token.
        let (org3, _) = endorsed_envelope(
            &c.orgs[0].client,
            CH,
            rwset("token", &[], &[("b", Some("v"))]),
            &[&c.orgs[2].peer],
        );
        let b2 = block_after(
            CH,
            2,
            &b1,
            vec![tx(&c, &[], "c").0, org3],
            Some(&c.orgs[0].orderer),
        );
        assert_eq!(
            committer.commit(b2).unwrap(),
            vec![Code::EndorsementPolicyFailure, Code::Valid]
        );
        // An offline check replays the upgrade and agrees with every code.
        let v = crate::ledger::verify::verify(committer.ledger(), &genesis, &c.rules()).unwrap();
        assert_eq!((v.height, v.valid), (3, 3));
        // A restarted peer loads the same definitions from its ledger.
        let reloaded =
            crate::node::definitions_at(&c.config, c.msp.clone(), committer.ledger()).unwrap();
        assert_eq!(reloaded.current().definition("token"), Some(&only_org3));
        assert_eq!(
            reloaded.current().rules().policies["token"].to_string(),
            "OR('Org3MSP.peer')"
        );
    }
}
