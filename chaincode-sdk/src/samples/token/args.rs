//! Argument checks for the token chaincode: symbols, owner names and amounts.

use crate::ChaincodeError;

/// The longest symbol a token may have.
const MAX_SYMBOL_LEN: usize = 16;

/// An `InvalidArgs` error for `function`.
fn invalid(function: &str, reason: String) -> ChaincodeError {
    ChaincodeError::InvalidArgs {
        function: function.to_owned(),
        reason,
    }
}

/// Checks a token symbol: 1 to 16 characters, each `A`-`Z` or `0`-`9`.
pub(super) fn symbol<'a>(function: &str, value: &'a str) -> Result<&'a str, ChaincodeError> {
    let well_formed = !value.is_empty()
        && value.len() <= MAX_SYMBOL_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if well_formed {
        Ok(value)
    } else {
        Err(invalid(
            function,
            format!(
                "symbol must be 1 to {MAX_SYMBOL_LEN} characters from A-Z and 0-9, got {value:?}"
            ),
        ))
    }
}

/// Checks an account owner name: non-empty, without `/` or NUL.
pub(super) fn owner<'a>(
    function: &str,
    param: &str,
    value: &'a str,
) -> Result<&'a str, ChaincodeError> {
    if value.is_empty() || value.contains(['/', '\0']) {
        Err(invalid(
            function,
            format!("{param} must be a non-empty name without '/' or NUL, got {value:?}"),
        ))
    } else {
        Ok(value)
    }
}

/// Checks that an amount is greater than zero.
pub(super) fn positive(function: &str, param: &str, value: u64) -> Result<u64, ChaincodeError> {
    if value == 0 {
        Err(invalid(
            function,
            format!("{param} must be greater than zero"),
        ))
    } else {
        Ok(value)
    }
}

/// Checks that a transfer moves tokens between two different accounts.
pub(super) fn distinct(function: &str, from: &str, to: &str) -> Result<(), ChaincodeError> {
    if from == to {
        Err(invalid(
            function,
            format!("from and to must be different accounts, both are {from:?}"),
        ))
    } else {
        Ok(())
    }
}
