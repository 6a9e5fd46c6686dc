//! Which orgs a gateway must gather endorsements from for one transaction:
//! enough to satisfy the invoked chaincode's policy and, when the endorsed
//! result shows that it wrote the namespaces of chaincodes it called, each
//! of theirs too (validation checks every written namespace's policy on its
//! own, so the policies are satisfied one by one, never merged into one).

use crate::policy::{EvalError, Policy};
use crate::validation::ChannelRules;
use consort_proto::{ProposalResponsePayload, TxReadWriteSet};
use prost::Message;
use std::sync::Arc;

/// The policies of the namespaces other than `invoked` that the endorsed
/// `payload` (an encoded `ProposalResponsePayload`) writes. Empty when it
/// writes only the invoked chaincode's, or does not decode (validation
/// refuses it anyway); a namespace without a policy is skipped for the same
/// reason.
pub fn written_policies(rules: &ChannelRules, invoked: &str, payload: &[u8]) -> Vec<Arc<Policy>> {
    let Ok(prp) = ProposalResponsePayload::decode(payload) else {
        return Vec::new();
    };
    let Ok(rwset) = TxReadWriteSet::decode(prp.results.as_slice()) else {
        return Vec::new();
    };
    rwset
        .ns_rwsets
        .iter()
        .filter(|ns| ns.namespace != invoked && !ns.writes.is_empty())
        .filter_map(|ns| rules.policies.get(&ns.namespace).cloned())
        .collect()
}

/// Whether endorsements by one peer of each of `orgs` satisfy `policy`.
///
/// # Errors
///
/// [`EvalError`] when the policy is too complex to decide.
pub fn satisfied_by_orgs(policy: &Policy, orgs: &[String]) -> Result<bool, EvalError> {
    policy.evaluate_org_peers(orgs)
}

/// Orgs of `available` whose peers together satisfy every one of
/// `policies`, `preferred` first: for each policy in turn, the orgs already
/// chosen are kept and the policy's smallest addition is picked. `Ok(None)`
/// when some policy cannot be satisfied.
///
/// # Errors
///
/// [`EvalError`] when a policy is too complex to choose orgs for.
pub fn pick_orgs_for_all(
    policies: &[Arc<Policy>],
    preferred: &[String],
    available: &[String],
) -> Result<Option<Vec<String>>, EvalError> {
    let mut chosen: Vec<String> = Vec::new();
    for policy in policies {
        if !chosen.is_empty() && satisfied_by_orgs(policy, &chosen)? {
            continue;
        }
        let mut first: Vec<String> = chosen.clone();
        first.extend(preferred.iter().cloned());
        let Some(picked) = policy.pick_orgs(&first, available)? else {
            return Ok(None);
        };
        for org in picked {
            if !chosen.contains(&org) {
                chosen.push(org);
            }
        }
    }
    Ok(Some(chosen))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{rwset, Consortium};
    use consort_proto::TxRwSet;

    fn payload(ns_rwsets: Vec<TxRwSet>) -> Vec<u8> {
        ProposalResponsePayload {
            results: TxReadWriteSet { ns_rwsets }.encode_to_vec(),
            ..Default::default()
        }
        .encode_to_vec()
    }

    fn orgs(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn written_namespaces_add_their_policies() {
        let c = Consortium::new(3);
        let mut rules = c.rules();
        let bank: Arc<Policy> = Arc::new("OR('Org3MSP.peer')".parse().unwrap());
        rules.policies.insert("bank".into(), bank.clone());
        let token = rules.policies["token"].clone();
        let writes_bank = payload(vec![
            rwset("bank", &[], &[("a", Some("1"))]),
            rwset("token", &[], &[("b", Some("2"))]),
        ]);
        let reads_bank = payload(vec![
            rwset("bank", &[("a", None)], &[]),
            rwset("token", &[], &[("b", Some("2"))]),
        ]);
        assert!(written_policies(&rules, "token", &reads_bank).is_empty());
        assert!(written_policies(&rules, "token", b"\xff\xff").is_empty());
        assert_eq!(
            written_policies(&rules, "token", &writes_bank),
            vec![bank.clone()]
        );

        assert_eq!(
            satisfied_by_orgs(&token, &orgs(&["Org1MSP", "Org2MSP"])),
            Ok(true)
        );
        assert_eq!(
            satisfied_by_orgs(&bank, &orgs(&["Org1MSP", "Org2MSP"])),
            Ok(false)
        );
        let all = orgs(&["Org1MSP", "Org2MSP", "Org3MSP"]);
        assert_eq!(
            pick_orgs_for_all(std::slice::from_ref(&token), &orgs(&["Org1MSP"]), &all),
            Ok(Some(orgs(&["Org1MSP", "Org2MSP"])))
        );
        assert_eq!(
            pick_orgs_for_all(&[token.clone(), bank.clone()], &orgs(&["Org1MSP"]), &all),
            Ok(Some(orgs(&["Org1MSP", "Org2MSP", "Org3MSP"])))
        );
        // Org3 first: one more org satisfies both.
        assert_eq!(
            pick_orgs_for_all(&[token.clone(), bank.clone()], &orgs(&["Org3MSP"]), &all),
            Ok(Some(orgs(&["Org3MSP", "Org1MSP"])))
        );
        assert_eq!(
            pick_orgs_for_all(
                &[token, bank],
                &orgs(&["Org1MSP"]),
                &orgs(&["Org1MSP", "Org2MSP"])
            ),
            Ok(None)
        );
    }

    #[test]
    fn a_policy_too_complex_to_choose_orgs_for_is_an_error() {
        let names: Vec<String> = (1..=20).map(|i| format!("O{i}")).collect();
        let policy = Arc::new(crate::policy::testing::lopsided_policy(&names));
        assert!(matches!(
            pick_orgs_for_all(&[policy], &names[..1], &names),
            Err(EvalError::SearchBudgetExhausted { .. })
        ));
    }
}
