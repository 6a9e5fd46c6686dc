//! The transaction simulator: the stub a chaincode runs against on a peer.
//! It reads committed state, records every key read with the version seen,
//! and buffers writes; nothing touches the ledger until the transaction is
//! ordered and validated.

use crate::ledger::{Ledger, LedgerError};
use chaincode_sdk::{ChaincodeError, ChaincodeStub, Creator};
use consort_proto::{KvRead, KvWrite, TxRwSet, Version};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A chaincode's view of one proposal.
pub struct Simulator {
    ledger: Arc<Ledger>,
    namespace: String,
    function: String,
    args: Vec<Vec<u8>>,
    tx_id: String,
    channel_id: String,
    creator: Creator,
    reads: BTreeMap<String, Option<Version>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
}

/// What the simulator needs to start.
#[derive(Debug, Clone)]
pub struct SimulationInput {
    /// The chaincode (its state namespace).
    pub namespace: String,
    /// Function name.
    pub function: String,
    /// Arguments.
    pub args: Vec<Vec<u8>>,
    /// Transaction ID.
    pub tx_id: String,
    /// Channel.
    pub channel_id: String,
    /// Who proposed.
    pub creator: Creator,
}

fn check_key(key: &str) -> Result<(), ChaincodeError> {
    if key.is_empty() {
        return Err(ChaincodeError::State("empty key".into()));
    }
    if key.contains('\0') {
        return Err(ChaincodeError::State(format!(
            "key {key:?} contains a NUL byte"
        )));
    }
    Ok(())
}

fn state_err(e: LedgerError) -> ChaincodeError {
    ChaincodeError::State(e.to_string())
}

impl Simulator {
    /// A simulator over the ledger's current state.
    pub fn new(ledger: Arc<Ledger>, input: SimulationInput) -> Self {
        Simulator {
            ledger,
            namespace: input.namespace,
            function: input.function,
            args: input.args,
            tx_id: input.tx_id,
            channel_id: input.channel_id,
            creator: input.creator,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
        }
    }

    /// The recorded reads and writes, sorted by key.
    pub fn into_rwset(self) -> TxRwSet {
        TxRwSet {
            namespace: self.namespace,
            reads: self
                .reads
                .into_iter()
                .map(|(key, version)| KvRead { key, version })
                .collect(),
            writes: self
                .writes
                .into_iter()
                .map(|(key, value)| KvWrite {
                    key,
                    is_delete: value.is_none(),
                    value: value.unwrap_or_default(),
                })
                .collect(),
        }
    }
}

impl ChaincodeStub for Simulator {
    fn function(&self) -> &str {
        &self.function
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn tx_id(&self) -> &str {
        &self.tx_id
    }
    fn channel_id(&self) -> &str {
        &self.channel_id
    }
    fn creator(&self) -> &Creator {
        &self.creator
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        if let Some(w) = self.writes.get(key) {
            return Ok(w.clone());
        }
        let current = self
            .ledger
            .get_state(&self.namespace, key)
            .map_err(state_err)?;
        self.reads
            .entry(key.to_string())
            .or_insert_with(|| current.as_ref().map(|v| v.version));
        Ok(current.map(|v| v.value))
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError> {
        check_key(key)?;
        self.writes.insert(key.to_string(), Some(value.to_vec()));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        check_key(key)?;
        self.writes.insert(key.to_string(), None);
        Ok(())
    }
}
