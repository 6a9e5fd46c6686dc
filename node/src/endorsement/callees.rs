//! Which chaincodes a simulated transaction may call: those defined on the
//! channel and installed on this peer. System namespaces (names starting
//! with `_`, such as `_lifecycle`) are never callable; that rule, like the
//! other call rules, is the SDK's [`chaincode_sdk::calls`].

use crate::chaincode_host::ChaincodeRegistry;
use chaincode_sdk::Chaincode;
use std::collections::HashSet;
use std::sync::Arc;

pub use chaincode_sdk::calls::{is_system_namespace, SYSTEM_NAMESPACE_PREFIX};

/// The chaincodes a transaction may call, by name.
#[derive(Debug, Clone, Default)]
pub struct Callees {
    /// The chaincodes defined on the channel.
    defined: HashSet<String>,
    /// The implementations installed on this peer.
    installed: ChaincodeRegistry,
}

impl Callees {
    /// The chaincodes of `installed` that are also in `defined`.
    pub fn new(defined: impl IntoIterator<Item = String>, installed: ChaincodeRegistry) -> Self {
        Callees {
            defined: defined.into_iter().collect(),
            installed,
        }
    }

    /// The implementation of `chaincode`, or why it cannot be called.
    pub fn resolve(&self, chaincode: &str) -> Result<Arc<dyn Chaincode>, String> {
        let refuse = |reason: &str| reason.to_owned();
        if is_system_namespace(chaincode) {
            return Err(refuse("system namespaces cannot be called"));
        }
        if !self.defined.contains(chaincode) {
            return Err(refuse("not defined on the channel"));
        }
        self.installed
            .get(chaincode)
            .ok_or_else(|| refuse("not installed on this peer"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_defined_installed_chaincodes_resolve() {
        let callees = Callees::new(
            [
                "token".to_string(),
                "ghost".to_string(),
                "_lifecycle".into(),
            ],
            ChaincodeRegistry::builtin(),
        );
        assert!(callees.resolve("token").is_ok());
        let reason = |name: &str| match callees.resolve(name) {
            Err(reason) => reason,
            Ok(_) => panic!("{name} resolved"),
        };
        assert_eq!(reason("asset-transfer"), "not defined on the channel");
        assert_eq!(reason("ghost"), "not installed on this peer");
        assert_eq!(reason("_lifecycle"), "system namespaces cannot be called");
        assert!(is_system_namespace("_lifecycle") && !is_system_namespace("token"));
    }
}
