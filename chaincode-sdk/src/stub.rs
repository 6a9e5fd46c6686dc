//! The interface a chaincode uses to see its invocation and reach world state.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::query::{KeyModification, KeyValue, Query, QueryMetadata, QueryOutcome};
use crate::ChaincodeError;

/// The identity that signed the transaction proposal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Creator {
    /// The MSP (organisation) that issued the creator's certificate.
    pub msp_id: String,
    /// The creator's role: `"admin"`, `"peer"`, `"orderer"` or `"client"`.
    pub role: String,
    /// The common name (CN) of the creator's certificate subject.
    pub subject: String,
    /// The creator's certificate, DER-encoded.
    pub cert_der: Vec<u8>,
    /// Attributes the creator's CA put in the certificate (as Fabric CA's
    /// attribute extension does), for attribute-based access control, e.g.
    /// `{"department": "audit"}`; empty when the certificate has none.
    pub attributes: BTreeMap<String, String>,
}

impl Creator {
    /// The value of the certificate attribute `name`, if the certificate has it.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.get(name).map(String::as_str)
    }
}

pub use crate::calls::{validate_event_name, MAX_CALL_DEPTH};

/// What a chaincode sees of the invocation it runs and of the channel's world state.
///
/// Writes made through the stub belong to the current invocation: later
/// `get_state` calls in the same invocation see them (a deleted key reads as
/// `None`), and they are kept only if the invocation returns `Ok`. Range
/// queries, composite-key queries and key history read committed state only
/// and do not see the invocation's own writes, as in Fabric. The semantics of
/// ranges, pages, bookmarks and composite keys are those of [`crate::query`].
pub trait ChaincodeStub {
    /// The name of the function the client asked for.
    fn function(&self) -> &str;

    /// The raw arguments the client passed, in order.
    fn args(&self) -> &[Vec<u8>];

    /// The arguments as UTF-8 strings; `InvalidArgs` names the first argument that is not UTF-8.
    fn string_args(&self) -> Result<Vec<String>, ChaincodeError> {
        self.args()
            .iter()
            .enumerate()
            .map(|(index, arg)| {
                std::str::from_utf8(arg).map(str::to_owned).map_err(|_| {
                    ChaincodeError::InvalidArgs {
                        function: self.function().to_owned(),
                        reason: format!("argument {index} is not valid UTF-8"),
                    }
                })
            })
            .collect()
    }

    /// The id of the transaction being executed.
    fn tx_id(&self) -> &str;

    /// The channel the transaction was submitted on.
    fn channel_id(&self) -> &str;

    /// The identity that signed the proposal.
    fn creator(&self) -> &Creator;

    /// Reads a key, seeing this invocation's own earlier writes; `None` if
    /// absent or deleted. A key no stub can store (see
    /// [`crate::query::validate_key`]) is [`ChaincodeError::BadRequest`].
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError>;

    /// Writes a value under a key for this invocation.
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError>;

    /// Deletes a key for this invocation.
    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError>;

    /// When the client made the proposal, in milliseconds since the Unix
    /// epoch, as its proposal header says: the same on every endorser.
    fn tx_timestamp_ms(&self) -> i64;

    /// Private data the client passed with the proposal. It is not part of
    /// the transaction and is never written to the ledger; do not write it
    /// to state, or it becomes public on every peer.
    fn transient(&self) -> &BTreeMap<String, Vec<u8>>;

