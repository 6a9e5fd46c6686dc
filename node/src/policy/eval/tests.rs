//! Unit tests of policy evaluation.

use super::*;
use crate::policy::testing::*;
use crate::policy::MAX_DEPTH;

#[test]
fn evaluates_or() {
    let policy = p("OR('A.peer', 'B.peer')");
    assert!(policy.evaluate(&[peer("A")]));
    assert!(policy.evaluate(&[peer("B")]));
    assert!(!policy.evaluate(&[peer("C")]));
    assert!(!policy.evaluate(&[]));
}

#[test]
fn evaluates_and() {
    let policy = p("AND('A.peer', 'B.peer')");
    assert!(policy.evaluate(&[peer("A"), peer("B")]));
    assert!(policy.evaluate(&[peer("B"), peer("C"), peer("A")]));
    assert!(!policy.evaluate(&[peer("A")]));
    assert!(!policy.evaluate(&[peer("A"), admin("B")]));
}

#[test]
fn evaluates_two_out_of_three() {
    let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.peer')");
    assert!(policy.evaluate(&[peer("A"), peer("C")]));
    assert!(policy.evaluate(&[peer("B"), peer("C")]));
    assert!(policy.evaluate(&[peer("A"), peer("B"), peer("C")]));
    assert!(!policy.evaluate(&[peer("B")]));
    assert!(!policy.evaluate(&[peer("B"), peer("D")]));
}

#[test]
fn evaluates_nested() {
    let policy = p("OR(AND('A.peer', 'B.peer'), AND('C.admin', OutOf(1, 'D.peer', 'E.peer')))");
    assert!(policy.evaluate(&[peer("A"), peer("B")]));
    assert!(policy.evaluate(&[admin("C"), peer("E")]));
    assert!(!policy.evaluate(&[peer("A"), admin("C")]));
    assert!(!policy.evaluate(&[peer("C"), peer("D")]));
}

#[test]
fn one_signer_per_principal() {
    let policy = p("AND('A.member', 'A.member')");
    assert!(!policy.evaluate(&[peer("A")]));
    assert!(policy.evaluate(&[peer("A"), peer("A")]));
    assert!(policy.evaluate(&[peer("A"), admin("A")]));

    let policy = p("AND('A.peer', OR('A.peer', 'B.peer'))");
    assert!(!policy.evaluate(&[peer("A")]));
    assert!(policy.evaluate(&[peer("A"), peer("B")]));
    assert!(policy.evaluate(&[peer("A"), peer("A")]));
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
        assert!(member.evaluate(&[signer("A", role)]), "{role:?}");
    }
    let peer_only = p("'A.peer'");
    assert!(peer_only.evaluate(&[peer("A")]));
    assert!(!peer_only.evaluate(&[admin("A")]));
    assert!(!peer_only.evaluate(&[signer("A", SignerRole::Client)]));
    let admin_only = p("'A.admin'");
    assert!(admin_only.evaluate(&[admin("A")]));
    assert!(!admin_only.evaluate(&[peer("A")]));
    assert!(p("'A.orderer'").evaluate(&[signer("A", SignerRole::Orderer)]));
    assert!(!p("'A.orderer'").evaluate(&[signer("A", SignerRole::Client)]));
    assert!(p("'A.client'").evaluate(&[signer("A", SignerRole::Client)]));
}

#[test]
fn backtracks_where_greedy_fails() {
    // Greedy would give the peer to '.member' and then have nothing for '.peer'.
    let policy = p("OutOf(2, 'A.member', 'A.peer')");
    assert!(policy.evaluate(&[peer("A"), admin("A")]));
    assert!(policy.evaluate(&[admin("A"), peer("A")]));
    assert!(!policy.evaluate(&[admin("A"), admin("A")]));

    // The first way to satisfy the OR starves the later AND branch.
    let policy = p("AND(OR('A.member', 'B.member'), 'A.admin')");
    assert!(policy.evaluate(&[admin("A"), peer("B")]));
    assert!(!policy.evaluate(&[admin("A"), peer("C")]));
}

#[test]
fn backtracks_across_alternatives() {
    // Each OR can take A or B, but three of them cannot share two signers.
    let policy = p("AND(OR('A.peer', 'B.peer'), OR('A.peer', 'B.peer'), \
         OR('A.peer', 'B.peer'), OR('C.peer', 'D.peer'))");
    assert!(!policy.evaluate(&[peer("A"), peer("B"), peer("C"), peer("C")]));
    assert!(policy.evaluate(&[peer("A"), peer("B"), peer("B"), peer("C")]));

    // The first choice for the inner OR must be undone for the outer AND.
    let policy = p("AND(OutOf(2, 'A.member', 'B.member', 'C.member'), 'A.peer', 'B.admin')");
    assert!(policy.evaluate(&[peer("A"), admin("B"), peer("C"), admin("A")]));
    assert!(!policy.evaluate(&[peer("A"), admin("B"), peer("B"), admin("D")]));
}

