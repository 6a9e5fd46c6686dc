//! Which runtime runs a chaincode definition.

use super::external::{ExternalConnector, ExternalRuntime};
use super::{in_process, ChaincodeRegistry, HostError};
use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub};
use consort_proto::ChaincodeDefinition;
use std::sync::Arc;
use std::time::Duration;

/// Where one chaincode runs.
#[derive(Clone)]
pub enum Runtime {
    /// In this process, from the registry.
    InProcess(Arc<dyn Chaincode>),
    /// On an external chaincode server.
    External(ExternalRuntime),
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Runtime::InProcess(_) => f.write_str("InProcess"),
            Runtime::External(external) => f
                .debug_tuple("External")
                .field(&external.address())
                .finish(),
        }
    }
}

impl Runtime {
    /// Runs one invocation against `stub` within `timeout`; returns the stub
    /// (with whatever it recorded) and the chaincode's result.
    pub async fn execute<S>(
        &self,
        stub: S,
        timeout: Duration,
    ) -> Result<(S, Result<Vec<u8>, ChaincodeError>), HostError>
    where
        S: ChaincodeStub + Send + 'static,
    {
        match self {
            Runtime::InProcess(cc) => in_process::execute(cc.clone(), stub, timeout).await,
            Runtime::External(external) => external.execute(stub, timeout).await,
        }
    }
}

/// The chaincodes a peer can run: its in-process registry and, when it has
/// a TLS identity to dial with, external chaincode servers.
#[derive(Debug, Clone)]
pub struct ChaincodeHost {
    registry: ChaincodeRegistry,
    external: Option<Arc<ExternalConnector>>,
}

impl From<ChaincodeRegistry> for ChaincodeHost {
    /// In-process chaincodes only: an external definition is refused.
    fn from(registry: ChaincodeRegistry) -> Self {
        Self {
            registry,
            external: None,
        }
    }
}

impl ChaincodeHost {
    /// In-process chaincodes from `registry`, external ones dialed by `external`.
    pub fn new(registry: ChaincodeRegistry, external: Arc<ExternalConnector>) -> Self {
        Self {
            registry,
            external: Some(external),
        }
    }

    /// The in-process chaincodes.
    pub fn registry(&self) -> &ChaincodeRegistry {
        &self.registry
    }

    /// The runtime of `definition`: its external service if it names one,
    /// else the in-process chaincode registered under its name.
    pub fn runtime_for(&self, definition: &ChaincodeDefinition) -> Result<Runtime, HostError> {
        let Some(external) = &definition.external else {
            return self
                .registry
                .get(&definition.name)
                .map(Runtime::InProcess)
                .ok_or_else(|| HostError::NotInstalled(definition.name.clone()));
        };
        let connector = self
            .external
            .as_ref()
            .ok_or_else(|| HostError::BadExternal {
                chaincode: definition.name.clone(),
                address: external.address.clone(),
                reason: "this peer has no TLS identity to dial external chaincodes with".to_owned(),
            })?;
        let channel = connector.channel(&definition.name, external)?;
        Ok(Runtime::External(ExternalRuntime::new(
            &definition.name,
            &external.address,
            channel,
        )))
    }
}
