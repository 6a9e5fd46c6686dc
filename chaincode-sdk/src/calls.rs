//! The rules of one transaction's chaincode invocations, in one place shared
//! by every stub that runs chaincodes itself: [`MockStub`](crate::MockStub)
//! and the peer's simulator both run a [`Transaction`] over a [`World`], so
//! a chaincode and the chaincodes it calls behave the same in unit tests as
//! on a network. What differs between them (where committed state comes
//! from, what a read records, which chaincodes exist) is the [`World`].
//!
//! # Frames
//!
//! A transaction starts with one frame: the invoked chaincode, its
//! namespace, function and arguments. [`ChaincodeStub::invoke_chaincode`]
//! pushes a frame for the callee (its own namespace, function and
//! arguments) and runs it on the same transaction: it sees the same
//! [`Invocation`] context (transaction id, channel, creator, timestamp,
//! transient data), and its state calls go to its own namespace. Calls may
//! nest [`MAX_CALL_DEPTH`] deep below the invoked chaincode.
//!
//! # Write layers
//!
//! Each frame writes into its own layer ([`WriteLayers`]). A read sees the
//! pending writes of every running frame, innermost first, then committed
//! state. When a callee returns `Ok` its layer is merged into its caller's;
//! when it fails the layer is dropped and its error returned unchanged, so
//! a caller that recovers keeps its own writes only. Range, composite-key
//! and history queries read committed state only ([`crate::query`]).
//!
//! # Names that cannot be called
//!
//! A name starting with [`SYSTEM_NAMESPACE_PREFIX`] is a system namespace
//! (`_lifecycle`) and is never callable; an empty name, or one the world
//! does not know, is not defined on the channel. These, and nesting too
//! deep, fail with [`ChaincodeError::Call`].
//!
//! # Events
//!
//! A transaction carries at most one event: the last one the invoked
//! chaincode set. A callee's `set_event` is checked and dropped, as in
//! Fabric.

mod layers;

#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::query::{validate_key, KeyModification, Query, QueryOutcome};
use crate::{Chaincode, ChaincodeError, ChaincodeStub, Creator};

pub use layers::{WriteLayers, Writes};

/// How deep chaincode calls may nest: the invoked chaincode may call
/// another, which may call another, and so on, up to this many calls below
/// the invoked chaincode. A deeper call fails with [`ChaincodeError::Call`].
pub const MAX_CALL_DEPTH: usize = 8;

/// The prefix of system namespaces: state that no user chaincode owns.
pub const SYSTEM_NAMESPACE_PREFIX: &str = "_";

/// Whether `namespace` is a system namespace rather than a chaincode's.
pub fn is_system_namespace(namespace: &str) -> bool {
    namespace.starts_with(SYSTEM_NAMESPACE_PREFIX)
}

/// Refuses an event name a subscriber could not match: an empty one.
pub fn validate_event_name(name: &str) -> Result<(), ChaincodeError> {
    if name.is_empty() {
        return Err(ChaincodeError::bad_request(
            "invalid event: the event name must not be empty",
        ));
    }
    Ok(())
}

/// Everything a chaincode sees of its invocation besides state: the same
/// for the invoked chaincode and every chaincode it calls, except the
/// function and arguments, which are each frame's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The function asked for.
    pub function: String,
    /// The raw arguments.
    pub args: Vec<Vec<u8>>,
    /// The transaction id.
    pub tx_id: String,
    /// The channel.
    pub channel_id: String,
    /// The proposal's signer.
    pub creator: Creator,
    /// The proposal's timestamp, ms since the Unix epoch.
    pub timestamp_ms: i64,
    /// The proposal's transient data.
    pub transient: BTreeMap<String, Vec<u8>>,
}

/// The event a transaction emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The invoked chaincode (its namespace).
    pub chaincode: String,
    /// The event's name.
    pub name: String,
    /// The event's payload.
    pub payload: Vec<u8>,
}

