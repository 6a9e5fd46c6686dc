use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{holds, Token};
use crate::{ChaincodeError, ChaincodeStub, Creator, MockStub};

const ALICE: &str = "Org1MSP:alice";
const BOB: &str = "Org2MSP:bob";
const CAROL: &str = "Org3MSP:carol";

/// A client identity of `msp_id` whose certificate subject is `subject`.
fn person(msp_id: &str, subject: &str) -> Creator {
    Creator {
        msp_id: msp_id.into(),
        role: "client".into(),
        subject: subject.into(),
        cert_der: Vec::new(),
        attributes: BTreeMap::new(),
    }
}

fn member_of(msp_id: &str) -> Creator {
    person(msp_id, "someone")
}

/// The identity holding `account` (`<MSP>:<subject>`).
fn holder(account: &str) -> Creator {
    let (msp, subject) = account.split_once(':').unwrap();
    person(msp, subject)
}

fn call(stub: &mut MockStub, function: &str, args: &[&str]) -> Result<Value, ChaincodeError> {
    stub.invoke(&Token, function, args)
        .map(|payload| serde_json::from_slice(&payload).unwrap())
}

/// Calls `transfer` as the holder of `from`.
fn send(stub: &mut MockStub, args: &[&str; 5]) -> Result<Value, ChaincodeError> {
    stub.set_creator(holder(args[1]));
    call(stub, "transfer", args)
}

fn invalid(function: &str, reason: &str) -> ChaincodeError {
    ChaincodeError::InvalidArgs {
        function: function.into(),
        reason: reason.into(),
    }
}

fn reason(err: &ChaincodeError) -> &str {
    match err {
        ChaincodeError::InvalidArgs { reason, .. } => reason,
        other => panic!("expected InvalidArgs, got {other:?}"),
    }
}