    /// Sets the event the transaction emits once committed as valid. A
    /// transaction has one event: a later call replaces an earlier one.
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), ChaincodeError>;

    /// Runs a prepared [`Query`] over committed state; the query methods
    /// below are built on it. A stub implements it; chaincodes call the
    /// named methods.
    fn execute_query(&mut self, query: &Query) -> Result<QueryOutcome, ChaincodeError>;

    /// Every simple key with `start <= key < end`, sorted; an empty `start`
    /// or `end` leaves that side open. Composite keys are never included.
    fn get_state_by_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<KeyValue>, ChaincodeError> {
        Ok(self.execute_query(&Query::range(start, end)?)?.entries)
    }

    /// One page of [`get_state_by_range`](Self::get_state_by_range): at most
    /// `page_size` entries from `bookmark` (empty: from `start`), and the
    /// bookmark of the next page (empty when the range is exhausted).
    fn get_state_by_range_with_pagination(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<(Vec<KeyValue>, QueryMetadata), ChaincodeError> {
        let query = Query::range(start, end)?.paginated(page_size, bookmark)?;
        let outcome = self.execute_query(&query)?;
        Ok((outcome.entries, outcome.metadata))
    }

    /// Every simple key starting with `prefix`, sorted (built on
    /// [`get_state_by_range`](Self::get_state_by_range)'s semantics; an
    /// empty `prefix` is every simple key). Composite keys are never included.
    fn get_state_by_prefix(&mut self, prefix: &str) -> Result<Vec<KeyValue>, ChaincodeError> {
        Ok(self.execute_query(&Query::prefix(prefix)?)?.entries)
    }

    /// One page of [`get_state_by_prefix`](Self::get_state_by_prefix),
    /// paginated as [`get_state_by_range_with_pagination`](Self::get_state_by_range_with_pagination).
    fn get_state_by_prefix_with_pagination(
        &mut self,
        prefix: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<(Vec<KeyValue>, QueryMetadata), ChaincodeError> {
        let query = Query::prefix(prefix)?.paginated(page_size, bookmark)?;
        let outcome = self.execute_query(&query)?;
        Ok((outcome.entries, outcome.metadata))
    }

    /// Every composite key of `object_type` whose leading attributes are
    /// `attributes`, sorted; see [`crate::create_composite_key`].
    fn get_state_by_partial_composite_key(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<KeyValue>, ChaincodeError> {
        let query = Query::partial_composite(object_type, attributes)?;
        Ok(self.execute_query(&query)?.entries)
    }

    /// One page of
    /// [`get_state_by_partial_composite_key`](Self::get_state_by_partial_composite_key),
    /// paginated as [`get_state_by_range_with_pagination`](Self::get_state_by_range_with_pagination).
    fn get_state_by_partial_composite_key_with_pagination(
        &mut self,
        object_type: &str,
        attributes: &[&str],
        page_size: u32,
        bookmark: &str,
    ) -> Result<(Vec<KeyValue>, QueryMetadata), ChaincodeError> {
        let query =
            Query::partial_composite(object_type, attributes)?.paginated(page_size, bookmark)?;
        let outcome = self.execute_query(&query)?;
        Ok((outcome.entries, outcome.metadata))
    }

    /// Every committed change of `key`, oldest first. Not re-checked at
    /// validation: a change committed after the query is not a conflict.
    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, ChaincodeError>;

    /// Calls `function` of another chaincode on the same channel, in this
    /// transaction: it sees the same transaction id, creator, timestamp and
    /// transient data, and reads and writes its own state namespace. Its
    /// reads and writes join this transaction's read/write set under that
    /// namespace, are checked at validation like this chaincode's own, and
    /// the transaction must then also satisfy that chaincode's endorsement
    /// policy if it wrote anything.
    ///
    /// Returns the called chaincode's payload, or its error unchanged. On an
    /// error everything the called chaincode wrote is discarded (what it read
    /// still counts at validation), so the caller may recover and go on. An
    /// event the called chaincode sets is dropped: a transaction carries only
    /// the invoked chaincode's event. A chaincode that is not defined or not
    /// installed, or calls nested deeper than [`MAX_CALL_DEPTH`], fail with
    /// [`ChaincodeError::Call`].
    fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let _ = (function, args);
        Err(ChaincodeError::Call {
            chaincode: chaincode.to_owned(),
            reason: "this stub cannot call other chaincodes".to_owned(),
        })
    }
}

/// Reading and writing values as JSON through any stub: bring the trait into
/// scope (`use chaincode_sdk::JsonState;`) and call it on the stub.
///
/// ```
/// use chaincode_sdk::{ChaincodeError, ChaincodeStub, JsonState};
/// # use chaincode_sdk::{Chaincode, MockStub};
///
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Asset {
///     owner: String,
///     value: u64,
/// }
///
/// fn transfer(stub: &mut dyn ChaincodeStub, id: &str, to: &str) -> Result<(), ChaincodeError> {
///     let mut asset: Asset = stub
///         .get_json(id)?
///         .ok_or_else(|| ChaincodeError::business(format!("no asset {id}")))?;
///     asset.owner = to.to_owned();
///     stub.put_json(id, &asset)
/// }
/// # struct Assets;
/// # impl Chaincode for Assets {
/// #     fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
/// #         if stub.function() == "create" {
/// #             stub.put_json("a1", &Asset { owner: "alice".into(), value: 5 })?;
/// #         } else {
/// #             transfer(stub, "a1", "bob")?;
/// #         }
/// #         Ok(Vec::new())
/// #     }
/// # }
/// # let mut stub = MockStub::new("ch");
/// # stub.invoke(&Assets, "create", &[])?;
/// # stub.invoke(&Assets, "transfer", &[])?;
/// # assert_eq!(stub.state("a1"), Some(&br#"{"owner":"bob","value":5}"#[..]));
/// # Ok::<(), ChaincodeError>(())
/// ```
pub trait JsonState {
    /// Reads `key` and decodes its value from JSON; `None` if absent or
    /// deleted. A value that is not JSON of type `T` is a
    /// [`ChaincodeError::Business`] error naming the key.
    fn get_json<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, ChaincodeError>;

    /// Encodes `value` as JSON and writes it under `key`.
    fn put_json<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), ChaincodeError>;
}

impl<S: ChaincodeStub + ?Sized> JsonState for S {
    fn get_json<T: DeserializeOwned>(&mut self, key: &str) -> Result<Option<T>, ChaincodeError> {
        let Some(bytes) = self.get_state(key)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            ChaincodeError::business(format!(
                "the value of key {key:?} is not the JSON expected: {e}"
            ))
        })
    }

    fn put_json<T: Serialize + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), ChaincodeError> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            ChaincodeError::bad_request(format!(
                "the value for key {key:?} cannot be encoded as JSON: {e}"
            ))
        })?;
        self.put_state(key, &bytes)
    }
}
