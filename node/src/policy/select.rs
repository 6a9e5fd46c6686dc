//! Choosing orgs for the gateway: the MSP IDs a policy names and the
//! smallest set of orgs whose peers satisfy it.

use super::ast::{Policy, PrincipalRole};
use super::eval::{peer_signers, satisfied_by, tally, Node, MAX_STEPS};
use super::EvalError;
use std::collections::HashSet;

impl Policy {
    /// The distinct MSP IDs the policy mentions, in first-appearance order.
    pub fn msp_ids(&self) -> Vec<String> {
        let mut seen = HashSet::new();
        self.principals()
            .into_iter()
            .filter(|p| seen.insert(p.msp_id.as_str()))
            .map(|p| p.msp_id.clone())
            .collect()
    }

    /// Smallest set of orgs whose peers, one signer each with role Peer, satisfy the policy.
    ///
    /// Among the smallest sets, the one preferred is the one that includes
    /// orgs earliest in the order `preferred` first, then the policy's own
    /// order. Only orgs listed in `available` are used. The result lists the
    /// chosen orgs in that preference order. `Ok(None)` when no set of
    /// available orgs satisfies the policy (or the policy exceeds the parse
    /// limits).
    ///
    /// # Errors
    ///
    /// [`EvalError::SearchBudgetExhausted`] when checking the candidate sets
    /// spends the work budget (one budget, shared by all of them) before the
    /// smallest satisfying set is found or ruled out.
    pub fn pick_orgs(
        &self,
        preferred: &[String],
        available: &[String],
    ) -> Result<Option<Vec<String>>, EvalError> {
        if !self.within_limits() {
            return Ok(None);
        }
        let orgs = self.msp_ids();
        let principals = self.principals();
        // A peer can only help an org named with role peer or member.
        let useful = |m: &String| {
            available.contains(m)
                && principals.iter().any(|p| {
                    p.msp_id == *m && matches!(p.role, PrincipalRole::Peer | PrincipalRole::Member)
                })
        };
        let mut candidates: Vec<&str> = Vec::new();
        for m in preferred.iter().chain(orgs.iter()) {
            if useful(m) && !candidates.contains(&m.as_str()) {
                candidates.push(m.as_str());
            }
        }
        let mut steps = MAX_STEPS;
        let cost = u64::try_from(principals.len())
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        // Adding orgs never hurts, so if all candidates fail every subset fails.
        let all = Node::compile(self, &orgs, &tally(&orgs, peer_signers(&candidates)));
        if all == Node::Never {
            return Ok(None);
        }
        if !satisfied_by(self, &orgs, peer_signers(&candidates), &mut steps)? {
            return Ok(None);
        }
        let smallest = all.min();
        let mut chosen = Vec::new();
        for size in smallest..=candidates.len() {
            let mut test = |set: &[&str]| {
                steps = steps.saturating_sub(cost);
                match satisfied_by(self, &orgs, peer_signers(set), &mut steps) {
                    Ok(true) => Pick::Found,
                    Ok(false) => Pick::Continue,
                    Err(e) => Pick::GiveUp(e),
                }
            };
            match combinations(&candidates, size, &mut chosen, &mut test) {
                Pick::Found => return Ok(Some(chosen.iter().map(ToString::to_string).collect())),
                Pick::GiveUp(e) => return Err(e),
                Pick::Continue => {}
            }
        }
        Ok(None)
    }
}

/// Outcome of testing org sets in [`combinations`].
enum Pick {
    /// The current set satisfies the policy.
    Found,
    /// Keep looking.
    Continue,
    /// The work budget is exhausted.
    GiveUp(EvalError),
}

