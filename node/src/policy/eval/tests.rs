//! Unit tests of policy evaluation.

use super::*;
use crate::policy::testing::*;
use crate::policy::MAX_DEPTH;

#[test]
fn evaluates_or() {
    let policy = p("OR('A.peer', 'B.peer')");
    assert_eq!(policy.evaluate(&[peer("A")]), Ok(true));
    assert_eq!(policy.evaluate(&[peer("B")]), Ok(true));
    assert_eq!(policy.evaluate(&[peer("C")]), Ok(false));
    assert_eq!(policy.evaluate(&[]), Ok(false));
}

#[test]
fn evaluates_and() {
    let policy = p("AND('A.peer', 'B.peer')");
    assert_eq!(policy.evaluate(&[peer("A"), peer("B")]), Ok(true));
    assert_eq!(
        policy.evaluate(&[peer("B"), peer("C"), peer("A")]),
        Ok(true)
    );
    assert_eq!(policy.evaluate(&[peer("A")]), Ok(false));
    assert_eq!(policy.evaluate(&[peer("A"), admin("B")]), Ok(false));
}

#[test]
fn evaluates_two_out_of_three() {
    let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.peer')");
    assert_eq!(policy.evaluate(&[peer("A"), peer("C")]), Ok(true));
    assert_eq!(policy.evaluate(&[peer("B"), peer("C")]), Ok(true));
    assert_eq!(
        policy.evaluate(&[peer("A"), peer("B"), peer("C")]),
        Ok(true)
    );
    assert_eq!(policy.evaluate(&[peer("B")]), Ok(false));
    assert_eq!(policy.evaluate(&[peer("B"), peer("D")]), Ok(false));
}

#[test]
fn evaluates_nested() {
    let policy = p("OR(AND('A.peer', 'B.peer'), AND('C.admin', OutOf(1, 'D.peer', 'E.peer')))");
    assert_eq!(policy.evaluate(&[peer("A"), peer("B")]), Ok(true));
    assert_eq!(policy.evaluate(&[admin("C"), peer("E")]), Ok(true));
    assert_eq!(policy.evaluate(&[peer("A"), admin("C")]), Ok(false));
    assert_eq!(policy.evaluate(&[peer("C"), peer("D")]), Ok(false));
}

#[test]
fn one_signer_per_principal() {
    let policy = p("AND('A.member', 'A.member')");
    assert_eq!(policy.evaluate(&[peer("A")]), Ok(false));
    assert_eq!(policy.evaluate(&[peer("A"), peer("A")]), Ok(true));
    assert_eq!(policy.evaluate(&[peer("A"), admin("A")]), Ok(true));

    let policy = p("AND('A.peer', OR('A.peer', 'B.peer'))");
    assert_eq!(policy.evaluate(&[peer("A")]), Ok(false));
    assert_eq!(policy.evaluate(&[peer("A"), peer("B")]), Ok(true));
    assert_eq!(policy.evaluate(&[peer("A"), peer("A")]), Ok(true));
}

#[test]
fn member_peer_and_admin_matching() {
    let member = p("'A.member'");
    for role in [
        SignerRole::Admin,
        SignerRole::Peer,
        SignerRole::Orderer,
        SignerRole::Client,
    ] {
        assert_eq!(member.evaluate(&[signer("A", role)]), Ok(true), "{role:?}");
    }
    let peer_only = p("'A.peer'");
    assert_eq!(peer_only.evaluate(&[peer("A")]), Ok(true));
    assert_eq!(peer_only.evaluate(&[admin("A")]), Ok(false));
    assert_eq!(
        peer_only.evaluate(&[signer("A", SignerRole::Client)]),
        Ok(false)
    );
    let admin_only = p("'A.admin'");
    assert_eq!(admin_only.evaluate(&[admin("A")]), Ok(true));
    assert_eq!(admin_only.evaluate(&[peer("A")]), Ok(false));
    assert_eq!(
        p("'A.orderer'").evaluate(&[signer("A", SignerRole::Orderer)]),
        Ok(true)
    );
    assert_eq!(
        p("'A.orderer'").evaluate(&[signer("A", SignerRole::Client)]),
        Ok(false)
    );
    assert_eq!(
        p("'A.client'").evaluate(&[signer("A", SignerRole::Client)]),
        Ok(true)
    );
}

