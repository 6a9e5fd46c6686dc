//! Endorsement policies in Hyperledger Fabric's signature-policy syntax.
//!
//! A policy is parsed from text such as
//! `OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', OR('Org3MSP.admin', 'Org3MSP.peer'))`,
//! printed back in a canonical form, evaluated against a set of verified
//! signers, and used by the gateway to choose which orgs to ask for
//! endorsements.
//!
//! Grammar (operator names and roles are case-insensitive; whitespace may
//! appear between any two tokens):
//!
//! ```text
//! rule      := principal
//!            | AND '(' rules ')'
//!            | OR '(' rules ')'
//!            | OutOf '(' n ',' rules ')'
//! rules     := rule (',' rule)*
//! principal := "'" MSPID '.' role "'"  |  '"' MSPID '.' role '"'
//! role      := member | admin | peer | orderer | client
//! ```
//!
//! An MSP ID is one or more of `[A-Za-z0-9._-]`; the role follows the last
//! dot. `OutOf` requires `1 <= n <= number of rules`. Operators may nest at
//! most [`MAX_DEPTH`] deep and a policy may name at most [`MAX_PRINCIPALS`]
//! principals.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

/// Deepest nesting of AND/OR/OutOf operators a policy may have.
pub const MAX_DEPTH: usize = 16;

/// Largest number of principals a policy may name.
pub const MAX_PRINCIPALS: usize = 64;

/// Work units one evaluation or org selection may spend before giving up.
///
/// Realistic policies use a tiny fraction of this; it only stops
/// pathological policies from causing exponential search.
const MAX_STEPS: u64 = 1 << 20;

/// Role a principal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalRole {
    /// Any identity of the org, whatever its role.
    Member,
    /// An admin identity of the org.
    Admin,
    /// A peer identity of the org.
    Peer,
    /// An orderer identity of the org.
    Orderer,
    /// A client identity of the org.
    Client,
}

impl PrincipalRole {
    /// Parses a role name case-insensitively.
    fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "member" => Some(Self::Member),
            "admin" => Some(Self::Admin),
            "peer" => Some(Self::Peer),
            "orderer" => Some(Self::Orderer),
            "client" => Some(Self::Client),
            _ => None,
        }
    }

    /// The canonical lower-case name used in policy text.
    fn as_str(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Admin => "admin",
            Self::Peer => "peer",
            Self::Orderer => "orderer",
            Self::Client => "client",
        }
    }

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

impl fmt::Display for PrincipalRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An org and the role required of its signer, e.g. 'Org1MSP.peer'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The MSP ID of the org.
    pub msp_id: String,
    /// The role the signer must hold.
    pub role: PrincipalRole,
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "'{}.{}'", self.msp_id, self.role)
    }
}

/// A parsed policy. AND(a,b,..) is OutOf(n, ..) with n = count, OR(..) is OutOf(1, ..).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Satisfied by one signature from the principal.
    SignedBy(Principal),
    /// Satisfied when at least `n` of `rules` are satisfied.
    OutOf {
        /// How many of the rules must be satisfied.
        n: usize,
        /// The sub-policies.
        rules: Vec<Policy>,
    },
}

/// The role an actual signer holds (from its certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignerRole {
    /// An admin identity.
    Admin,
    /// A peer identity.
    Peer,
    /// An orderer identity.
    Orderer,
    /// A client identity.
    Client,
}

impl From<crate::identity::Role> for SignerRole {
    /// The signer role of the policy language that a certificate's role gives.
    fn from(role: crate::identity::Role) -> Self {
        use crate::identity::Role;
        match role {
            Role::Admin => SignerRole::Admin,
            Role::Peer => SignerRole::Peer,
            Role::Orderer => SignerRole::Orderer,
            Role::Client => SignerRole::Client,
        }
    }
}

/// Who signed: the signer's org and the SHA-256 of its certificate's signed
/// part ([`crate::identity::CertInfo::cert_hash`]). Signatures by one
/// `SignerId` count as one signer, however the identity was encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignerId {
    /// The MSP ID of the signer's org.
    pub msp_id: String,
    /// SHA-256 of the signer's certificate (its `TBSCertificate`).
    pub cert_hash: [u8; 32],
}

/// One verified signer: who it is and the role its certificate gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signer {
    /// Its org and certificate.
    pub id: SignerId,
    /// The role from the signer's certificate.
    pub role: SignerRole,
}

