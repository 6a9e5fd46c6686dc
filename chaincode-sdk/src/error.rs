//! The error type returned by chaincode invocations and stub calls.

/// Why a chaincode invocation failed; its message is sent back to the client.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ChaincodeError {
    /// The chaincode's own business rule refused the call.
    #[error("{0}")]
    Business(String),
    /// The requested function does not exist in the chaincode.
    #[error("unknown function '{0}'")]
    UnknownFunction(String),
    /// The arguments do not match what the function expects.
    #[error("invalid arguments to '{function}': {reason}")]
    InvalidArgs {
        /// The function that was called.
        function: String,
        /// What is wrong with the arguments.
        reason: String,
    },
    /// The chaincode asked the stub for something no stub can do: an empty
    /// key or one holding 0x00, a malformed composite key, a range bound or
    /// page size no query can have, a bookmark no query returned, an empty
    /// event name. A mistake in the chaincode or in what its client passed,
    /// not a failure of the peer.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The peer could not read or write world state, or lost the stream to
    /// the chaincode: a failure of the peer, not of the chaincode.
    #[error("state access failed: {0}")]
    State(String),
    /// Another chaincode could not be called: it is not defined on the
    /// channel or not installed, or the calls are nested too deep. An error
    /// the called chaincode itself returned is passed on unchanged instead.
    #[error("cannot call chaincode '{chaincode}': {reason}")]
    Call {
        /// The chaincode that was to be called.
        chaincode: String,
        /// Why it could not be.
        reason: String,
    },
}

/// The response status of a failed invocation whose fault lies with the
/// chaincode or its caller.
pub const STATUS_BAD_REQUEST: i32 = 400;
/// The response status of a failed invocation whose fault lies with the peer.
pub const STATUS_INTERNAL: i32 = 500;

impl ChaincodeError {
    /// Builds a [`ChaincodeError::Business`] error from a message.
    pub fn business(msg: impl Into<String>) -> Self {
        Self::Business(msg.into())
    }

    /// Builds a [`ChaincodeError::BadRequest`] error from a message.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::BadRequest(msg.into())
    }

    /// The response status a peer returns for this error: 500
    /// ([`STATUS_INTERNAL`]) for [`ChaincodeError::State`], the peer's own
    /// failure; 400 ([`STATUS_BAD_REQUEST`]) for every other variant.
    pub fn status(&self) -> i32 {
        match self {
            Self::State(_) => STATUS_INTERNAL,
            Self::Business(_)
            | Self::UnknownFunction(_)
            | Self::InvalidArgs { .. }
            | Self::BadRequest(_)
            | Self::Call { .. } => STATUS_BAD_REQUEST,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ChaincodeError;

    #[test]
    fn messages_are_client_readable() {
        assert_eq!(ChaincodeError::business("no").to_string(), "no");
        assert_eq!(
            ChaincodeError::UnknownFunction("fly".into()).to_string(),
            "unknown function 'fly'"
        );
        let invalid = ChaincodeError::InvalidArgs {
            function: "put".into(),
            reason: "expected 2 arguments".into(),
        };
        assert_eq!(
            invalid.to_string(),
            "invalid arguments to 'put': expected 2 arguments"
        );
        assert_eq!(
            ChaincodeError::State("disk".into()).to_string(),
            "state access failed: disk"
        );
        assert_eq!(
            ChaincodeError::bad_request("empty key").to_string(),
            "bad request: empty key"
        );
        assert_eq!(
            ChaincodeError::Call {
                chaincode: "bank".into(),
                reason: "not defined on the channel".into(),
            }
            .to_string(),
            "cannot call chaincode 'bank': not defined on the channel"
        );
    }

    #[test]
    fn only_state_failures_are_the_peers_fault() {
        assert_eq!(ChaincodeError::State("disk".into()).status(), 500);
        for author_or_client in [
            ChaincodeError::business("no"),
            ChaincodeError::bad_request("empty key"),
            ChaincodeError::UnknownFunction("fly".into()),
            ChaincodeError::InvalidArgs {
                function: "f".into(),
                reason: "r".into(),
            },
            ChaincodeError::Call {
                chaincode: "c".into(),
                reason: "r".into(),
            },
        ] {
            assert_eq!(author_or_client.status(), 400, "{author_or_client}");
        }
    }
}