#[test]
fn backtracks_where_greedy_fails() {
    // Greedy would give the peer to '.member' and then have nothing for '.peer'.
    let policy = p("OutOf(2, 'A.member', 'A.peer')");
    assert_eq!(policy.evaluate(&[peer("A"), admin("A")]), Ok(true));
    assert_eq!(policy.evaluate(&[admin("A"), peer("A")]), Ok(true));
    assert_eq!(policy.evaluate(&[admin("A"), admin("A")]), Ok(false));

    // The first way to satisfy the OR starves the later AND branch.
    let policy = p("AND(OR('A.member', 'B.member'), 'A.admin')");
    assert_eq!(policy.evaluate(&[admin("A"), peer("B")]), Ok(true));
    assert_eq!(policy.evaluate(&[admin("A"), peer("C")]), Ok(false));
}

#[test]
fn backtracks_across_alternatives() {
    // Each OR can take A or B, but three of them cannot share two signers.
    let policy = p("AND(OR('A.peer', 'B.peer'), OR('A.peer', 'B.peer'), \
         OR('A.peer', 'B.peer'), OR('C.peer', 'D.peer'))");
    assert_eq!(
        policy.evaluate(&[peer("A"), peer("B"), peer("C"), peer("C")]),
        Ok(false)
    );
    assert_eq!(
        policy.evaluate(&[peer("A"), peer("B"), peer("B"), peer("C")]),
        Ok(true)
    );

    // The first choice for the inner OR must be undone for the outer AND.
    let policy = p("AND(OutOf(2, 'A.member', 'B.member', 'C.member'), 'A.peer', 'B.admin')");
    assert_eq!(
        policy.evaluate(&[peer("A"), admin("B"), peer("C"), admin("A")]),
        Ok(true)
    );
    assert_eq!(
        policy.evaluate(&[peer("A"), admin("B"), peer("B"), admin("D")]),
        Ok(false)
    );
}

#[test]
fn unknown_org_never_matches() {
    let policy = p("OR('A.member', 'B.member')");
    assert_eq!(
        policy.evaluate(&[peer("C"), admin("D"), peer("a")]),
        Ok(false)
    );
    assert_eq!(p("'A.member'").evaluate(&[peer("AMSP")]), Ok(false));
}

#[test]
fn repeated_principals_need_distinct_signers() {
    let policy = p("OutOf(3, 'A.peer', 'A.peer', 'A.peer', 'B.peer')");
    assert_eq!(
        policy.evaluate(&[peer("A"), peer("A"), peer("A")]),
        Ok(true)
    );
    assert_eq!(
        policy.evaluate(&[peer("A"), peer("A"), peer("B")]),
        Ok(true)
    );
    assert_eq!(
        policy.evaluate(&[peer("A"), peer("A"), admin("B")]),
        Ok(false)
    );
}

