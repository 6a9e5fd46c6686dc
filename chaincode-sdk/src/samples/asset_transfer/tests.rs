use serde_json::{json, Value};

use super::AssetTransfer;
use crate::{ChaincodeError, Creator, MockStub};

/// A client of `msp_id` with certificate subject `subject`: it holds the
/// token account `<msp_id>:<subject>`.
fn person(msp_id: &str, subject: &str) -> Creator {
    Creator {
        msp_id: msp_id.into(),
        role: "client".into(),
        subject: subject.into(),
        ..Creator::default()
    }
}

fn call(stub: &mut MockStub, function: &str, args: &[&str]) -> Result<Value, ChaincodeError> {
    stub.invoke(&AssetTransfer, function, args)
        .map(|payload| serde_json::from_slice(&payload).unwrap())
}

fn invalid(function: &str, reason: &str) -> ChaincodeError {
    ChaincodeError::InvalidArgs {
        function: function.into(),
        reason: reason.into(),
    }
}

fn asset(id: &str, color: &str, size: u64, owner: &str, value: u64) -> Value {
    json!({"id": id, "color": color, "size": size, "owner": owner, "appraised_value": value})
}

/// A channel holding asset1 (blue, alice) and asset2 (red, bob).
fn with_assets() -> MockStub {
    let mut stub = MockStub::new("ch1");
    call(
        &mut stub,
        "create",
        &["asset1", "blue", "5", "alice", "300"],
    )
    .unwrap();
    call(&mut stub, "create", &["asset2", "red", "10", "bob", "400"]).unwrap();
    stub
}

fn unknown(id: &str) -> ChaincodeError {
    ChaincodeError::business(format!("asset '{id}' does not exist"))
}

#[test]
fn create_stores_the_asset_as_json() {
    let mut stub = MockStub::new("ch1");
    let created = call(&mut stub, "create", &["a1", "blue", "5", "alice", "300"]).unwrap();
    assert_eq!(created, asset("a1", "blue", 5, "alice", 300));
    assert_eq!(stub.keys(), ["asset/a1"]);
    let stored: Value = serde_json::from_slice(stub.state("asset/a1").unwrap()).unwrap();
    assert_eq!(stored, created);
}

#[test]
fn create_refuses_an_existing_id_and_changes_nothing() {
    let mut stub = with_assets();
    let err = call(&mut stub, "create", &["asset1", "green", "1", "carol", "1"]).unwrap_err();
    assert_eq!(
        err,
        ChaincodeError::business("asset 'asset1' already exists")
    );
    assert_eq!(
        call(&mut stub, "read", &["asset1"]).unwrap(),
        asset("asset1", "blue", 5, "alice", 300)
    );
}

#[test]
fn create_and_update_check_their_fields() {
    let mut stub = with_assets();
    for (function, id) in [("create", "asset9"), ("update", "asset1")] {
        let cases: [(&[&str], &str); 7] = [
            (&["", "blue", "5", "alice", "300"], "id must not be empty"),
            (&[id, "blue", "5", "", "300"], "owner must not be empty"),
            (
                &[id, "blue", "0", "alice", "300"],
                "size must be greater than zero",
            ),
            (
                &[id, "blue", "5", "alice", "0"],
                "appraised_value must be greater than zero",
            ),
            (
                &[id, "blue", "-5", "alice", "300"],
                "parameter 3 (size): expected an unsigned integer, got \"-5\"",
            ),
            (
                &[id, "blue", "5", "alice", "lots"],
                "parameter 5 (appraised_value): expected an unsigned integer, got \"lots\"",
            ),
            (
                &[id, "blue", "5"],
                "expected 5 arguments (id, color, size, owner, appraised_value), got 3",
            ),
        ];
        for (args, reason) in cases {
            let err = call(&mut stub, function, args).unwrap_err();
            assert_eq!(err, invalid(function, reason), "{function} {args:?}");
        }
    }
    assert_eq!(stub.keys(), ["asset/asset1", "asset/asset2"]);
}

#[test]
fn read_and_exists() {
    let mut stub = with_assets();
    assert_eq!(
        call(&mut stub, "read", &["asset2"]).unwrap(),
        asset("asset2", "red", 10, "bob", 400)
    );
    assert_eq!(
        call(&mut stub, "read", &["nope"]).unwrap_err(),
        unknown("nope")
    );
    assert_eq!(
        call(&mut stub, "read", &[""]).unwrap_err(),
        invalid("read", "id must not be empty")
    );
    assert_eq!(call(&mut stub, "exists", &["asset1"]).unwrap(), json!(true));
    assert_eq!(call(&mut stub, "exists", &["nope"]).unwrap(), json!(false));
    assert_eq!(
        call(&mut stub, "exists", &[""]).unwrap_err(),
        invalid("exists", "id must not be empty")
    );
}