/// Tests every `size`-subset of `items` in lexicographic order of position, appending to `chosen`.
///
/// On [`Pick::Found`], `chosen` holds the satisfying subset.
fn combinations<'c>(
    items: &[&'c str],
    size: usize,
    chosen: &mut Vec<&'c str>,
    test: &mut dyn FnMut(&[&'c str]) -> Pick,
) -> Pick {
    if size == 0 {
        return test(chosen);
    }
    let mut rest = items;
    while rest.len() >= size {
        let Some((first, tail)) = rest.split_first() else {
            break;
        };
        chosen.push(first);
        match combinations(tail, size - 1, chosen, test) {
            Pick::Continue => {}
            done => return done,
        }
        chosen.pop();
        rest = tail;
    }
    Pick::Continue
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::*;
    use crate::policy::Signer;

    /// Reference for `pick_orgs`: all subsets of available orgs, smallest
    /// first, ties broken by the preference ranks of their members.
    fn brute_force_pick(
        policy: &Policy,
        preferred: &[String],
        available: &[String],
    ) -> Option<Vec<String>> {
        let order: Vec<String> = preferred.iter().cloned().chain(policy.msp_ids()).collect();
        let rank = |m: &String| order.iter().position(|o| o == m).unwrap_or(usize::MAX);
        let mut best: Option<(usize, Vec<usize>, Vec<String>)> = None;
        for mask in 0u32..1 << available.len() {
            let mut set: Vec<String> = (0..available.len())
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| available[i].clone())
                .collect();
            set.sort_by_key(|m| rank(m));
            let peers: Vec<Signer> = set.iter().map(|m| peer(m)).collect();
            if !brute_force(policy, &peers) {
                continue;
            }
            let key = (set.len(), set.iter().map(&rank).collect::<Vec<_>>());
            if best
                .as_ref()
                .is_none_or(|(len, ranks, _)| key < (*len, ranks.clone()))
            {
                best = Some((key.0, key.1, set));
            }
        }
        best.map(|(_, _, set)| set)
    }

    #[test]
    fn pick_orgs_agrees_with_exhaustive_search() {
        let orgs = strings(&["A", "B", "C", "D"]);
        let mut rng = Lcg(11);
        let mut found = 0;
        for _ in 0..250 {
            let policy = random_policy(&mut rng, 3, &mut 0);
            let available: Vec<String> =
                orgs.iter().filter(|_| rng.below(4) != 0).cloned().collect();
            let preferred: Vec<String> = (0..rng.below(3))
                .map(|_| orgs[rng.below(4)].clone())
                .collect();
            let expected = brute_force_pick(&policy, &preferred, &available);
            found += usize::from(expected.is_some());
            assert_eq!(
                policy.pick_orgs(&preferred, &available),
                Ok(expected),
                "{policy} preferring {preferred:?} from {available:?}"
            );
        }
        assert!(found > 25 && found < 225, "{found}");
    }

    #[test]
    fn msp_ids_in_first_appearance_order() {
        let policy = p("OR(AND('B.peer', 'A.admin'), OutOf(1, 'C.member', 'B.admin'), 'A.peer')");
        assert_eq!(policy.msp_ids(), strings(&["B", "A", "C"]));
        assert_eq!(p("'X.peer'").msp_ids(), strings(&["X"]));
    }

    // ----- pick_orgs -----

    #[test]
    fn pick_orgs_prefers_own_org() {
        let policy = p("OR('A.peer', 'B.peer', 'C.peer')");
        let all = strings(&["A", "B", "C"]);
        assert_eq!(policy.pick_orgs(&[], &all), Ok(Some(strings(&["A"]))));
        assert_eq!(
            policy.pick_orgs(&strings(&["C"]), &all),
            Ok(Some(strings(&["C"])))
        );
        assert_eq!(
            policy.pick_orgs(&strings(&["Z", "B"]), &all),
            Ok(Some(strings(&["B"])))
        );
    }

    #[test]
    fn pick_orgs_smallest_set_in_preference_order() {
        let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.peer')");
        let all = strings(&["A", "B", "C"]);
        assert_eq!(policy.pick_orgs(&[], &all), Ok(Some(strings(&["A", "B"]))));
        assert_eq!(
            policy.pick_orgs(&strings(&["C"]), &all),
            Ok(Some(strings(&["C", "A"])))
        );
        assert_eq!(
            policy.pick_orgs(&strings(&["C", "B"]), &all),
            Ok(Some(strings(&["C", "B"])))
        );

        // Size wins over preference.
        let policy = p("OR(AND('A.peer', 'B.peer'), 'C.member')");
        assert_eq!(
            policy.pick_orgs(&strings(&["A", "B"]), &strings(&["A", "B", "C"])),
            Ok(Some(strings(&["C"])))
        );
        assert_eq!(
            policy.pick_orgs(&strings(&["A"]), &strings(&["A", "B"])),
            Ok(Some(strings(&["A", "B"])))
        );
    }

    #[test]
    fn pick_orgs_skips_unavailable_orgs() {
        let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.peer')");
        assert_eq!(
            policy.pick_orgs(&strings(&["A"]), &strings(&["B", "C", "D"])),
            Ok(Some(strings(&["B", "C"])))
        );
        let policy = p("AND('A.peer', OR('B.peer', 'C.member'))");
        assert_eq!(
            policy.pick_orgs(&strings(&["A"]), &strings(&["A", "C"])),
            Ok(Some(strings(&["A", "C"])))
        );
    }

    #[test]
    fn pick_orgs_none_when_unsatisfiable() {
        let policy = p("AND('A.peer', 'B.peer')");
        assert_eq!(policy.pick_orgs(&[], &strings(&["A", "C"])), Ok(None));
        assert_eq!(policy.pick_orgs(&[], &[]), Ok(None));
        // Peers cannot stand in for admins.
        assert_eq!(p("'A.admin'").pick_orgs(&[], &strings(&["A"])), Ok(None));
        // One peer per org cannot satisfy two principals of the same org.
        assert_eq!(
            p("AND('A.peer', 'A.member')").pick_orgs(&[], &strings(&["A"])),
            Ok(None)
        );
    }

    #[test]
    fn pick_orgs_result_satisfies_policy() {
        let policy = p(
            "OutOf(2, AND('A.peer', 'B.member'), OR('C.peer', 'D.admin'), 'E.member', 'B.admin')",
        );
        let all = strings(&["A", "B", "C", "D", "E"]);
        let Ok(Some(picked)) = policy.pick_orgs(&strings(&["B"]), &all) else {
            panic!("no orgs picked");
        };
        assert_eq!(picked, strings(&["C", "E"]));
        let peers: Vec<Signer> = picked.iter().map(|m| peer(m)).collect();
        assert_eq!(policy.evaluate(&peers), Ok(true));
    }

    #[test]
    fn pick_orgs_that_spend_the_budget_are_an_error_not_none() {
        let orgs: Vec<String> = (1..=20).map(|i| format!("O{i}")).collect();
        let policy = lopsided_policy(&orgs);
        assert_eq!(policy.evaluate_org_peers(&orgs), Ok(true));
        assert_eq!(
            policy.pick_orgs(&[], &orgs),
            Err(EvalError::SearchBudgetExhausted { budget: MAX_STEPS })
        );
        // With fewer orgs the search ends, with every org but the first.
        let policy = lopsided_policy(&orgs[..6]);
        assert_eq!(
            policy.pick_orgs(&[], &orgs[..6]),
            Ok(Some(orgs[1..6].to_vec()))
        );
    }
}
