//! Phase 1 counts signers by org and certificate, never by the bytes that
//! name them: one identity's endorsement repeated, or named by another
//! encoding, counts once; an identity named by a non-canonical encoding is
//! not a member at all.

use super::*;
use crate::identity::{Role, SigningIdentity};
use crate::testkit::{
    ecdsa_twin, endorsed_call_named, rwset, serialized, with_unknown_field, Consortium, Named,
};

const CH: &str = "testchannel";

/// Phase 1's code for a transaction on chaincode "cc" (policy `policy`),
/// created by Org1's client and endorsed by `endorsers`.
fn code_with(c: &Consortium, policy: &str, endorsers: &[Named<'_>]) -> Code {
    let mut rules = c.rules();
    let policy: Policy = policy.parse().unwrap();
    rules.policies.insert("cc".into(), Arc::new(policy));
    let rw = TxReadWriteSet {
        ns_rwsets: vec![rwset("cc", &[], &[("k", Some("v"))])],
    };
    let creator = Named::canonical(&c.orgs[0].client);
    let (env, _) = endorsed_call_named(creator, CH, "cc", rw, endorsers);
    match check_tx(&rules, &env) {
        Ok(_) => Code::Valid,
        Err(r) => r.code,
    }
}

/// `who` named by its canonical encoding.
fn canonical(who: &SigningIdentity) -> Named<'_> {
    Named::canonical(who)
}

/// `who` named by its canonical encoding with an unknown field appended.
fn unknown_field(who: &SigningIdentity) -> Named<'_> {
    Named::as_bytes(who, with_unknown_field(who.serialized()))
}

/// `who` (of a P-256 org) named by its certificate with the CA's signature
/// `(r, s)` turned into `(r, n - s)`: a canonical encoding of another DER
/// of the same certificate.
fn twin(who: &SigningIdentity) -> Named<'_> {
    Named::as_bytes(who, serialized(who.msp_id(), &ecdsa_twin(who.cert_der())))
}

#[test]
fn one_identity_counts_once_however_it_is_named() {
    use Code::{EndorsementPolicyFailure as Fail, Valid};
    let c = Consortium::new(3);
    let p1 = &*c.orgs[0].peer;
    let p1b = &*c.orgs[0].another("peer1.org1", Role::Peer);
    let c1 = &*c.orgs[0].client;
    let p2 = &*c.orgs[1].peer;
    let p3 = &*c.orgs[2].peer;
    let p3b = &*c.orgs[2].another("peer1.org3", Role::Peer);

    let and_member = "AND('Org1MSP.member', 'Org1MSP.member')";
    let and_peer = "AND('Org1MSP.peer', 'Org1MSP.peer')";
    let out_of = "OutOf(2, 'Org1MSP.member', 'Org1MSP.member', 'Org2MSP.member')";
    let or_and = "OR(AND('Org1MSP.peer', 'Org1MSP.peer'), 'Org2MSP.peer')";
    let and_p256 = "AND('Org3MSP.peer', 'Org3MSP.peer')";
    let table: Vec<(&str, Vec<Named<'_>>, Code)> = vec![
        // One identity under two encodings, or the same bytes twice.
        (and_member, vec![canonical(p1), unknown_field(p1)], Fail),
        (and_member, vec![unknown_field(p1), canonical(p1)], Fail),
        (and_member, vec![canonical(p1), canonical(p1)], Fail),
        (and_peer, vec![canonical(p1), unknown_field(p1)], Fail),
        (and_peer, vec![canonical(p1), canonical(p1)], Fail),
        (out_of, vec![canonical(p1), unknown_field(p1)], Fail),
        (out_of, vec![canonical(p1), canonical(p1)], Fail),
        (or_and, vec![canonical(p1), unknown_field(p1)], Fail),
        (or_and, vec![canonical(p1), canonical(p1)], Fail),
        (and_p256, vec![canonical(p3), twin(p3)], Fail),
        (and_p256, vec![twin(p3), twin(p3)], Fail),
        // A non-canonical encoding is no member: alone it endorses nothing.
        ("'Org1MSP.peer'", vec![unknown_field(p1)], Fail),
        // A second identity of the same org is a second signer.
        (and_member, vec![canonical(p1), canonical(p1b)], Valid),
        (
            and_member,
            vec![canonical(p1), unknown_field(p1), canonical(c1)],
            Valid,
        ),
        (
            and_peer,
            vec![canonical(p1), canonical(p1), canonical(p1b)],
            Valid,
        ),
        (out_of, vec![canonical(p1), canonical(p1b)], Valid),
        (
            out_of,
            vec![canonical(p1), unknown_field(p1), canonical(p2)],
            Valid,
        ),
        (or_and, vec![canonical(p1b), canonical(p1)], Valid),
        (
            or_and,
            vec![canonical(p1), canonical(p1), canonical(p2)],
            Valid,
        ),
        (and_p256, vec![twin(p3), canonical(p3b)], Valid),
        // Where one signer is enough, a repeat does no harm.
        (
            "OR('Org1MSP.peer', 'Org1MSP.peer')",
            vec![canonical(p1), canonical(p1)],
            Valid,
        ),
        ("'Org3MSP.peer'", vec![twin(p3)], Valid),
    ];
    for (policy, endorsers, expected) in &table {
        let names: Vec<String> = endorsers
            .iter()
            .map(|e| format!("{} ({} bytes)", e.signer.info().subject_cn, e.bytes.len()))
            .collect();
        assert_eq!(
            code_with(&c, policy, endorsers),
            *expected,
            "{policy} endorsed by {names:?}"
        );
    }
}

#[test]
fn a_bad_copy_of_an_endorsement_does_not_hide_the_good_one() {
    let c = Consortium::new(2);
    let p1 = &*c.orgs[0].peer;
    let p2 = &*c.orgs[1].peer;
    // p2 "signs" as p1 under p1's name: that copy does not verify, p1's own does.
    let forged = Named::as_bytes(p2, p1.serialized().to_vec());
    let policy = "AND('Org1MSP.peer', 'Org2MSP.peer')";
    let endorsers = [forged, canonical(p1), canonical(p2)];
    assert_eq!(code_with(&c, policy, &endorsers), Code::Valid);
}

#[test]
fn a_creator_named_by_a_non_canonical_encoding_is_refused() {
    let c = Consortium::new(3);
    let client = &*c.orgs[0].client;
    let endorsers = [canonical(&c.orgs[0].peer), canonical(&c.orgs[1].peer)];
    let rw = || TxReadWriteSet {
        ns_rwsets: vec![rwset("token", &[], &[("k", Some("v"))])],
    };
    let (env, _) = endorsed_call_named(canonical(client), CH, "token", rw(), &endorsers);
    assert!(check_tx(&c.rules(), &env).is_ok());
    let (env, _) = endorsed_call_named(unknown_field(client), CH, "token", rw(), &endorsers);
    assert_eq!(
        check_tx(&c.rules(), &env).map(|_| ()),
        Err(Rejected {
            tx_id: None,
            code: Code::BadCreatorSignature,
            reason: None,
        })
    );
}
