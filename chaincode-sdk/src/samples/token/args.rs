//! Argument checks for the token chaincode: arity, symbols, owner names and amounts.

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

/// Checks that exactly the named arguments were passed and returns them in order.
pub(super) fn expect<'a, const N: usize>(
    function: &str,
    args: &'a [String],
    names: [&str; N],
) -> Result<[&'a str; N], ChaincodeError> {
    let exact: &'a [String; N] = args.try_into().map_err(|_| {
        let noun = if N == 1 { "argument" } else { "arguments" };
        invalid(
            function,
            format!(
                "expected {N} {noun} ({}), got {}",
                names.join(", "),
                args.len()
            ),
        )
    })?;
    Ok(exact.each_ref().map(String::as_str))
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

/// Parses a positive whole amount written in decimal digits.
pub(super) fn amount(function: &str, param: &str, value: &str) -> Result<u64, ChaincodeError> {
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            function,
            format!("{param} must be a whole number in decimal digits, got {value:?}"),
        ));
    }
    let parsed: u64 = value.parse().map_err(|_| {
        invalid(
            function,
            format!("{param} {value} is larger than the maximum {}", u64::MAX),
        )
    })?;
    if parsed == 0 {
        return Err(invalid(
            function,
            format!("{param} must be greater than zero"),
        ));
    }
    Ok(parsed)
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
