//! The interface a chaincode uses to see its invocation and reach world state.

use crate::ChaincodeError;

/// The identity that signed the transaction proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Creator {
    /// The MSP (organisation) that issued the creator's certificate.
    pub msp_id: String,
    /// The creator's role: `"admin"`, `"peer"`, `"orderer"` or `"client"`.
    pub role: String,
    /// The common name (CN) of the creator's certificate subject.
    pub subject: String,
    /// The creator's certificate, DER-encoded.
    pub cert_der: Vec<u8>,
}

/// What a chaincode sees of the invocation it runs and of the channel's world state.
///
/// Writes made through the stub belong to the current invocation: later reads
/// in the same invocation see them (a deleted key reads as `None`), and they
/// are kept only if the invocation returns `Ok`.
pub trait ChaincodeStub {
    /// The name of the function the client asked for.
    fn function(&self) -> &str;

    /// The raw arguments the client passed, in order.
    fn args(&self) -> &[Vec<u8>];

    /// The arguments as UTF-8 strings; `InvalidArgs` names the first argument that is not UTF-8.
    fn string_args(&self) -> Result<Vec<String>, ChaincodeError> {
        self.args()
            .iter()
            .enumerate()
            .map(|(index, arg)| {
                std::str::from_utf8(arg).map(str::to_owned).map_err(|_| {
                    ChaincodeError::InvalidArgs {
                        function: self.function().to_owned(),
                        reason: format!("argument {index} is not valid UTF-8"),
                    }
                })
            })
            .collect()
    }

    /// The id of the transaction being executed.
    fn tx_id(&self) -> &str;

    /// The channel the transaction was submitted on.
    fn channel_id(&self) -> &str;

    /// The identity that signed the proposal.
    fn creator(&self) -> &Creator;

    /// Reads a key, seeing this invocation's own earlier writes; `None` if absent or deleted.
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError>;

    /// Writes a value under a key for this invocation.
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError>;

    /// Deletes a key for this invocation.
    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError>;
}
