//! What can go wrong in a client call, where, and whether trying again is
//! safe ([`ClientError::retry`]).

use crate::genesis::GenesisError;
use crate::identity::SignerError;
use crate::reason::Resend;
use crate::transport::TransportError;
use consort_proto::ErrorReason;
use consort_proto::TxValidationCode;
use std::fmt;

/// Whether, and how, a failed call may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Do not try again unchanged: the request was refused for what it is
    /// (its arguments, the identity, a permission, the configuration, or the
    /// chaincode's own answer) and would be refused again.
    No,
    /// Send the same request again after a short backoff (for a connection:
    /// connect again). Nothing was done, or doing it again cannot do it
    /// twice: evaluating and endorsing change nothing, and a signed envelope
    /// sent again after its first copy was ordered is `DUPLICATE_TXID`, while
    /// the commit status reports the first copy.
    Resend,
    /// Start over with a new proposal (a new transaction ID): the endorsed
    /// result is stale (the endorsing peers disagreed, or the transaction
    /// was committed as `MVCC_READ_CONFLICT` or `PHANTOM_READ_CONFLICT`).
    /// Safe: the failed transaction changed nothing.
    NewProposal,
}

/// The gateway or orderer call that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `Gateway.Evaluate`: a query.
    Evaluate,
    /// `Gateway.Endorse`: collecting endorsements.
    Endorse,
    /// `Gateway.Submit`: ordering a signed envelope.
    Submit,
    /// `Gateway.CommitStatus`: waiting for the commit.
    CommitStatus,
    /// `Gateway.BlockEvents`: the block stream.
    BlockEvents,
    /// `Gateway.ChaincodeEvents`: a chaincode's event stream.
    ChaincodeEvents,
    /// `Gateway.GetBlock`.
    GetBlock,
    /// `Gateway.GetTransaction`.
    GetTransaction,
    /// `Gateway.PeerStatus` (also the probe when connecting).
    PeerStatus,
    /// `AtomicBroadcast.Status` on an orderer.
    OrdererStatus,
}

impl Operation {
    /// The operation's name in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Evaluate => "evaluate",
            Operation::Endorse => "endorse",
            Operation::Submit => "submit",
            Operation::CommitStatus => "commit status",
            Operation::BlockEvents => "block events",
            Operation::ChaincodeEvents => "chaincode events",
            Operation::GetBlock => "get block",
            Operation::GetTransaction => "get transaction",
            Operation::PeerStatus => "peer status",
            Operation::OrdererStatus => "orderer status",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the profile's identities a [`ClientError::Identity`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityUse {
    /// The signing identity (`cert`, `key`): signs proposals and envelopes.
    Signing,
    /// The TLS identity (`tls_cert`, `tls_key`): presented on connections.
    Tls,
}

impl fmt::Display for IdentityUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityUse::Signing => "signing",
            IdentityUse::Tls => "TLS",
        })
    }
}

