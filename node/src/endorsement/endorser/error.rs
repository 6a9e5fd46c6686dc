//! Why the endorser refused a proposal or could not endorse it.

use crate::identity::MspError;
use crate::ledger::LedgerError;

/// Why a proposal was refused before or instead of running the chaincode.
#[derive(Debug, thiserror::Error)]
pub enum EndorseError {
    /// A message does not decode or misses a field.
    #[error("malformed proposal: {0}")]
    Malformed(String),
    /// The proposal names another channel.
    #[error("unknown channel '{0}'")]
    UnknownChannel(String),
    /// The chaincode is not defined on the channel (no definition in
    /// `_lifecycle` or the genesis block).
    #[error("chaincode '{0}' is not defined on the channel")]
    NotDefined(String),
    /// The chaincode is defined but not installed on this peer.
    #[error("unknown chaincode '{0}'")]
    UnknownChaincode(String),
    /// The creator is not a valid member.
    #[error("creator refused: {0}")]
    Creator(#[from] MspError),
    /// The creator's signature does not verify.
    #[error("proposal signature does not verify for creator '{0}'")]
    BadSignature(String),
    /// The transaction ID is not derived from nonce and creator.
    #[error("transaction ID is not SHA-256(nonce || creator)")]
    BadTxId,
    /// A transaction with this ID is already on the ledger.
    #[error("transaction {0} is already committed")]
    DuplicateTxId(String),
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Signing the endorsement failed.
    #[error("cannot sign endorsement: {0}")]
    Sign(String),
}