#[test]
fn update_replaces_an_existing_asset_only() {
    let mut stub = with_assets();
    let updated = call(
        &mut stub,
        "update",
        &["asset1", "gold", "6", "alice", "350"],
    )
    .unwrap();
    assert_eq!(updated, asset("asset1", "gold", 6, "alice", 350));
    assert_eq!(call(&mut stub, "read", &["asset1"]).unwrap(), updated);
    let err = call(&mut stub, "update", &["nope", "gold", "6", "alice", "350"]).unwrap_err();
    assert_eq!(err, unknown("nope"));
    assert!(stub.state("asset/nope").is_none());
}

#[test]
fn delete_removes_an_existing_asset_only() {
    let mut stub = with_assets();
    let deleted = call(&mut stub, "delete", &["asset1"]).unwrap();
    assert_eq!(deleted, asset("asset1", "blue", 5, "alice", 300));
    assert_eq!(
        call(&mut stub, "exists", &["asset1"]).unwrap(),
        json!(false)
    );
    assert_eq!(
        call(&mut stub, "delete", &["asset1"]).unwrap_err(),
        unknown("asset1")
    );
    assert_eq!(
        call(&mut stub, "delete", &[""]).unwrap_err(),
        invalid("delete", "id must not be empty")
    );
    assert_eq!(stub.keys(), ["asset/asset2"]);
}

#[test]
fn transfer_changes_the_owner_only() {
    let mut stub = with_assets();
    let moved = call(&mut stub, "transfer", &["asset1", "carol"]).unwrap();
    assert_eq!(moved, asset("asset1", "blue", 5, "carol", 300));
    assert_eq!(call(&mut stub, "read", &["asset1"]).unwrap(), moved);
    assert_eq!(
        call(&mut stub, "transfer", &["asset1", "carol"]).unwrap_err(),
        ChaincodeError::business("asset 'asset1' is already owned by carol")
    );
    assert_eq!(
        call(&mut stub, "transfer", &["nope", "carol"]).unwrap_err(),
        unknown("nope")
    );
    assert_eq!(
        call(&mut stub, "transfer", &["", "carol"]).unwrap_err(),
        invalid("transfer", "id must not be empty")
    );
    assert_eq!(
        call(&mut stub, "transfer", &["asset1", ""]).unwrap_err(),
        invalid("transfer", "new_owner must not be empty")
    );
    assert_eq!(
        call(&mut stub, "transfer", &["asset1"]).unwrap_err(),
        invalid("transfer", "expected 2 arguments (id, new_owner), got 1")
    );
}

#[test]
fn list_pages_through_every_asset_in_id_order() {
    let mut stub = MockStub::new("ch1");
    for n in [3, 1, 5, 2, 4] {
        let id = format!("a{n}");
        call(&mut stub, "create", &[&id, "blue", "1", "alice", "1"]).unwrap();
    }
    let mut ids = Vec::new();
    let mut bookmark = String::new();
    let mut pages = 0;
    loop {
        let page = call(&mut stub, "list", &["2", &bookmark]).unwrap();
        pages += 1;
        for asset in page["assets"].as_array().unwrap() {
            ids.push(asset["id"].as_str().unwrap().to_owned());
        }
        bookmark = page["bookmark"].as_str().unwrap().to_owned();
        if bookmark.is_empty() {
            break;
        }
    }
    assert_eq!(ids, ["a1", "a2", "a3", "a4", "a5"]);
    assert_eq!(pages, 3);
    let all = call(&mut stub, "list", &["10", ""]).unwrap();
    assert_eq!(all["assets"].as_array().unwrap().len(), 5);
    assert_eq!(all["assets"][0], asset("a1", "blue", 1, "alice", 1));
    assert_eq!(all["bookmark"], "");
}

#[test]
fn list_of_nothing_is_an_empty_page() {
    let mut stub = MockStub::new("ch1");
    assert_eq!(
        call(&mut stub, "list", &["5", ""]).unwrap(),
        json!({"assets": [], "bookmark": ""})
    );
}

#[test]
fn list_refuses_a_bad_page_size_or_bookmark() {
    let mut stub = with_assets();
    assert_eq!(
        call(&mut stub, "list", &["0", ""]).unwrap_err(),
        invalid("list", "page_size must be greater than zero")
    );
    assert_eq!(
        call(&mut stub, "list", &["many", ""]).unwrap_err(),
        invalid(
            "list",
            "parameter 1 (page_size): expected an unsigned integer, got \"many\""
        )
    );
    let err = call(&mut stub, "list", &["1", "not-a-bookmark"]).unwrap_err();
    assert!(matches!(err, ChaincodeError::BadRequest(_)), "{err:?}");
}