/// A client-side failure: what failed, where, and ([`ClientError::retry`])
/// whether trying again is safe.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The profile's signing or TLS identity could not be loaded (unreadable
    /// file, unsupported key, key not matching the certificate).
    /// Retry: [`Retry::No`].
    #[error("{which} identity: {source}")]
    Identity {
        /// Which identity.
        which: IdentityUse,
        /// Why.
        source: SignerError,
    },
    /// The profile could not be read or is invalid. Retry: [`Retry::No`].
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The profile's genesis block could not be read or is not one.
    /// Retry: [`Retry::No`].
    #[error(transparent)]
    Genesis(#[from] GenesisError),
    /// The gateway could not be reached: TCP, DNS or the TLS handshake
    /// failed on this side (e.g. the server's certificate is not trusted),
    /// or the endpoint is not `host:port`. Retry: [`Retry::Resend`]
    /// (connect again after a backoff), except for a bad endpoint.
    #[error(transparent)]
    Connect(#[from] TransportError),
    /// The node closed the connection during or right after the TLS
    /// handshake: it does not accept this client's certificate.
    /// Retry: [`Retry::No`].
    #[error(
        "{gateway} refused the connection: the node does not accept this client's certificate \
         (not issued by a channel member's CA, expired, revoked, or without a role) [{reason}]"
    )]
    Refused {
        /// The gateway.
        gateway: String,
        /// The transport's message.
        reason: String,
    },
    /// None of the profile's gateways could be used; each one's failure, in
    /// the order they were tried. Retry: [`Retry::Resend`] when any of them
    /// may succeed later, else [`Retry::No`].
    #[error("no gateway could be used: {}", list(.0))]
    NoGateway(Vec<ClientError>),
    /// The chaincode returned an error (reason `CHAINCODE_ERROR`): nothing
    /// was endorsed, ordered or written. The message is the gateway's,
    /// `chaincode error (status N, from <MSP>): …`. Retry: [`Retry::No`].
    #[error("{0}")]
    Chaincode(String),
    /// A gateway or orderer call failed with a gRPC status. Retry: by the
    /// node's reason, else by code (see [`ClientError::retry`]).
    #[error("{operation} failed ({code:?}{}) at {endpoint}: {message}", reason_suffix(.reason))]
    Rpc {
        /// Which call.
        operation: Operation,
        /// The node called.
        endpoint: String,
        /// gRPC status code.
        code: tonic::Code,
        /// The reason the node gave (`services.proto`'s `ErrorReason`);
        /// `None` when the failure did not come from a Consort node (e.g.
        /// the connection broke).
        reason: Option<ErrorReason>,
        /// The server's message.
        message: String,
    },
    /// The transaction was ordered and committed but is invalid: it changed
    /// nothing. Retry: [`Retry::NewProposal`] for a read conflict
    /// (`MVCC_READ_CONFLICT`, `PHANTOM_READ_CONFLICT`), else [`Retry::No`].
    #[error("transaction {tx_id} committed in block {block} as {}", invalid(.code))]
    Invalid {
        /// The transaction.
        tx_id: String,
        /// The block that holds it.
        block: u64,
        /// Why it is invalid.
        code: TxValidationCode,
    },
    /// Signing a proposal or an envelope failed. Retry: [`Retry::No`].
    #[error("signing failed: {0}")]
    Sign(#[from] SignerError),
    /// An argument could not be encoded, or an answer decoded.
    /// Retry: [`Retry::No`].
    #[error("{what}: {reason}")]
    Malformed {
        /// What was being encoded or decoded.
        what: String,
        /// Why it failed.
        reason: String,
    },
}

fn reason_suffix(reason: &Option<ErrorReason>) -> String {
    reason
        .map(|r| format!(", {}", r.as_str_name()))
        .unwrap_or_default()
}

fn invalid(code: &TxValidationCode) -> String {
    format!("{}: {}", code.as_str_name(), crate::codes::describe(*code))
}

