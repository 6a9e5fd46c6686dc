//! Offline verification of a stopped peer's ledger: the hash chain, every
//! block's orderer signature, the validation codes against a re-validation,
//! and the world state rebuilt from the blocks against the stored state.

use super::{keys, Ledger, LedgerError};
use crate::block::{self, BlockError};
use crate::lifecycle::DefinitionSet;
use crate::validation::{self, ChannelRules, StateView};
use consort_proto::{TxValidationCode, Version};
use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;

/// The first problem found.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A block is missing below the ledger height.
    #[error("block {0} is missing")]
    Missing(u64),
    /// A block does not verify.
    #[error("block {number} does not verify: {source}")]
    Block {
        /// The block.
        number: u64,
        /// Why.
        source: BlockError,
    },
    /// The stored validation codes differ from a re-validation.
    #[error("block {number}: stored validation codes differ from re-validation (tx {tx})")]
    Codes {
        /// The block.
        number: u64,
        /// The first differing transaction.
        tx: usize,
    },
    /// The genesis block differs.
    #[error("block 0 differs from the given genesis block")]
    Genesis,
    /// The stored state differs from the state rebuilt from the blocks.
    #[error("world state differs from the state rebuilt from blocks 0..{height}: {detail}")]
    State {
        /// Ledger height.
        height: u64,
        /// First differing key.
        detail: String,
    },
}

/// A summary of a ledger that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Number of blocks.
    pub height: u64,
    /// Number of transactions.
    pub transactions: u64,
    /// Number of valid transactions.
    pub valid: u64,
    /// State entries.
    pub keys: usize,
}

/// The state as rebuilt during replay.
#[derive(Default)]
struct Replay {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    txids: HashSet<String>,
}

