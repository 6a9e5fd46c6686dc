//! Why an invocation produced no chaincode result.

use std::time::Duration;

/// Why an invocation produced no result. Every variant is answered with
/// status 500 and no endorsement; an external chaincode's variants name the
/// chaincode and its address.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The chaincode panicked (in process or on its external server).
    #[error("chaincode panicked: {0}")]
    Panicked(String),
    /// The in-process chaincode ran past the execution timeout.
    #[error("chaincode exceeded the execution timeout of {0:?}")]
    Timeout(Duration),
    /// The definition runs in process, but this peer has no chaincode of that name.
    #[error("chaincode '{0}' is not installed on this peer")]
    NotInstalled(String),
    /// The definition's external service cannot be dialed as written
    /// (address, TLS root), or this peer has no TLS identity to dial with.
    #[error("external chaincode '{chaincode}' at {address} cannot be used: {reason}")]
    BadExternal {
        /// The chaincode.
        chaincode: String,
        /// Its address.
        address: String,
        /// What is wrong.
        reason: String,
    },
    /// The chaincode server could not be reached (down, refused the TLS
    /// handshake, name not resolved); retry once it is back.
    #[error("external chaincode '{chaincode}' at {address} is unreachable: {reason}")]
    Unreachable {
        /// The chaincode.
        chaincode: String,
        /// Its address.
        address: String,
        /// What the transport reported.
        reason: String,
    },
    /// The invocation's stream broke before the chaincode completed.
    #[error("external chaincode '{chaincode}' at {address} failed mid-invocation: {reason}")]
    Stream {
        /// The chaincode.
        chaincode: String,
        /// Its address.
        address: String,
        /// What happened.
        reason: String,
    },
    /// The chaincode server sent a message the protocol does not allow.
    #[error("external chaincode '{chaincode}' at {address} broke the protocol: {reason}")]
    Protocol {
        /// The chaincode.
        chaincode: String,
        /// Its address.
        address: String,
        /// The violation.
        reason: String,
    },
    /// The external chaincode did not complete within the execution timeout.
    #[error("external chaincode '{chaincode}' at {address} exceeded the execution timeout of {timeout:?}")]
    ExternalTimeout {
        /// The chaincode.
        chaincode: String,
        /// Its address.
        address: String,
        /// The timeout.
        timeout: Duration,
    },
}
