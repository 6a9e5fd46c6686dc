//! The [`World`] a mock transaction runs in: the committed state of every
//! namespace and the registered chaincodes. The call rules themselves are
//! [`crate::calls`], shared with the peer.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::calls::World;
use crate::query::{KeyModification, Query, QueryOutcome};
use crate::{Chaincode, ChaincodeError};

/// The committed state and history of one namespace.
#[derive(Debug, Clone, Default)]
pub(super) struct Namespace {
    /// The committed world state.
    pub(super) state: BTreeMap<String, Vec<u8>>,
    /// Every committed change of every key, oldest first.
    pub(super) history: BTreeMap<String, Vec<KeyModification>>,
}

/// A chaincode registered on a mock stub under its name.
#[derive(Clone)]
pub(super) struct Registered(pub(super) Arc<dyn Chaincode>);

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<chaincode>")
    }
}

/// What a mock transaction can see: committed namespaces and callable chaincodes.
pub(super) struct MockWorld<'a> {
    /// Committed state by namespace.
    pub(super) namespaces: &'a BTreeMap<String, Namespace>,
    /// Chaincodes that may be called, by name.
    pub(super) chaincodes: &'a BTreeMap<String, Registered>,
}

/// The state of a namespace nothing was ever committed to.
static EMPTY: Namespace = Namespace {
    state: BTreeMap::new(),
    history: BTreeMap::new(),
};

impl MockWorld<'_> {
    fn namespace(&self, namespace: &str) -> &Namespace {
        self.namespaces.get(namespace).unwrap_or(&EMPTY)
    }
}

impl World for MockWorld<'_> {
    fn get_state(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        Ok(self.namespace(namespace).state.get(key).cloned())
    }

    fn query(&mut self, namespace: &str, query: &Query) -> Result<QueryOutcome, ChaincodeError> {
        let mut committed = &self.namespace(namespace).state;
        query.run(&mut committed)
    }

    fn history(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Vec<KeyModification>, ChaincodeError> {
        Ok(self
            .namespace(namespace)
            .history
            .get(key)
            .cloned()
            .unwrap_or_default())
    }

    fn callee(&self, chaincode: &str) -> Result<Arc<dyn Chaincode>, String> {
        self.chaincodes
            .get(chaincode)
            .map(|Registered(cc)| cc.clone())
            .ok_or_else(|| "not defined on the channel".to_owned())
    }
}
