//! A fungible-token sample chaincode, written with the [`Router`].
//!
//! | function | arguments | returns |
//! |---|---|---|
//! | `create` | `symbol, max_supply` | the token info JSON |
//! | `issue` | `symbol, to, amount, memo` | `to`'s new balance as a JSON number |
//! | `transfer` | `symbol, from, to, amount, memo` | `{"from": new balance, "to": new balance}` |
//! | `balance` | `symbol, owner` | the balance as a JSON number |
//! | `info` | `symbol` | `{"symbol", "max_supply", "issued", "issuer"}` |
//! | `account` | none | the caller's own account name as a JSON string |
//!
//! Every function names the token first, since a channel holds many tokens.
//! Amounts are whole numbers greater than zero.
//!
//! **Who may do what.** The organisation (MSP id) of whoever creates a token
//! is its issuer: only its members may issue that token, up to the maximum
//! supply. An account belongs to one identity: the caller's own account is
//! named `<MSP id>:<certificate subject>` (e.g. `Org1MSP:user1@org1`, which
//! `account` returns), and it may open sub-accounts by appending `#` and a
//! label (`Org1MSP:user1@org1#savings`). Only the holder may `transfer` from
//! an account; anyone may receive, and balances are public. The memo is not
//! stored in state; it stays in the transaction's arguments.
//!
//! State layout: the token info is JSON at `token/{symbol}`, and each balance is
//! a decimal string at `balance/{symbol}/{owner}`.

mod args;
mod ledger;

use std::sync::OnceLock;

use serde::Serialize;

use crate::{Chaincode, ChaincodeError, ChaincodeStub, Creator, Router};
use ledger::TokenInfo;

/// The fungible-token sample chaincode.
#[derive(Default, Debug, Clone, Copy)]
pub struct Token;

impl Chaincode for Token {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        static ROUTER: OnceLock<Router> = OnceLock::new();
        ROUTER.get_or_init(router).invoke(stub)
    }
}

/// The chaincode's functions.
fn router() -> Router {
    Router::new()
        .add("create", ["symbol", "max_supply"], create)
        .add("issue", ["symbol", "to", "amount", "memo"], issue)
        .add(
            "transfer",
            ["symbol", "from", "to", "amount", "memo"],
            transfer,
        )
        .add("balance", ["symbol", "owner"], balance)
        .add("info", ["symbol"], |stub, (symbol,): (String,)| {
            ledger::token(stub, args::symbol("info", &symbol)?)
        })
        .add("account", [], |stub, ()| {
            Ok::<_, ChaincodeError>(account_of(stub.creator()))
        })
}

/// The name of `creator`'s own account: `<MSP id>:<subject>`.
pub fn account_of(creator: &Creator) -> String {
    format!("{}:{}", creator.msp_id, creator.subject)
}

/// Whether `creator` holds `account`: it is their own account or one of its
/// `#` sub-accounts.
pub fn holds(creator: &Creator, account: &str) -> bool {
    let own = account_of(creator);
    match account.strip_prefix(own.as_str()) {
        Some(rest) => rest.is_empty() || rest.starts_with('#'),
        None => false,
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
fn create(
    stub: &mut dyn ChaincodeStub,
    (symbol, max_supply): (String, u64),
) -> Result<TokenInfo, ChaincodeError> {
    const F: &str = "create";
    let symbol = args::symbol(F, &symbol)?;
    let max_supply = args::positive(F, "max_supply", max_supply)?;
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
    Ok(info)
}

/// `issue(symbol, to, amount, memo)`: credits newly issued tokens to `to`.
fn issue(
    stub: &mut dyn ChaincodeStub,
    (symbol, to, amount, _memo): (String, String, u64, String),
) -> Result<u64, ChaincodeError> {
    const F: &str = "issue";
    let symbol = args::symbol(F, &symbol)?;
    let to = args::owner(F, "to", &to)?;
    let amount = args::positive(F, "amount", amount)?;
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
    Ok(balance)
}

/// `transfer(symbol, from, to, amount, memo)`: moves tokens between two
/// accounts; the caller must hold `from`.
///
/// Reads exactly the token info and the two balances.
fn transfer(
    stub: &mut dyn ChaincodeStub,
    (symbol, from, to, amount, _memo): (String, String, String, u64, String),
) -> Result<Transferred, ChaincodeError> {
    const F: &str = "transfer";
    let symbol = args::symbol(F, &symbol)?;
    let from = args::owner(F, "from", &from)?;
    let to = args::owner(F, "to", &to)?;
    let amount = args::positive(F, "amount", amount)?;
    args::distinct(F, from, to)?;
    if !holds(stub.creator(), from) {
        return Err(ChaincodeError::business(format!(
            "the caller {} does not hold account '{from}'",
            account_of(stub.creator())
        )));
    }
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
    let event = serde_json::json!({"symbol": symbol, "from": from, "to": to, "amount": amount});
    stub.set_event("Transfer", event.to_string().as_bytes())?;
    Ok(Transferred {
        from: from_after,
        to: to_after,
    })
}

/// `balance(symbol, owner)`: the owner's balance, 0 if never credited.
fn balance(
    stub: &mut dyn ChaincodeStub,
    (symbol, owner): (String, String),
) -> Result<u64, ChaincodeError> {
    const F: &str = "balance";
    let symbol = args::symbol(F, &symbol)?;
    let owner = args::owner(F, "owner", &owner)?;
    ledger::token(stub, symbol)?;
    ledger::balance(stub, symbol, owner)
}

#[cfg(test)]
mod tests;