#[test]
fn a_signer_listed_twice_counts_once() {
    let a = peer("A");
    let a2 = peer("A");
    let b = peer("B");
    let twice = [a.clone(), a.clone()];
    let cases = [
        ("AND('A.member', 'A.member')", &twice[..], false),
        (
            "AND('A.member', 'A.member')",
            &[a.clone(), a2.clone()][..],
            true,
        ),
        (
            "AND('A.peer', 'A.peer')",
            &[a.clone(), a.clone(), a.clone()][..],
            false,
        ),
        (
            "OutOf(2, 'A.member', 'A.member', 'B.member')",
            &twice[..],
            false,
        ),
        (
            "OutOf(2, 'A.member', 'A.member', 'B.member')",
            &[a.clone(), b.clone(), a.clone()][..],
            true,
        ),
        (
            "OutOf(2, 'A.member', 'A.member', 'B.member')",
            &[a.clone(), a2.clone()][..],
            true,
        ),
        ("OR(AND('A.peer', 'A.peer'), 'B.peer')", &twice[..], false),
        (
            "OR(AND('A.peer', 'A.peer'), 'B.peer')",
            &[a.clone(), a2.clone()][..],
            true,
        ),
        (
            "OR(AND('A.peer', 'A.peer'), 'B.peer')",
            &[a.clone(), a.clone(), b.clone()][..],
            true,
        ),
        ("OR('A.peer', 'A.peer')", &twice[..], true),
    ];
    for (policy, signers, expected) in cases {
        assert_eq!(
            p(policy).evaluate(signers),
            Ok(expected),
            "{policy} with {signers:?}"
        );
    }
    // The same certificate under another org is another signer: its
    // org's CA vouched for it separately.
    let mut other_org = a.clone();
    other_org.id.msp_id = "B".into();
    assert_eq!(
        p("AND('A.peer', 'B.peer')").evaluate(&[a.clone(), other_org]),
        Ok(true)
    );
    // Listed again with another role, the first entry counts.
    let mut as_admin = a.clone();
    as_admin.role = SignerRole::Admin;
    assert_eq!(
        p("AND('A.peer', 'A.admin')").evaluate(&[a, as_admin]),
        Ok(false)
    );
}

#[test]
fn org_peers_count_each_org_once() {
    let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.member')");
    assert_eq!(policy.evaluate_org_peers(&strings(&["A", "C"])), Ok(true));
    assert_eq!(policy.evaluate_org_peers(&strings(&["A", "A"])), Ok(false));
    assert_eq!(policy.evaluate_org_peers(&strings(&["B", "D"])), Ok(false));
    assert_eq!(
        p("AND('A.peer', 'A.peer')").evaluate_org_peers(&strings(&["A", "A"])),
        Ok(false)
    );
    assert_eq!(
        p("'A.admin'").evaluate_org_peers(&strings(&["A"])),
        Ok(false)
    );
}

#[test]
fn hand_built_edge_policies() {
    let zero = Policy::OutOf {
        n: 0,
        rules: vec![],
    };
    assert_eq!(zero.evaluate(&[]), Ok(true));
    let impossible = Policy::OutOf {
        n: 3,
        rules: vec![signed("A", PrincipalRole::Peer)],
    };
    assert_eq!(
        impossible.evaluate(&[peer("A"), peer("A"), peer("A")]),
        Ok(false)
    );

    let mut deep = signed("A", PrincipalRole::Peer);
    for _ in 0..=MAX_DEPTH {
        deep = Policy::OutOf {
            n: 1,
            rules: vec![deep],
        };
    }
    assert_eq!(deep.evaluate(&[peer("A")]), Ok(false));
    assert_eq!(deep.pick_orgs(&[], &strings(&["A"])), Ok(None));
}

#[test]
fn pathological_policies_finish_quickly() {
    // Many interchangeable principals, one signer short.
    let many = vec!["'A.peer'"; 60].join(",");
    let policy = p(&format!("OutOf(30, {many})"));
    let mut signers = peers("A", 29);
    signers.extend((0..30).map(|_| admin("A")));
    assert_eq!(policy.evaluate(&signers), Ok(false));
    signers.push(peer("A"));
    assert_eq!(policy.evaluate(&signers), Ok(true));

    // Many distinct orgs, one short of the threshold.
    let orgs: Vec<String> = (0..64).map(|i| format!("O{i}")).collect();
    let rules: Vec<String> = orgs.iter().map(|o| format!("'{o}.member'")).collect();
    let policy = p(&format!("OutOf(32, {})", rules.join(",")));
    let present: Vec<Signer> = orgs.iter().step_by(2).skip(1).map(|o| peer(o)).collect();
    assert_eq!(policy.evaluate(&present), Ok(false));
    assert_eq!(
        policy.pick_orgs(&[], &orgs).map(|v| v.map(|v| v.len())),
        Ok(Some(32))
    );

    // Nested alternatives competing for the same org.
    let clause = "OR('A.member', 'B.member', 'C.member', 'D.member')";
    let policy = p(&format!("AND({})", [clause; 12].join(",")));
    let few = [peer("A"), peer("B"), admin("C"), peer("D"), peer("A")];
    assert_eq!(policy.evaluate(&few), Ok(false));
    let enough: Vec<Signer> = ["A", "B", "C"].iter().flat_map(|o| peers(o, 4)).collect();
    assert_eq!(policy.evaluate(&enough), Ok(true));
}