/// Why a policy string could not be parsed. Positions are 0-based byte offsets.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// The policy text is empty or only whitespace.
    #[error("endorsement policy is empty")]
    Empty,
    /// A character that cannot appear at this point of the policy.
    #[error("unexpected {found:?} at byte {pos} of the policy: expected {expected}")]
    UnexpectedChar {
        /// Byte offset of the character.
        pos: usize,
        /// The offending character.
        found: char,
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// The policy text stops before the policy is complete.
    #[error("policy ends unexpectedly at byte {pos}: expected {expected}")]
    UnexpectedEnd {
        /// Byte offset of the end of the text.
        pos: usize,
        /// What the parser was looking for.
        expected: &'static str,
    },
    /// An operator name other than `AND`, `OR` or `OutOf`.
    #[error("unknown operator '{name}' at byte {pos} of the policy: expected AND, OR or OutOf")]
    UnknownOperator {
        /// Byte offset of the operator name.
        pos: usize,
        /// The operator name as written.
        name: String,
    },
    /// A quoted principal whose closing quote is missing.
    #[error("principal starting at byte {pos} of the policy has no closing quote")]
    UnterminatedQuote {
        /// Byte offset of the opening quote.
        pos: usize,
    },
    /// A principal with no '.role' suffix.
    #[error("principal '{principal}' at byte {pos} of the policy must have the form 'MSPID.role'")]
    MissingRole {
        /// Byte offset of the principal's opening quote.
        pos: usize,
        /// The text between the quotes.
        principal: String,
    },
    /// A principal whose MSP ID is empty or has characters outside [A-Za-z0-9._-].
    #[error(
        "principal '{principal}' at byte {pos} of the policy has an invalid MSP ID: \
         use one or more of A-Z, a-z, 0-9, '.', '_', '-'"
    )]
    InvalidMspId {
        /// Byte offset of the principal's opening quote.
        pos: usize,
        /// The text between the quotes.
        principal: String,
    },
    /// A principal whose role is not member, admin, peer, orderer or client.
    #[error(
        "principal '{principal}' at byte {pos} of the policy has unknown role '{role}': \
         expected member, admin, peer, orderer or client"
    )]
    UnknownRole {
        /// Byte offset of the principal's opening quote.
        pos: usize,
        /// The text between the quotes.
        principal: String,
        /// The role as written.
        role: String,
    },
    /// An `OutOf` threshold too large to represent.
    #[error("OutOf threshold '{text}' at byte {pos} of the policy is not a valid number")]
    InvalidNumber {
        /// Byte offset of the threshold.
        pos: usize,
        /// The digits as written.
        text: String,
    },
    /// An `OutOf` threshold outside 1..=number of rules.
    #[error(
        "OutOf threshold {n} at byte {pos} of the policy must be between 1 and the number of rules ({count})"
    )]
    BadThreshold {
        /// Byte offset of the threshold.
        pos: usize,
        /// The threshold as written.
        n: usize,
        /// How many rules the `OutOf` has.
        count: usize,
    },
    /// An operator with no rules, such as `AND()`.
    #[error("{op} at byte {pos} of the policy has no rules")]
    EmptyRule {
        /// Byte offset of the operator name.
        pos: usize,
        /// The operator: `"AND"`, `"OR"` or `"OutOf"`.
        op: &'static str,
    },
    /// Text after the end of a complete policy.
    #[error("unexpected text at byte {pos} after the end of the policy")]
    Trailing {
        /// Byte offset of the first extra character.
        pos: usize,
    },
    /// Operators nested more deeply than allowed.
    #[error("operator at byte {pos} of the policy nests deeper than the limit of {max} levels")]
    TooDeep {
        /// Byte offset of the operator that exceeds the limit.
        pos: usize,
        /// The nesting limit.
        max: usize,
    },
    /// More principals than allowed.
    #[error("principal at byte {pos} of the policy exceeds the limit of {max} principals")]
    TooManyPrincipals {
        /// Byte offset of the principal that exceeds the limit.
        pos: usize,
        /// The principal limit.
        max: usize,
    },
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

/// What the parser wants where a rule starts.
const EXPECT_RULE: &str = "a quoted principal or AND, OR, OutOf";

/// The three operators, with the threshold of `OutOf` and its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    /// All rules.
    And,
    /// Any one rule.
    Or,
    /// `n` rules; `pos` is where `n` was written.
    OutOf { n: usize, pos: usize },
}

impl Operator {
    /// Canonical operator name for messages.
    fn name(self) -> &'static str {
        match self {
            Self::And => "AND",
            Self::Or => "OR",
            Self::OutOf { .. } => "OutOf",
        }
    }
}

/// Recursive-descent parser over the policy text.
struct Parser<'a> {
    /// The whole policy text.
    src: &'a str,
    /// Byte offset of the next unread character (always a char boundary).
    pos: usize,
    /// Principals parsed so far.
    principals: usize,
}

impl<'a> Parser<'a> {
    /// The next unread character.
    fn peek(&self) -> Option<char> {
        self.src.get(self.pos..)?.chars().next()
    }

