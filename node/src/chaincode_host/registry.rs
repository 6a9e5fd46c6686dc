//! The in-process chaincodes a peer runs, by name.

use chaincode_sdk::Chaincode;
use std::collections::HashMap;
use std::sync::Arc;

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

    /// The names of the chaincodes registered, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }

    /// The implementation of `name`.
    pub fn get(&self, name: &str) -> Option<Arc<dyn Chaincode>> {
        self.by_name.get(name).cloned()
    }
}
