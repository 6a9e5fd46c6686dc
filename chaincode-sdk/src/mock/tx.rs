//! The stub one mock transaction runs against: committed state of every
//! namespace plus write buffers, one per running chaincode invocation (the
//! invoked chaincode and any it called).

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::query::{validate_key, KeyModification, Query, QueryOutcome};
use crate::stub::{validate_event_name, MAX_CALL_DEPTH};
use crate::{Chaincode, ChaincodeError, ChaincodeStub, Creator};

/// Buffered changes by (namespace, key): `Some(value)` is a write, `None` a delete.
pub(super) type Writes = BTreeMap<(String, String), Option<Vec<u8>>>;

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
pub(super) struct World<'a> {
    /// Committed state by namespace.
    pub(super) namespaces: &'a BTreeMap<String, Namespace>,
    /// Chaincodes that may be called, by name.
    pub(super) chaincodes: &'a BTreeMap<String, Registered>,
}

/// One running invocation.
struct Frame {
    namespace: String,
    function: String,
    args: Vec<Vec<u8>>,
}

/// The per-transaction stub: reads fall through to committed state, writes stay buffered.
pub(super) struct TxStub<'a> {
    /// The transaction and its surroundings.
    context: TxContext<'a>,
    /// The committed namespaces and registered chaincodes, read-only while the transaction runs.
    world: World<'a>,
    /// The running invocations, the invoked chaincode first; never empty.
    frames: Vec<Frame>,
    /// One write buffer per running invocation, the innermost last; never empty.
    layers: Vec<Writes>,
    /// The event the invoked chaincode set so far: name and payload.
    event: Option<(String, Vec<u8>)>,
}

/// Everything about one transaction except state.
pub(super) struct TxContext<'a> {
    /// The invoked chaincode's namespace.
    pub(super) namespace: String,
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

/// The state of a namespace nothing was ever committed to.
static EMPTY: Namespace = Namespace {
    state: BTreeMap::new(),
    history: BTreeMap::new(),
};

impl<'a> TxStub<'a> {
    /// Starts a transaction over `world` with empty write buffers.
    pub(super) fn new(mut context: TxContext<'a>, world: World<'a>) -> Self {
        let frame = Frame {
            namespace: context.namespace.clone(),
            function: context.function.to_owned(),
            args: std::mem::take(&mut context.args),
        };
        Self {
            context,
            world,
            frames: vec![frame],
            layers: vec![Writes::new()],
            event: None,
        }
    }

    /// Ends the transaction, handing back its buffered writes and its event.
    pub(super) fn into_parts(self) -> (Writes, Option<(String, Vec<u8>)>) {
        let mut all = Writes::new();
        for layer in self.layers {
            all.extend(layer);
        }
        (all, self.event)
    }

    /// The running invocation.
    fn frame(&self) -> &Frame {
        // Never empty: the invoked chaincode's frame is never popped.
        &self.frames[self.frames.len() - 1]
    }

    /// The committed state of the running invocation's namespace.
    fn committed(&self) -> &'a Namespace {
        self.world
            .namespaces
            .get(&self.frame().namespace)
            .unwrap_or(&EMPTY)
    }
}

impl ChaincodeStub for TxStub<'_> {
    fn function(&self) -> &str {
        &self.frame().function
    }

    fn args(&self) -> &[Vec<u8>] {
        &self.frame().args
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
        let wanted = (self.frame().namespace.clone(), key.to_owned());
        match self.layers.iter().rev().find_map(|l| l.get(&wanted)) {
            Some(buffered) => Ok(buffered.clone()),
            None => Ok(self.committed().state.get(key).cloned()),
        }
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError> {
        validate_key(key)?;
        let namespace = self.frame().namespace.clone();
        if let Some(layer) = self.layers.last_mut() {
            layer.insert((namespace, key.to_owned()), Some(value.to_vec()));
        }
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        validate_key(key)?;
        let namespace = self.frame().namespace.clone();
        if let Some(layer) = self.layers.last_mut() {
            layer.insert((namespace, key.to_owned()), None);
        }
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
        if self.frames.len() == 1 {
            self.event = Some((name.to_owned(), payload.to_vec()));
        }
        Ok(())
    }

    fn execute_query(&mut self, query: &Query) -> Result<QueryOutcome, ChaincodeError> {
        let mut committed = &self.committed().state;
        query.run(&mut committed)
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, ChaincodeError> {
        validate_key(key)?;
        Ok(self
            .committed()
            .history
            .get(key)
            .cloned()
            .unwrap_or_default())
    }

    fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let refuse = |reason: String| ChaincodeError::Call {
            chaincode: chaincode.to_owned(),
            reason,
        };
        if self.frames.len() > MAX_CALL_DEPTH {
            return Err(refuse(format!(
                "chaincode calls nest deeper than {MAX_CALL_DEPTH}"
            )));
        }
        if chaincode.starts_with('_') {
            return Err(refuse("system namespaces cannot be called".to_owned()));
        }
        let registered = self
            .world
            .chaincodes
            .get(chaincode)
            .filter(|_| !chaincode.is_empty());
        let Some(Registered(callee)) = registered.cloned() else {
            return Err(refuse("not defined on the channel".to_owned()));
        };
        self.frames.push(Frame {
            namespace: chaincode.to_owned(),
            function: function.to_owned(),
            args: args.to_vec(),
        });
        self.layers.push(Writes::new());
        let result = callee.invoke(self);
        self.frames.pop();
        if let Some(layer) = self.layers.pop() {
            if result.is_ok() {
                if let Some(caller) = self.layers.last_mut() {
                    caller.extend(layer);
                }
            }
        }
        result
    }
}
