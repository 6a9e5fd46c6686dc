use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::SupplyChain;
use crate::{create_composite_key, ChaincodeError, Creator, MockStub};

fn call(stub: &mut MockStub, function: &str, args: &[&str]) -> Result<Value, ChaincodeError> {
    stub.invoke(&SupplyChain, function, args)
        .map(|payload| serde_json::from_slice(&payload).unwrap())
}

fn invalid(function: &str, reason: &str) -> ChaincodeError {
    ChaincodeError::InvalidArgs {
        function: function.into(),
        reason: reason.into(),
    }
}

/// Acts as a client of `msp_id` from now on.
fn as_org(stub: &mut MockStub, msp_id: &str) {
    stub.set_creator(Creator {
        msp_id: msp_id.into(),
        role: "client".into(),
        subject: "someone".into(),
        cert_der: Vec::new(),
        attributes: Default::default(),
    });
}

fn snapshot(stub: &MockStub) -> BTreeMap<String, Vec<u8>> {
    stub.keys()
        .into_iter()
        .map(|k| {
            let v = stub.state(&k).unwrap().to_vec();
            (k, v)
        })
        .collect()
}

fn lots_of(stub: &mut MockStub, org: &str) -> Value {
    call(stub, "lots_of", &[org]).unwrap()
}

/// A channel where FarmMSP harvested lot L1 of coffee at t=1000 in tx h1.
fn harvested() -> MockStub {
    let mut stub = MockStub::new("ch1");
    as_org(&mut stub, "FarmMSP");
    stub.set_timestamp(1_000);
    stub.set_tx_id("h1");
    call(&mut stub, "harvest", &["L1", "coffee"]).unwrap();
    stub
}

#[test]
fn harvest_starts_a_lot_held_by_the_callers_org() {
    let mut stub = harvested();
    let expected = json!({
        "lot": "L1", "product": "coffee", "holder": "FarmMSP",
        "steps": [{"step": "harvested", "org": "FarmMSP", "tx_id": "h1", "timestamp_ms": 1000}],
    });
    assert_eq!(call(&mut stub, "trace", &["L1"]).unwrap(), expected);
    let index = create_composite_key("holder~lot", &["FarmMSP", "L1"]).unwrap();
    assert_eq!(stub.keys(), [index, "lot/L1".to_owned()]);
    assert_eq!(lots_of(&mut stub, "FarmMSP"), json!(["L1"]));
}

#[test]
fn harvest_refuses_an_existing_lot_and_bad_arguments() {
    let mut stub = harvested();
    let before = snapshot(&stub);
    as_org(&mut stub, "OtherFarmMSP");
    assert_eq!(
        call(&mut stub, "harvest", &["L1", "tea"]).unwrap_err(),
        ChaincodeError::business("lot 'L1' already exists")
    );
    assert_eq!(
        call(&mut stub, "harvest", &["", "tea"]).unwrap_err(),
        invalid(
            "harvest",
            "lot must be non-empty without control characters, got \"\""
        )
    );
    assert_eq!(
        call(&mut stub, "harvest", &["L\u{1f}2", "tea"]).unwrap_err(),
        invalid(
            "harvest",
            "lot must be non-empty without control characters, got \"L\\u{1f}2\""
        )
    );
    assert_eq!(
        call(&mut stub, "harvest", &["L2", ""]).unwrap_err(),
        invalid("harvest", "product must not be empty")
    );
    assert_eq!(
        call(&mut stub, "harvest", &["L2"]).unwrap_err(),
        invalid("harvest", "expected 2 arguments (lot, product), got 1")
    );
    assert_eq!(snapshot(&stub), before);
}

#[test]
fn a_lot_goes_through_every_step_and_trace_shows_the_path() {
    let mut stub = harvested();
    let path = [
        ("FarmMSP", "processed", "MillMSP", 2_000),
        ("MillMSP", "shipped", "ShipperMSP", 3_000),
        ("ShipperMSP", "received", "StoreMSP", 4_000),
        ("StoreMSP", "sold", "BuyerMSP", 5_000),
    ];
    for (n, (by, step, to, at)) in path.into_iter().enumerate() {
        as_org(&mut stub, by);
        stub.set_timestamp(at);
        stub.set_tx_id(&format!("t{n}"));
        let lot = call(&mut stub, "handover", &["L1", step, to]).unwrap();
        assert_eq!(lot["holder"], to);
        assert_eq!(lot["steps"].as_array().unwrap().len(), n + 2);
        assert_eq!(lots_of(&mut stub, by), json!([]));
        assert_eq!(lots_of(&mut stub, to), json!(["L1"]));
    }
    let trace = call(&mut stub, "trace", &["L1"]).unwrap();
    assert_eq!(
        trace["steps"],
        json!([
            {"step": "harvested", "org": "FarmMSP", "tx_id": "h1", "timestamp_ms": 1000},
            {"step": "processed", "org": "MillMSP", "tx_id": "t0", "timestamp_ms": 2000},
            {"step": "shipped", "org": "ShipperMSP", "tx_id": "t1", "timestamp_ms": 3000},
            {"step": "received", "org": "StoreMSP", "tx_id": "t2", "timestamp_ms": 4000},
            {"step": "sold", "org": "BuyerMSP", "tx_id": "t3", "timestamp_ms": 5000},
        ])
    );
    assert_eq!(trace["holder"], "BuyerMSP");
    let index = create_composite_key("holder~lot", &["BuyerMSP", "L1"]).unwrap();
    assert_eq!(stub.keys(), [index, "lot/L1".to_owned()]);
}

