//! A supply-chain sample chaincode, written with the [`Router`]: the custody
//! of a lot, recorded at each [`Step`] by the organisation that holds it.
//!
//! | function | arguments | returns |
//! |---|---|---|
//! | `harvest` | `lot, product` | the new [`Lot`], held by the caller's organisation |
//! | `handover` | `lot, step, to_org` | the [`Lot`] after the step, held by `to_org` |
//! | `trace` | `lot` | the [`Lot`] with every step so far |
//! | `lots_of` | `org` | the ids of the lots `org` holds, sorted |
//!
//! A lot goes through the steps `harvested`, `processed`, `shipped`,
//! `received` and `sold`, in that order. Any organisation may harvest a new
//! lot; only the organisation holding a lot (the caller's MSP id) may take it
//! to the next step, handing it to `to_org` (possibly itself). Each step
//! records the organisation that holds the lot from then on, the
//! transaction's id and its timestamp.
//!
//! State layout: each lot is JSON at `lot/{lot}`; the composite key
//! `holder~lot` with attributes `(holder, lot)` indexes the lots by holder,
//! and every handover moves the lot's index entry with it.

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::{
    create_composite_key, split_composite_key, Chaincode, ChaincodeError, ChaincodeStub, Router,
};

/// The object type of the holder index.
const HOLDER_INDEX: &str = "holder~lot";
/// The value of an index entry: the key is all that matters.
const INDEX_VALUE: &[u8] = &[0];

/// The supply-chain sample chaincode.
#[derive(Default, Debug, Clone, Copy)]
pub struct SupplyChain;

impl Chaincode for SupplyChain {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        static ROUTER: OnceLock<Router> = OnceLock::new();
        ROUTER.get_or_init(router).invoke(stub)
    }
}

/// The chaincode's functions.
fn router() -> Router {
    Router::new()
        .add("harvest", ["lot", "product"], harvest)
        .add("handover", ["lot", "step", "to_org"], handover)
        .add("trace", ["lot"], |stub, (lot,): (String,)| {
            checked("trace", "lot", &lot)?;
            existing(stub, &lot)
        })
        .add("lots_of", ["org"], lots_of)
}

/// A step in a lot's life, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// The lot was harvested; it starts here.
    Harvested,
    /// The lot was processed.
    Processed,
    /// The lot was shipped.
    Shipped,
    /// The lot was received.
    Received,
    /// The lot was sold; it ends here.
    Sold,
}

impl Step {
    /// The step after this one, `None` after `Sold`.
    pub fn next(self) -> Option<Step> {
        match self {
            Step::Harvested => Some(Step::Processed),
            Step::Processed => Some(Step::Shipped),
            Step::Shipped => Some(Step::Received),
            Step::Received => Some(Step::Sold),
            Step::Sold => None,
        }
    }

    /// The step's name, as arguments and results spell it.
    pub fn name(self) -> &'static str {
        match self {
            Step::Harvested => "harvested",
            Step::Processed => "processed",
            Step::Shipped => "shipped",
            Step::Received => "received",
            Step::Sold => "sold",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One recorded step of a lot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The step.
    pub step: Step,
    /// The organisation (MSP id) holding the lot from this step on.
    pub org: String,
    /// The transaction that recorded the step.
    pub tx_id: String,
    /// When, in milliseconds since the Unix epoch (the transaction's timestamp).
    pub timestamp_ms: i64,
}

/// A lot as stored at `lot/{lot}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lot {
    /// The lot's id.
    pub lot: String,
    /// What the lot is.
    pub product: String,
    /// The organisation holding the lot now.
    pub holder: String,
    /// Every step so far, oldest first; never empty.
    pub steps: Vec<StepRecord>,
}

impl Lot {
    /// The step the lot is at.
    fn current_step(&self) -> Step {
        self.steps
            .last()
            .map_or(Step::Harvested, |record| record.step)
    }
}

/// The key of a lot.
fn key(lot: &str) -> String {
    format!("lot/{lot}")
}

/// An `InvalidArgs` error for `function`.
fn invalid(function: &str, reason: String) -> ChaincodeError {
    ChaincodeError::InvalidArgs {
        function: function.to_owned(),
        reason,
    }
}

/// Refuses an empty name or one with control characters (which keys and
/// composite keys cannot hold).
fn checked(function: &str, param: &str, value: &str) -> Result<(), ChaincodeError> {
    if value.is_empty() || value.chars().any(char::is_control) {
        return Err(invalid(
            function,
            format!("{param} must be non-empty without control characters, got {value:?}"),
        ));
    }
    Ok(())
}

