//! Parsing an invocation's raw arguments into a handler's typed parameters.

use serde::de::DeserializeOwned;

use crate::ChaincodeError;

/// A tuple of `N` parameter types that a [`Router`](super::Router) handler
/// takes: `()`, `(A,)`, `(A, B)`, ... up to 10 elements, each
/// `serde::de::DeserializeOwned`.
///
/// Exactly `N` arguments must be passed. Each must be UTF-8 and is parsed
/// as its parameter's type
///
/// 1. from JSON, if the argument is JSON of that type: `42` for an integer,
///    `true` for a `bool`, `{"id":"a1"}` for a struct, `"text"` for a string;
/// 2. otherwise from the argument as a plain string: `alice` for a `String`
///    or `Some(..)` of one, `red` for a unit enum variant named `red`.
///
/// So numbers arrive as decimal strings, and a `String` parameter takes the
/// argument as it is, unless the argument is itself a JSON string literal
/// (`"\"x\""` gives `x`), which lets clients that JSON-encode every argument
/// call the same functions.
pub trait Args<const N: usize>: Sized {
    /// Parses `raw` for `function`, whose parameters are named `names`.
    fn parse(
        function: &str,
        names: &[&'static str; N],
        raw: &[Vec<u8>],
    ) -> Result<Self, ChaincodeError>;
}

/// An `InvalidArgs` error for `function`.
fn invalid(function: &str, reason: String) -> ChaincodeError {
    ChaincodeError::InvalidArgs {
        function: function.to_owned(),
        reason,
    }
}

/// Checks that exactly `N` arguments were passed.
fn exactly<'a, const N: usize>(
    function: &str,
    names: &[&'static str; N],
    raw: &'a [Vec<u8>],
) -> Result<&'a [Vec<u8>; N], ChaincodeError> {
    raw.try_into().map_err(|_| {
        let expected = match N {
            0 => "no arguments".to_owned(),
            1 => format!("1 argument ({})", names.join(", ")),
            _ => format!("{N} arguments ({})", names.join(", ")),
        };
        invalid(function, format!("expected {expected}, got {}", raw.len()))
    })
}

/// Parses the argument at `position` (counted from 1), named `name`.
fn parse_one<T: DeserializeOwned>(
    function: &str,
    position: usize,
    name: &str,
    raw: &[u8],
) -> Result<T, ChaincodeError> {
    let parameter = format!("parameter {position} ({name})");
    let text = std::str::from_utf8(raw)
        .map_err(|_| invalid(function, format!("{parameter}: not valid UTF-8")))?;
    let as_json = match serde_json::from_str::<T>(text) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let as_plain = match T::deserialize(serde_json::Value::String(text.to_owned())) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    // Well-formed JSON of another shape (a struct missing a field, a
    // negative number for an unsigned one) says more than "not a string".
    let error = if as_json.is_data() { as_json } else { as_plain };
    Err(invalid(
        function,
        format!("{parameter}: {}, got {text:?}", describe(&error)),
    ))
}

/// What went wrong, in words for the client: serde's "expected u64" becomes
/// "expected an unsigned integer"; the position in the argument is dropped.
fn describe(error: &serde_json::Error) -> String {
    let mut message = error.to_string();
    if error.line() != 0 {
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }
    }
    let Some(at) = message.find("expected ") else {
        return message;
    };
    let wanted = &message[at + "expected ".len()..];
    let plain = match wanted {
        "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "an unsigned integer",
        "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "an integer",
        "f32" | "f64" => "a number",
        other => other,
    };
    format!("expected {plain}")
}

impl Args<0> for () {
    fn parse(
        function: &str,
        names: &[&'static str; 0],
        raw: &[Vec<u8>],
    ) -> Result<Self, ChaincodeError> {
        exactly(function, names, raw).map(|_| ())
    }
}

/// Implements [`Args`] for a tuple of the given type parameters and indices.
macro_rules! tuple_args {
    ($n:literal; $($t:ident $i:tt),+) => {
        impl<$($t: DeserializeOwned),+> Args<$n> for ($($t,)+) {
            fn parse(
                function: &str,
                names: &[&'static str; $n],
                raw: &[Vec<u8>],
            ) -> Result<Self, ChaincodeError> {
                let raw = exactly(function, names, raw)?;
                Ok(($(parse_one::<$t>(function, $i + 1, names[$i], &raw[$i])?,)+))
            }
        }
    };
}

tuple_args!(1; A 0);
tuple_args!(2; A 0, B 1);
tuple_args!(3; A 0, B 1, C 2);
tuple_args!(4; A 0, B 1, C 2, D 3);
tuple_args!(5; A 0, B 1, C 2, D 3, E 4);
tuple_args!(6; A 0, B 1, C 2, D 3, E 4, F 5);
tuple_args!(7; A 0, B 1, C 2, D 3, E 4, F 5, G 6);
tuple_args!(8; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7);
tuple_args!(9; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8);
tuple_args!(10; A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9);