/// A channel with token `GOLD` (max 1000) created by Org1MSP and 100 issued to alice.
fn with_gold() -> MockStub {
    let mut stub = MockStub::new("ch1");
    call(&mut stub, "create", &["GOLD", "1000"]).unwrap();
    call(&mut stub, "issue", &["GOLD", ALICE, "100", "seed"]).unwrap();
    stub
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

#[test]
fn create_records_the_token_and_issuer() {
    let mut stub = MockStub::new("ch1");
    stub.set_creator(member_of("BankMSP"));
    let created = call(&mut stub, "create", &["USD1", "5000"]).unwrap();
    let expected = json!({"symbol": "USD1", "max_supply": 5000, "issued": 0, "issuer": "BankMSP"});
    assert_eq!(created, expected);
    assert_eq!(stub.keys(), vec!["token/USD1".to_owned()]);
    let stored: Value = serde_json::from_slice(stub.state("token/USD1").unwrap()).unwrap();
    assert_eq!(stored, expected);
}

#[test]
fn create_rejects_bad_symbols() {
    let mut stub = MockStub::new("ch1");
    for bad in ["", "gold", "GO-LD", "ABCDEFGHIJKLMNOPQ", "GÖLD"] {
        let err = call(&mut stub, "create", &[bad, "10"]).unwrap_err();
        assert!(reason(&err).starts_with("symbol must be 1 to 16"), "{err}");
    }
    call(&mut stub, "create", &["ABCDEFGHIJKLMNOP", "10"]).unwrap();
    call(&mut stub, "create", &["7", "10"]).unwrap();
}

#[test]
fn create_rejects_bad_max_supply() {
    let mut stub = MockStub::new("ch1");
    let err = call(&mut stub, "create", &["GOLD", "0"]).unwrap_err();
    assert_eq!(
        err,
        invalid("create", "max_supply must be greater than zero")
    );
    let err = call(&mut stub, "create", &["GOLD", "lots"]).unwrap_err();
    assert_eq!(
        err,
        invalid(
            "create",
            "parameter 2 (max_supply): expected an unsigned integer, got \"lots\""
        )
    );
    for bad in ["-5", "+5", "1.5", "18446744073709551616"] {
        let err = call(&mut stub, "create", &["GOLD", bad]).unwrap_err();
        assert!(
            reason(&err).starts_with("parameter 2 (max_supply): "),
            "{err}"
        );
    }
    assert!(stub.keys().is_empty());
}

#[test]
fn create_rejects_existing_symbol() {
    let mut stub = with_gold();
    stub.set_creator(member_of("Org2MSP"));
    let err = call(&mut stub, "create", &["GOLD", "5"]).unwrap_err();
    assert_eq!(
        err,
        ChaincodeError::business("token symbol 'GOLD' already exists")
    );
    let info = call(&mut stub, "info", &["GOLD"]).unwrap();
    assert_eq!(info["issuer"], "Org1MSP");
    assert_eq!(info["max_supply"], 1000);
}

#[test]
fn issue_credits_and_counts_supply() {
    let mut stub = MockStub::new("ch1");
    call(&mut stub, "create", &["GOLD", "1000"]).unwrap();
    assert_eq!(
        call(&mut stub, "issue", &["GOLD", ALICE, "100", "a"]).unwrap(),
        json!(100)
    );
    assert_eq!(
        call(&mut stub, "issue", &["GOLD", ALICE, "50", ""]).unwrap(),
        json!(150)
    );
    assert_eq!(
        call(&mut stub, "issue", &["GOLD", BOB, "7", "b"]).unwrap(),
        json!(7)
    );
    assert_eq!(stub.state("balance/GOLD/Org1MSP:alice"), Some(&b"150"[..]));
    assert_eq!(stub.state("balance/GOLD/Org2MSP:bob"), Some(&b"7"[..]));
    assert_eq!(call(&mut stub, "info", &["GOLD"]).unwrap()["issued"], 157);
}

#[test]
fn issue_is_reserved_to_the_issuer_org() {
    let mut stub = with_gold();
    let before = snapshot(&stub);
    stub.set_creator(member_of("Org2MSP"));
    let err = call(&mut stub, "issue", &["GOLD", BOB, "10", ""]).unwrap_err();
    assert_eq!(
        err,
        ChaincodeError::business(
            "only members of Org1MSP may issue GOLD, but the caller belongs to Org2MSP"
        )
    );
    assert_eq!(snapshot(&stub), before);
    let mut admin = member_of("Org1MSP");
    admin.role = "admin".into();
    stub.set_creator(admin);
    call(&mut stub, "issue", &["GOLD", BOB, "10", ""]).unwrap();
}

#[test]
fn issue_rejects_zero_negative_and_non_numeric_amounts() {
    let mut stub = with_gold();
    let err = call(&mut stub, "issue", &["GOLD", BOB, "0", ""]).unwrap_err();
    assert_eq!(err, invalid("issue", "amount must be greater than zero"));
    let err = call(&mut stub, "issue", &["GOLD", BOB, "-3", ""]).unwrap_err();
    assert_eq!(
        err,
        invalid(
            "issue",
            "parameter 3 (amount): expected an unsigned integer, got \"-3\""
        )
    );
    let err = call(&mut stub, "issue", &["GOLD", BOB, "ten", ""]).unwrap_err();
    assert_eq!(
        err,
        invalid(
            "issue",
            "parameter 3 (amount): expected an unsigned integer, got \"ten\""
        )
    );
}

#[test]
fn issue_of_unknown_symbol_fails() {
    let mut stub = with_gold();
    let err = call(&mut stub, "issue", &["SILVER", BOB, "1", ""]).unwrap_err();
    assert_eq!(
        err,
        ChaincodeError::business("unknown token symbol 'SILVER'")
    );
    assert_eq!(err.to_string(), "unknown token symbol 'SILVER'");
}

#[test]
fn issue_beyond_max_supply_fails_and_writes_nothing() {
    let mut stub = with_gold();
    let before = snapshot(&stub);
    let err = call(&mut stub, "issue", &["GOLD", BOB, "901", "too much"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "issue of 901 GOLD exceeds the maximum supply 1000 (100 already issued)"
    );
    assert!(matches!(err, ChaincodeError::Business(_)));
    assert_eq!(snapshot(&stub), before);
    assert_eq!(
        call(&mut stub, "issue", &["GOLD", BOB, "900", ""]).unwrap(),
        json!(900)
    );
}

#[test]
fn issue_arithmetic_overflow_is_an_error() {
    let max = u64::MAX.to_string();
    let mut stub = MockStub::new("ch1");
    call(&mut stub, "create", &["BIG", &max]).unwrap();
    call(&mut stub, "issue", &["BIG", ALICE, &max, ""]).unwrap();
    let err = call(&mut stub, "issue", &["BIG", ALICE, "1", ""]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("issue of 1 BIG exceeds the maximum supply {max} ({max} already issued)")
    );
    assert_eq!(
        call(&mut stub, "balance", &["BIG", ALICE]).unwrap(),
        json!(u64::MAX)
    );
}

#[test]
fn wrong_argument_counts_are_reported() {
    let mut stub = with_gold();
    let cases: [(&str, &[&str], &str); 6] = [
        (
            "create",
            &["GOLD"],
            "expected 2 arguments (symbol, max_supply), got 1",
        ),
        (
            "issue",
            &["GOLD", BOB, "1"],
            "expected 4 arguments (symbol, to, amount, memo), got 3",
        ),
        (
            "transfer",
            &["GOLD", ALICE, BOB, "1", "m", "extra"],
            "expected 5 arguments (symbol, from, to, amount, memo), got 6",
        ),
        (
            "balance",
            &[],
            "expected 2 arguments (symbol, owner), got 0",
        ),
        (
            "info",
            &["GOLD", "x"],
            "expected 1 argument (symbol), got 2",
        ),
        ("account", &["x"], "expected no arguments, got 1"),
    ];
    for (function, args, reason) in cases {
        let err = call(&mut stub, function, args).unwrap_err();
        assert_eq!(err, invalid(function, reason));
    }
}

#[test]
fn owner_names_are_checked() {
    let mut stub = with_gold();
    for bad in ["", "a/b", "a\0b"] {
        let err = call(&mut stub, "issue", &["GOLD", bad, "1", ""]).unwrap_err();
        assert!(
            reason(&err).starts_with("to must be a non-empty name"),
            "{err}"
        );
        let err = call(&mut stub, "transfer", &["GOLD", bad, BOB, "1", ""]).unwrap_err();
        assert!(
            reason(&err).starts_with("from must be a non-empty name"),
            "{err}"
        );
        let err = call(&mut stub, "balance", &["GOLD", bad]).unwrap_err();
        assert!(
            reason(&err).starts_with("owner must be a non-empty name"),
            "{err}"
        );
    }
}

#[test]
fn non_utf8_argument_is_rejected() {
    let mut stub = with_gold();
    let err = stub
        .invoke_bytes(&Token, "balance", vec![b"GOLD".to_vec(), vec![0xc3]])
        .unwrap_err();
    assert_eq!(
        err,
        invalid("balance", "parameter 2 (owner): not valid UTF-8")
    );
}

#[test]
fn account_names_the_caller() {
    let mut stub = MockStub::new("ch1");
    assert_eq!(
        call(&mut stub, "account", &[]).unwrap(),
        json!("Org1MSP:user1@org1")
    );
    stub.set_creator(person("Org2MSP", "bob"));
    assert_eq!(call(&mut stub, "account", &[]).unwrap(), json!(BOB));
}

#[test]
fn an_identity_holds_its_account_and_its_sub_accounts_only() {
    let alice = holder(ALICE);
    assert!(holds(&alice, ALICE));
    assert!(holds(&alice, "Org1MSP:alice#savings"));
    assert!(!holds(&alice, "Org1MSP:alicexyz"));
    assert!(!holds(&alice, "Org1MSP:ali"));
    assert!(!holds(&alice, "Org2MSP:alice"));
    assert!(!holds(&person("Org1MSP", "ali"), ALICE));
}

#[test]
fn transfer_moves_tokens() {
    let mut stub = with_gold();
    let moved = send(&mut stub, &["GOLD", ALICE, BOB, "30", "rent"]).unwrap();
    assert_eq!(moved, json!({"from": 70, "to": 30}));
    let moved = send(&mut stub, &["GOLD", BOB, ALICE, "30", ""]).unwrap();
    assert_eq!(moved, json!({"from": 0, "to": 100}));
    assert_eq!(stub.state("balance/GOLD/Org1MSP:alice"), Some(&b"100"[..]));
    assert_eq!(stub.state("balance/GOLD/Org2MSP:bob"), Some(&b"0"[..]));
    // Each transfer sets a Transfer event.
    let transfers: Vec<serde_json::Value> = stub
        .events()
        .iter()
        .filter(|e| e.name == "Transfer")
        .map(|e| serde_json::from_slice(&e.payload).unwrap())
        .collect();
    assert_eq!(
        transfers,
        vec![
            json!({"symbol": "GOLD", "from": ALICE, "to": BOB, "amount": 30}),
            json!({"symbol": "GOLD", "from": BOB, "to": ALICE, "amount": 30}),
        ]
    );
}

#[test]
fn transfer_between_own_sub_accounts() {
    let mut stub = with_gold();
    let savings = format!("{ALICE}#savings");
    send(&mut stub, &["GOLD", ALICE, &savings, "40", ""]).unwrap();
    let moved = send(&mut stub, &["GOLD", &savings, CAROL, "15", ""]).unwrap();
    assert_eq!(moved, json!({"from": 25, "to": 15}));
}

/// `consort bench run --payload-bytes` sizes transactions through the memo:
/// any length is accepted, and it stays in the arguments, never in state
/// or the event.
#[test]
fn a_large_memo_is_accepted_and_not_stored() {
    let mut stub = with_gold();
    let memo = "x".repeat(64 * 1024);
    let moved = send(&mut stub, &["GOLD", ALICE, BOB, "1", &memo]).unwrap();
    assert_eq!(moved, json!({"from": 99, "to": 1}));
    for key in stub.keys() {
        let value = stub.state(&key).unwrap_or_default();
        assert!(value.len() < 1024, "{key} holds {} bytes", value.len());
    }
    assert!(stub.events().iter().all(|e| e.payload.len() < 1024));
}

#[test]
fn only_the_holder_may_transfer() {
    let mut stub = with_gold();
    let before = snapshot(&stub);
    for thief in [
        person("Org2MSP", "bob"),
        person("Org2MSP", "alice"),
        person("Org1MSP", "mallory"),
    ] {
        let caller = super::account_of(&thief);
        stub.set_creator(thief);
        let err = call(&mut stub, "transfer", &["GOLD", ALICE, BOB, "1", ""]).unwrap_err();
        assert_eq!(
            err,
            ChaincodeError::business(format!(
                "the caller {caller} does not hold account '{ALICE}'"
            ))
        );
    }
    assert_eq!(snapshot(&stub), before);
}

#[test]
fn transfer_with_insufficient_balance_fails_and_writes_nothing() {
    let mut stub = with_gold();
    let before = snapshot(&stub);
    let err = send(&mut stub, &["GOLD", ALICE, BOB, "101", ""]).unwrap_err();
    assert_eq!(
        err,
        ChaincodeError::business("insufficient balance: Org1MSP:alice holds 100 GOLD, needs 101")
    );
    let err = send(&mut stub, &["GOLD", CAROL, BOB, "1", ""]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "insufficient balance: Org3MSP:carol holds 0 GOLD, needs 1"
    );
    assert_eq!(snapshot(&stub), before);
}

#[test]
fn transfer_rejects_bad_requests() {
    let mut stub = with_gold();
    let before = snapshot(&stub);
    let err = send(&mut stub, &["GOLD", ALICE, ALICE, "1", ""]).unwrap_err();
    assert!(
        reason(&err).starts_with("from and to must be different accounts"),
        "{err}"
    );
    let err = send(&mut stub, &["GOLD", ALICE, BOB, "0", ""]).unwrap_err();
    assert_eq!(err, invalid("transfer", "amount must be greater than zero"));
    let err = send(&mut stub, &["GOLD", ALICE, BOB, "x", ""]).unwrap_err();
    assert!(
        reason(&err).starts_with("parameter 4 (amount): expected an unsigned integer"),
        "{err}"
    );
    let err = send(&mut stub, &["TIN", ALICE, BOB, "1", ""]).unwrap_err();
    assert_eq!(err, ChaincodeError::business("unknown token symbol 'TIN'"));
    assert_eq!(snapshot(&stub), before);
}

#[test]
fn balance_and_info_report_state() {
    let mut stub = with_gold();
    assert_eq!(
        call(&mut stub, "balance", &["GOLD", ALICE]).unwrap(),
        json!(100)
    );
    assert_eq!(
        call(&mut stub, "balance", &["GOLD", "nobody"]).unwrap(),
        json!(0)
    );
    let err = call(&mut stub, "balance", &["LEAD", ALICE]).unwrap_err();
    assert_eq!(err, ChaincodeError::business("unknown token symbol 'LEAD'"));
    assert_eq!(
        call(&mut stub, "info", &["GOLD"]).unwrap(),
        json!({"symbol": "GOLD", "max_supply": 1000, "issued": 100, "issuer": "Org1MSP"})
    );
    let err = call(&mut stub, "info", &["LEAD"]).unwrap_err();
    assert_eq!(err, ChaincodeError::business("unknown token symbol 'LEAD'"));
    assert!(!stub.keys().iter().any(|k| k.contains("nobody")));
}

#[test]
fn unknown_function_is_rejected() {
    let mut stub = with_gold();
    let err = call(&mut stub, "burn", &["GOLD", "1"]).unwrap_err();
    assert_eq!(err, ChaincodeError::UnknownFunction("burn".into()));
}

#[test]
fn supply_matches_sum_of_balances() {
    let mut stub = MockStub::new("ch1");
    call(&mut stub, "create", &["GOLD", "500"]).unwrap();
    let dave = "Org1MSP:dave";
    let steps: [(&str, [&str; 5]); 9] = [
        ("issue", ["GOLD", ALICE, "200", "", ""]),
        ("issue", ["GOLD", BOB, "100", "", ""]),
        ("transfer", ["GOLD", ALICE, CAROL, "50", ""]),
        ("transfer", ["GOLD", BOB, CAROL, "100", ""]),
        ("transfer", ["GOLD", CAROL, dave, "500", ""]),
        ("issue", ["GOLD", dave, "300", "", ""]),
        ("issue", ["GOLD", dave, "199", "", ""]),
        ("transfer", ["GOLD", dave, ALICE, "199", ""]),
        ("transfer", ["GOLD", CAROL, BOB, "1", ""]),
    ];
    for (function, args) in steps {
        if function == "issue" {
            stub.set_creator(member_of("Org1MSP"));
            let _ = call(&mut stub, function, &args[..4]);
        } else {
            let _ = send(&mut stub, &args);
        }
    }
    let issued = call(&mut stub, "info", &["GOLD"]).unwrap()["issued"]
        .as_u64()
        .unwrap();
    assert_eq!(issued, 499);
    let total: u64 = stub
        .keys()
        .iter()
        .filter(|k| k.starts_with("balance/GOLD/"))
        .map(|k| {
            std::str::from_utf8(stub.state(k).unwrap())
                .unwrap()
                .parse::<u64>()
                .unwrap()
        })
        .sum();
    assert_eq!(total, issued);
    assert_eq!(
        call(&mut stub, "balance", &["GOLD", CAROL]).unwrap(),
        json!(149)
    );
}

/// A stub over a plain map that records every key read, as a peer's read set does.
struct Recording {
    state: BTreeMap<String, Vec<u8>>,
    args: Vec<Vec<u8>>,
    creator: Creator,
    reads: Vec<String>,
    transient: BTreeMap<String, Vec<u8>>,
}

impl ChaincodeStub for Recording {
    fn function(&self) -> &str {
        "transfer"
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn tx_id(&self) -> &str {
        "tx"
    }
    fn channel_id(&self) -> &str {
        "ch1"
    }
    fn creator(&self) -> &Creator {
        &self.creator
    }
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        self.reads.push(key.to_owned());
        Ok(self.state.get(key).cloned())
    }
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError> {
        self.state.insert(key.to_owned(), value.to_vec());
        Ok(())
    }
    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        self.state.remove(key);
        Ok(())
    }
    fn tx_timestamp_ms(&self) -> i64 {
        0
    }
    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.transient
    }
    fn set_event(&mut self, _name: &str, _payload: &[u8]) -> Result<(), ChaincodeError> {
        Ok(())
    }
    fn execute_query(
        &mut self,
        query: &crate::query::Query,
    ) -> Result<crate::query::QueryOutcome, ChaincodeError> {
        let outcome = query.run(&mut &self.state)?;
        self.reads
            .extend(outcome.entries.iter().map(|e| e.key.clone()));
        Ok(outcome)
    }
    fn get_history_for_key(
        &mut self,
        _key: &str,
    ) -> Result<Vec<crate::KeyModification>, ChaincodeError> {
        Ok(Vec::new())
    }
}

#[test]
fn transfer_reads_only_the_token_and_both_balances() {
    use crate::Chaincode;
    let mock = with_gold();
    let mut stub = Recording {
        state: snapshot(&mock),
        args: ["GOLD", ALICE, BOB, "5", "memo"]
            .iter()
            .map(|a| a.as_bytes().to_vec())
            .collect(),
        creator: holder(ALICE),
        reads: Vec::new(),
        transient: BTreeMap::new(),
    };
    Token.invoke(&mut stub).unwrap();
    let mut reads = stub.reads.clone();
    reads.sort();
    assert_eq!(
        reads,
        vec![
            "balance/GOLD/Org1MSP:alice",
            "balance/GOLD/Org2MSP:bob",
            "token/GOLD"
        ]
    );
}