/// The lot `lot`, or "does not exist".
fn existing(stub: &mut dyn ChaincodeStub, lot: &str) -> Result<Lot, ChaincodeError> {
    let key = key(lot);
    let bytes = stub
        .get_state(&key)?
        .ok_or_else(|| ChaincodeError::business(format!("lot '{lot}' does not exist")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ChaincodeError::State(format!("corrupt lot at '{key}': {e}")))
}

/// Writes a lot.
fn put(stub: &mut dyn ChaincodeStub, lot: &Lot) -> Result<(), ChaincodeError> {
    let bytes = serde_json::to_vec(lot)
        .map_err(|e| ChaincodeError::State(format!("could not encode lot: {e}")))?;
    stub.put_state(&key(&lot.lot), &bytes)
}

/// The holder index entry of `lot` held by `holder`.
fn index_key(holder: &str, lot: &str) -> Result<String, ChaincodeError> {
    create_composite_key(HOLDER_INDEX, &[holder, lot])
}

/// The record of `step`, as the current transaction makes it.
fn record(stub: &dyn ChaincodeStub, step: Step, org: &str) -> StepRecord {
    StepRecord {
        step,
        org: org.to_owned(),
        tx_id: stub.tx_id().to_owned(),
        timestamp_ms: stub.tx_timestamp_ms(),
    }
}

/// `harvest(lot, product)`: a new lot, held by the caller's organisation.
fn harvest(
    stub: &mut dyn ChaincodeStub,
    (lot, product): (String, String),
) -> Result<Lot, ChaincodeError> {
    checked("harvest", "lot", &lot)?;
    if product.is_empty() {
        return Err(invalid("harvest", "product must not be empty".to_owned()));
    }
    if stub.get_state(&key(&lot))?.is_some() {
        return Err(ChaincodeError::business(format!(
            "lot '{lot}' already exists"
        )));
    }
    let holder = stub.creator().msp_id.clone();
    let harvested = Lot {
        steps: vec![record(stub, Step::Harvested, &holder)],
        lot,
        product,
        holder,
    };
    put(stub, &harvested)?;
    stub.put_state(&index_key(&harvested.holder, &harvested.lot)?, INDEX_VALUE)?;
    Ok(harvested)
}

/// `handover(lot, step, to_org)`: the holder takes the lot to the next step
/// and hands it to `to_org`.
fn handover(
    stub: &mut dyn ChaincodeStub,
    (lot, step, to_org): (String, Step, String),
) -> Result<Lot, ChaincodeError> {
    checked("handover", "lot", &lot)?;
    checked("handover", "to_org", &to_org)?;
    let mut current = existing(stub, &lot)?;
    let caller = &stub.creator().msp_id;
    if *caller != current.holder {
        return Err(ChaincodeError::business(format!(
            "only {}, which holds lot '{lot}', may hand it over; the caller belongs to {caller}",
            current.holder
        )));
    }
    let at = current.current_step();
    let expected = at.next().ok_or_else(|| {
        ChaincodeError::business(format!("lot '{lot}' is {at}: it has no further step"))
    })?;
    if step != expected {
        return Err(ChaincodeError::business(format!(
            "lot '{lot}' is {at}: the next step is '{expected}', not '{step}'"
        )));
    }
    if to_org != current.holder {
        stub.del_state(&index_key(&current.holder, &lot)?)?;
        stub.put_state(&index_key(&to_org, &lot)?, INDEX_VALUE)?;
    }
    current.steps.push(record(stub, step, &to_org));
    current.holder = to_org;
    put(stub, &current)?;
    Ok(current)
}

/// `lots_of(org)`: the ids of the lots `org` holds, sorted.
fn lots_of(stub: &mut dyn ChaincodeStub, (org,): (String,)) -> Result<Vec<String>, ChaincodeError> {
    checked("lots_of", "org", &org)?;
    stub.get_state_by_partial_composite_key(HOLDER_INDEX, &[&org])?
        .iter()
        .map(|entry| {
            let (_, attributes) = split_composite_key(&entry.key)?;
            match <[String; 2]>::try_from(attributes) {
                Ok([_, lot]) => Ok(lot),
                Err(_) => Err(ChaincodeError::State(format!(
                    "corrupt holder index entry {:?}",
                    entry.key
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
