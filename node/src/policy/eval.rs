//! Deciding whether a set of signers satisfies a policy: an exact
//! backtracking search under a work budget.

use super::ast::{Policy, PrincipalRole, Signer, SignerRole};
use super::EvalError;
use std::collections::{BTreeMap, HashSet};

/// Work units one evaluation or org selection may spend before giving up
/// with [`EvalError::SearchBudgetExhausted`].
///
/// Realistic policies use a tiny fraction of this; it only stops
/// pathological policies from causing exponential search.
pub(super) const MAX_STEPS: u64 = 1 << 20;

impl PrincipalRole {
    /// The signer role this principal requires, or `None` when any role will do.
    fn required(self) -> Option<SignerRole> {
        match self {
            Self::Member => None,
            Self::Admin => Some(SignerRole::Admin),
            Self::Peer => Some(SignerRole::Peer),
            Self::Orderer => Some(SignerRole::Orderer),
            Self::Client => Some(SignerRole::Client),
        }
    }
}

/// Signer counts per concrete role.
#[derive(Debug, Clone, Copy, Default)]
struct RoleCounts {
    /// Admin signers.
    admin: usize,
    /// Peer signers.
    peer: usize,
    /// Orderer signers.
    orderer: usize,
    /// Client signers.
    client: usize,
}

impl RoleCounts {
    /// The count for `role`.
    fn get(&self, role: SignerRole) -> usize {
        match role {
            SignerRole::Admin => self.admin,
            SignerRole::Peer => self.peer,
            SignerRole::Orderer => self.orderer,
            SignerRole::Client => self.client,
        }
    }

    /// The count for `role`, mutably.
    fn get_mut(&mut self, role: SignerRole) -> &mut usize {
        match role {
            SignerRole::Admin => &mut self.admin,
            SignerRole::Peer => &mut self.peer,
            SignerRole::Orderer => &mut self.orderer,
            SignerRole::Client => &mut self.client,
        }
    }
}

/// The signers of one org, and how many of them the search has promised to principals.
///
/// Principals of one org can be given distinct signers exactly when every
/// role-specific demand fits that role's signers and the total demand
/// (including `.member` principals, which accept any role) fits all the
/// org's signers (Hall's condition for this matching), so counts suffice.
#[derive(Debug, Clone, Default)]
pub(super) struct OrgSigners {
    /// Signers present, per role.
    have: RoleCounts,
    /// Signers present, all roles.
    total: usize,
    /// Role-specific principals currently assigned, per role.
    want: RoleCounts,
    /// Principals currently assigned, all roles.
    want_total: usize,
}

/// A policy specialised to a set of signers, with orgs replaced by indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Node {
    /// Satisfied without any signature.
    Always,
    /// Cannot be satisfied by these signers.
    Never,
    /// One signature from org `org` with role `role` (`None` = any role).
    Leaf {
        /// Index of the org.
        org: usize,
        /// Required role, or `None` for member.
        role: Option<SignerRole>,
    },
    /// At least `need` of the children, listed as (child, multiplicity) with identical children merged.
    Gate {
        /// How many children must be satisfied.
        need: usize,
        /// A lower bound on the signatures needed.
        min: usize,
        /// Lower bounds on the signatures needed from particular pools.
        floor: Vec<(Pool, usize)>,
        /// Distinct children and how often each appears, cheapest first.
        groups: Vec<(Node, usize)>,
    },
}

/// A pool of signers that a lower bound refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Pool {
    /// All signers of the org with this index.
    Org(usize),
    /// Signers of the org with this index holding the role with this rank.
    Role(usize, u8),
}

/// A stable rank for each signer role, used to order pools.
fn role_rank(role: SignerRole) -> u8 {
    match role {
        SignerRole::Admin => 0,
        SignerRole::Peer => 1,
        SignerRole::Orderer => 2,
        SignerRole::Client => 3,
    }
}

/// The signer role with the given rank.
fn ranked_role(rank: u8) -> Option<SignerRole> {
    match rank {
        0 => Some(SignerRole::Admin),
        1 => Some(SignerRole::Peer),
        2 => Some(SignerRole::Orderer),
        3 => Some(SignerRole::Client),
        _ => None,
    }
}

