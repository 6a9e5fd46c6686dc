use super::*;
use crate::testkit::{endorsed_envelope, Consortium};
use consort_proto::{KvRead, KvWrite, TxRwSet, Version};
use std::collections::HashMap;

/// An in-memory state view for phase-2 tests.
#[derive(Default)]
struct Mem {
    versions: HashMap<String, Version>,
    txids: HashSet<String>,
}

impl StateView for Mem {
    type Error = std::convert::Infallible;
    fn version(&self, _ns: &str, key: &str) -> Result<Option<Version>, Self::Error> {
        Ok(self.versions.get(key).copied())
    }
    fn tx_committed(&self, tx_id: &str) -> Result<bool, Self::Error> {
        Ok(self.txids.contains(tx_id))
    }
}

fn v(b: u64, t: u64) -> Option<Version> {
    Some(Version {
        block_num: b,
        tx_num: t,
    })
}

fn rw(reads: &[(&str, Option<Version>)], writes: &[(&str, &str)]) -> TxRwSet {
    TxRwSet {
        namespace: "token".into(),
        reads: reads
            .iter()
            .map(|(k, ver)| KvRead {
                key: k.to_string(),
                version: *ver,
            })
            .collect(),
        writes: writes
            .iter()
            .map(|(k, val)| KvWrite {
                key: k.to_string(),
                is_delete: false,
                value: val.as_bytes().to_vec(),
            })
            .collect(),
    }
}

fn codes_of(c: &Consortium, state: &Mem, envs: &[Vec<u8>]) -> (Vec<Code>, BlockValidation) {
    let rules = c.rules();
    let checked = envs.iter().map(|e| check_tx(&rules, e)).collect();
    let r = validate_block(state, checked).unwrap();
    (r.codes.clone(), r)
}

#[test]
fn two_orgs_endorsement_is_valid_and_writes_apply() {
    let c = Consortium::new(3);
    let (env, id) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[("a", None)], &[("a", "1")]),
        &[&c.orgs[0].peer, &c.orgs[2].peer],
    );
    let (codes, r) = codes_of(&c, &Mem::default(), &[env]);
    assert_eq!(codes, vec![Code::Valid]);
    assert_eq!(r.writes.len(), 1);
    assert_eq!(r.writes[0].value.as_deref(), Some(&b"1"[..]));
    assert_eq!(r.txs, vec![(id, 0, Code::Valid)]);
}

#[test]
fn later_reader_of_same_key_in_block_is_mvcc_conflict_and_writes_nothing() {
    let c = Consortium::new(3);
    let mut state = Mem::default();
    state.versions.insert(
        "bal".into(),
        Version {
            block_num: 1,
            tx_num: 0,
        },
    );
    let e = [&*c.orgs[0].peer, &*c.orgs[1].peer];
    let (t1, _) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[("bal", v(1, 0))], &[("bal", "9")]),
        &e,
    );
    let (t2, _) = endorsed_envelope(
        &c.orgs[1].client,
        "testchannel",
        rw(&[("bal", v(1, 0))], &[("bal", "8")]),
        &e,
    );
    let (codes, r) = codes_of(&c, &state, &[t1, t2]);
    assert_eq!(codes, vec![Code::Valid, Code::MvccReadConflict]);
    assert_eq!(
        r.writes.len(),
        1,
        "the conflicting transaction writes nothing"
    );
    // A stale read against committed state is a conflict too.
    let (t3, _) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[("bal", v(0, 5))], &[("bal", "7")]),
        &e,
    );
    assert_eq!(codes_of(&c, &state, &[t3]).0, vec![Code::MvccReadConflict]);
}