#[test]
fn unknown_org_never_matches() {
    let policy = p("OR('A.member', 'B.member')");
    assert!(!policy.evaluate(&[peer("C"), admin("D"), peer("a")]));
    assert!(!p("'A.member'").evaluate(&[peer("AMSP")]));
}

#[test]
fn repeated_principals_need_distinct_signers() {
    let policy = p("OutOf(3, 'A.peer', 'A.peer', 'A.peer', 'B.peer')");
    assert!(policy.evaluate(&[peer("A"), peer("A"), peer("A")]));
    assert!(policy.evaluate(&[peer("A"), peer("A"), peer("B")]));
    assert!(!policy.evaluate(&[peer("A"), peer("A"), admin("B")]));
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
            expected,
            "{policy} with {signers:?}"
        );
    }
    // The same certificate under another org is another signer: its
    // org's CA vouched for it separately.
    let mut other_org = a.clone();
    other_org.id.msp_id = "B".into();
    assert!(p("AND('A.peer', 'B.peer')").evaluate(&[a.clone(), other_org]));
    // Listed again with another role, the first entry counts.
    let mut as_admin = a.clone();
    as_admin.role = SignerRole::Admin;
    assert!(!p("AND('A.peer', 'A.admin')").evaluate(&[a, as_admin]));
}

#[test]
fn org_peers_count_each_org_once() {
    let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.member')");
    assert!(policy.evaluate_org_peers(&strings(&["A", "C"])));
    assert!(!policy.evaluate_org_peers(&strings(&["A", "A"])));
    assert!(!policy.evaluate_org_peers(&strings(&["B", "D"])));
    assert!(!p("AND('A.peer', 'A.peer')").evaluate_org_peers(&strings(&["A", "A"])));
    assert!(!p("'A.admin'").evaluate_org_peers(&strings(&["A"])));
}

#[test]
fn hand_built_edge_policies() {
    let zero = Policy::OutOf {
        n: 0,
        rules: vec![],
    };
    assert!(zero.evaluate(&[]));
    let impossible = Policy::OutOf {
        n: 3,
        rules: vec![signed("A", PrincipalRole::Peer)],
    };
    assert!(!impossible.evaluate(&[peer("A"), peer("A"), peer("A")]));

    let mut deep = signed("A", PrincipalRole::Peer);
    for _ in 0..=MAX_DEPTH {
        deep = Policy::OutOf {
            n: 1,
            rules: vec![deep],
        };
    }
    assert!(!deep.evaluate(&[peer("A")]));
    assert_eq!(deep.pick_orgs(&[], &strings(&["A"])), None);
}

#[test]
fn pathological_policies_finish_quickly() {
    // Many interchangeable principals, one signer short.
    let many = vec!["'A.peer'"; 60].join(",");
    let policy = p(&format!("OutOf(30, {many})"));
    let mut signers = peers("A", 29);
    signers.extend((0..30).map(|_| admin("A")));
    assert!(!policy.evaluate(&signers));
    signers.push(peer("A"));
    assert!(policy.evaluate(&signers));

    // Many distinct orgs, one short of the threshold.
    let orgs: Vec<String> = (0..64).map(|i| format!("O{i}")).collect();
    let rules: Vec<String> = orgs.iter().map(|o| format!("'{o}.member'")).collect();
    let policy = p(&format!("OutOf(32, {})", rules.join(",")));
    let present: Vec<Signer> = orgs.iter().step_by(2).skip(1).map(|o| peer(o)).collect();
    assert!(!policy.evaluate(&present));
    assert_eq!(policy.pick_orgs(&[], &orgs).map(|v| v.len()), Some(32));

    // Nested alternatives competing for the same org.
    let clause = "OR('A.member', 'B.member', 'C.member', 'D.member')";
    let policy = p(&format!("AND({})", [clause; 12].join(",")));
    let few = [peer("A"), peer("B"), admin("C"), peer("D"), peer("A")];
    assert!(!policy.evaluate(&few));
    let enough: Vec<Signer> = ["A", "B", "C"].iter().flat_map(|o| peers(o, 4)).collect();
    assert!(policy.evaluate(&enough));
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
            expected,
            "{policy} with {signers:?}"
        );
        satisfied += usize::from(expected);
    }
    assert!(satisfied > 100 && satisfied < 900, "{satisfied}");
}