impl Node {
    /// A lower bound on the number of signatures this node needs.
    pub(super) fn min(&self) -> usize {
        match self {
            Self::Always => 0,
            Self::Never => usize::MAX,
            Self::Leaf { .. } => 1,
            Self::Gate { min, .. } => *min,
        }
    }

    /// Lower bounds on the signatures this node needs from particular pools.
    fn floor(&self) -> Vec<(Pool, usize)> {
        match self {
            Self::Always | Self::Never => Vec::new(),
            Self::Leaf { org, role } => {
                let mut floor = vec![(Pool::Org(*org), 1)];
                if let Some(r) = role {
                    floor.push((Pool::Role(*org, role_rank(*r)), 1));
                }
                floor
            }
            Self::Gate { floor, .. } => floor.clone(),
        }
    }

    /// Builds the node for `policy` given the org list and the signers present.
    pub(super) fn compile(policy: &Policy, orgs: &[String], signers: &[OrgSigners]) -> Self {
        match policy {
            Policy::SignedBy(principal) => {
                let Some(org) = orgs.iter().position(|m| *m == principal.msp_id) else {
                    return Self::Never;
                };
                let Some(present) = signers.get(org) else {
                    return Self::Never;
                };
                let role = principal.role.required();
                let available = role.map_or(present.total, |r| present.have.get(r));
                if available == 0 {
                    Self::Never
                } else {
                    Self::Leaf { org, role }
                }
            }
            Policy::OutOf { n, rules } => {
                let mut need = *n;
                let mut groups: Vec<(Node, usize)> = Vec::new();
                for rule in rules {
                    match Self::compile(rule, orgs, signers) {
                        Self::Always => need = need.saturating_sub(1),
                        Self::Never => {}
                        node => match groups.iter_mut().find(|(g, _)| *g == node) {
                            Some((_, count)) => *count += 1,
                            None => groups.push((node, 1)),
                        },
                    }
                }
                if need == 0 {
                    return Self::Always;
                }
                let mins: Vec<usize> = groups
                    .iter()
                    .flat_map(|(g, count)| std::iter::repeat_n(g.min(), *count))
                    .collect();
                if mins.len() < need {
                    return Self::Never;
                }
                let min = sum_smallest(mins, need);
                // Any `need` children need at least the `need` smallest demands on each pool.
                let children = groups
                    .iter()
                    .fold(0usize, |acc, (_, c)| acc.saturating_add(*c));
                let mut per_pool: BTreeMap<Pool, Vec<usize>> = BTreeMap::new();
                for (group, count) in &groups {
                    for (pool, n) in group.floor() {
                        per_pool
                            .entry(pool)
                            .or_default()
                            .extend(std::iter::repeat_n(n, *count));
                    }
                }
                let floor = per_pool
                    .into_iter()
                    .filter_map(|(pool, demands)| {
                        let without = children.saturating_sub(demands.len());
                        let n = sum_smallest(demands, need.saturating_sub(without));
                        (n > 0).then_some((pool, n))
                    })
                    .collect();
                groups.sort_by_key(|(group, _)| group.min());
                Self::Gate {
                    need,
                    min,
                    floor,
                    groups,
                }
            }
        }
    }
}

/// The sum of the `count` smallest values (saturating).
fn sum_smallest(mut values: Vec<usize>, count: usize) -> usize {
    values.sort_unstable();
    values
        .iter()
        .take(count)
        .fold(0usize, |acc, v| acc.saturating_add(*v))
}

/// Backtracking search for an assignment of distinct signers to principals.
struct Search {
    /// Signers per org (indexed like the org list) and current assignments.
    orgs: Vec<OrgSigners>,
    /// Signers not yet assigned, over all orgs.
    free: usize,
    /// Remaining work budget.
    steps: u64,
    /// Set once a branch was cut short for want of budget: a `false` from
    /// the search then means "undecided", not "unsatisfiable".
    exhausted: bool,
}

/// The rest of the search, run once a node has been satisfied.
type Continuation<'k> = &'k mut dyn FnMut(&mut Search) -> bool;

impl Search {
    /// Spends one unit of work; false (and marks the search exhausted) once
    /// the budget is gone.
    fn tick(&mut self) -> bool {
        if self.steps == 0 {
            self.exhausted = true;
            false
        } else {
            self.steps -= 1;
            true
        }
    }