fn list(errors: &[ClientError]) -> String {
    errors
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl ClientError {
    /// The error of a failed call: a chaincode's refusal as
    /// [`ClientError::Chaincode`], anything else as [`ClientError::Rpc`].
    pub fn rpc(operation: Operation, endpoint: &str, s: tonic::Status) -> Self {
        let reason = crate::reason::reason_of(&s);
        if reason == Some(ErrorReason::ChaincodeError) {
            return ClientError::Chaincode(s.message().to_string());
        }
        ClientError::Rpc {
            operation,
            endpoint: endpoint.to_string(),
            code: s.code(),
            reason,
            message: s.message().to_string(),
        }
    }

    /// The gRPC code, when the failure came from a call.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether, and how, the failed call may be tried again. A call refused
    /// by a Consort node follows the `resend` rule of its reason
    /// (`services.proto`'s `ErrorReason`, e.g. `ENDORSEMENTS_DIFFER` is
    /// `NewProposal`); a failure without a reason (the connection broke, a
    /// proxy answered) follows its code:
    ///
    /// | Failure | Retry |
    /// |---|---|
    /// | `UNAVAILABLE` (no Raft leader or quorum, leadership changed, a needed org's peers unreachable, a submission's outcome unknown), `DEADLINE_EXCEEDED`, `INTERNAL`, `RESOURCE_EXHAUSTED`, `CANCELLED`, `UNKNOWN`; a failed connection | `Resend` |
    /// | `ABORTED` other than a chaincode error (the endorsing peers' results differ); a committed `MVCC_READ_CONFLICT` or `PHANTOM_READ_CONFLICT` | `NewProposal` |
    /// | a chaincode error; `INVALID_ARGUMENT`, `PERMISSION_DENIED`, `UNAUTHENTICATED`, `NOT_FOUND`, `ALREADY_EXISTS`, `OUT_OF_RANGE` and other codes; a refused certificate; any other invalid commit; setup, signing and decoding failures | `No` |
    pub fn retry(&self) -> Retry {
        use tonic::Code;
        match self {
            ClientError::Connect(TransportError::BadEndpoint(_)) => Retry::No,
            ClientError::Connect(_) => Retry::Resend,
            ClientError::NoGateway(errors) => {
                if errors.iter().any(|e| e.retry() == Retry::Resend) {
                    Retry::Resend
                } else {
                    Retry::No
                }
            }
            ClientError::Rpc {
                reason: Some(reason),
                ..
            } => match crate::reason::code_of(*reason).1 {
                Resend::Yes => Retry::Resend,
                Resend::No => Retry::No,
                Resend::NewProposal => Retry::NewProposal,
            },
            ClientError::Rpc { code, .. } => match code {
                Code::Unavailable
                | Code::DeadlineExceeded
                | Code::Internal
                | Code::ResourceExhausted
                | Code::Cancelled
                | Code::Unknown => Retry::Resend,
                Code::Aborted => Retry::NewProposal,
                _ => Retry::No,
            },
            ClientError::Invalid { code, .. } => match code {
                TxValidationCode::MvccReadConflict | TxValidationCode::PhantomReadConflict => {
                    Retry::NewProposal
                }
                _ => Retry::No,
            },
            ClientError::Identity { .. }
            | ClientError::Config(_)
            | ClientError::Genesis(_)
            | ClientError::Refused { .. }
            | ClientError::Chaincode(_)
            | ClientError::Sign(_)
            | ClientError::Malformed { .. } => Retry::No,
        }
    }

    /// Whether trying again in some form ([`Retry::Resend`] or
    /// [`Retry::NewProposal`]) is safe and may succeed.
    pub fn is_retry_safe(&self) -> bool {
        self.retry() != Retry::No
    }

    /// Whether connecting should move on to the profile's next gateway: the
    /// gateway could not be reached or did not answer, as opposed to a
    /// refusal that every gateway of the channel would repeat.
    pub(crate) fn tries_next_gateway(&self) -> bool {
        match self {
            ClientError::Connect(_) | ClientError::Refused { .. } => true,
            ClientError::Rpc { code, .. } => matches!(
                code,
                tonic::Code::Unavailable
                    | tonic::Code::DeadlineExceeded
                    | tonic::Code::Unknown
                    | tonic::Code::Cancelled
                    | tonic::Code::Internal
                    | tonic::Code::ResourceExhausted
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::{Code, Status};

    fn rpc(code: Code, message: &str) -> ClientError {
        ClientError::rpc(Operation::Submit, "peer:7051", Status::new(code, message))
    }

    #[test]
    fn every_grpc_code_has_a_retry_rule_that_matches_the_protocol_table() {
        let table = [
            (Code::Ok, Retry::No),
            (Code::Cancelled, Retry::Resend),
            (Code::Unknown, Retry::Resend),
            (Code::InvalidArgument, Retry::No),
            (Code::DeadlineExceeded, Retry::Resend),
            (Code::NotFound, Retry::No),
            (Code::AlreadyExists, Retry::No),
            (Code::PermissionDenied, Retry::No),
            (Code::ResourceExhausted, Retry::Resend),
            (Code::FailedPrecondition, Retry::No),
            (Code::Aborted, Retry::NewProposal),
            (Code::OutOfRange, Retry::No),
            (Code::Unimplemented, Retry::No),
            (Code::Internal, Retry::Resend),
            (Code::Unavailable, Retry::Resend),
            (Code::DataLoss, Retry::No),
            (Code::Unauthenticated, Retry::No),
        ];
        for (code, want) in table {
            let e = rpc(code, "endorsement results differ between peers");
            assert_eq!(e.retry(), want, "{code:?}");
            assert_eq!(e.is_retry_safe(), want != Retry::No, "{code:?}");
            assert_eq!(e.code(), Some(code));
        }
    }

    #[test]
    fn a_chaincode_refusal_is_known_by_its_reason_and_never_retried() {
        let s = crate::reason::status(
            ErrorReason::ChaincodeError,
            "chaincode error (status 400, from Org1MSP): insufficient balance",
        );
        let e = ClientError::rpc(Operation::Endorse, "peer:7051", s);
        assert!(matches!(&e, ClientError::Chaincode(m) if m.contains("insufficient")));
        assert_eq!(e.retry(), Retry::No);
        assert_eq!(e.code(), None);
        // The same text without the reason is not taken for one.
        let e = rpc(
            Code::Aborted,
            "chaincode error (status 400, from Org1MSP): x",
        );
        assert!(matches!(e, ClientError::Rpc { reason: None, .. }));
    }

    #[test]
    fn a_reason_decides_the_retry_rule_over_the_code() {
        use crate::reason::{code_of, status};
        for n in 1..=21 {
            let reason = ErrorReason::try_from(n).expect("a reason");
            if reason == ErrorReason::ChaincodeError {
                continue;
            }
            let e = ClientError::rpc(Operation::Submit, "peer:7051", status(reason, "m"));
            let want = match code_of(reason).1 {
                Resend::Yes => Retry::Resend,
                Resend::No => Retry::No,
                Resend::NewProposal => Retry::NewProposal,
            };
            assert_eq!(e.retry(), want, "{reason:?}");
            assert!(matches!(e, ClientError::Rpc { reason: Some(r), .. } if r == reason));
        }
        let e = ClientError::rpc(
            Operation::Submit,
            "peer:7051",
            status(ErrorReason::OrderingOutcomeUnknown, "may or may not"),
        );
        assert_eq!(
            e.to_string(),
            "submit failed (Unavailable, ORDERING_OUTCOME_UNKNOWN) at peer:7051: may or may not"
        );
    }

    #[test]
    fn the_message_says_what_failed_where() {
        let e = rpc(Code::Unavailable, "ordering outcome unknown");
        assert_eq!(
            e.to_string(),
            "submit failed (Unavailable) at peer:7051: ordering outcome unknown"
        );
    }

    #[test]
    fn invalid_commits_are_retried_with_a_new_proposal_only_for_read_conflicts() {
        let invalid = |code| ClientError::Invalid {
            tx_id: "ab".into(),
            block: 7,
            code,
        };
        for code in [
            TxValidationCode::MvccReadConflict,
            TxValidationCode::PhantomReadConflict,
        ] {
            assert_eq!(invalid(code).retry(), Retry::NewProposal);
        }
        for code in [
            TxValidationCode::EndorsementPolicyFailure,
            TxValidationCode::DuplicateTxid,
            TxValidationCode::BadCreatorSignature,
        ] {
            assert_eq!(invalid(code).retry(), Retry::No);
        }
        let m = invalid(TxValidationCode::MvccReadConflict).to_string();
        assert!(m.contains("block 7 as MVCC_READ_CONFLICT: a key"), "{m}");
    }

    #[test]
    fn connecting_moves_on_from_an_unreachable_gateway_only() {
        let unreachable = ClientError::Connect(TransportError::Connect {
            endpoint: "a:1".into(),
            reason: "connection refused".into(),
        });
        assert!(unreachable.tries_next_gateway());
        assert_eq!(unreachable.retry(), Retry::Resend);
        let refused = ClientError::Refused {
            gateway: "a:1".into(),
            reason: "closed".into(),
        };
        assert!(refused.tries_next_gateway());
        assert!(rpc(Code::Unavailable, "x").tries_next_gateway());
        assert!(!rpc(Code::PermissionDenied, "x").tries_next_gateway());
        let bad = ClientError::Connect(TransportError::BadEndpoint("nowhere".into()));
        assert_eq!(bad.retry(), Retry::No);

        let all = ClientError::NoGateway(vec![unreachable, refused]);
        assert_eq!(all.retry(), Retry::Resend);
        assert!(all.to_string().starts_with("no gateway could be used: "));
        let none = ClientError::NoGateway(vec![bad]);
        assert_eq!(none.retry(), Retry::No);
    }
}
