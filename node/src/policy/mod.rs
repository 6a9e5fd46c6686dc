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
//!
//! Evaluation is an exact search with a fixed work budget: a policy too
//! complex to decide within it is an [`EvalError`], never a yes or a no.

mod ast;
mod display;
mod eval;
mod parse;
mod select;
#[cfg(test)]
pub(crate) mod testing;

pub use ast::{Policy, Principal, PrincipalRole, Signer, SignerId, SignerRole};
pub use eval::all_satisfied;

/// Deepest nesting of AND/OR/OutOf operators a policy may have.
pub const MAX_DEPTH: usize = 16;

/// Largest number of principals a policy may name.
pub const MAX_PRINCIPALS: usize = 64;

/// Why a policy could not be evaluated against a set of signers or orgs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The exact search spent its whole work budget without an answer.
    #[error(
        "endorsement policy is too complex to evaluate against this many signers: the search \
         gave up after {budget} steps without deciding; simplify the policy (fewer repeated \
         principals, fewer or smaller OutOf alternatives over the same orgs)"
    )]
    SearchBudgetExhausted {
        /// The work budget that was spent, in search steps.
        budget: u64,
    },
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
