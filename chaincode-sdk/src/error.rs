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
    /// The peer could not read or write world state.
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

impl ChaincodeError {
    /// Builds a [`ChaincodeError::Business`] error from a message.
    pub fn business(msg: impl Into<String>) -> Self {
        Self::Business(msg.into())
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
            ChaincodeError::Call {
                chaincode: "bank".into(),
                reason: "not defined on the channel".into(),
            }
            .to_string(),
            "cannot call chaincode 'bank': not defined on the channel"
        );
    }
}