#[test]
fn history_lists_every_change_with_its_transaction_and_time() {
    let mut stub = MockStub::new("ch1");
    stub.set_timestamp(1_000);
    stub.set_tx_id("tx-create");
    call(&mut stub, "create", &["a1", "blue", "5", "alice", "300"]).unwrap();
    stub.set_timestamp(2_000);
    stub.set_tx_id("tx-transfer");
    call(&mut stub, "transfer", &["a1", "bob"]).unwrap();
    stub.set_timestamp(3_000);
    stub.set_tx_id("tx-failed");
    call(&mut stub, "transfer", &["a1", "bob"]).unwrap_err();
    stub.set_timestamp(4_000);
    stub.set_tx_id("tx-delete");
    call(&mut stub, "delete", &["a1"]).unwrap();
    assert_eq!(
        call(&mut stub, "history", &["a1"]).unwrap(),
        json!([
            {"tx_id": "tx-create", "timestamp_ms": 1000, "deleted": false,
             "asset": asset("a1", "blue", 5, "alice", 300)},
            {"tx_id": "tx-transfer", "timestamp_ms": 2000, "deleted": false,
             "asset": asset("a1", "blue", 5, "bob", 300)},
            {"tx_id": "tx-delete", "timestamp_ms": 4000, "deleted": true, "asset": null},
        ])
    );
    assert_eq!(call(&mut stub, "history", &["never"]).unwrap(), json!([]));
    assert_eq!(
        call(&mut stub, "history", &[""]).unwrap_err(),
        invalid("history", "id must not be empty")
    );
}

#[test]
fn unknown_function_is_refused() {
    let mut stub = with_assets();
    assert_eq!(
        call(&mut stub, "burn", &["asset1"]).unwrap_err(),
        ChaincodeError::UnknownFunction("burn".into())
    );
}

/// `with_assets` plus the `token` chaincode with GOLD, the token account
/// `Org2MSP:bob` holding 500, and Org2's bob as the caller.
fn with_token() -> MockStub {
    let mut stub = with_assets();
    stub.register_chaincode("token", crate::samples::token::Token);
    stub.invoke_registered("token", "create", &["GOLD", "10000"])
        .unwrap();
    stub.invoke_registered("token", "issue", &["GOLD", "Org2MSP:bob", "500", ""])
        .unwrap();
    stub.set_creator(person("Org2MSP", "bob"));
    stub
}

#[test]
fn sell_pays_the_owner_with_token_and_hands_the_asset_over() {
    let mut stub = with_token();
    let sold = call(&mut stub, "sell", &["asset1", "Org2MSP:bob", "GOLD"]).unwrap();
    assert_eq!(sold, asset("asset1", "blue", 5, "Org2MSP:bob", 300));
    assert_eq!(
        call(&mut stub, "read", &["asset1"]).unwrap(),
        asset("asset1", "blue", 5, "Org2MSP:bob", 300)
    );
    assert_eq!(
        stub.state_of("token", "balance/GOLD/Org2MSP:bob"),
        Some(&b"200"[..])
    );
    assert_eq!(
        stub.state_of("token", "balance/GOLD/alice"),
        Some(&b"300"[..])
    );
    assert_eq!(
        stub.state("balance/GOLD/Org2MSP:bob"),
        None,
        "token's state stays in its namespace"
    );
}

#[test]
fn a_refused_payment_fails_the_sale_and_changes_nothing() {
    let mut stub = with_token();
    // Org1's alice holds no GOLD: not enough for asset2 (400).
    call(&mut stub, "sell", &["asset1", "Org2MSP:bob", "GOLD"]).unwrap();
    stub.set_creator(person("Org1MSP", "alice"));
    let err = call(&mut stub, "sell", &["asset2", "Org1MSP:alice", "GOLD"]).unwrap_err();
    assert!(err.to_string().contains("insufficient balance"), "{err}");
    assert_eq!(
        call(&mut stub, "read", &["asset2"]).unwrap(),
        asset("asset2", "red", 10, "bob", 400)
    );
    assert_eq!(
        stub.state_of("token", "balance/GOLD/alice"),
        Some(&b"300"[..])
    );

    let err = call(&mut stub, "sell", &["asset2", "Org1MSP:alice", "SILVER"]).unwrap_err();
    assert!(err.to_string().contains("SILVER"), "{err}");
    // Paying from an account the caller does not hold.
    let err = call(&mut stub, "sell", &["asset2", "Org2MSP:bob", "GOLD"]).unwrap_err();
    assert!(err.to_string().contains("does not hold account"), "{err}");
    assert_eq!(
        call(&mut stub, "sell", &["asset2", "bob", "GOLD"]).unwrap_err(),
        ChaincodeError::business("asset 'asset2' is already owned by bob")
    );
    assert_eq!(
        call(&mut stub, "sell", &["asset2", "", "GOLD"]).unwrap_err(),
        invalid("sell", "buyer must not be empty")
    );
    assert_eq!(
        call(&mut stub, "sell", &["nope", "bob", "GOLD"]).unwrap_err(),
        unknown("nope")
    );

    // Without a token chaincode the sale cannot be paid.
    let mut alone = with_assets();
    assert_eq!(
        call(&mut alone, "sell", &["asset1", "bob", "GOLD"]).unwrap_err(),
        ChaincodeError::Call {
            chaincode: "token".into(),
            reason: "not defined on the channel".into(),
        }
    );
}
