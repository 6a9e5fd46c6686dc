//! A fungible-token sample chaincode.
//!
//! Functions (all arguments are UTF-8 strings, amounts are decimal `u64`):
//!
//! | function | arguments | returns |
//! |---|---|---|
//! | `create` | `symbol, max_supply` | the token info JSON |
//! | `issue` | `symbol, to, amount, memo` | `to`'s new balance as a JSON number |
//! | `transfer` | `symbol, from, to, amount, memo` | `{"from": new balance, "to": new balance}` |
//! | `balance` | `symbol, owner` | the balance as a JSON number |
//! | `info` | `symbol` | `{"symbol", "max_supply", "issued", "issuer"}` |
//!
//! The organisation (MSP id) that creates a token is its issuer, and only
//! members of that organisation may issue it, up to the maximum supply. The
//! memo is not stored in state; it stays in the transaction's arguments.
//! As a sample, `transfer` does not check that the caller controls the `from`
//! account.
//!
//! State layout: the token info is JSON at `token/{symbol}`, and each balance is
//! a decimal string at `balance/{symbol}/{owner}`.

mod args;
mod ledger;

use serde::Serialize;

use crate::{Chaincode, ChaincodeError, ChaincodeStub};
use ledger::TokenInfo;

/// The fungible-token sample chaincode.
#[derive(Default, Debug, Clone, Copy)]
pub struct Token;

impl Chaincode for Token {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        match stub.function() {
            "create" => create(stub),
            "issue" => issue(stub),
            "transfer" => transfer(stub),
            "balance" => balance(stub),
            "info" => info(stub),
            other => Err(ChaincodeError::UnknownFunction(other.to_owned())),
        }
    }
}

/// The payload `transfer` returns.
#[derive(Serialize)]
struct Transferred {
    /// The sender's new balance.
    from: u64,
    /// The recipient's new balance.
    to: u64,
}

/// `create(symbol, max_supply)`: registers a token issued by the caller's organisation.
fn create(stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
    const F: &str = "create";
    let all = stub.string_args()?;
    let [symbol, max_supply] = args::expect(F, &all, ["symbol", "max_supply"])?;
    let symbol = args::symbol(F, symbol)?;
    let max_supply = args::amount(F, "max_supply", max_supply)?;
    if ledger::find_token(stub, symbol)?.is_some() {
        return Err(ChaincodeError::business(format!(
            "token symbol '{symbol}' already exists"
        )));
    }
    let info = TokenInfo {
        symbol: symbol.to_owned(),
        max_supply,
        issued: 0,
        issuer: stub.creator().msp_id.clone(),
    };
    ledger::put_token(stub, &info)?;
    ledger::to_json(&info)
}

/// `issue(symbol, to, amount, memo)`: credits newly issued tokens to `to`.
fn issue(stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
    const F: &str = "issue";
    let all = stub.string_args()?;
    let [symbol, to, amount, _memo] = args::expect(F, &all, ["symbol", "to", "amount", "memo"])?;
    let symbol = args::symbol(F, symbol)?;
    let to = args::owner(F, "to", to)?;
    let amount = args::amount(F, "amount", amount)?;
    let mut info = ledger::token(stub, symbol)?;
    let caller = &stub.creator().msp_id;
    if *caller != info.issuer {
        return Err(ChaincodeError::business(format!(
            "only members of {} may issue {symbol}, but the caller belongs to {caller}",
            info.issuer
        )));
    }
    info.issued = info
        .issued
        .checked_add(amount)
        .filter(|total| *total <= info.max_supply)
        .ok_or_else(|| {
            ChaincodeError::business(format!(
                "issue of {amount} {symbol} exceeds the maximum supply {} ({} already issued)",
                info.max_supply, info.issued
            ))
        })?;
    let balance = ledger::balance(stub, symbol, to)?
        .checked_add(amount)
        .ok_or_else(|| ChaincodeError::business(format!("balance of {to} would overflow")))?;
    ledger::put_token(stub, &info)?;
    ledger::put_balance(stub, symbol, to, balance)?;
    ledger::to_json(&balance)
}

