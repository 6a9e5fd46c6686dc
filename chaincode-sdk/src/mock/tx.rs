//! The stub one mock invocation runs against: committed state plus a write buffer.

use std::collections::BTreeMap;

use crate::{ChaincodeError, ChaincodeStub, Creator};

/// Buffered changes of one invocation: `Some(value)` is a write, `None` a delete.
pub(super) type Writes = BTreeMap<String, Option<Vec<u8>>>;

/// The per-invocation stub: reads fall through to committed state, writes stay buffered.
pub(super) struct TxStub<'a> {
    /// The invocation and its surroundings.
    context: TxContext<'a>,
    /// The committed state, read-only while the invocation runs.
    committed: &'a BTreeMap<String, Vec<u8>>,
    /// The writes and deletes made so far.
    writes: Writes,
}

/// Everything about one invocation except state.
pub(super) struct TxContext<'a> {
    /// The requested function.
    pub(super) function: &'a str,
    /// The raw arguments.
    pub(super) args: Vec<Vec<u8>>,
    /// The transaction id.
    pub(super) tx_id: String,
    /// The channel id.
    pub(super) channel_id: &'a str,
    /// The signer of the proposal.
    pub(super) creator: &'a Creator,
}

impl<'a> TxStub<'a> {
    /// Starts an invocation over `committed` with an empty write buffer.
    pub(super) fn new(context: TxContext<'a>, committed: &'a BTreeMap<String, Vec<u8>>) -> Self {
        Self {
            context,
            committed,
            writes: Writes::new(),
        }
    }

    /// Ends the invocation, handing back its buffered writes.
    pub(super) fn into_writes(self) -> Writes {
        self.writes
    }
}

/// Refuses keys the ledger cannot store: empty ones and ones containing 0x00.
fn check_key(key: &str) -> Result<(), ChaincodeError> {
    if key.is_empty() {
        return Err(ChaincodeError::State(
            "invalid key: a key must not be empty".to_owned(),
        ));
    }
    if key.contains('\0') {
        return Err(ChaincodeError::State(format!(
            "invalid key {key:?}: a key must not contain the byte 0x00"
        )));
    }
    Ok(())
}

impl ChaincodeStub for TxStub<'_> {
    fn function(&self) -> &str {
        self.context.function
    }

    fn args(&self) -> &[Vec<u8>] {
        &self.context.args
    }

    fn tx_id(&self) -> &str {
        &self.context.tx_id
    }

    fn channel_id(&self) -> &str {
        self.context.channel_id
    }

    fn creator(&self) -> &Creator {
        self.context.creator
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        match self.writes.get(key) {
            Some(buffered) => Ok(buffered.clone()),
            None => Ok(self.committed.get(key).cloned()),
        }
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError> {
        check_key(key)?;
        self.writes.insert(key.to_owned(), Some(value.to_vec()));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        check_key(key)?;
        self.writes.insert(key.to_owned(), None);
        Ok(())
    }
}