    /// Consumes and returns the next character.
    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// Consumes characters while `keep` holds and returns them.
    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        self.src.get(start..self.pos).unwrap_or_default()
    }

    /// Skips whitespace.
    fn skip_ws(&mut self) {
        self.take_while(char::is_whitespace);
    }

    /// The error for finding something other than `expected` at the current position.
    fn unexpected(&self, expected: &'static str) -> PolicyError {
        match self.peek() {
            Some(found) => PolicyError::UnexpectedChar {
                pos: self.pos,
                found,
                expected,
            },
            None => PolicyError::UnexpectedEnd {
                pos: self.pos,
                expected,
            },
        }
    }

    /// Consumes `want` after optional whitespace, or reports what was found instead.
    fn consume(&mut self, want: char, expected: &'static str) -> Result<(), PolicyError> {
        self.skip_ws();
        if self.peek() == Some(want) {
            self.bump();
            Ok(())
        } else {
            Err(self.unexpected(expected))
        }
    }

    /// Parses one rule inside `depth` enclosing operators.
    fn rule(&mut self, depth: usize) -> Result<Policy, PolicyError> {
        self.skip_ws();
        match self.peek() {
            Some(quote @ ('\'' | '"')) => self.principal(quote),
            Some(c) if c.is_ascii_alphabetic() => self.operator(depth),
            _ => Err(self.unexpected(EXPECT_RULE)),
        }
    }

    /// Parses a quoted principal starting at the opening `quote`.
    fn principal(&mut self, quote: char) -> Result<Policy, PolicyError> {
        let pos = self.pos;
        self.bump();
        let body = self.take_while(|c| c != quote);
        if self.bump().is_none() {
            return Err(PolicyError::UnterminatedQuote { pos });
        }
        let Some((msp_id, role_name)) = body.rsplit_once('.') else {
            return Err(PolicyError::MissingRole {
                pos,
                principal: body.to_string(),
            });
        };
        let msp_ok = !msp_id.is_empty()
            && msp_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !msp_ok {
            return Err(PolicyError::InvalidMspId {
                pos,
                principal: body.to_string(),
            });
        }
        let role = PrincipalRole::parse(role_name).ok_or_else(|| PolicyError::UnknownRole {
            pos,
            principal: body.to_string(),
            role: role_name.to_string(),
        })?;
        self.principals += 1;
        if self.principals > MAX_PRINCIPALS {
            return Err(PolicyError::TooManyPrincipals {
                pos,
                max: MAX_PRINCIPALS,
            });
        }
        Ok(Policy::SignedBy(Principal {
            msp_id: msp_id.to_string(),
            role,
        }))
    }

    /// Parses `AND(..)`, `OR(..)` or `OutOf(n, ..)` inside `depth` enclosing operators.
    fn operator(&mut self, depth: usize) -> Result<Policy, PolicyError> {
        let pos = self.pos;
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        let is_out_of = match name.to_ascii_lowercase().as_str() {
            "and" | "or" => false,
            "outof" => true,
            _ => {
                return Err(PolicyError::UnknownOperator {
                    pos,
                    name: name.to_string(),
                })
            }
        };
        if depth >= MAX_DEPTH {
            return Err(PolicyError::TooDeep {
                pos,
                max: MAX_DEPTH,
            });
        }
        self.consume('(', "'(' after the operator name")?;
        self.skip_ws();
        let op = if is_out_of {
            let n_pos = self.pos;
            let digits = self.take_while(|c| c.is_ascii_digit());
            if digits.is_empty() {
                return Err(self.unexpected("the OutOf threshold (a number)"));
            }
            let n = digits
                .parse::<usize>()
                .map_err(|_| PolicyError::InvalidNumber {
                    pos: n_pos,
                    text: digits.to_string(),
                })?;
            self.skip_ws();
            if self.peek() == Some(')') {
                return Err(PolicyError::EmptyRule { pos, op: "OutOf" });
            }
            self.consume(',', "',' after the OutOf threshold")?;
            Operator::OutOf { n, pos: n_pos }
        } else if name.eq_ignore_ascii_case("and") {
            Operator::And
        } else {
            Operator::Or
        };
        self.skip_ws();
        if self.peek() == Some(')') {
            return Err(PolicyError::EmptyRule { pos, op: op.name() });
        }
        let mut rules = Vec::new();
        loop {
            rules.push(self.rule(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(',') => {
                    self.bump();
                }
                Some(')') => {
                    self.bump();
                    break;
                }
                _ => return Err(self.unexpected("',' or ')'")),
            }
        }
        let count = rules.len();
        let n = match op {
            Operator::And => count,
            Operator::Or => 1,
            Operator::OutOf { n, pos } => {
                if n == 0 || n > count {
                    return Err(PolicyError::BadThreshold { pos, n, count });
                }
                n
            }
        };
        Ok(Policy::OutOf { n, rules })
    }
}

