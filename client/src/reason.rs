//! Why a call failed, as a typed reason: every error a Consort node returns
//! carries a `google.rpc.ErrorInfo` whose `reason` names an
//! [`ErrorReason`] (the table in `services.proto`). Nodes build their
//! errors with [`status`]; clients read them with [`reason_of`]. Deciding on
//! a reason, never on a message's text, keeps the two sides in step.

use consort_proto::ErrorReason;
use std::collections::HashMap;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `ErrorInfo` domain of Consort's errors.
pub const DOMAIN: &str = "consort";

/// What resending the same request is, per the error table: the `resend`
/// metadata of an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resend {
    /// Safe: nothing was done, or a second copy cannot be applied twice.
    Yes,
    /// Refused for what it is: it would be refused again.
    No,
    /// Propose again (a new transaction ID): the endorsement is stale.
    NewProposal,
}

impl Resend {
    fn as_str(self) -> &'static str {
        match self {
            Resend::Yes => "yes",
            Resend::No => "no",
            Resend::NewProposal => "new_proposal",
        }
    }
}

/// The gRPC code and resend rule that go with a reason.
pub fn code_of(reason: ErrorReason) -> (Code, Resend) {
    use ErrorReason as R;
    match reason {
        R::Unspecified => (Code::Unknown, Resend::No),
        R::NoClientCertificate => (Code::Unauthenticated, Resend::No),
        R::CertificateRefused | R::RoleNotAllowed | R::CreatorRefused => {
            (Code::PermissionDenied, Resend::No)
        }
        R::MalformedRequest | R::TransactionRefused => (Code::InvalidArgument, Resend::No),
        R::MessageTooLarge => (Code::OutOfRange, Resend::No),
        R::StreamLimit => (Code::ResourceExhausted, Resend::Yes),
        R::UnknownChaincode | R::NotCommitted => (Code::NotFound, Resend::No),
        R::DuplicateTxId => (Code::AlreadyExists, Resend::No),
        R::ChaincodeError => (Code::Aborted, Resend::No),
        R::EndorsementsDiffer => (Code::Aborted, Resend::NewProposal),
        R::EndorsersUnavailable
        | R::NoOrderingLeader
        | R::OrderingOutcomeUnknown
        | R::ShuttingDown => (Code::Unavailable, Resend::Yes),
        R::CommitWaitExpired => (Code::DeadlineExceeded, Resend::Yes),
        R::NodeFailure => (Code::Internal, Resend::Yes),
        R::NoSuchMethod => (Code::Unimplemented, Resend::No),
        R::PolicyTooComplex => (Code::FailedPrecondition, Resend::No),
    }
}

/// A status for `reason` with its table code, `message`, and an
/// `ErrorInfo` carrying the reason, its resend rule and `metadata`.
pub fn status(reason: ErrorReason, message: impl Into<String>) -> Status {
    status_with(reason, message, [])
}

/// [`status`] with extra `ErrorInfo` metadata (e.g. `org`, `status`).
pub fn status_with<const N: usize>(
    reason: ErrorReason,
    message: impl Into<String>,
    metadata: [(&str, String); N],
) -> Status {
    let (code, resend) = code_of(reason);
    let mut meta: HashMap<String, String> = metadata
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    meta.insert("resend".into(), resend.as_str().into());
    Status::with_error_details(
        code,
        message,
        ErrorDetails::with_error_info(reason.as_str_name(), DOMAIN, meta),
    )
}

/// `s` with `prefix` before its message, keeping its code and details (its
/// reason): how a node passes on another node's refusal.
pub fn prefixed(s: &Status, prefix: &str) -> Status {
    Status::with_details(
        s.code(),
        format!("{prefix}: {}", s.message()),
        tonic::codegen::Bytes::copy_from_slice(s.details()),
    )
}

/// The reason a Consort node gave for `s`, if it gave one.
pub fn reason_of(s: &Status) -> Option<ErrorReason> {
    let info = s.get_details_error_info()?;
    if info.domain != DOMAIN {
        return None;
    }
    ErrorReason::from_str_name(&info.reason)
}

/// One `ErrorInfo` metadata value of `s` (e.g. `org`, `status`).
pub fn metadata(s: &Status, key: &str) -> Option<String> {
    s.get_details_error_info()?.metadata.get(key).cloned()
}

/// Whether a call failed before reaching the server (the TCP connection or
/// the TLS handshake failed, or the name did not resolve), so that trying it
/// elsewhere cannot duplicate it. Decided from the error's source chain
/// (tonic's `ConnectError`), not from its text.
pub fn is_connect_failure(s: &Status) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(s);
    while let Some(e) = next {
        if e.is::<tonic::ConnectError>() {
            return true;
        }
        next = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_round_trips_with_its_table_code() {
        for n in 1..=21 {
            let reason = ErrorReason::try_from(n).expect("a reason");
            let s = status_with(reason, "why", [("org", "Org1MSP".to_string())]);
            assert_eq!(s.code(), code_of(reason).0);
            assert_eq!(s.message(), "why");
            assert_eq!(reason_of(&s), Some(reason));
            assert_eq!(metadata(&s, "org").as_deref(), Some("Org1MSP"));
            assert!(metadata(&s, "resend").is_some());
        }
    }

    #[test]
    fn a_prefixed_status_keeps_its_reason() {
        let s = status(ErrorReason::ChaincodeError, "no balance");
        let p = prefixed(&s, "peer p:1 of Org2MSP");
        assert_eq!(p.message(), "peer p:1 of Org2MSP: no balance");
        assert_eq!(p.code(), Code::Aborted);
        assert_eq!(reason_of(&p), Some(ErrorReason::ChaincodeError));
    }

    #[test]
    fn a_status_without_details_or_from_elsewhere_has_no_reason() {
        assert_eq!(
            reason_of(&Status::aborted("chaincode error (status 400)")),
            None
        );
        let foreign = Status::with_error_details(
            Code::Aborted,
            "x",
            ErrorDetails::with_error_info("CHAINCODE_ERROR", "example.com", HashMap::new()),
        );
        assert_eq!(reason_of(&foreign), None);
    }

    #[test]
    fn connect_failures_are_known_by_their_source_not_their_text() {
        assert!(!is_connect_failure(&Status::unavailable(
            "tcp connect error"
        )));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            // A port nothing listens on.
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let ch = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                .expect("endpoint")
                .connect_lazy();
            let mut gw = consort_proto::gateway_client::GatewayClient::new(ch);
            let s = gw
                .peer_status(consort_proto::PeerStatusRequest {})
                .await
                .expect_err("nothing listens");
            assert_eq!(s.code(), Code::Unavailable, "{s:?}");
            assert!(is_connect_failure(&s), "{s:?}");
        });
    }
}