impl StateView for Replay {
    type Error = Infallible;
    fn version(&self, namespace: &str, key: &str) -> Result<Option<Version>, Infallible> {
        Ok(self
            .state
            .get(&keys::state_key(namespace, key))
            .and_then(|raw| keys::decode_state_value(raw))
            .map(|(v, _)| v))
    }
    fn tx_committed(&self, tx_id: &str) -> Result<bool, Infallible> {
        Ok(self.txids.contains(tx_id))
    }
    fn range_versions(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, Infallible> {
        let from = keys::state_key(namespace, start);
        Ok(self
            .state
            .range(from..)
            .filter_map(|(raw_key, raw_value)| {
                let (ns, key) = keys::split_state_key(raw_key)?;
                let (version, _) = keys::decode_state_value(raw_value)?;
                Some((ns, key, version))
            })
            .take_while(|(ns, key, _)| *ns == namespace && (end.is_empty() || *key < end))
            .take(limit)
            .map(|(_, key, version)| (key.to_owned(), version))
            .collect())
    }
}

/// Verifies `ledger` end to end against `genesis` and `rules` (the genesis
/// block's policies). Chaincode definitions committed in `_lifecycle` are
/// replayed as they come: each block is validated against the definitions
/// in force after the block before it.
pub fn verify(
    ledger: &Ledger,
    genesis: &consort_proto::Block,
    rules: &ChannelRules,
) -> Result<Verified, VerifyError> {
    let height = ledger.height();
    let mut in_force = DefinitionSet::new(rules.clone(), &[]);
    let mut replay = Replay::default();
    let mut prev = [0u8; 32];
    let mut summary = Verified {
        height,
        transactions: 0,
        valid: 0,
        keys: 0,
    };
    for n in 0..height {
        let stored = ledger.block(n)?.ok_or(VerifyError::Missing(n))?;
        let b = stored.block.ok_or(VerifyError::Missing(n))?;
        if n == 0 {
            if &b != genesis {
                return Err(VerifyError::Genesis);
            }
            prev = block::block_hash(&b);
            continue;
        }
        let bad = |source| VerifyError::Block { number: n, source };
        let rules = in_force.rules();
        block::check_link(&b, &rules.channel_id, n, &prev).map_err(bad)?;
        block::check_signature(&b, n, &rules.msp).map_err(bad)?;
        let checked = b
            .data
            .iter()
            .map(|d| validation::check_tx(rules, d))
            .collect();
        let result = match validation::validate_block(&replay, checked) {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let stored_codes = &stored.validation_codes;
        for (i, code) in result.codes.iter().enumerate() {
            if stored_codes.get(i).copied() != Some(*code as i32) {
                return Err(VerifyError::Codes { number: n, tx: i });
            }
        }
        if stored_codes.len() != result.codes.len() {
            return Err(VerifyError::Codes {
                number: n,
                tx: result.codes.len(),
            });
        }
        summary.transactions += result.codes.len() as u64;
        summary.valid += result
            .codes
            .iter()
            .filter(|c| **c == TxValidationCode::Valid)
            .count() as u64;
        in_force.apply(&result.writes);
        for w in result.writes {
            let k = keys::state_key(&w.namespace, &w.key);
            match w.value {
                Some(v) => {
                    let version = Version {
                        block_num: n,
                        tx_num: w.tx_num,
                    };
                    replay
                        .state
                        .insert(k, keys::encode_state_value(&version, &v));
                }
                None => {
                    replay.state.remove(&k);
                }
            }
        }
        for (id, _, _) in result.txs {
            replay.txids.insert(id);
        }
        prev = block::block_hash(&b);
    }
    let stored: Vec<(Vec<u8>, Vec<u8>)> = ledger.raw_state()?;
    let rebuilt: Vec<(Vec<u8>, Vec<u8>)> = replay.state.into_iter().collect();
    if stored != rebuilt {
        let detail = stored
            .iter()
            .zip(&rebuilt)
            .find(|(a, b)| a != b)
            .map(|(a, _)| String::from_utf8_lossy(&a.0).replace('\0', "/"))
            .unwrap_or_else(|| format!("{} stored keys, {} rebuilt", stored.len(), rebuilt.len()));
        return Err(VerifyError::State { height, detail });
    }
    summary.keys = stored.len();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{BlockUpdate, StateWrite};
    use crate::peer::{CommitError, Committer};
    use crate::testkit::{self, block_after, endorsed_envelope, rwset, version, Consortium};
    use consort_proto::{Block, CommittedBlock, TxValidationCode as Code};
    use std::sync::Arc;

    const CH: &str = "testchannel";

    /// A small chain: genesis, then three blocks mixing valid and invalid
    /// transactions, writes and a delete, signed by orderers of two orgs.
    fn chain(c: &Consortium) -> (Block, Vec<Block>) {
        let genesis = block::genesis(&c.config);
        let peers = [&*c.orgs[0].peer, &*c.orgs[1].peer];
        let (a, _) = endorsed_envelope(
            &c.orgs[0].client,
            CH,
            rwset(
                "token",
                &[("a", None)],
                &[("a", Some("1")), ("b", Some("2"))],
            ),
            &peers,
        );
        let (one_org, _) = endorsed_envelope(
            &c.orgs[1].client,
            CH,
            rwset("token", &[], &[("z", Some("9"))]),
            &[&c.orgs[1].peer],
        );
        let b1 = block_after(
            CH,
            1,
            &genesis,
            vec![a.clone(), one_org],
            Some(&c.orgs[0].orderer),
        );
        let (del_a, _) = endorsed_envelope(
            &c.orgs[1].client,
            CH,
            rwset(
                "token",
                &[("a", Some(version(1, 0)))],
                &[("a", None), ("c", Some("3"))],
            ),
            &peers,
        );
        let (stale, _) = endorsed_envelope(
            &c.orgs[0].client,
            CH,
            rwset("token", &[("b", None)], &[("b", Some("0"))]),
            &peers,
        );
        let b2 = block_after(CH, 2, &b1, vec![del_a, stale, a], Some(&c.orgs[2].orderer));
        let (p256, _) = endorsed_envelope(
            &c.orgs[2].client,
            CH,
            rwset("token", &[("b", Some(version(1, 0)))], &[("b", Some("5"))]),
            &[&c.orgs[2].peer, &c.orgs[0].peer],
        );
        let b3 = block_after(CH, 3, &b2, vec![p256], Some(&c.orgs[0].orderer));
        (genesis, vec![b1, b2, b3])
    }

    /// The update the committer would write for `b`, validated against `ledger`.
    fn update_for(ledger: &Ledger, rules: &ChannelRules, b: &Block) -> BlockUpdate {
        let header = block::decode_header(b).unwrap();
        let checked = b
            .data
            .iter()
            .map(|d| validation::check_tx(rules, d))
            .collect();
        let result = validation::validate_block(ledger, checked).unwrap();
        BlockUpdate {
            block: CommittedBlock {
                block: Some(b.clone()),
                validation_codes: result.codes.iter().map(|c| *c as i32).collect(),
            },
            number: header.number,
            hash: block::block_hash(b),
            timestamp_ms: header.timestamp_ms,
            writes: result.writes,
            txs: result.txs,
        }
    }

    /// A ledger holding `genesis` and `blocks` written without the
    /// committer's checks, each update passed through `edit` first.
    fn raw_ledger(
        c: &Consortium,
        genesis: &Block,
        blocks: &[Block],
        mut edit: impl FnMut(&mut BlockUpdate),
    ) -> (tempfile::TempDir, Arc<Ledger>) {
        let (dir, ledger) = testkit::temp_ledger();
        let rules = c.rules();
        Committer::new(ledger.clone(), rules.clone(), genesis).unwrap();
        for b in blocks {
            let mut u = update_for(&ledger, &rules, b);
            edit(&mut u);
            ledger.commit(&u).unwrap();
        }
        (dir, ledger)
    }

    /// Genesis, a block writing `a` and `c`, then a block where a range scan
    /// over `[a, d)` is valid, `b` is inserted, and the same scan is a phantom.
    fn scanning_chain(c: &Consortium) -> (Block, Vec<Block>) {
        let genesis = block::genesis(&c.config);
        let peers = [&*c.orgs[0].peer, &*c.orgs[1].peer];
        let envelope = |rw| endorsed_envelope(&c.orgs[0].client, CH, rw, &peers).0;
        let seed = envelope(rwset("token", &[], &[("a", Some("1")), ("c", Some("3"))]));
        let b1 = block_after(CH, 1, &genesis, vec![seed], Some(&c.orgs[0].orderer));
        let scan = || {
            let mut rw = rwset("token", &[], &[("x", Some("seen"))]);
            rw.range_queries = vec![consort_proto::RangeQueryInfo {
                start_key: "a".into(),
                end_key: "d".into(),
                itr_exhausted: true,
                reads: ["a", "c"]
                    .iter()
                    .map(|k| consort_proto::KvRead {
                        key: k.to_string(),
                        version: Some(version(1, 0)),
                    })
                    .collect(),
            }];
            envelope(rw)
        };
        let insert = envelope(rwset("token", &[], &[("b", Some("2"))]));
        let b2 = block_after(
            CH,
            2,
            &b1,
            vec![scan(), insert, scan()],
            Some(&c.orgs[1].orderer),
        );
        (genesis, vec![b1, b2])
    }

    #[test]
    fn a_chain_with_range_scans_verifies_and_phantoms_are_rechecked() {
        let c = Consortium::new(3);
        let (genesis, blocks) = scanning_chain(&c);
        let (_dir, ledger) = testkit::temp_ledger();
        let committer = Committer::new(ledger.clone(), c.rules(), &genesis).unwrap();
        let codes: Vec<Vec<Code>> = blocks
            .iter()
            .map(|b| committer.commit(b.clone()).unwrap())
            .collect();
        assert_eq!(
            codes,
            vec![
                vec![Code::Valid],
                vec![Code::Valid, Code::Valid, Code::PhantomReadConflict],
            ]
        );
        let verified = verify(&ledger, &genesis, &c.rules()).unwrap();
        assert_eq!((verified.height, verified.valid, verified.keys), (3, 3, 4));
        drop(committer);
        // A phantom stored as valid is caught by the re-validation.
        let (_dir2, forged) = raw_ledger(&c, &genesis, &blocks, |u| {
            if u.number == 2 {
                u.block.validation_codes[2] = Code::Valid as i32;
            }
        });
        assert!(matches!(
            verify(&forged, &genesis, &c.rules()),
            Err(VerifyError::Codes { number: 2, tx: 2 })
        ));
    }

    #[test]
    fn a_committed_chain_verifies() {
        let c = Consortium::new(3);
        let (genesis, blocks) = chain(&c);
        let (_dir, ledger) = testkit::temp_ledger();
        let committer = Committer::new(ledger.clone(), c.rules(), &genesis).unwrap();
        let mut codes = Vec::new();
        for b in &blocks {
            codes.push(committer.commit(b.clone()).unwrap());
        }
        assert_eq!(
            codes,
            vec![
                vec![Code::Valid, Code::EndorsementPolicyFailure],
                vec![Code::Valid, Code::MvccReadConflict, Code::DuplicateTxid],
                vec![Code::Valid],
            ]
        );
        assert_eq!(
            verify(&ledger, &genesis, &c.rules()).unwrap(),
            Verified {
                height: 4,
                transactions: 6,
                valid: 3,
                keys: 2,
            }
        );
        // A ledger with only the genesis block verifies too.
        let (_d, fresh) = testkit::temp_ledger();
        Committer::new(fresh.clone(), c.rules(), &genesis).unwrap();
        assert_eq!(verify(&fresh, &genesis, &c.rules()).unwrap().height, 1);
    }

    #[test]
    fn an_injected_state_write_is_named() {
        let c = Consortium::new(3);
        let (genesis, blocks) = chain(&c);
        let (_d, honest) = raw_ledger(&c, &genesis, &blocks, |_| {});
        verify(&honest, &genesis, &c.rules()).unwrap();

        let (_d, tampered) = raw_ledger(&c, &genesis, &blocks, |u| {
            if u.number == 2 {
                u.writes.push(StateWrite {
                    namespace: "token".into(),
                    key: "aaa".into(),
                    value: Some(b"free money".to_vec()),
                    tx_num: 1,
                    tx_id: "injected".into(),
                });
            }
        });
        match verify(&tampered, &genesis, &c.rules()) {
            Err(VerifyError::State { height: 4, detail }) => {
                assert!(detail.contains("token/aaa"), "{detail}")
            }
            other => panic!("expected a State error, got {other:?}"),
        }

        let (_d, changed) = raw_ledger(&c, &genesis, &blocks, |u| {
            for w in &mut u.writes {
                if w.key == "c" {
                    w.value = Some(b"4".to_vec());
                }
            }
        });
        match verify(&changed, &genesis, &c.rules()) {
            Err(VerifyError::State { detail, .. }) => {
                assert!(detail.contains("token/c"), "{detail}")
            }
            other => panic!("expected a State error, got {other:?}"),
        }
    }

    #[test]
    fn altered_validation_codes_are_found() {
        let c = Consortium::new(3);
        let (genesis, blocks) = chain(&c);
        let (_d, ledger) = raw_ledger(&c, &genesis, &blocks, |u| {
            if u.number == 2 {
                u.block.validation_codes[1] = Code::Valid as i32;
            }
        });
        match verify(&ledger, &genesis, &c.rules()) {
            Err(VerifyError::Codes { number: 2, tx: 1 }) => {}
            other => panic!("expected a Codes error, got {other:?}"),
        }
        let (_d, short) = raw_ledger(&c, &genesis, &blocks, |u| {
            if u.number == 3 {
                u.block.validation_codes.clear();
            }
        });
        assert!(matches!(
            verify(&short, &genesis, &c.rules()),
            Err(VerifyError::Codes { number: 3, .. })
        ));
    }

    #[test]
    fn another_genesis_is_refused() {
        let c = Consortium::new(3);
        let (genesis, blocks) = chain(&c);
        let (_d, ledger) = raw_ledger(&c, &genesis, &blocks, |_| {});
        let mut other = c.config.clone();
        other.channel_id = "otherchannel".into();
        assert!(matches!(
            verify(&ledger, &block::genesis(&other), &c.rules()),
            Err(VerifyError::Genesis)
        ));
    }

    #[test]
    fn blocks_not_signed_by_a_configured_orderer_are_refused_by_committer_and_verify() {
        let c = Consortium::new(3);
        let (genesis, blocks) = chain(&c);
        // An orderer-role certificate issued by a member org's own CA, but
        // not one of the channel's configured orderers.
        let rogue = testkit::identity(
            &c.orgs[1].ca,
            "orderer9.org2",
            crate::identity::Role::Orderer,
            crate::identity::ca::KeyKind::Ed25519,
        );
        for signer in [&*c.orgs[0].client, &*rogue] {
            let mut forged = blocks[0].clone();
            block::sign(&mut forged, signer).unwrap();

            let (_d, ledger) = testkit::temp_ledger();
            let committer = Committer::new(ledger.clone(), c.rules(), &genesis).unwrap();
            match committer.commit(forged.clone()) {
                Err(CommitError::Block(BlockError::BadSignature { number: 1, .. })) => {}
                other => panic!("expected BadSignature, got {other:?}"),
            }
            assert_eq!(ledger.height(), 1);

            // Written behind the committer's back, verify finds it.
            let (_d, raw) = raw_ledger(&c, &genesis, &[forged], |_| {});
            match verify(&raw, &genesis, &c.rules()) {
                Err(VerifyError::Block {
                    number: 1,
                    source: BlockError::BadSignature { .. },
                }) => {}
                other => panic!("expected a block signature error, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_broken_link_is_refused() {
        let c = Consortium::new(3);
        let (genesis, blocks) = chain(&c);
        // Block 2 rebuilt on a different block 1 hash, then written raw.
        let mut relinked = block::build(CH, 2, &[1; 32], 0, blocks[1].data.clone());
        block::sign(&mut relinked, &c.orgs[0].orderer).unwrap();
        let (_d, ledger) = raw_ledger(&c, &genesis, &[blocks[0].clone(), relinked], |_| {});
        assert!(matches!(
            verify(&ledger, &genesis, &c.rules()),
            Err(VerifyError::Block {
                number: 2,
                source: BlockError::BrokenChain(2)
            })
        ));
    }
}