#[test]
fn one_org_where_two_are_needed_fails_the_policy() {
    let c = Consortium::new(3);
    let (env, _) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[], &[("k", "v")]),
        &[&c.orgs[0].peer],
    );
    assert_eq!(
        codes_of(&c, &Mem::default(), &[env]).0,
        vec![Code::EndorsementPolicyFailure]
    );
    // The same endorser twice still counts once.
    let (env, _) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[], &[("k", "v")]),
        &[&c.orgs[0].peer, &c.orgs[0].peer],
    );
    assert_eq!(
        codes_of(&c, &Mem::default(), &[env]).0,
        vec![Code::EndorsementPolicyFailure]
    );
    // A client's signature is not a peer's.
    let (env, _) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[], &[("k", "v")]),
        &[&c.orgs[0].peer, &c.orgs[1].client],
    );
    assert_eq!(
        codes_of(&c, &Mem::default(), &[env]).0,
        vec![Code::EndorsementPolicyFailure]
    );
}

#[test]
fn duplicate_txid_in_block_and_on_ledger() {
    let c = Consortium::new(3);
    let e = [&*c.orgs[0].peer, &*c.orgs[1].peer];
    let (t, id) = endorsed_envelope(&c.orgs[0].client, "testchannel", rw(&[], &[("k", "v")]), &e);
    let (codes, r) = codes_of(&c, &Mem::default(), &[t.clone(), t.clone()]);
    assert_eq!(codes, vec![Code::Valid, Code::DuplicateTxid]);
    assert_eq!(r.txs.len(), 1);
    let mut state = Mem::default();
    state.txids.insert(id);
    assert_eq!(codes_of(&c, &state, &[t]).0, vec![Code::DuplicateTxid]);
}

#[test]
fn tampering_is_caught() {
    let c = Consortium::new(3);
    let e = [&*c.orgs[0].peer, &*c.orgs[1].peer];
    let (t, _) = endorsed_envelope(&c.orgs[0].client, "testchannel", rw(&[], &[("k", "v")]), &e);
    // Flip a byte of the creator's signature.
    let mut env = Envelope::decode(t.as_slice()).unwrap();
    env.signature[3] ^= 1;
    assert_eq!(
        codes_of(&c, &Mem::default(), &[env.encode_to_vec()]).0,
        vec![Code::BadCreatorSignature]
    );
    // Change the write set after endorsement: endorsements no longer verify.
    let mut env = Envelope::decode(t.as_slice()).unwrap();
    let mut tx = Transaction::decode(env.payload.as_slice()).unwrap();
    let mut prp = ProposalResponsePayload::decode(tx.response_payload.as_slice()).unwrap();
    prp.results = rw(&[], &[("k", "stolen")]).encode_to_vec();
    tx.response_payload = prp.encode_to_vec();
    env.payload = tx.encode_to_vec();
    env.signature = c.orgs[0].client.sign(&env.payload).unwrap();
    assert_eq!(
        codes_of(&c, &Mem::default(), &[env.encode_to_vec()]).0,
        vec![Code::EndorsementPolicyFailure]
    );
    // Garbage and emptiness.
    assert_eq!(
        codes_of(&c, &Mem::default(), &[vec![]]).0,
        vec![Code::NilEnvelope]
    );
    assert_eq!(
        codes_of(&c, &Mem::default(), &[vec![0xff, 0x01, 0x02]]).0,
        vec![Code::BadPayload]
    );
}

#[test]
fn unknown_org_creator_and_wrong_channel() {
    let c = Consortium::new(3);
    let outsider = Consortium::new(1);
    let e = [&*c.orgs[0].peer, &*c.orgs[1].peer];
    let (t, _) = endorsed_envelope(
        &outsider.orgs[0].client,
        "testchannel",
        rw(&[], &[("k", "v")]),
        &e,
    );
    assert_eq!(
        codes_of(&c, &Mem::default(), &[t]).0,
        vec![Code::BadCreatorSignature]
    );
    let (t, _) = endorsed_envelope(
        &c.orgs[0].client,
        "otherchannel",
        rw(&[], &[("k", "v")]),
        &e,
    );
    assert_eq!(
        codes_of(&c, &Mem::default(), &[t]).0,
        vec![Code::TargetChainNotFound]
    );
}
