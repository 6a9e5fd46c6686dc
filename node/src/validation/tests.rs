use super::*;
use crate::testkit::{endorsed_envelope, Consortium};
use consort_proto::{Envelope, ProposalResponsePayload, Transaction};
use consort_proto::{KvRead, KvWrite, RangeQueryInfo, TxReadWriteSet, TxRwSet, Version};
use prost::Message;
use std::collections::HashMap;

/// An in-memory state view for phase-2 tests: `versions` of namespace
/// "token", `others` of any other namespace by (namespace, key).
#[derive(Default)]
struct Mem {
    versions: HashMap<String, Version>,
    others: HashMap<(String, String), Version>,
    txids: HashSet<String>,
}

impl StateView for Mem {
    type Error = std::convert::Infallible;
    fn version(&self, ns: &str, key: &str) -> Result<Option<Version>, Self::Error> {
        if ns != "token" {
            return Ok(self.others.get(&(ns.to_owned(), key.to_owned())).copied());
        }
        Ok(self.versions.get(key).copied())
    }
    fn tx_committed(&self, tx_id: &str) -> Result<bool, Self::Error> {
        Ok(self.txids.contains(tx_id))
    }
    fn range_versions(
        &self,
        ns: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, Self::Error> {
        let of_ns: HashMap<&String, &Version> = if ns == "token" {
            self.versions.iter().collect()
        } else {
            self.others
                .iter()
                .filter(|((n, _), _)| n == ns)
                .map(|((_, k), v)| (k, v))
                .collect()
        };
        let mut inside: Vec<(String, Version)> = of_ns
            .into_iter()
            .filter(|(k, _)| start <= k.as_str() && (end.is_empty() || k.as_str() < end))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        inside.sort_by(|x, y| x.0.cmp(&y.0));
        inside.truncate(limit);
        Ok(inside)
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
        range_queries: vec![],
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
fn a_policy_too_complex_to_evaluate_fails_with_the_budget_as_its_reason() {
    use crate::identity::Role;
    let c = Consortium::new(5);
    let mut rules = c.rules();
    let orgs = ["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"];
    let policy = crate::policy::testing::pairs_policy(11, &orgs, "Org5MSP");
    rules.policies.insert("token".into(), Arc::new(policy));
    // Five peers of each of the four orgs, and two of the fifth.
    let mut endorsers = Vec::new();
    for (i, org) in c.orgs.iter().enumerate() {
        endorsers.push(org.peer.clone());
        let more = if i < 4 { 4 } else { 1 };
        for n in 1..=more {
            endorsers.push(org.another(&format!("peer{n}.org{}", i + 1), Role::Peer));
        }
    }
    let all: Vec<&crate::identity::SigningIdentity> = endorsers.iter().map(|e| &**e).collect();
    let (env, id) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[], &[("k", "v")]),
        &all,
    );
    let Err(rejected) = check_tx(&rules, &env) else {
        panic!("a policy too complex to evaluate was taken as satisfied");
    };
    assert_eq!(rejected.code, Code::EndorsementPolicyFailure);
    assert_eq!(rejected.tx_id, Some(id));
    let reason = rejected.reason.unwrap_or_default();
    assert!(reason.contains("too complex to evaluate"), "{reason}");
    assert!(reason.contains("steps"), "{reason}");

    // A policy that is simply not satisfied has no reason beyond its code.
    let (env, _) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rw(&[], &[("k", "v")]),
        &all[..1],
    );
    let Err(rejected) = check_tx(&rules, &env) else {
        panic!("one peer cannot satisfy the policy");
    };
    assert_eq!(rejected.code, Code::EndorsementPolicyFailure);
    assert_eq!(rejected.reason, None);
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
    prp.results = TxReadWriteSet {
        ns_rwsets: vec![rw(&[], &[("k", "stolen")])],
    }
    .encode_to_vec();
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

/// A recorded scan of `[start, end)` that returned `reads`.
fn scan(
    start: &str,
    end: &str,
    exhausted: bool,
    reads: &[(&str, Option<Version>)],
) -> RangeQueryInfo {
    RangeQueryInfo {
        start_key: start.into(),
        end_key: end.into(),
        itr_exhausted: exhausted,
        reads: reads
            .iter()
            .map(|(k, ver)| KvRead {
                key: k.to_string(),
                version: *ver,
            })
            .collect(),
    }
}

/// A transaction that made `scans` and wrote `writes` (`None` deletes).
fn scanning(scans: Vec<RangeQueryInfo>, writes: &[(&str, Option<&str>)]) -> TxRwSet {
    let mut rw = crate::testkit::rwset("token", &[], writes);
    rw.range_queries = scans;
    rw
}

/// The committed state `a`, `c`, `e` (block 1, transactions 0, 1, 2).
fn ace() -> Mem {
    let mut state = Mem::default();
    for (i, k) in ["a", "c", "e"].iter().enumerate() {
        state.versions.insert(
            k.to_string(),
            Version {
                block_num: 1,
                tx_num: i as u64,
            },
        );
    }
    state
}

/// Codes for transactions with these read/write sets, in one block.
fn block_codes(c: &Consortium, state: &Mem, rwsets: Vec<TxRwSet>) -> Vec<Code> {
    let e = [&*c.orgs[0].peer, &*c.orgs[1].peer];
    let envs: Vec<Vec<u8>> = rwsets
        .into_iter()
        .map(|rw| endorsed_envelope(&c.orgs[0].client, "testchannel", rw, &e).0)
        .collect();
    codes_of(c, state, &envs).0
}

#[test]
fn insert_inside_a_scanned_range_by_an_earlier_tx_of_the_block_is_phantom() {
    let c = Consortium::new(3);
    let seen = || scan("a", "d", true, &[("a", v(1, 0)), ("c", v(1, 1))]);
    let codes = block_codes(
        &c,
        &ace(),
        vec![
            scanning(vec![seen()], &[]),
            scanning(vec![], &[("b", Some("new"))]),
            scanning(vec![seen()], &[("x", Some("1"))]),
            // [a, b) does not hold b.
            scanning(vec![scan("a", "b", true, &[("a", v(1, 0))])], &[]),
        ],
    );
    assert_eq!(
        codes,
        vec![
            Code::Valid,
            Code::Valid,
            Code::PhantomReadConflict,
            Code::Valid
        ]
    );
}

#[test]
fn insert_inside_a_scanned_range_by_a_committed_block_is_phantom() {
    let c = Consortium::new(3);
    let mut state = ace();
    state.versions.insert(
        "b".into(),
        Version {
            block_num: 2,
            tx_num: 0,
        },
    );
    let codes = block_codes(
        &c,
        &state,
        vec![
            scanning(
                vec![scan("a", "d", true, &[("a", v(1, 0)), ("c", v(1, 1))])],
                &[],
            ),
            // Outside the range: not a phantom.
            scanning(
                vec![scan("c", "", true, &[("c", v(1, 1)), ("e", v(1, 2))])],
                &[],
            ),
        ],
    );
    assert_eq!(codes, vec![Code::PhantomReadConflict, Code::Valid]);
}

#[test]
fn insert_outside_the_range_or_beyond_a_page_is_valid() {
    let c = Consortium::new(3);
    // A page of two from "a" that did not reach the end covers a..=c.
    let page = || scan("a", "", false, &[("a", v(1, 0)), ("c", v(1, 1))]);
    let codes = block_codes(
        &c,
        &ace(),
        vec![
            scanning(vec![], &[("d", Some("beyond")), ("f", Some("outside"))]),
            scanning(vec![page()], &[]),
            scanning(
                vec![scan("a", "d", true, &[("a", v(1, 0)), ("c", v(1, 1))])],
                &[],
            ),
            scanning(vec![], &[("b", Some("inside the page"))]),
            scanning(vec![page()], &[]),
        ],
    );
    assert_eq!(
        codes,
        vec![
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::PhantomReadConflict
        ]
    );
}

#[test]
fn delete_inside_a_scanned_range_is_phantom() {
    let c = Consortium::new(3);
    let seen = || scan("a", "d", true, &[("a", v(1, 0)), ("c", v(1, 1))]);
    let codes = block_codes(
        &c,
        &ace(),
        vec![
            scanning(vec![], &[("e", None), ("zz", None)]),
            scanning(vec![seen()], &[]),
            scanning(vec![], &[("c", None)]),
            scanning(vec![seen()], &[]),
        ],
    );
    assert_eq!(
        codes,
        vec![
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::PhantomReadConflict
        ]
    );
    // Deleted by a committed block.
    let mut state = ace();
    state.versions.remove("c");
    assert_eq!(
        block_codes(&c, &state, vec![scanning(vec![seen()], &[])]),
        vec![Code::PhantomReadConflict]
    );
}

#[test]
fn an_update_inside_a_scanned_range_is_phantom() {
    let c = Consortium::new(3);
    let seen = || scan("a", "d", true, &[("a", v(1, 0)), ("c", v(1, 1))]);
    let mut state = ace();
    state.versions.insert(
        "c".into(),
        Version {
            block_num: 3,
            tx_num: 0,
        },
    );
    assert_eq!(
        block_codes(&c, &state, vec![scanning(vec![seen()], &[])]),
        vec![Code::PhantomReadConflict]
    );
    let codes = block_codes(
        &c,
        &ace(),
        vec![
            scanning(vec![], &[("a", Some("changed"))]),
            scanning(vec![seen()], &[]),
        ],
    );
    assert_eq!(codes, vec![Code::Valid, Code::PhantomReadConflict]);
}

#[test]
fn a_transaction_own_writes_are_no_phantom_and_a_phantom_writes_nothing() {
    let c = Consortium::new(3);
    let seen = || scan("a", "d", true, &[("a", v(1, 0)), ("c", v(1, 1))]);
    let rules = c.rules();
    let e = [&*c.orgs[0].peer, &*c.orgs[1].peer];
    let envs: Vec<Vec<u8>> = [
        scanning(vec![seen()], &[("b", Some("mine"))]),
        scanning(vec![seen()], &[("z", Some("lost"))]),
    ]
    .into_iter()
    .map(|rw| endorsed_envelope(&c.orgs[0].client, "testchannel", rw, &e).0)
    .collect();
    let checked = envs.iter().map(|env| check_tx(&rules, env)).collect();
    let r = validate_block(&ace(), checked).unwrap();
    assert_eq!(r.codes, vec![Code::Valid, Code::PhantomReadConflict]);
    let written: Vec<&str> = r.writes.iter().map(|w| w.key.as_str()).collect();
    assert_eq!(written, ["b"]);
}

/// Rules where "bank" needs the peers of Org1 and Org3, "token" two of three orgs.
fn bank_rules(c: &Consortium) -> ChannelRules {
    let mut rules = c.rules();
    let policy: Policy = "AND('Org1MSP.peer', 'Org3MSP.peer')".parse().unwrap();
    rules.policies.insert("bank".into(), Arc::new(policy));
    rules
}

/// A read/write set of the namespaces given, in the order given.
fn multi(ns_rwsets: Vec<TxRwSet>) -> TxReadWriteSet {
    TxReadWriteSet { ns_rwsets }
}

fn codes_with(rules: &ChannelRules, state: &Mem, envs: &[Vec<u8>]) -> BlockValidation {
    let checked = envs.iter().map(|e| check_tx(rules, e)).collect();
    validate_block(state, checked).unwrap()
}

#[test]
fn every_namespace_written_must_have_its_policy_satisfied() {
    let c = Consortium::new(3);
    let rules = bank_rules(&c);
    let writes_bank = || {
        multi(vec![
            crate::testkit::rwset("bank", &[], &[("acct", Some("5"))]),
            crate::testkit::rwset("token", &[], &[("k", Some("v"))]),
        ])
    };
    let (org1, org2, org3) = (&*c.orgs[0].peer, &*c.orgs[1].peer, &*c.orgs[2].peer);
    let client = &c.orgs[0].client;
    // token's policy is met by Org1 and Org2, bank's is not.
    let (t1, _) =
        crate::testkit::endorsed_call(client, "testchannel", "token", writes_bank(), &[org1, org2]);
    // Org1 and Org3 meet both.
    let (t2, _) =
        crate::testkit::endorsed_call(client, "testchannel", "token", writes_bank(), &[org1, org3]);
    // Reading bank needs no bank endorsement.
    let reads_bank = multi(vec![
        crate::testkit::rwset("bank", &[("other", None)], &[]),
        crate::testkit::rwset("token", &[], &[("k2", Some("v"))]),
    ]);
    let (t3, _) =
        crate::testkit::endorsed_call(client, "testchannel", "token", reads_bank, &[org1, org2]);
    // Writing only bank still needs the invoked chaincode's policy.
    let only_bank = multi(vec![
        crate::testkit::rwset("bank", &[], &[("acct2", Some("1"))]),
        crate::testkit::rwset("token", &[], &[]),
    ]);
    let (t4, _) =
        crate::testkit::endorsed_call(client, "testchannel", "token", only_bank, &[org1, org3]);
    let (t5, _) = crate::testkit::endorsed_call(
        client,
        "testchannel",
        "token",
        multi(vec![
            crate::testkit::rwset("bank", &[], &[("acct3", Some("1"))]),
            crate::testkit::rwset("token", &[], &[]),
        ]),
        &[org1],
    );
    let r = codes_with(&rules, &Mem::default(), &[t1, t2, t3, t4, t5]);
    assert_eq!(
        r.codes,
        vec![
            Code::EndorsementPolicyFailure,
            Code::Valid,
            Code::Valid,
            Code::Valid,
            Code::EndorsementPolicyFailure,
        ]
    );
    let written: Vec<(&str, &str, u64)> = r
        .writes
        .iter()
        .map(|w| (w.namespace.as_str(), w.key.as_str(), w.tx_num))
        .collect();
    assert_eq!(
        written,
        [
            ("bank", "acct", 1),
            ("token", "k", 1),
            ("token", "k2", 2),
            ("bank", "acct2", 3)
        ]
    );
}

#[test]
fn a_conflict_in_a_called_chaincode_namespace_invalidates_the_whole_transaction() {
    let c = Consortium::new(3);
    let rules = bank_rules(&c);
    let e = [&*c.orgs[0].peer, &*c.orgs[2].peer];
    let client = &c.orgs[0].client;
    let mut state = Mem::default();
    state.others.insert(
        ("bank".into(), "acct".into()),
        Version {
            block_num: 1,
            tx_num: 0,
        },
    );
    // The same key name in "token" is another key.
    state.versions.insert(
        "acct".into(),
        Version {
            block_num: 2,
            tx_num: 0,
        },
    );
    let pay = |read: Option<Version>, token_key: &str| {
        multi(vec![
            crate::testkit::rwset("bank", &[("acct", read)], &[("acct", Some("4"))]),
            crate::testkit::rwset("token", &[], &[(token_key, Some("paid"))]),
        ])
    };
    let env = |rw| crate::testkit::endorsed_call(client, "testchannel", "token", rw, &e).0;
    // Stale read of bank/acct against committed state.
    let stale = env(pay(v(0, 9), "a"));
    // Good read, then a second transaction reading the key the first wrote.
    let first = env(pay(v(1, 0), "b"));
    let second = env(pay(v(1, 0), "c"));
    let r = codes_with(&rules, &state, &[stale, first, second]);
    assert_eq!(
        r.codes,
        vec![Code::MvccReadConflict, Code::Valid, Code::MvccReadConflict]
    );
    let written: Vec<(&str, &str)> = r
        .writes
        .iter()
        .map(|w| (w.namespace.as_str(), w.key.as_str()))
        .collect();
    assert_eq!(
        written,
        [("bank", "acct"), ("token", "b")],
        "an invalid transaction writes no namespace"
    );

    // A phantom in the callee's scanned range.
    let mut scanned = crate::testkit::rwset("bank", &[], &[]);
    scanned.range_queries = vec![scan("a", "z", true, &[])];
    let scanning = env(multi(vec![
        scanned,
        crate::testkit::rwset("token", &[], &[]),
    ]));
    assert_eq!(
        codes_with(&rules, &state, &[scanning]).codes,
        vec![Code::PhantomReadConflict]
    );
}

#[test]
fn malformed_multi_namespace_rwsets_are_bad_rwset() {
    let c = Consortium::new(3);
    let mut rules = bank_rules(&c);
    let e = [&*c.orgs[0].peer, &*c.orgs[2].peer];
    let client = &c.orgs[0].client;
    let ns = |name: &str| crate::testkit::rwset(name, &[], &[("k", Some("v"))]);
    let env = |rw| crate::testkit::endorsed_call(client, "testchannel", "token", rw, &e).0;
    let bad = [
        multi(vec![ns("token"), ns("bank")]),             // out of order
        multi(vec![ns("bank"), ns("bank"), ns("token")]), // repeated
        multi(vec![ns("bank")]),                          // the invoked chaincode's is missing
        multi(vec![ns("token"), ns("undefined")]),        // not a chaincode
        multi(vec![ns("_lifecycle"), ns("token")]),       // a system namespace without a policy
        multi(vec![]),
    ];
    let envs: Vec<Vec<u8>> = bad.into_iter().map(env).collect();
    let r = codes_with(&rules, &Mem::default(), &envs);
    assert_eq!(r.codes, vec![Code::BadRwset; 6]);
    assert!(r.writes.is_empty());

    // `_lifecycle`'s state is written only by invoking `_lifecycle`: from
    // another chaincode no endorsement makes it valid.
    let system: Policy = "OR('Org2MSP.peer')".parse().unwrap();
    rules.policies.insert("_lifecycle".into(), Arc::new(system));
    let lifecycle = || multi(vec![ns("_lifecycle"), ns("token")]);
    let r = codes_with(&rules, &Mem::default(), &[env(lifecycle())]);
    assert_eq!(r.codes, vec![Code::EndorsementPolicyFailure]);
    let with_org2 = [&*c.orgs[0].peer, &*c.orgs[1].peer];
    let (ok, _) =
        crate::testkit::endorsed_call(client, "testchannel", "token", lifecycle(), &with_org2);
    assert_eq!(
        codes_with(&rules, &Mem::default(), &[ok]).codes,
        vec![Code::EndorsementPolicyFailure]
    );
}