#[test]
fn only_the_holder_may_hand_a_lot_over() {
    let mut stub = harvested();
    let before = snapshot(&stub);
    as_org(&mut stub, "MillMSP");
    assert_eq!(
        call(&mut stub, "handover", &["L1", "processed", "MillMSP"]).unwrap_err(),
        ChaincodeError::business(
            "only FarmMSP, which holds lot 'L1', may hand it over; the caller belongs to MillMSP"
        )
    );
    assert_eq!(snapshot(&stub), before);
}

#[test]
fn steps_must_come_in_order() {
    let mut stub = harvested();
    let before = snapshot(&stub);
    for step in ["harvested", "shipped", "received", "sold"] {
        assert_eq!(
            call(&mut stub, "handover", &["L1", step, "MillMSP"]).unwrap_err(),
            ChaincodeError::business(format!(
                "lot 'L1' is harvested: the next step is 'processed', not '{step}'"
            ))
        );
    }
    assert_eq!(snapshot(&stub), before);
    call(&mut stub, "handover", &["L1", "processed", "MillMSP"]).unwrap();
    as_org(&mut stub, "MillMSP");
    assert_eq!(
        call(&mut stub, "handover", &["L1", "processed", "MillMSP"]).unwrap_err(),
        ChaincodeError::business(
            "lot 'L1' is processed: the next step is 'shipped', not 'processed'"
        )
    );
}

#[test]
fn a_sold_lot_has_no_further_step() {
    let mut stub = harvested();
    for step in ["processed", "shipped", "received", "sold"] {
        call(&mut stub, "handover", &["L1", step, "FarmMSP"]).unwrap();
    }
    let before = snapshot(&stub);
    for step in ["harvested", "sold"] {
        assert_eq!(
            call(&mut stub, "handover", &["L1", step, "FarmMSP"]).unwrap_err(),
            ChaincodeError::business("lot 'L1' is sold: it has no further step")
        );
    }
    assert_eq!(snapshot(&stub), before);
}

#[test]
fn keeping_a_lot_leaves_one_index_entry() {
    let mut stub = harvested();
    let lot = call(&mut stub, "handover", &["L1", "processed", "FarmMSP"]).unwrap();
    assert_eq!(lot["steps"][1]["org"], "FarmMSP");
    assert_eq!(lots_of(&mut stub, "FarmMSP"), json!(["L1"]));
    assert_eq!(stub.keys().len(), 2);
}

#[test]
fn handover_refuses_unknown_lots_and_bad_arguments() {
    let mut stub = harvested();
    let before = snapshot(&stub);
    assert_eq!(
        call(&mut stub, "handover", &["L9", "processed", "MillMSP"]).unwrap_err(),
        ChaincodeError::business("lot 'L9' does not exist")
    );
    assert_eq!(
        call(&mut stub, "handover", &["L1", "flown", "MillMSP"]).unwrap_err(),
        invalid(
            "handover",
            "parameter 2 (step): expected one of `harvested`, `processed`, `shipped`, \
             `received`, `sold`, got \"flown\""
        )
    );
    assert_eq!(
        call(&mut stub, "handover", &["L1", "processed", ""]).unwrap_err(),
        invalid(
            "handover",
            "to_org must be non-empty without control characters, got \"\""
        )
    );
    assert_eq!(
        call(&mut stub, "handover", &["", "processed", "MillMSP"]).unwrap_err(),
        invalid(
            "handover",
            "lot must be non-empty without control characters, got \"\""
        )
    );
    assert_eq!(
        call(&mut stub, "handover", &["L1", "processed"]).unwrap_err(),
        invalid(
            "handover",
            "expected 3 arguments (lot, step, to_org), got 2"
        )
    );
    assert_eq!(snapshot(&stub), before);
}

#[test]
fn trace_and_lots_of_refuse_bad_arguments() {
    let mut stub = harvested();
    assert_eq!(
        call(&mut stub, "trace", &["L9"]).unwrap_err(),
        ChaincodeError::business("lot 'L9' does not exist")
    );
    assert_eq!(
        call(&mut stub, "trace", &[""]).unwrap_err(),
        invalid(
            "trace",
            "lot must be non-empty without control characters, got \"\""
        )
    );
    assert_eq!(
        call(&mut stub, "lots_of", &[""]).unwrap_err(),
        invalid(
            "lots_of",
            "org must be non-empty without control characters, got \"\""
        )
    );
    assert_eq!(lots_of(&mut stub, "NobodyMSP"), json!([]));
    assert_eq!(
        call(&mut stub, "plant", &["L1"]).unwrap_err(),
        ChaincodeError::UnknownFunction("plant".into())
    );
}

#[test]
fn lots_of_lists_only_the_lots_an_org_holds_now() {
    let mut stub = MockStub::new("ch1");
    as_org(&mut stub, "FarmMSP");
    for lot in ["L3", "L1", "L2"] {
        call(&mut stub, "harvest", &[lot, "coffee"]).unwrap();
    }
    as_org(&mut stub, "Farm2MSP");
    call(&mut stub, "harvest", &["L4", "tea"]).unwrap();
    as_org(&mut stub, "FarmMSP");
    call(&mut stub, "handover", &["L2", "processed", "MillMSP"]).unwrap();
    assert_eq!(lots_of(&mut stub, "FarmMSP"), json!(["L1", "L3"]));
    assert_eq!(lots_of(&mut stub, "MillMSP"), json!(["L2"]));
    assert_eq!(lots_of(&mut stub, "Farm2MSP"), json!(["L4"]));
    // "Farm" is a prefix of another org's id, not an org: it holds nothing.
    assert_eq!(lots_of(&mut stub, "Farm"), json!([]));
}
