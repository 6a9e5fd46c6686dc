//! Mapping errors to gRPC statuses with their reasons
//! (`services.proto`'s `ErrorReason`), in one place.

use crate::endorsement::EndorseError;
use consort_client::reason::{self, is_connect_failure};
use consort_proto::ErrorReason as R;
use tonic::{Code, Status};

/// The status for a refused proposal.
pub fn endorse(e: &EndorseError) -> Status {
    let why = match e {
        EndorseError::Malformed(_) | EndorseError::BadTxId | EndorseError::UnknownChannel(_) => {
            R::MalformedRequest
        }
        EndorseError::NotDefined(_) | EndorseError::UnknownChaincode(_) => R::UnknownChaincode,
        EndorseError::Creator(_) | EndorseError::BadSignature(_) => R::CreatorRefused,
        EndorseError::DuplicateTxId(_) => R::DuplicateTxId,
        EndorseError::Ledger(_) | EndorseError::Sign(_) => R::NodeFailure,
    };
    reason::status(why, e.to_string())
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

/// What an orderer's answer to a forwarded submission means for the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitAnswer {
    /// It never reached the orderer (could not connect): try another one.
    NotSent,
    /// The ordering service refused it; resending the same envelope gets
    /// the same answer.
    Refused,
    /// The call failed after the submission may have reached the ordering
    /// service (transport error mid-call, timeout, leadership change, no
    /// quorum): it may or may not be ordered.
    Unknown,
}

/// Classifies a failed `Broadcast` call (the one place this is decided).
pub fn submit_answer(s: &Status) -> SubmitAnswer {
    if is_connect_failure(s) {
        return SubmitAnswer::NotSent;
    }
    match s.code() {
        Code::Unavailable
        | Code::Unknown
        | Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Internal
        | Code::Aborted => SubmitAnswer::Unknown,
        _ => SubmitAnswer::Refused,
    }
}

/// The status a client gets when a submission's outcome is unknown:
/// `UNAVAILABLE`, saying that resending the same signed envelope is safe.
pub fn outcome_unknown(detail: &str) -> Status {
    reason::status(
        R::OrderingOutcomeUnknown,
        format!(
        "ordering outcome unknown: the transaction may or may not have been ordered ({detail}); \
         resending the same signed envelope is safe (a copy already ordered makes the resend \
         DUPLICATE_TXID), and CommitStatus gives the final answer"
    ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submit_answers_are_classified() {
        let cases = [
            // Text alone proves nothing: a connect failure is known by its
            // source (`reason::is_connect_failure`, tested there).
            (
                Status::unavailable("tcp connect error: refused"),
                SubmitAnswer::Unknown,
            ),
            (Status::unknown("transport error"), SubmitAnswer::Unknown),
            (Status::cancelled("stream reset"), SubmitAnswer::Unknown),
            (Status::deadline_exceeded("15s"), SubmitAnswer::Unknown),
            (Status::internal("h2 protocol error"), SubmitAnswer::Unknown),
            (
                Status::unavailable("ordering service unavailable: Raft leadership changed"),
                SubmitAnswer::Unknown,
            ),
            (
                Status::invalid_argument("transaction refused: bad signature"),
                SubmitAnswer::Refused,
            ),
            (Status::permission_denied("role"), SubmitAnswer::Refused),
            (Status::out_of_range("too large"), SubmitAnswer::Refused),
        ];
        for (status, want) in cases {
            assert_eq!(submit_answer(&status), want, "{status:?}");
        }
        let s = outcome_unknown("transport error");
        assert_eq!(s.code(), Code::Unavailable);
        assert_eq!(reason::reason_of(&s), Some(R::OrderingOutcomeUnknown));
        assert!(s.message().contains("may or may not have been ordered"));
        assert!(s
            .message()
            .contains("resending the same signed envelope is safe"));
        assert!(s.message().contains("CommitStatus"));
    }
}
