//! Mapping errors to gRPC status codes, in one place.

use crate::endorsement::EndorseError;
use tonic::{Code, Status};

/// The status for a refused proposal.
pub fn endorse(e: &EndorseError) -> Status {
    let msg = e.to_string();
    match e {
        EndorseError::Malformed(_) | EndorseError::BadTxId => Status::invalid_argument(msg),
        EndorseError::UnknownChannel(_)
        | EndorseError::NotDefined(_)
        | EndorseError::UnknownChaincode(_) => Status::not_found(msg),
        EndorseError::Creator(_) | EndorseError::BadSignature(_) => Status::permission_denied(msg),
        EndorseError::DuplicateTxId(_) => Status::already_exists(msg),
        EndorseError::Ledger(_) | EndorseError::Sign(_) => Status::internal(msg),
    }
}

/// Whether a call failed for a reason another node might not have
/// (unreachable, overloaded, timed out).
pub fn is_transient(s: &Status) -> bool {
    matches!(
        s.code(),
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Cancelled
            | Code::ResourceExhausted
    )
}
