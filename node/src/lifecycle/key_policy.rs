//! Which endorsements a `_lifecycle` transaction needs, per key written:
//! an org's approval needs a peer of that org, a committed definition needs
//! the channel's lifecycle policy. Pure functions used by validation and by
//! the gateway's choice of endorsing orgs.

use super::definition::{parse_key, LifecycleKey};
use crate::policy::{all_satisfied, EvalError, Policy, Principal, PrincipalRole, Signer};
use consort_proto::TxRwSet;

/// The default lifecycle policy: peers of a majority of `orgs`
/// (`OutOf(n/2 + 1, 'Org1MSP.peer', …)`).
pub fn majority(orgs: &[String]) -> Policy {
    Policy::OutOf {
        n: orgs.len() / 2 + 1,
        rules: orgs.iter().map(|o| peer_of(o)).collect(),
    }
}

/// How many approving orgs `policy` needs when it is a plain `OutOf` over
/// one peer of each org (as [`majority`] is); `None` for any other shape.
pub fn required_orgs(policy: &Policy) -> Option<usize> {
    match policy {
        Policy::OutOf { n, rules }
            if rules.iter().all(|r| {
                matches!(
                    r,
                    Policy::SignedBy(Principal {
                        role: PrincipalRole::Peer,
                        ..
                    })
                )
            }) =>
        {
            Some(*n)
        }
        _ => None,
    }
}

/// `'<msp>.peer'`.
pub fn peer_of(msp: &str) -> Policy {
    Policy::SignedBy(Principal {
        msp_id: msp.to_string(),
        role: PrincipalRole::Peer,
    })
}

/// The policy a write of `key` in `_lifecycle` must satisfy; `None` for a
/// key outside the lifecycle's layout, which no endorsement can allow.
pub fn write_policy(key: &str, lifecycle: &Policy) -> Option<Policy> {
    match parse_key(key)? {
        LifecycleKey::Approval { msp, .. } => Some(peer_of(msp)),
        LifecycleKey::Definition { .. } => Some(lifecycle.clone()),
    }
}

/// Whether `signers` endorse a `_lifecycle` read-write set: every write's
/// key policy is satisfied; a set with no writes needs the lifecycle policy.
///
/// # Errors
///
/// [`EvalError`] when no key policy is unsatisfied but one could not be
/// evaluated (see [`all_satisfied`]): not endorsed, for a reason of its own.
pub fn endorsed(
    rwset: &TxRwSet,
    lifecycle: &Policy,
    signers: &[Signer],
) -> Result<bool, EvalError> {
    if rwset.writes.is_empty() {
        return lifecycle.evaluate(signers);
    }
    all_satisfied(
        rwset
            .writes
            .iter()
            .map(|w| write_policy(&w.key, lifecycle).map_or(Ok(false), |p| p.evaluate(signers))),
    )
}

