//! Phase 1 on `_lifecycle` transactions: the per-key policies.

use super::*;
use crate::identity::Role;
use crate::lifecycle::{DefinitionSet, NAMESPACE};
use crate::testkit::{
    endorsed_call_named, endorsed_envelope, rwset, with_unknown_field, Consortium, Named,
};

const CH: &str = "testchannel";

fn code(c: &Consortium, key: &str, endorsers: &[usize]) -> Result<(), Code> {
    let set = DefinitionSet::new(c.rules(), &c.config.chaincodes);
    let peers: Vec<&crate::identity::SigningIdentity> =
        endorsers.iter().map(|i| &*c.orgs[*i].peer).collect();
    let (env, _) = endorsed_envelope(
        &c.orgs[0].client,
        CH,
        rwset(NAMESPACE, &[], &[(key, Some("d"))]),
        &peers,
    );
    check_tx(set.rules(), &env).map(|_| ()).map_err(|r| r.code)
}

#[test]
fn an_approval_needs_a_peer_of_the_approving_org() {
    let c = Consortium::new(3);
    assert_eq!(code(&c, "approval/notes/1/Org1MSP", &[0]), Ok(()));
    assert_eq!(
        code(&c, "approval/notes/1/Org1MSP", &[1]),
        Err(Code::EndorsementPolicyFailure)
    );
    assert_eq!(
        code(&c, "approval/notes/1/Org2MSP", &[0, 2]),
        Err(Code::EndorsementPolicyFailure)
    );
}

#[test]
fn a_definition_needs_the_lifecycle_policy() {
    let c = Consortium::new(3);
    assert_eq!(
        code(&c, "definition/notes", &[0]),
        Err(Code::EndorsementPolicyFailure)
    );
    assert_eq!(code(&c, "definition/notes", &[0, 2]), Ok(()));
}

#[test]
fn keys_outside_the_lifecycle_layout_are_never_valid() {
    let c = Consortium::new(3);
    assert_eq!(
        code(&c, "balance/GOLD/alice", &[0, 1, 2]),
        Err(Code::EndorsementPolicyFailure)
    );
}

#[test]
fn without_the_lifecycle_rules_the_namespace_is_undefined() {
    let c = Consortium::new(3);
    let (env, _) = endorsed_envelope(
        &c.orgs[0].client,
        CH,
        rwset(NAMESPACE, &[], &[("definition/notes", Some("d"))]),
        &[&c.orgs[0].peer, &c.orgs[1].peer],
    );
    assert_eq!(
        check_tx(&c.rules(), &env).map(|_| ()).map_err(|r| r.code),
        Err(Code::InvalidChaincode)
    );
}

#[test]
fn a_key_policy_counts_one_peer_once_however_it_is_named() {
    let c = Consortium::new(3);
    let mut rules = c.rules();
    let two_org1_peers: Policy = "AND('Org1MSP.peer', 'Org1MSP.peer')".parse().unwrap();
    rules
        .policies
        .insert(NAMESPACE.into(), Arc::new(two_org1_peers));
    let set = DefinitionSet::new(rules, &c.config.chaincodes);
    let p1 = &*c.orgs[0].peer;
    let p1b = c.orgs[0].another("peer1.org1", Role::Peer);
    let code = |endorsers: &[Named<'_>]| {
        let rw = TxReadWriteSet {
            ns_rwsets: vec![rwset(NAMESPACE, &[], &[("definition/notes", Some("d"))])],
        };
        let creator = Named::canonical(&c.orgs[0].client);
        let (env, _) = endorsed_call_named(creator, CH, NAMESPACE, rw, endorsers);
        check_tx(set.rules(), &env).map(|_| ()).map_err(|r| r.code)
    };
    let renamed = Named::as_bytes(p1, with_unknown_field(p1.serialized()));
    assert_eq!(
        code(&[Named::canonical(p1), renamed]),
        Err(Code::EndorsementPolicyFailure)
    );
    assert_eq!(
        code(&[Named::canonical(p1), Named::canonical(p1)]),
        Err(Code::EndorsementPolicyFailure)
    );
    assert_eq!(
        code(&[Named::canonical(p1), Named::canonical(&p1b)]),
        Ok(())
    );
}