impl FromStr for Policy {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(PolicyError::Empty);
        }
        let mut parser = Parser {
            src: s,
            pos: 0,
            principals: 0,
        };
        let policy = parser.rule(0)?;
        parser.skip_ws();
        if parser.peek().is_some() {
            return Err(PolicyError::Trailing { pos: parser.pos });
        }
        Ok(policy)
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SignedBy(principal) => principal.fmt(f),
            Self::OutOf { n, rules } => {
                let mut sep = if *n == 1 {
                    f.write_str("OR(")?;
                    ""
                } else if *n == rules.len() {
                    f.write_str("AND(")?;
                    ""
                } else {
                    write!(f, "OutOf({n}")?;
                    ", "
                };
                for rule in rules {
                    write!(f, "{sep}{rule}")?;
                    sep = ", ";
                }
                f.write_str(")")
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

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
struct OrgSigners {
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
enum Node {
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
enum Pool {
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
    fn min(&self) -> usize {
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
    fn compile(policy: &Policy, orgs: &[String], signers: &[OrgSigners]) -> Self {
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
}

/// The rest of the search, run once a node has been satisfied.
type Continuation<'k> = &'k mut dyn FnMut(&mut Search) -> bool;

impl Search {
    /// Spends one unit of work; false once the budget is gone.
    fn tick(&mut self) -> bool {
        if self.steps == 0 {
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
        self.steps > 0 && self.choose(rest, need, then)
    }
}

impl Policy {
    /// True when the signers satisfy the policy.
    ///
    /// Each distinct signer ([`SignerId`]: org and certificate) counts once,
    /// however often `signers` lists it (the first entry's role counts), and
    /// satisfies at most one principal, so
    /// `AND('Org1MSP.member', 'Org1MSP.member')` needs two Org1 signers with
    /// different certificates. `.member` accepts any role of the org; other
    /// roles must match exactly. Signers from orgs the policy does not name
    /// are ignored. The search is exhaustive, so the answer does not depend
    /// on the order of rules or signers. Policies beyond [`MAX_DEPTH`] or
    /// [`MAX_PRINCIPALS`], or whose search exceeds a fixed work bound (only
    /// pathological policies do), are treated as not satisfied.
    pub fn evaluate(&self, signers: &[Signer]) -> bool {
        if !self.within_limits() {
            return false;
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

    /// True when one peer of each org in `orgs` satisfies the policy (an org
    /// listed twice counts once): for decisions recorded per org, such as
    /// the approvals of a chaincode definition.
    pub fn evaluate_org_peers(&self, orgs: &[String]) -> bool {
        if !self.within_limits() {
            return false;
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
    /// chosen orgs in that preference order. Returns `None` when no set of
    /// available orgs satisfies the policy (or the policy exceeds the parse
    /// limits or a fixed work bound).
    pub fn pick_orgs(&self, preferred: &[String], available: &[String]) -> Option<Vec<String>> {
        if !self.within_limits() {
            return None;
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
        if all == Node::Never || !satisfied_by(self, &orgs, peer_signers(&candidates), &mut steps) {
            return None;
        }
        let smallest = all.min();
        let mut chosen = Vec::new();
        for size in smallest..=candidates.len() {
            let mut test = |set: &[&str]| {
                steps = steps.saturating_sub(cost);
                if satisfied_by(self, &orgs, peer_signers(set), &mut steps) {
                    Pick::Found
                } else if steps == 0 {
                    Pick::GiveUp
                } else {
                    Pick::Continue
                }
            };
            match combinations(&candidates, size, &mut chosen, &mut test) {
                Pick::Found => return Some(chosen.iter().map(ToString::to_string).collect()),
                Pick::GiveUp => return None,
                Pick::Continue => {}
            }
        }
        None
    }

    /// All principals in the policy, in order of appearance.
    fn principals(&self) -> Vec<&Principal> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(policy) = stack.pop() {
            match policy {
                Policy::SignedBy(p) => out.push(p),
                Policy::OutOf { rules, .. } => stack.extend(rules.iter().rev()),
            }
        }
        out
    }

    /// True when nesting and principal count are within the parser's limits.
    fn within_limits(&self) -> bool {
        fn check(policy: &Policy, depth: usize, principals: &mut usize) -> bool {
            match policy {
                Policy::SignedBy(_) => {
                    *principals += 1;
                    *principals <= MAX_PRINCIPALS
                }
                Policy::OutOf { rules, .. } => {
                    depth < MAX_DEPTH && rules.iter().all(|r| check(r, depth + 1, principals))
                }
            }
        }
        check(self, 0, &mut 0)
    }
}

/// One Peer signer for each org in `set`.
fn peer_signers<'s>(set: &'s [&'s str]) -> impl Iterator<Item = (&'s str, SignerRole)> + 's {
    set.iter().map(|m| (*m, SignerRole::Peer))
}

/// Counts the signers of each org in `orgs`; signers of other orgs are dropped.
fn tally<'s>(
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

/// Runs the exact search for `policy` against `signers`, spending from `steps`.
fn satisfied_by<'s>(
    policy: &Policy,
    orgs: &[String],
    signers: impl Iterator<Item = (&'s str, SignerRole)>,
    steps: &mut u64,
) -> bool {
    let present = tally(orgs, signers);
    let root = Node::compile(policy, orgs, &present);
    let mut search = Search {
        free: present.iter().map(|s| s.total).sum(),
        orgs: present,
        steps: *steps,
    };
    let ok = search.satisfy(&root, &mut |_: &mut Search| true);
    *steps = search.steps;
    ok
}

/// Outcome of testing org sets in [`combinations`].
enum Pick {
    /// The current set satisfies the policy.
    Found,
    /// Keep looking.
    Continue,
    /// The work bound is exhausted.
    GiveUp,
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

    fn p(s: &str) -> Policy {
        s.parse().unwrap()
    }

    fn err(s: &str) -> PolicyError {
        s.parse::<Policy>().unwrap_err()
    }

    fn signed(msp: &str, role: PrincipalRole) -> Policy {
        Policy::SignedBy(Principal {
            msp_id: msp.to_string(),
            role,
        })
    }

    /// A signer with a certificate of its own: every call gives a new one.
    fn signer(msp: &str, role: SignerRole) -> Signer {
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
    fn peers(msp: &str, count: usize) -> Vec<Signer> {
        (0..count).map(|_| peer(msp)).collect()
    }

    fn peer(msp: &str) -> Signer {
        signer(msp, SignerRole::Peer)
    }

    fn admin(msp: &str) -> Signer {
        signer(msp, SignerRole::Admin)
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    // ----- parsing -----

    #[test]
    fn parses_single_principal_with_either_quote() {
        assert_eq!(p("'Org1MSP.peer'"), signed("Org1MSP", PrincipalRole::Peer));
        assert_eq!(
            p("\"Org1MSP.admin\""),
            signed("Org1MSP", PrincipalRole::Admin)
        );
    }

    #[test]
    fn parses_every_role_case_insensitively() {
        let cases = [
            ("member", PrincipalRole::Member),
            ("ADMIN", PrincipalRole::Admin),
            ("Peer", PrincipalRole::Peer),
            ("orderer", PrincipalRole::Orderer),
            ("cLiEnT", PrincipalRole::Client),
        ];
        for (name, role) in cases {
            assert_eq!(p(&format!("'A.{name}'")), signed("A", role));
        }
    }

    #[test]
    fn role_follows_last_dot() {
        assert_eq!(
            p("'org1.example.com.peer'"),
            signed("org1.example.com", PrincipalRole::Peer)
        );
        assert_eq!(
            p("'a_b-C.9.member'"),
            signed("a_b-C.9", PrincipalRole::Member)
        );
    }

    #[test]
    fn parses_and_or_outof() {
        let a = signed("A", PrincipalRole::Peer);
        let b = signed("B", PrincipalRole::Member);
        let c = signed("C", PrincipalRole::Admin);
        assert_eq!(
            p("AND('A.peer', 'B.member')"),
            Policy::OutOf {
                n: 2,
                rules: vec![a.clone(), b.clone()]
            }
        );
        assert_eq!(
            p("OR('A.peer', 'B.member', 'C.admin')"),
            Policy::OutOf {
                n: 1,
                rules: vec![a.clone(), b.clone(), c.clone()]
            }
        );
        assert_eq!(
            p("OutOf(2, 'A.peer', 'B.member', 'C.admin')"),
            Policy::OutOf {
                n: 2,
                rules: vec![a, b, c]
            }
        );
    }

    #[test]
    fn operators_are_case_insensitive() {
        assert_eq!(p("and('A.peer','B.peer')"), p("AND('A.peer','B.peer')"));
        assert_eq!(p("Or('A.peer','B.peer')"), p("OR('A.peer','B.peer')"));
        assert_eq!(
            p("outof(1,'A.peer','B.peer')"),
            p("OUTOF(1,'A.peer','B.peer')")
        );
        assert_eq!(p("OutOf(1,'A.peer','B.peer')"), p("OR('A.peer','B.peer')"));
    }

    #[test]
    fn parses_nested_policies() {
        let policy = p("OR(AND('A.peer', 'B.peer'), OutOf(1, 'C.admin', AND('D.member')))");
        let expected = Policy::OutOf {
            n: 1,
            rules: vec![
                Policy::OutOf {
                    n: 2,
                    rules: vec![
                        signed("A", PrincipalRole::Peer),
                        signed("B", PrincipalRole::Peer),
                    ],
                },
                Policy::OutOf {
                    n: 1,
                    rules: vec![
                        signed("C", PrincipalRole::Admin),
                        Policy::OutOf {
                            n: 1,
                            rules: vec![signed("D", PrincipalRole::Member)],
                        },
                    ],
                },
            ],
        };
        assert_eq!(policy, expected);
    }

    #[test]
    fn whitespace_is_allowed_between_tokens() {
        let spaced = " \n\tOutOf ( 2 ,\n 'A.peer' ,\t\"B.peer\" , OR ( 'C.peer' ) ) \n";
        assert_eq!(p(spaced), p("OutOf(2,'A.peer','B.peer',OR('C.peer'))"));
    }

    #[test]
    fn accepts_maximum_depth_and_principals() {
        let mut text = "'A.peer'".to_string();
        for _ in 0..MAX_DEPTH {
            text = format!("AND({text})");
        }
        assert!(text.parse::<Policy>().is_ok());

        let many = vec!["'A.peer'"; MAX_PRINCIPALS].join(",");
        assert!(format!("OR({many})").parse::<Policy>().is_ok());
    }

    // ----- display -----

    #[test]
    fn display_is_canonical() {
        assert_eq!(p("'A.PEER'").to_string(), "'A.peer'");
        assert_eq!(
            p("and( 'A.peer' ,\"B.Member\")").to_string(),
            "AND('A.peer', 'B.member')"
        );
        assert_eq!(
            p("outof(1, 'A.peer', 'B.peer')").to_string(),
            "OR('A.peer', 'B.peer')"
        );
        assert_eq!(
            p("OutOf(3, 'A.peer', 'B.peer', 'C.peer')").to_string(),
            "AND('A.peer', 'B.peer', 'C.peer')"
        );
        assert_eq!(
            p("OutOf(2, 'A.peer', 'B.peer', 'C.client')").to_string(),
            "OutOf(2, 'A.peer', 'B.peer', 'C.client')"
        );
        assert_eq!(
            p("OR(AND('A.admin','B.orderer'),'C.peer')").to_string(),
            "OR(AND('A.admin', 'B.orderer'), 'C.peer')"
        );
    }

    #[test]
    fn display_round_trips() {
        let cases = [
            "'Org1MSP.member'",
            "AND('Org1MSP.peer', 'Org2MSP.peer')",
            "OR('Org1MSP.admin', 'Org2MSP.client', 'Org3MSP.orderer')",
            "OutOf(2, 'A.peer', 'B.peer', 'C.peer', 'D.peer')",
            "OR(AND('a.b.c.peer', OutOf(2, 'x.member', 'y.member', 'z.member')), 'w-1_2.admin')",
            "and(or('A.peer'),outof(1,'B.peer'))",
        ];
        for text in cases {
            let policy = p(text);
            let printed = policy.to_string();
            assert_eq!(p(&printed), policy, "round trip of {text}");
            assert_eq!(p(&printed).to_string(), printed);
        }
    }

    // ----- errors -----

    #[test]
    fn error_empty() {
        assert_eq!(err(""), PolicyError::Empty);
        assert_eq!(err(" \n\t "), PolicyError::Empty);
    }

    #[test]
    fn error_unexpected_char() {
        assert_eq!(
            err("AND('A.peer'; 'B.peer')"),
            PolicyError::UnexpectedChar {
                pos: 12,
                found: ';',
                expected: "',' or ')'"
            }
        );
        assert_eq!(
            err("AND 'A.peer'"),
            PolicyError::UnexpectedChar {
                pos: 4,
                found: '\'',
                expected: "'(' after the operator name"
            }
        );
        assert_eq!(
            err("OR('A.peer', )"),
            PolicyError::UnexpectedChar {
                pos: 13,
                found: ')',
                expected: EXPECT_RULE
            }
        );
        assert_eq!(
            err("OutOf(x, 'A.peer')"),
            PolicyError::UnexpectedChar {
                pos: 6,
                found: 'x',
                expected: "the OutOf threshold (a number)"
            }
        );
        assert_eq!(
            err("OutOf(1 'A.peer')"),
            PolicyError::UnexpectedChar {
                pos: 8,
                found: '\'',
                expected: "',' after the OutOf threshold"
            }
        );
        assert_eq!(
            err("  Org1MSP.peer"),
            PolicyError::UnknownOperator {
                pos: 2,
                name: "Org1MSP".to_string()
            }
        );
        assert_eq!(
            err("ü"),
            PolicyError::UnexpectedChar {
                pos: 0,
                found: 'ü',
                expected: EXPECT_RULE
            }
        );
    }

    #[test]
    fn error_unexpected_end() {
        assert_eq!(
            err("AND('A.peer',"),
            PolicyError::UnexpectedEnd {
                pos: 13,
                expected: EXPECT_RULE
            }
        );
        assert_eq!(
            err("OR('A.peer'"),
            PolicyError::UnexpectedEnd {
                pos: 11,
                expected: "',' or ')'"
            }
        );
        assert_eq!(
            err("OutOf("),
            PolicyError::UnexpectedEnd {
                pos: 6,
                expected: "the OutOf threshold (a number)"
            }
        );
        assert_eq!(
            err("AND"),
            PolicyError::UnexpectedEnd {
                pos: 3,
                expected: "'(' after the operator name"
            }
        );
    }

    #[test]
    fn error_unknown_operator() {
        assert_eq!(
            err("OR('A.peer', NOT('B.peer'))"),
            PolicyError::UnknownOperator {
                pos: 13,
                name: "NOT".to_string()
            }
        );
    }

    #[test]
    fn error_unterminated_quote() {
        assert_eq!(
            err("OR('A.peer', 'B.peer)"),
            PolicyError::UnterminatedQuote { pos: 13 }
        );
        assert_eq!(err("'A.peer\""), PolicyError::UnterminatedQuote { pos: 0 });
    }

    #[test]
    fn error_missing_role() {
        assert_eq!(
            err("OR('A.peer', 'Org2MSP')"),
            PolicyError::MissingRole {
                pos: 13,
                principal: "Org2MSP".to_string()
            }
        );
    }

    #[test]
    fn error_invalid_msp_id() {
        assert_eq!(
            err("'.peer'"),
            PolicyError::InvalidMspId {
                pos: 0,
                principal: ".peer".to_string()
            }
        );
        assert_eq!(
            err("AND('A.peer', 'Org 1.peer')"),
            PolicyError::InvalidMspId {
                pos: 14,
                principal: "Org 1.peer".to_string()
            }
        );
    }

    #[test]
    fn error_unknown_role() {
        assert_eq!(
            err("AND('A.peer', 'B.owner')"),
            PolicyError::UnknownRole {
                pos: 14,
                principal: "B.owner".to_string(),
                role: "owner".to_string()
            }
        );
        assert_eq!(
            err("'A.'"),
            PolicyError::UnknownRole {
                pos: 0,
                principal: "A.".to_string(),
                role: String::new()
            }
        );
    }

    #[test]
    fn error_invalid_number() {
        assert_eq!(
            err("OutOf(99999999999999999999999999, 'A.peer')"),
            PolicyError::InvalidNumber {
                pos: 6,
                text: "99999999999999999999999999".to_string()
            }
        );
    }

    #[test]
    fn error_bad_threshold() {
        assert_eq!(
            err("OutOf(0, 'A.peer')"),
            PolicyError::BadThreshold {
                pos: 6,
                n: 0,
                count: 1
            }
        );
        assert_eq!(
            err("OutOf( 3, 'A.peer', 'B.peer')"),
            PolicyError::BadThreshold {
                pos: 7,
                n: 3,
                count: 2
            }
        );
    }

    #[test]
    fn error_empty_rule() {
        assert_eq!(err("AND()"), PolicyError::EmptyRule { pos: 0, op: "AND" });
        assert_eq!(
            err("OR('A.peer', or( ))"),
            PolicyError::EmptyRule { pos: 13, op: "OR" }
        );
        assert_eq!(
            err("OutOf(1)"),
            PolicyError::EmptyRule {
                pos: 0,
                op: "OutOf"
            }
        );
        assert_eq!(
            err("OutOf(1, )"),
            PolicyError::EmptyRule {
                pos: 0,
                op: "OutOf"
            }
        );
    }

    #[test]
    fn error_trailing() {
        assert_eq!(err("'A.peer' 'B.peer'"), PolicyError::Trailing { pos: 9 });
        assert_eq!(err("AND('A.peer'))"), PolicyError::Trailing { pos: 13 });
    }

    #[test]
    fn error_too_deep() {
        let mut text = "'A.peer'".to_string();
        for _ in 0..=MAX_DEPTH {
            text = format!("OR({text})");
        }
        assert_eq!(
            err(&text),
            PolicyError::TooDeep {
                pos: 3 * MAX_DEPTH,
                max: MAX_DEPTH
            }
        );
    }

    #[test]
    fn error_too_many_principals() {
        let many = vec!["'A.peer'"; MAX_PRINCIPALS + 1].join(",");
        let text = format!("OR({many})");
        assert_eq!(
            err(&text),
            PolicyError::TooManyPrincipals {
                pos: 3 + 9 * MAX_PRINCIPALS,
                max: MAX_PRINCIPALS
            }
        );
    }

    #[test]
    fn error_messages_name_the_problem_and_position() {
        let msg = err("OutOf(3, 'A.peer', 'B.peer')").to_string();
        assert!(msg.contains("OutOf threshold 3"), "{msg}");
        assert!(msg.contains("byte 6"), "{msg}");
        assert!(msg.contains("(2)"), "{msg}");
        let msg = err("'A.boss'").to_string();
        assert!(msg.contains("unknown role 'boss'"), "{msg}");
    }

    // ----- evaluation -----

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

    /// Deterministic pseudo-random numbers for the cross-check below.
    struct Lcg(u64);

    impl Lcg {
        fn below(&mut self, n: usize) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) as usize % n
        }
    }

    fn random_policy(rng: &mut Lcg, depth: usize, leaves: &mut usize) -> Policy {
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
    fn brute_force(policy: &Policy, signers: &[Signer]) -> bool {
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
            assert_eq!(
                policy.pick_orgs(&preferred, &available),
                expected,
                "{policy} preferring {preferred:?} from {available:?}"
            );
            found += usize::from(expected.is_some());
        }
        assert!(found > 25 && found < 225, "{found}");
    }

    // ----- msp_ids -----

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
        assert_eq!(policy.pick_orgs(&[], &all), Some(strings(&["A"])));
        assert_eq!(
            policy.pick_orgs(&strings(&["C"]), &all),
            Some(strings(&["C"]))
        );
        assert_eq!(
            policy.pick_orgs(&strings(&["Z", "B"]), &all),
            Some(strings(&["B"]))
        );
    }

    #[test]
    fn pick_orgs_smallest_set_in_preference_order() {
        let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.peer')");
        let all = strings(&["A", "B", "C"]);
        assert_eq!(policy.pick_orgs(&[], &all), Some(strings(&["A", "B"])));
        assert_eq!(
            policy.pick_orgs(&strings(&["C"]), &all),
            Some(strings(&["C", "A"]))
        );
        assert_eq!(
            policy.pick_orgs(&strings(&["C", "B"]), &all),
            Some(strings(&["C", "B"]))
        );

        // Size wins over preference.
        let policy = p("OR(AND('A.peer', 'B.peer'), 'C.member')");
        assert_eq!(
            policy.pick_orgs(&strings(&["A", "B"]), &strings(&["A", "B", "C"])),
            Some(strings(&["C"]))
        );
        assert_eq!(
            policy.pick_orgs(&strings(&["A"]), &strings(&["A", "B"])),
            Some(strings(&["A", "B"]))
        );
    }

    #[test]
    fn pick_orgs_skips_unavailable_orgs() {
        let policy = p("OutOf(2, 'A.peer', 'B.peer', 'C.peer')");
        assert_eq!(
            policy.pick_orgs(&strings(&["A"]), &strings(&["B", "C", "D"])),
            Some(strings(&["B", "C"]))
        );
        let policy = p("AND('A.peer', OR('B.peer', 'C.member'))");
        assert_eq!(
            policy.pick_orgs(&strings(&["A"]), &strings(&["A", "C"])),
            Some(strings(&["A", "C"]))
        );
    }

    #[test]
    fn pick_orgs_none_when_unsatisfiable() {
        let policy = p("AND('A.peer', 'B.peer')");
        assert_eq!(policy.pick_orgs(&[], &strings(&["A", "C"])), None);
        assert_eq!(policy.pick_orgs(&[], &[]), None);
        // Peers cannot stand in for admins.
        assert_eq!(p("'A.admin'").pick_orgs(&[], &strings(&["A"])), None);
        // One peer per org cannot satisfy two principals of the same org.
        assert_eq!(
            p("AND('A.peer', 'A.member')").pick_orgs(&[], &strings(&["A"])),
            None
        );
    }

    #[test]
    fn pick_orgs_result_satisfies_policy() {
        let policy = p(
            "OutOf(2, AND('A.peer', 'B.member'), OR('C.peer', 'D.admin'), 'E.member', 'B.admin')",
        );
        let all = strings(&["A", "B", "C", "D", "E"]);
        let picked = policy.pick_orgs(&strings(&["B"]), &all).unwrap();
        assert_eq!(picked, strings(&["C", "E"]));
        let peers: Vec<Signer> = picked.iter().map(|m| peer(m)).collect();
        assert!(policy.evaluate(&peers));
    }
}
