//! Phase 1 on `_lifecycle` transactions: the per-key policies.

use super::*;
use crate::lifecycle::{DefinitionSet, NAMESPACE};
use crate::testkit::{endorsed_envelope, rwset, Consortium};

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
