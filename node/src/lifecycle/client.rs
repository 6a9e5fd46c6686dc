//! The client side of the lifecycle: approve and commit definitions, read
//! them back. Thin wrappers over [`Client::invoke`] and [`Client::evaluate`]
//! on `_lifecycle`, as the [`LifecycleClient`] extension of the client
//! library's `Client`.

use super::chaincode::Approvals;
use super::definition::DefinitionJson;
use super::NAMESPACE;
use crate::client::{Client, ClientError, Committed};
use std::future::Future;

fn json_arg(d: &DefinitionJson) -> Result<Vec<Vec<u8>>, ClientError> {
    serde_json::to_vec(d)
        .map(|j| vec![j])
        .map_err(|e| ClientError::Malformed {
            what: "encoding the definition".into(),
            reason: e.to_string(),
        })
}

fn parse<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(bytes).map_err(|e| ClientError::Malformed {
        what: format!("unexpected {what} from _lifecycle"),
        reason: e.to_string(),
    })
}

/// Lifecycle calls on a [`Client`]: bring the trait into scope
/// (`use consort::lifecycle::LifecycleClient;`) to call them.
pub trait LifecycleClient {
    /// Approves `d` for the client's org (the client must be an org admin);
    /// endorsed by the org's own peer, then ordered and committed.
    fn approve_definition(
        &self,
        d: &DefinitionJson,
    ) -> impl Future<Output = Result<Committed, ClientError>> + Send;

    /// Commits `d`, endorsed by peers of enough orgs to satisfy the
    /// lifecycle policy; the chaincode refuses it unless enough orgs
    /// approved exactly `d`.
    fn commit_definition(
        &self,
        d: &DefinitionJson,
    ) -> impl Future<Output = Result<Committed, ClientError>> + Send;

    /// Every chaincode definition in force, by name.
    fn definitions(&self) -> impl Future<Output = Result<Vec<DefinitionJson>, ClientError>> + Send;

    /// Each member org's approval of `name` at `sequence`.
    fn approvals(
        &self,
        name: &str,
        sequence: u64,
    ) -> impl Future<Output = Result<Approvals, ClientError>> + Send;
}

impl LifecycleClient for Client {
    async fn approve_definition(&self, d: &DefinitionJson) -> Result<Committed, ClientError> {
        self.invoke(NAMESPACE, "approve", &json_arg(d)?).await
    }

    async fn commit_definition(&self, d: &DefinitionJson) -> Result<Committed, ClientError> {
        self.invoke(NAMESPACE, "commit", &json_arg(d)?).await
    }

    async fn definitions(&self) -> Result<Vec<DefinitionJson>, ClientError> {
        let out = self.evaluate(NAMESPACE, "list", &[]).await?;
        parse("list", &out)
    }

    async fn approvals(&self, name: &str, sequence: u64) -> Result<Approvals, ClientError> {
        let args = vec![name.as_bytes().to_vec(), sequence.to_string().into_bytes()];
        let out = self.evaluate(NAMESPACE, "approvals", &args).await?;
        parse("approvals", &out)
    }
}