/// What a transaction runs in: committed state by namespace and the
/// chaincodes it may call. A peer records each read and scan here.
pub trait World {
    /// The committed value of `key` in `namespace`.
    fn get_state(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError>;

    /// Runs `query` over the committed state of `namespace`.
    fn query(&mut self, namespace: &str, query: &Query) -> Result<QueryOutcome, ChaincodeError>;

    /// Every committed change of `key` in `namespace`, oldest first.
    fn history(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Vec<KeyModification>, ChaincodeError>;

    /// The chaincode called `chaincode` (never empty nor a system
    /// namespace: the transaction refuses those first), or why it cannot
    /// be called, e.g. `not defined on the channel`.
    fn callee(&self, chaincode: &str) -> Result<Arc<dyn Chaincode>, String>;
}

/// One running invocation: the invoked chaincode, or one it called.
#[derive(Debug)]
struct Frame {
    namespace: String,
    function: String,
    args: Vec<Vec<u8>>,
}

/// The stub of one transaction: frames, write layers and the event over a
/// [`World`]. Implements [`ChaincodeStub`]; chaincodes it calls run on it.
pub struct Transaction<W> {
    world: W,
    /// The invocation's context; its function and arguments are in the first frame.
    context: Invocation,
    /// The running invocations, the invoked chaincode first; never empty.
    frames: Vec<Frame>,
    /// One write layer per frame.
    layers: WriteLayers,
    /// The invoked chaincode's event so far.
    event: Option<(String, Vec<u8>)>,
    /// Every chaincode called (resolved), whether its call succeeded or not.
    called: BTreeSet<String>,
}

/// What a finished transaction leaves: its world, writes, event and callees.
#[derive(Debug)]
pub struct Finished<W> {
    /// The world, with whatever it recorded.
    pub world: W,
    /// The invoked chaincode (its namespace).
    pub namespace: String,
    /// The kept writes by (namespace, key): `Some(value)` writes, `None` deletes.
    pub writes: Writes,
    /// The invoked chaincode's last event.
    pub event: Option<Event>,
    /// The namespaces of every chaincode called, whether the call succeeded or not.
    pub called: BTreeSet<String>,
}

impl<W: World> Transaction<W> {
    /// A transaction invoking the chaincode of `namespace` in `world`.
    pub fn new(world: W, namespace: &str, mut invocation: Invocation) -> Self {
        let frame = Frame {
            namespace: namespace.to_owned(),
            function: std::mem::take(&mut invocation.function),
            args: std::mem::take(&mut invocation.args),
        };
        Self {
            world,
            context: invocation,
            frames: vec![frame],
            layers: WriteLayers::new(),
            event: None,
            called: BTreeSet::new(),
        }
    }

    /// The world the transaction runs in.
    pub fn world(&self) -> &W {
        &self.world
    }

    /// The namespace of the running invocation.
    pub fn namespace(&self) -> &str {
        &self.frame().namespace
    }

    /// How many calls below the invoked chaincode are running (0: none).
    pub fn depth(&self) -> usize {
        self.frames.len() - 1
    }

    /// Ends the transaction: its world, kept writes, event and callees.
    pub fn finish(mut self) -> Finished<W> {
        let namespace = self.frames.swap_remove(0).namespace;
        Finished {
            world: self.world,
            namespace: namespace.clone(),
            writes: self.layers.into_writes(),
            event: self.event.map(|(name, payload)| Event {
                chaincode: namespace,
                name,
                payload,
            }),
            called: self.called,
        }
    }

    /// The running invocation.
    fn frame(&self) -> &Frame {
        // Never empty: the invoked chaincode's frame is never popped.
        &self.frames[self.frames.len() - 1]
    }

    /// The callee `chaincode`, or the [`ChaincodeError::Call`] saying why not.
    fn resolve(&self, chaincode: &str) -> Result<Arc<dyn Chaincode>, ChaincodeError> {
        let refuse = |reason: String| ChaincodeError::Call {
            chaincode: chaincode.to_owned(),
            reason,
        };
        if self.depth() >= MAX_CALL_DEPTH {
            return Err(refuse(format!(
                "chaincode calls nest deeper than {MAX_CALL_DEPTH}"
            )));
        }
        if is_system_namespace(chaincode) {
            return Err(refuse("system namespaces cannot be called".to_owned()));
        }
        if chaincode.is_empty() {
            return Err(refuse("not defined on the channel".to_owned()));
        }
        self.world.callee(chaincode).map_err(refuse)
    }
}

impl<W: World> ChaincodeStub for Transaction<W> {
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
        &self.context.channel_id
    }

    fn creator(&self) -> &Creator {
        &self.context.creator
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        validate_key(key)?;
        let namespace = &self.frames[self.frames.len() - 1].namespace;
        match self.layers.pending(namespace, key) {
            Some(pending) => Ok(pending),
            None => self.world.get_state(namespace, key),
        }
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError> {
        validate_key(key)?;
        let namespace = self.namespace().to_owned();
        self.layers.write(&namespace, key, Some(value.to_vec()));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        validate_key(key)?;
        let namespace = self.namespace().to_owned();
        self.layers.write(&namespace, key, None);
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
        let namespace = &self.frames[self.frames.len() - 1].namespace;
        self.world.query(namespace, query)
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, ChaincodeError> {
        validate_key(key)?;
        let namespace = &self.frames[self.frames.len() - 1].namespace;
        self.world.history(namespace, key)
    }

    fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let callee = self.resolve(chaincode)?;
        self.called.insert(chaincode.to_owned());
        self.frames.push(Frame {
            namespace: chaincode.to_owned(),
            function: function.to_owned(),
            args: args.to_vec(),
        });
        self.layers.begin();
        let result = callee.invoke(self);
        self.layers.end(result.is_ok());
        self.frames.pop();
        result
    }
}

#[cfg(test)]
mod tests;
