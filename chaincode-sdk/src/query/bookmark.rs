//! Bookmarks: the next key of a paginated query, hex-encoded so that callers
//! treat it as an opaque token and it survives any transport.

use crate::ChaincodeError;

/// The bookmark for a page that continues at `key`.
pub(super) fn encode(key: &str) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(key.len() * 2);
    for byte in key.bytes() {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

/// The key a bookmark continues at.
pub(super) fn decode(bookmark: &str) -> Result<String, ChaincodeError> {
    let invalid = || {
        ChaincodeError::BadRequest(format!(
            "invalid bookmark {bookmark:?}: pass back a bookmark a query returned"
        ))
    };
    let pairs = bookmark.as_bytes().chunks_exact(2);
    if !pairs.remainder().is_empty() {
        return Err(invalid());
    }
    let nibble = |digit: u8| char::from(digit).to_digit(16).ok_or_else(invalid);
    let bytes = pairs
        .map(|pair| Ok((nibble(pair[0])? << 4 | nibble(pair[1])?) as u8))
        .collect::<Result<Vec<u8>, ChaincodeError>>()?;
    String::from_utf8(bytes).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    #[test]
    fn round_trips_any_key() {
        for key in ["a", "asset/007", "\u{1}t\u{1f}é\u{1f}", ""] {
            assert_eq!(decode(&encode(key)).unwrap(), key);
        }
        assert_eq!(encode("a/"), "612f");
    }

    #[test]
    fn refuses_what_no_query_returned() {
        for bad in ["6", "zz", "612", "ff"] {
            let err = decode(bad).unwrap_err();
            assert!(err.to_string().contains("invalid bookmark"), "{bad}: {err}");
        }
    }
}