#[test]
fn evaluate_agrees_with_exhaustive_search() {
    const ROLES: [SignerRole; 4] = [
        SignerRole::Admin,
        SignerRole::Peer,
        SignerRole::Orderer,
        SignerRole::Client,
    ];
    let mut rng = Lcg(7);
    let mut satisfied = 0;
    for _ in 0..1000 {
        let policy = random_policy(&mut rng, 3, &mut 0);
        let mut signers: Vec<Signer> = (0..rng.below(7))
            .map(|_| signer(["A", "B", "C", "D"][rng.below(4)], ROLES[rng.below(2)]))
            .collect();
        // Some signers listed again: a repeat counts once.
        for _ in 0..rng.below(3) {
            if !signers.is_empty() {
                signers.push(signers[rng.below(signers.len())].clone());
            }
        }
        let mut seen = HashSet::new();
        let distinct: Vec<Signer> = signers
            .iter()
            .filter(|s| seen.insert(s.id.clone()))
            .cloned()
            .collect();
        let expected = brute_force(&policy, &distinct);
        assert_eq!(
            policy.evaluate(&signers),
            Ok(expected),
            "{policy} with {signers:?}"
        );
        satisfied += usize::from(expected);
    }
    assert!(satisfied > 100 && satisfied < 900, "{satisfied}");
}

#[test]
fn a_search_that_spends_its_budget_is_an_error_not_a_refusal() {
    let orgs = ["A", "B", "C", "D"];
    let policy = pairs_policy(11, &orgs, "E");
    let mut signers: Vec<Signer> = orgs.iter().flat_map(|o| peers(o, 5)).collect();
    // Twenty signers cannot cover eleven pairs: the count alone decides.
    assert_eq!(policy.evaluate(&signers), Ok(false));
    // With two more signers that match nothing, only the search could.
    signers.extend(peers("E", 2));
    let exhausted = EvalError::SearchBudgetExhausted { budget: MAX_STEPS };
    assert_eq!(policy.evaluate(&signers), Err(exhausted.clone()));
    // Two more peers make eleven pairs possible, and the search finds them.
    signers.extend([peer("A"), peer("B")]);
    assert_eq!(policy.evaluate(&signers), Ok(true));

    let message = exhausted.to_string();
    assert!(message.contains("too complex to evaluate"), "{message}");
    assert!(message.contains(&MAX_STEPS.to_string()), "{message}");
    assert!(message.contains("simplify the policy"), "{message}");
}

#[test]
fn org_peers_that_spend_the_budget_are_an_error() {
    let (policy, orgs) = paths_policy(16);
    assert_eq!(
        policy.evaluate_org_peers(&orgs),
        Err(EvalError::SearchBudgetExhausted { budget: MAX_STEPS })
    );
    let (policy, orgs) = paths_policy(8);
    assert_eq!(policy.evaluate_org_peers(&orgs), Ok(false));
}

#[test]
fn a_failed_check_decides_over_an_undecided_one() {
    let undecided = || Err(EvalError::SearchBudgetExhausted { budget: MAX_STEPS });
    assert_eq!(all_satisfied([]), Ok(true));
    assert_eq!(all_satisfied([Ok(true), Ok(true)]), Ok(true));
    assert_eq!(all_satisfied([Ok(true), Ok(false)]), Ok(false));
    assert_eq!(all_satisfied([undecided(), Ok(false)]), Ok(false));
    assert_eq!(all_satisfied([Ok(true), undecided()]), undecided());
}