    /// Unassigned signers in `pool` that a principal could still be given.
    fn available(&self, pool: Pool) -> usize {
        let (org, rank) = match pool {
            Pool::Org(org) => (org, None),
            Pool::Role(org, rank) => (org, Some(rank)),
        };
        let Some(s) = self.orgs.get(org) else {
            return 0;
        };
        let any = s.total.saturating_sub(s.want_total);
        match rank {
            None => any,
            Some(rank) => ranked_role(rank)
                .map_or(0, |r| s.have.get(r).saturating_sub(s.want.get(r)))
                .min(any),
        }
    }

    /// False when the unassigned signers are certainly too few for `node`.
    fn may_fit(&self, node: &Node) -> bool {
        node.min() <= self.free
            && match node {
                Node::Gate { floor, .. } => {
                    floor.iter().all(|(pool, n)| self.available(*pool) >= *n)
                }
                _ => true,
            }
    }

    /// Assigns one more signer of `org` (with `role`, if given) to a principal, if one is left.
    fn claim(&mut self, org: usize, role: Option<SignerRole>) -> bool {
        let Some(s) = self.orgs.get_mut(org) else {
            return false;
        };
        if s.want_total >= s.total {
            return false;
        }
        if let Some(r) = role {
            if s.want.get(r) >= s.have.get(r) {
                return false;
            }
            *s.want.get_mut(r) += 1;
        }
        s.want_total += 1;
        self.free = self.free.saturating_sub(1);
        true
    }

    /// Undoes a successful [`Search::claim`].
    fn release(&mut self, org: usize, role: Option<SignerRole>) {
        if let Some(s) = self.orgs.get_mut(org) {
            if let Some(r) = role {
                let want = s.want.get_mut(r);
                *want = want.saturating_sub(1);
            }
            s.want_total = s.want_total.saturating_sub(1);
            self.free += 1;
        }
    }

    /// True if `node` can be satisfied, in some way, such that `then` also succeeds afterwards.
    fn satisfy(&mut self, node: &Node, then: Continuation<'_>) -> bool {
        if !self.tick() || !self.may_fit(node) {
            return false;
        }
        match node {
            Node::Always => then(self),
            Node::Never => false,
            Node::Leaf { org, role } => {
                if !self.claim(*org, *role) {
                    return false;
                }
                let ok = then(self);
                self.release(*org, *role);
                ok
            }
            Node::Gate { need, groups, .. } => self.choose(groups, *need, then),
        }
    }

    /// Satisfies `need` children from `groups`, then runs `then`.
    fn choose(&mut self, groups: &[(Node, usize)], need: usize, then: Continuation<'_>) -> bool {
        if need == 0 {
            return then(self);
        }
        match groups.split_first() {
            Some(((node, count), rest)) => self.repeat(node, *count, rest, need, then),
            None => false,
        }
    }

    /// Satisfies `need` children, taking up to `left` more copies of `node` before moving on to `rest`.
    ///
    /// Copies of one child are interchangeable, so skipping a copy skips the
    /// rest of them too; this removes symmetric branches.
    fn repeat(
        &mut self,
        node: &Node,
        left: usize,
        rest: &[(Node, usize)],
        need: usize,
        then: Continuation<'_>,
    ) -> bool {
        if need == 0 {
            return then(self);
        }
        let capacity = rest.iter().fold(left, |acc, (_, c)| acc.saturating_add(*c));
        if capacity < need {
            return false;
        }
        if left > 0
            && self.satisfy(node, &mut |s: &mut Search| {
                s.repeat(node, left - 1, rest, need - 1, &mut *then)
            })
        {
            return true;
        }
        if self.steps == 0 {
            self.exhausted = true;
            return false;
        }
        self.choose(rest, need, then)
    }
}

