//! Policies, signers and exhaustive reference answers for the unit tests.

use super::{Policy, Principal, PrincipalRole, Signer, SignerId, SignerRole};

pub(super) fn p(s: &str) -> Policy {
    s.parse().unwrap()
}

pub(super) fn signed(msp: &str, role: PrincipalRole) -> Policy {
    Policy::SignedBy(Principal {
        msp_id: msp.to_string(),
        role,
    })
}

/// A signer with a certificate of its own: every call gives a new one.
pub(super) fn signer(msp: &str, role: SignerRole) -> Signer {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut cert_hash = [0u8; 32];
    cert_hash[..8].copy_from_slice(&NEXT.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    Signer {
        id: SignerId {
            msp_id: msp.to_string(),
            cert_hash,
        },
        role,
    }
}

/// `count` peers of `msp`, each with its own certificate.
pub(super) fn peers(msp: &str, count: usize) -> Vec<Signer> {
    (0..count).map(|_| peer(msp)).collect()
}

pub(super) fn peer(msp: &str) -> Signer {
    signer(msp, SignerRole::Peer)
}

pub(super) fn admin(msp: &str) -> Signer {
    signer(msp, SignerRole::Admin)
}

pub(super) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Deterministic pseudo-random numbers for the cross-checks.
pub(super) struct Lcg(pub(super) u64);

impl Lcg {
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize % n
    }
}

pub(super) fn random_policy(rng: &mut Lcg, depth: usize, leaves: &mut usize) -> Policy {
    const ROLES: [PrincipalRole; 5] = [
        PrincipalRole::Member,
        PrincipalRole::Admin,
        PrincipalRole::Peer,
        PrincipalRole::Orderer,
        PrincipalRole::Client,
    ];
    if depth == 0 || *leaves >= 8 || rng.below(4) == 0 {
        *leaves += 1;
        let org = ["A", "B", "C"][rng.below(3)];
        return signed(org, ROLES[rng.below(2) * 2 + rng.below(2)]);
    }
    let count = 1 + rng.below(4);
    let rules: Vec<Policy> = (0..count)
        .map(|_| random_policy(rng, depth - 1, leaves))
        .collect();
    Policy::OutOf {
        n: 1 + rng.below(count),
        rules,
    }
}

/// Exhaustive reference: every set of principals that makes the policy
/// hold, checked for an assignment of distinct matching signers.
pub(super) fn brute_force(policy: &Policy, signers: &[Signer]) -> bool {
    fn leaves<'a>(policy: &'a Policy, out: &mut Vec<&'a Principal>) {
        match policy {
            Policy::SignedBy(p) => out.push(p),
            Policy::OutOf { rules, .. } => rules.iter().for_each(|r| leaves(r, out)),
        }
    }
    fn holds(policy: &Policy, met: u32, next: &mut u32) -> bool {
        match policy {
            Policy::SignedBy(_) => {
                *next += 1;
                met & (1 << (*next - 1)) != 0
            }
            Policy::OutOf { n, rules } => {
                rules.iter().filter(|r| holds(r, met, next)).count() >= *n
            }
        }
    }
    fn matches(p: &Principal, s: &Signer) -> bool {
        p.msp_id == s.id.msp_id
            && match p.role {
                PrincipalRole::Member => true,
                PrincipalRole::Admin => s.role == SignerRole::Admin,
                PrincipalRole::Peer => s.role == SignerRole::Peer,
                PrincipalRole::Orderer => s.role == SignerRole::Orderer,
                PrincipalRole::Client => s.role == SignerRole::Client,
            }
    }
    fn assign(wanted: &[&Principal], signers: &[Signer], used: &mut [bool]) -> bool {
        let Some((first, rest)) = wanted.split_first() else {
            return true;
        };
        for j in 0..signers.len() {
            if !used[j] && matches(first, &signers[j]) {
                used[j] = true;
                let ok = assign(rest, signers, used);
                used[j] = false;
                if ok {
                    return true;
                }
            }
        }
        false
    }
    let mut principals = Vec::new();
    leaves(policy, &mut principals);
    (0u32..1 << principals.len()).any(|met| {
        let wanted: Vec<&Principal> = (0..principals.len())
            .filter(|i| met & (1 << i) != 0)
            .map(|i| principals[i])
            .collect();
        holds(policy, met, &mut 0) && assign(&wanted, signers, &mut vec![false; signers.len()])
    })
}

/// `OutOf(n, ..)` over every pair of `orgs`, each pair four times (peer or
/// member on either side), and `'<inert>.admin'`. A peer of `inert` matches
/// no principal but counts towards the signers present, so with peers of
/// `inert` no counting bound rules out a threshold that the pairs cannot
/// meet, and only the full search can decide: with five peers of each of
/// four orgs and `n = 11`, more than the work budget allows.
pub(crate) fn pairs_policy(n: usize, orgs: &[&str], inert: &str) -> Policy {
    let mut rules = Vec::new();
    for (i, x) in orgs.iter().enumerate() {
        for y in orgs.iter().skip(i + 1) {
            for (rx, ry) in [
                (PrincipalRole::Peer, PrincipalRole::Peer),
                (PrincipalRole::Peer, PrincipalRole::Member),
                (PrincipalRole::Member, PrincipalRole::Peer),
                (PrincipalRole::Member, PrincipalRole::Member),
            ] {
                rules.push(Policy::OutOf {
                    n: 2,
                    rules: vec![signed(x, rx), signed(y, ry)],
                });
            }
        }
    }
    rules.push(signed(inert, PrincipalRole::Admin));
    Policy::OutOf { n, rules }
}

/// `OutOf(paths + 1, ..)` over `paths` disjoint paths of three orgs (two
/// pairs each, sharing the middle org), and the orgs, for
/// [`Policy::evaluate_org_peers`]: one peer per org covers one pair per
/// path at most, which the search establishes only by trying every
/// combination (with 16 paths, more than the work budget allows).
pub(crate) fn paths_policy(paths: usize) -> (Policy, Vec<String>) {
    let orgs: Vec<String> = (0..paths)
        .flat_map(|i| ["a", "b", "c"].map(|end| format!("P{i}{end}")))
        .collect();
    let rules = orgs
        .chunks(3)
        .flat_map(|path| {
            path.windows(2).map(|pair| Policy::OutOf {
                n: 2,
                rules: pair
                    .iter()
                    .map(|o| signed(o, PrincipalRole::Peer))
                    .collect(),
            })
        })
        .collect();
    (
        Policy::OutOf {
            n: paths + 1,
            rules,
        },
        orgs,
    )
}

/// `OR(AND('<first>.peer', '<first>.member'), AND(every other org's peer))`.
/// One peer per org satisfies only the second branch, but the lower bound
/// on the orgs needed is two, so [`Policy::pick_orgs`] tries every smaller
/// set first (with 20 orgs, more than the work budget allows).
pub(crate) fn lopsided_policy(orgs: &[String]) -> Policy {
    let Some((first, rest)) = orgs.split_first() else {
        return Policy::OutOf {
            n: 0,
            rules: Vec::new(),
        };
    };
    Policy::OutOf {
        n: 1,
        rules: vec![
            Policy::OutOf {
                n: 2,
                rules: vec![
                    signed(first, PrincipalRole::Peer),
                    signed(first, PrincipalRole::Member),
                ],
            },
            Policy::OutOf {
                n: rest.len(),
                rules: rest
                    .iter()
                    .map(|o| signed(o, PrincipalRole::Peer))
                    .collect(),
            },
        ],
    }
}
