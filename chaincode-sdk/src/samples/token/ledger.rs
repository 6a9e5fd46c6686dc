//! The token chaincode's state layout: token records and balances.

use serde::{Deserialize, Serialize};

use crate::{ChaincodeError, ChaincodeStub};

/// The record kept for each token at `token/{symbol}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// The token's symbol.
    pub symbol: String,
    /// The most that may ever be issued.
    pub max_supply: u64,
    /// How much has been issued so far.
    pub issued: u64,
    /// The MSP id of the organisation that created the token and may issue it.
    pub issuer: String,
}

/// The key of a token's record.
fn token_key(symbol: &str) -> String {
    format!("token/{symbol}")
}

/// The key of an account's balance.
fn balance_key(symbol: &str, owner: &str) -> String {
    format!("balance/{symbol}/{owner}")
}

/// Reads a token's record, `None` if the symbol was never created.
pub(super) fn find_token(
    stub: &mut dyn ChaincodeStub,
    symbol: &str,
) -> Result<Option<TokenInfo>, ChaincodeError> {
    let key = token_key(symbol);
    match stub.get_state(&key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| ChaincodeError::State(format!("corrupt token record at '{key}': {e}"))),
    }
}

/// Reads a token's record, failing with "unknown token symbol" if it does not exist.
pub(super) fn token(
    stub: &mut dyn ChaincodeStub,
    symbol: &str,
) -> Result<TokenInfo, ChaincodeError> {
    find_token(stub, symbol)?
        .ok_or_else(|| ChaincodeError::business(format!("unknown token symbol '{symbol}'")))
}

/// Writes a token's record.
pub(super) fn put_token(
    stub: &mut dyn ChaincodeStub,
    info: &TokenInfo,
) -> Result<(), ChaincodeError> {
    let bytes = serde_json::to_vec(info)
        .map_err(|e| ChaincodeError::State(format!("could not encode token record: {e}")))?;
    stub.put_state(&token_key(&info.symbol), &bytes)
}

/// Reads an account's balance; an account never credited holds 0.
pub(super) fn balance(
    stub: &mut dyn ChaincodeStub,
    symbol: &str,
    owner: &str,
) -> Result<u64, ChaincodeError> {
    let key = balance_key(symbol, owner);
    match stub.get_state(&key)? {
        None => Ok(0),
        Some(bytes) => std::str::from_utf8(&bytes)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| ChaincodeError::State(format!("corrupt balance at '{key}'"))),
    }
}

/// Writes an account's balance as a decimal string.
pub(super) fn put_balance(
    stub: &mut dyn ChaincodeStub,
    symbol: &str,
    owner: &str,
    amount: u64,
) -> Result<(), ChaincodeError> {
    stub.put_state(&balance_key(symbol, owner), amount.to_string().as_bytes())
}