/// `transfer(symbol, from, to, amount, memo)`: moves tokens between two accounts.
///
/// Reads exactly the token info and the two balances.
fn transfer(stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
    const F: &str = "transfer";
    let all = stub.string_args()?;
    let [symbol, from, to, amount, _memo] =
        args::expect(F, &all, ["symbol", "from", "to", "amount", "memo"])?;
    let symbol = args::symbol(F, symbol)?;
    let from = args::owner(F, "from", from)?;
    let to = args::owner(F, "to", to)?;
    let amount = args::amount(F, "amount", amount)?;
    args::distinct(F, from, to)?;
    ledger::token(stub, symbol)?;
    let from_balance = ledger::balance(stub, symbol, from)?;
    let to_balance = ledger::balance(stub, symbol, to)?;
    let from_after = from_balance.checked_sub(amount).ok_or_else(|| {
        ChaincodeError::business(format!(
            "insufficient balance: {from} holds {from_balance} {symbol}, needs {amount}"
        ))
    })?;
    let to_after = to_balance
        .checked_add(amount)
        .ok_or_else(|| ChaincodeError::business(format!("balance of {to} would overflow")))?;
    ledger::put_balance(stub, symbol, from, from_after)?;
    ledger::put_balance(stub, symbol, to, to_after)?;
    ledger::to_json(&Transferred {
        from: from_after,
        to: to_after,
    })
}

/// `balance(symbol, owner)`: the owner's balance, 0 if never credited.
fn balance(stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
    const F: &str = "balance";
    let all = stub.string_args()?;
    let [symbol, owner] = args::expect(F, &all, ["symbol", "owner"])?;
    let symbol = args::symbol(F, symbol)?;
    let owner = args::owner(F, "owner", owner)?;
    ledger::token(stub, symbol)?;
    let balance = ledger::balance(stub, symbol, owner)?;
    ledger::to_json(&balance)
}

