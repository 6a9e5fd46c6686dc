//! One chaincode seen from an application, as Fabric Gateway's `Contract`:
//! evaluate a query, submit a transaction, follow the chaincode's events.

use crate::client::{Client, Committed, SignedCall};
use crate::error::ClientError;
use crate::events::{ChaincodeEvents, Checkpoint};

/// A chaincode on the client's channel. Made by [`Client::contract`]; owns a
/// clone of the client, so it can move into a task.
#[derive(Debug, Clone)]
pub struct Contract {
    client: Client,
    chaincode: String,
}

impl Contract {
    pub(crate) fn new(client: Client, chaincode: &str) -> Self {
        Contract {
            client,
            chaincode: chaincode.to_string(),
        }
    }

    /// The chaincode's name.
    pub fn name(&self) -> &str {
        &self.chaincode
    }

    /// The client this contract calls through.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Runs `function` as a query on the gateway's peer and returns the
    /// chaincode's result; nothing is ordered.
    pub async fn evaluate(&self, function: &str, args: &[Vec<u8>]) -> Result<Vec<u8>, ClientError> {
        self.client.evaluate(&self.chaincode, function, args).await
    }

    /// Runs `function` as a transaction: endorse, sign, submit, wait for the
    /// commit. `Ok` only when it committed `VALID`; an invalid transaction is
    /// [`ClientError::Invalid`].
    pub async fn submit(&self, function: &str, args: &[Vec<u8>]) -> Result<Committed, ClientError> {
        self.client.submit(&self.chaincode, function, args).await
    }

    /// Builds and signs a proposal for `function`: the first step of
    /// running a transaction step by step ([`Client::endorse_call`],
    /// [`Client::envelope`], [`Client::submit_envelope`],
    /// [`Client::commit_status`]).
    pub fn propose(&self, function: &str, args: &[Vec<u8>]) -> Result<SignedCall, ClientError> {
        self.client.propose(&self.chaincode, function, args)
    }

    /// The chaincode's events from valid transactions: every one after
    /// `after` (from block `start` when there is no checkpoint), then new
    /// ones as they commit.
    pub async fn events(
        &self,
        start: u64,
        after: Option<Checkpoint>,
    ) -> Result<ChaincodeEvents, ClientError> {
        self.client
            .chaincode_events(&self.chaincode, start, after)
            .await
    }
}