/// The policy the gateway collects endorsements for when `creator_msp`
/// calls `function` of `_lifecycle`: its own org's peer for `approve` (the
/// only key it writes is that org's approval), the lifecycle policy otherwise.
pub fn endorsement_plan(function: &str, creator_msp: &str, lifecycle: &Policy) -> Policy {
    if function == "approve" {
        peer_of(creator_msp)
    } else {
        lifecycle.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{SignerId, SignerRole};
    use consort_proto::KvWrite;

    fn orgs(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("Org{i}MSP")).collect()
    }

    /// Peer number `n` of org `org`.
    fn peer(org: usize, n: u8) -> Signer {
        Signer {
            id: SignerId {
                msp_id: format!("Org{org}MSP"),
                cert_hash: [n; 32],
            },
            role: SignerRole::Peer,
        }
    }

    /// The first peer of each org in `ids`.
    fn peers(ids: &[usize]) -> Vec<Signer> {
        ids.iter().map(|i| peer(*i, 0)).collect()
    }

    fn writes(keys: &[&str]) -> TxRwSet {
        TxRwSet {
            namespace: super::super::NAMESPACE.into(),
            writes: keys
                .iter()
                .map(|k| KvWrite {
                    key: k.to_string(),
                    value: b"v".to_vec(),
                    is_delete: false,
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn majority_needs_more_than_half_of_the_orgs() {
        assert_eq!(
            majority(&orgs(3)).to_string(),
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
        );
        assert_eq!(required_orgs(&majority(&orgs(3))), Some(2));
        assert_eq!(required_orgs(&majority(&orgs(4))), Some(3));
        assert_eq!(required_orgs(&majority(&orgs(1))), Some(1));
        assert_eq!(majority(&orgs(3)).evaluate(&peers(&[1])), Ok(false));
        assert_eq!(majority(&orgs(3)).evaluate(&peers(&[1, 3])), Ok(true));
    }

    #[test]
    fn each_write_needs_its_own_policy() {
        let lc = majority(&orgs(3));
        let approval = writes(&["approval/notes/1/Org2MSP"]);
        assert_eq!(endorsed(&approval, &lc, &peers(&[2])), Ok(true));
        assert_eq!(endorsed(&approval, &lc, &peers(&[1, 3])), Ok(false));
        let definition = writes(&["definition/notes"]);
        assert_eq!(endorsed(&definition, &lc, &peers(&[1])), Ok(false));
        assert_eq!(endorsed(&definition, &lc, &peers(&[1, 2])), Ok(true));
        let both = writes(&["approval/notes/1/Org3MSP", "definition/notes"]);
        assert_eq!(endorsed(&both, &lc, &peers(&[1, 2])), Ok(false));
        assert_eq!(endorsed(&both, &lc, &peers(&[2, 3])), Ok(true));
        // A key outside the layout can never be written.
        assert_eq!(
            endorsed(&writes(&["other"]), &lc, &peers(&[1, 2, 3])),
            Ok(false)
        );
        // No writes: the lifecycle policy.
        assert_eq!(endorsed(&writes(&[]), &lc, &peers(&[1])), Ok(false));
        assert_eq!(endorsed(&writes(&[]), &lc, &peers(&[1, 2])), Ok(true));
    }

    #[test]
    fn one_peer_listed_twice_counts_once() {
        let lc: Policy = "AND('Org1MSP.peer', 'Org1MSP.peer')".parse().unwrap();
        let definition = writes(&["definition/notes"]);
        assert_eq!(
            endorsed(&definition, &lc, &[peer(1, 0), peer(1, 0)]),
            Ok(false)
        );
        assert_eq!(
            endorsed(&writes(&[]), &lc, &[peer(1, 0), peer(1, 0)]),
            Ok(false)
        );
        assert_eq!(
            endorsed(&definition, &lc, &[peer(1, 0), peer(1, 1)]),
            Ok(true)
        );
        assert_eq!(
            endorsed(&writes(&[]), &lc, &[peer(1, 1), peer(1, 0)]),
            Ok(true)
        );
    }

    #[test]
    fn the_gateway_asks_only_the_own_org_for_an_approval() {
        let lc = majority(&orgs(3));
        assert_eq!(
            endorsement_plan("approve", "Org2MSP", &lc),
            peer_of("Org2MSP")
        );
        assert_eq!(endorsement_plan("commit", "Org2MSP", &lc), lc);
    }

    #[test]
    fn a_lifecycle_policy_too_complex_to_evaluate_is_an_error() {
        let orgs = ["Org1MSP", "Org2MSP", "Org3MSP", "Org4MSP"];
        let lc = crate::policy::testing::pairs_policy(11, &orgs, "Org5MSP");
        let mut signers: Vec<Signer> = (1..=4)
            .flat_map(|org| (0..5).map(move |n| peer(org, n)))
            .collect();
        signers.extend([peer(5, 0), peer(5, 1)]);
        let definition = writes(&["definition/notes"]);
        assert!(matches!(
            endorsed(&definition, &lc, &signers),
            Err(EvalError::SearchBudgetExhausted { .. })
        ));
        assert!(matches!(
            endorsed(&writes(&[]), &lc, &signers),
            Err(EvalError::SearchBudgetExhausted { .. })
        ));
        // A write whose policy is not satisfied decides: not endorsed.
        let both = writes(&["definition/notes", "approval/notes/1/Org6MSP"]);
        assert_eq!(endorsed(&both, &lc, &signers), Ok(false));
    }
}