/// `info(symbol)`: the token's record.
fn info(stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
    const F: &str = "info";
    let all = stub.string_args()?;
    let [symbol] = args::expect(F, &all, ["symbol"])?;
    let symbol = args::symbol(F, symbol)?;
    let info = ledger::token(stub, symbol)?;
    ledger::to_json(&info)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::{json, Value};

    use super::Token;
    use crate::{ChaincodeError, ChaincodeStub, Creator, MockStub};

    fn member_of(msp_id: &str) -> Creator {
        Creator {
            msp_id: msp_id.into(),
            role: "client".into(),
            subject: "someone".into(),
            cert_der: Vec::new(),
        }
    }

    fn call(stub: &mut MockStub, function: &str, args: &[&str]) -> Result<Value, ChaincodeError> {
        stub.invoke(&Token, function, args)
            .map(|payload| serde_json::from_slice(&payload).unwrap())
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
        call(&mut stub, "issue", &["GOLD", "alice", "100", "seed"]).unwrap();
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
        let expected =
            json!({"symbol": "USD1", "max_supply": 5000, "issued": 0, "issuer": "BankMSP"});
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
                "max_supply must be a whole number in decimal digits, got \"lots\""
            )
        );
        for bad in ["-5", "+5", " 5", "1.5"] {
            let err = call(&mut stub, "create", &["GOLD", bad]).unwrap_err();
            assert!(reason(&err).starts_with("max_supply must be"), "{err}");
        }
        let err = call(&mut stub, "create", &["GOLD", "18446744073709551616"]).unwrap_err();
        assert!(reason(&err).contains("larger than the maximum"), "{err}");
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
            call(&mut stub, "issue", &["GOLD", "alice", "100", "a"]).unwrap(),
            json!(100)
        );
        assert_eq!(
            call(&mut stub, "issue", &["GOLD", "alice", "50", ""]).unwrap(),
            json!(150)
        );
        assert_eq!(
            call(&mut stub, "issue", &["GOLD", "bob", "7", "b"]).unwrap(),
            json!(7)
        );
        assert_eq!(stub.state("balance/GOLD/alice"), Some(&b"150"[..]));
        assert_eq!(stub.state("balance/GOLD/bob"), Some(&b"7"[..]));
        assert_eq!(call(&mut stub, "info", &["GOLD"]).unwrap()["issued"], 157);
    }

    #[test]
    fn issue_is_reserved_to_the_issuer_org() {
        let mut stub = with_gold();
        let before = snapshot(&stub);
        stub.set_creator(member_of("Org2MSP"));
        let err = call(&mut stub, "issue", &["GOLD", "mallory", "10", ""]).unwrap_err();
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
        call(&mut stub, "issue", &["GOLD", "bob", "10", ""]).unwrap();
    }

    #[test]
    fn issue_rejects_zero_and_non_numeric_amounts() {
        let mut stub = with_gold();
        let err = call(&mut stub, "issue", &["GOLD", "bob", "0", ""]).unwrap_err();
        assert_eq!(err, invalid("issue", "amount must be greater than zero"));
        let err = call(&mut stub, "issue", &["GOLD", "bob", "ten", ""]).unwrap_err();
        assert_eq!(
            err,
            invalid(
                "issue",
                "amount must be a whole number in decimal digits, got \"ten\""
            )
        );
    }

    #[test]
    fn issue_of_unknown_symbol_fails() {
        let mut stub = with_gold();
        let err = call(&mut stub, "issue", &["SILVER", "bob", "1", ""]).unwrap_err();
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
        let err = call(&mut stub, "issue", &["GOLD", "bob", "901", "too much"]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "issue of 901 GOLD exceeds the maximum supply 1000 (100 already issued)"
        );
        assert!(matches!(err, ChaincodeError::Business(_)));
        assert_eq!(snapshot(&stub), before);
        assert_eq!(
            call(&mut stub, "issue", &["GOLD", "bob", "900", ""]).unwrap(),
            json!(900)
        );
    }

    #[test]
    fn issue_arithmetic_overflow_is_an_error() {
        let max = u64::MAX.to_string();
        let mut stub = MockStub::new("ch1");
        call(&mut stub, "create", &["BIG", &max]).unwrap();
        call(&mut stub, "issue", &["BIG", "alice", &max, ""]).unwrap();
        let err = call(&mut stub, "issue", &["BIG", "alice", "1", ""]).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("issue of 1 BIG exceeds the maximum supply {max} ({max} already issued)")
        );
        assert_eq!(
            call(&mut stub, "balance", &["BIG", "alice"]).unwrap(),
            json!(u64::MAX)
        );
    }

    #[test]
    fn wrong_argument_counts_are_reported() {
        let mut stub = with_gold();
        let cases: [(&str, &[&str], &str); 5] = [
            (
                "create",
                &["GOLD"],
                "expected 2 arguments (symbol, max_supply), got 1",
            ),
            (
                "issue",
                &["GOLD", "bob", "1"],
                "expected 4 arguments (symbol, to, amount, memo), got 3",
            ),
            (
                "transfer",
                &["GOLD", "alice", "bob", "1", "m", "extra"],
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
            let err = call(&mut stub, "transfer", &["GOLD", bad, "bob", "1", ""]).unwrap_err();
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
        assert_eq!(err, invalid("balance", "argument 1 is not valid UTF-8"));
    }

    #[test]
    fn transfer_moves_tokens() {
        let mut stub = with_gold();
        let moved = call(
            &mut stub,
            "transfer",
            &["GOLD", "alice", "bob", "30", "rent"],
        )
        .unwrap();
        assert_eq!(moved, json!({"from": 70, "to": 30}));
        let moved = call(&mut stub, "transfer", &["GOLD", "bob", "alice", "30", ""]).unwrap();
        assert_eq!(moved, json!({"from": 0, "to": 100}));
        assert_eq!(stub.state("balance/GOLD/alice"), Some(&b"100"[..]));
        assert_eq!(stub.state("balance/GOLD/bob"), Some(&b"0"[..]));
    }

    #[test]
    fn transfer_with_insufficient_balance_fails_and_writes_nothing() {
        let mut stub = with_gold();
        let before = snapshot(&stub);
        let err = call(&mut stub, "transfer", &["GOLD", "alice", "bob", "101", ""]).unwrap_err();
        assert_eq!(
            err,
            ChaincodeError::business("insufficient balance: alice holds 100 GOLD, needs 101")
        );
        let err = call(&mut stub, "transfer", &["GOLD", "carol", "bob", "1", ""]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "insufficient balance: carol holds 0 GOLD, needs 1"
        );
        assert_eq!(snapshot(&stub), before);
    }

    #[test]
    fn transfer_rejects_bad_requests() {
        let mut stub = with_gold();
        let before = snapshot(&stub);
        let err = call(&mut stub, "transfer", &["GOLD", "alice", "alice", "1", ""]).unwrap_err();
        assert!(
            reason(&err).starts_with("from and to must be different accounts"),
            "{err}"
        );
        let err = call(&mut stub, "transfer", &["GOLD", "alice", "bob", "0", ""]).unwrap_err();
        assert_eq!(err, invalid("transfer", "amount must be greater than zero"));
        let err = call(&mut stub, "transfer", &["GOLD", "alice", "bob", "x", ""]).unwrap_err();
        assert!(
            reason(&err).starts_with("amount must be a whole number"),
            "{err}"
        );
        let err = call(&mut stub, "transfer", &["TIN", "alice", "bob", "1", ""]).unwrap_err();
        assert_eq!(err, ChaincodeError::business("unknown token symbol 'TIN'"));
        assert_eq!(snapshot(&stub), before);
    }

    #[test]
    fn balance_and_info_report_state() {
        let mut stub = with_gold();
        assert_eq!(
            call(&mut stub, "balance", &["GOLD", "alice"]).unwrap(),
            json!(100)
        );
        assert_eq!(
            call(&mut stub, "balance", &["GOLD", "nobody"]).unwrap(),
            json!(0)
        );
        let err = call(&mut stub, "balance", &["LEAD", "alice"]).unwrap_err();
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
        let steps: [(&str, &[&str]); 9] = [
            ("issue", &["GOLD", "alice", "200", ""]),
            ("issue", &["GOLD", "bob", "100", ""]),
            ("transfer", &["GOLD", "alice", "carol", "50", ""]),
            ("transfer", &["GOLD", "bob", "carol", "100", ""]),
            ("transfer", &["GOLD", "carol", "dave", "500", ""]),
            ("issue", &["GOLD", "dave", "300", ""]),
            ("issue", &["GOLD", "dave", "199", ""]),
            ("transfer", &["GOLD", "dave", "alice", "199", ""]),
            ("transfer", &["GOLD", "carol", "bob", "1", ""]),
        ];
        for (function, args) in steps {
            let _ = call(&mut stub, function, args);
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
            args: ["GOLD", "alice", "bob", "5", "memo"]
                .iter()
                .map(|a| a.as_bytes().to_vec())
                .collect(),
            creator: member_of("Org2MSP"),
            reads: Vec::new(),
            transient: BTreeMap::new(),
        };
        Token.invoke(&mut stub).unwrap();
        let mut reads = stub.reads.clone();
        reads.sort();
        assert_eq!(
            reads,
            vec!["balance/GOLD/alice", "balance/GOLD/bob", "token/GOLD"]
        );
    }
}