impl Policy {
    /// Whether the signers satisfy the policy.
    ///
    /// Each distinct signer ([`SignerId`](super::SignerId): org and
    /// certificate) counts once, however often `signers` lists it (the first
    /// entry's role counts), and satisfies at most one principal, so
    /// `AND('Org1MSP.member', 'Org1MSP.member')` needs two Org1 signers with
    /// different certificates. `.member` accepts any role of the org; other
    /// roles must match exactly. Signers from orgs the policy does not name
    /// are ignored. The search is exhaustive, so the answer does not depend
    /// on the order of rules or signers. Policies beyond
    /// [`MAX_DEPTH`](super::MAX_DEPTH) or
    /// [`MAX_PRINCIPALS`](super::MAX_PRINCIPALS) (which the parser refuses)
    /// are not satisfied.
    ///
    /// # Errors
    ///
    /// [`EvalError::SearchBudgetExhausted`] when the search spends its whole
    /// work budget before it can decide; only pathological policies do. The caller decides what an undecided policy means; it is
    /// never reported as satisfied.
    pub fn evaluate(&self, signers: &[Signer]) -> Result<bool, EvalError> {
        if !self.within_limits() {
            return Ok(false);
        }
        let orgs = self.msp_ids();
        let mut steps = MAX_STEPS;
        let mut seen = HashSet::new();
        let distinct = signers
            .iter()
            .filter(|s| seen.insert(&s.id))
            .map(|s| (s.id.msp_id.as_str(), s.role));
        satisfied_by(self, &orgs, distinct, &mut steps)
    }

    /// Whether one peer of each org in `orgs` satisfies the policy (an org
    /// listed twice counts once): for decisions recorded per org, such as
    /// the approvals of a chaincode definition.
    ///
    /// # Errors
    ///
    /// [`EvalError::SearchBudgetExhausted`], as for [`Policy::evaluate`].
    pub fn evaluate_org_peers(&self, orgs: &[String]) -> Result<bool, EvalError> {
        if !self.within_limits() {
            return Ok(false);
        }
        let mut seen = HashSet::new();
        let distinct: Vec<&str> = orgs
            .iter()
            .map(String::as_str)
            .filter(|o| seen.insert(*o))
            .collect();
        let mut steps = MAX_STEPS;
        satisfied_by(self, &self.msp_ids(), peer_signers(&distinct), &mut steps)
    }
}

/// Whether every check holds, given checks that may be undecided (each a
/// result of [`Policy::evaluate`] or [`Policy::evaluate_org_peers`]).
///
/// Stops at the first `Ok(false)`: a check that fails decides the answer
/// even when another could not be decided. Otherwise the first error, if
/// any check was undecided.
///
/// # Errors
///
/// The first check's [`EvalError`] when no check failed but some were
/// undecided.
pub fn all_satisfied(
    checks: impl IntoIterator<Item = Result<bool, EvalError>>,
) -> Result<bool, EvalError> {
    let mut undecided = None;
    for check in checks {
        match check {
            Ok(true) => {}
            Ok(false) => return Ok(false),
            Err(e) => {
                undecided.get_or_insert(e);
            }
        }
    }
    undecided.map_or(Ok(true), Err)
}

/// One Peer signer for each org in `set`.
pub(super) fn peer_signers<'s>(
    set: &'s [&'s str],
) -> impl Iterator<Item = (&'s str, SignerRole)> + 's {
    set.iter().map(|m| (*m, SignerRole::Peer))
}

/// Counts the signers of each org in `orgs`; signers of other orgs are dropped.
pub(super) fn tally<'s>(
    orgs: &[String],
    signers: impl Iterator<Item = (&'s str, SignerRole)>,
) -> Vec<OrgSigners> {
    let mut present = vec![OrgSigners::default(); orgs.len()];
    for (msp_id, role) in signers {
        let slot = orgs
            .iter()
            .position(|m| m == msp_id)
            .and_then(|i| present.get_mut(i));
        if let Some(s) = slot {
            *s.have.get_mut(role) += 1;
            s.total += 1;
        }
    }
    present
}

/// Runs the exact search for `policy` against `signers`, spending from
/// `steps`; an error when `steps` runs out before the search can decide.
pub(super) fn satisfied_by<'s>(
    policy: &Policy,
    orgs: &[String],
    signers: impl Iterator<Item = (&'s str, SignerRole)>,
    steps: &mut u64,
) -> Result<bool, EvalError> {
    let present = tally(orgs, signers);
    let root = Node::compile(policy, orgs, &present);
    let mut search = Search {
        free: present.iter().map(|s| s.total).sum(),
        orgs: present,
        steps: *steps,
        exhausted: false,
    };
    let ok = search.satisfy(&root, &mut |_: &mut Search| true);
    *steps = search.steps;
    if !ok && search.exhausted {
        return Err(EvalError::SearchBudgetExhausted { budget: MAX_STEPS });
    }
    Ok(ok)
}

#[cfg(test)]
mod tests;
