//! The stub one mock invocation runs against: committed state plus a write buffer.

use std::collections::BTreeMap;

use crate::query::{validate_key, KeyModification, Query, QueryOutcome};
use crate::stub::validate_event_name;
use crate::{ChaincodeError, ChaincodeStub, Creator};

/// Buffered changes of one invocation: `Some(value)` is a write, `None` a delete.
pub(super) type Writes = BTreeMap<String, Option<Vec<u8>>>;

/// The per-invocation stub: reads fall through to committed state, writes stay buffered.
pub(super) struct TxStub<'a> {
    /// The invocation and its surroundings.
    context: TxContext<'a>,
    /// The committed state, read-only while the invocation runs.
    committed: &'a BTreeMap<String, Vec<u8>>,
    /// The committed history of every key, oldest change first.
    history: &'a BTreeMap<String, Vec<KeyModification>>,
    /// The writes and deletes made so far.
    writes: Writes,
    /// The event set so far: name and payload.
    event: Option<(String, Vec<u8>)>,
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
    /// The proposal's timestamp, ms since the Unix epoch.
    pub(super) timestamp_ms: i64,
    /// The proposal's transient data.
    pub(super) transient: BTreeMap<String, Vec<u8>>,
}

impl<'a> TxStub<'a> {
    /// Starts an invocation over `committed` and `history` with an empty write buffer.
    pub(super) fn new(
        context: TxContext<'a>,
        committed: &'a BTreeMap<String, Vec<u8>>,
        history: &'a BTreeMap<String, Vec<KeyModification>>,
    ) -> Self {
        Self {
            context,
            committed,
            history,
            writes: Writes::new(),
            event: None,
        }
    }

    /// Ends the invocation, handing back its buffered writes and its event.
    pub(super) fn into_parts(self) -> (Writes, Option<(String, Vec<u8>)>) {
        (self.writes, self.event)
    }
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
        validate_key(key)?;
        self.writes.insert(key.to_owned(), Some(value.to_vec()));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        validate_key(key)?;
        self.writes.insert(key.to_owned(), None);
        Ok(())
    }

    fn tx_timestamp_ms(&self) -> i64 {
        self.context.timestamp_ms
    }

    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.context.transient
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), ChaincodeError> {
        validate_event_name(name)?;
        self.event = Some((name.to_owned(), payload.to_vec()));
        Ok(())
    }

    fn execute_query(&mut self, query: &Query) -> Result<QueryOutcome, ChaincodeError> {
        query.run(&mut self.committed)
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, ChaincodeError> {
        validate_key(key)?;
        Ok(self.history.get(key).cloned().unwrap_or_default())
    }
}
