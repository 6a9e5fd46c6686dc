//! The chaincode host: which chaincode implementations this peer runs, and
//! running one invocation safely (on a blocking thread, with a timeout,
//! surviving a panic).

use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Why an invocation produced no result.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum HostError {
    /// The chaincode panicked.
    #[error("chaincode panicked: {0}")]
    Panicked(String),
    /// The chaincode ran past the execution timeout.
    #[error("chaincode exceeded the execution timeout of {0:?}")]
    Timeout(Duration),
}

/// The chaincode implementations a peer can run, by name.
#[derive(Clone, Default)]
pub struct ChaincodeRegistry {
    by_name: HashMap<String, Arc<dyn Chaincode>>,
}

impl std::fmt::Debug for ChaincodeRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.by_name.keys().collect();
        names.sort();
        f.debug_struct("ChaincodeRegistry")
            .field("chaincodes", &names)
            .finish()
    }
}

impl ChaincodeRegistry {
    /// The sample chaincodes shipped with Consort.
    pub fn builtin() -> Self {
        let mut r = Self::default();
        r.register("token", Arc::new(chaincode_sdk::samples::token::Token));
        r.register(
            "asset-transfer",
            Arc::new(chaincode_sdk::samples::asset_transfer::AssetTransfer),
        );
        r.register(
            "supply-chain",
            Arc::new(chaincode_sdk::samples::supply_chain::SupplyChain),
        );
        r
    }

    /// Adds an in-process chaincode under `name`.
    pub fn register(&mut self, name: &str, cc: Arc<dyn Chaincode>) {
        self.by_name.insert(name.to_string(), cc);
    }

    /// The implementation of `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Chaincode>> {
        self.by_name.get(name).cloned()
    }
}

/// Runs `cc` against `stub` on a blocking thread. Returns the stub (with
/// whatever it recorded) and the chaincode's result.
pub async fn execute<S>(
    cc: Arc<dyn Chaincode>,
    mut stub: S,
    timeout: Duration,
) -> Result<(S, Result<Vec<u8>, ChaincodeError>), HostError>
where
    S: ChaincodeStub + Send + 'static,
{
    let task = tokio::task::spawn_blocking(move || {
        let result = cc.invoke(&mut stub);
        (stub, result)
    });
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(HostError::Timeout(timeout)),
        Ok(Ok(done)) => Ok(done),
        Ok(Err(join)) => {
            let msg = if join.is_panic() {
                let p = join.into_panic();
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_string())
            } else {
                "cancelled".to_string()
            };
            Err(HostError::Panicked(msg))
        }
    }
}
