//! Composite keys: an object type and attributes joined into one key that
//! sorts by type, then by each attribute in turn.

use crate::ChaincodeError;

/// The first character of every composite key.
pub const COMPOSITE_KEY_PREFIX: char = '\u{1}';
/// The character that ends each part of a composite key.
pub const COMPOSITE_KEY_SEPARATOR: char = '\u{1f}';

/// Refuses an object type or attribute that would make the key ambiguous.
fn validate_part(what: &str, part: &str) -> Result<(), ChaincodeError> {
    if let Some(bad) = part
        .chars()
        .find(|c| matches!(*c, '\0' | COMPOSITE_KEY_PREFIX | COMPOSITE_KEY_SEPARATOR))
    {
        return Err(ChaincodeError::BadRequest(format!(
            "invalid composite key {what} {part:?}: it must not contain U+{:04X}",
            u32::from(bad)
        )));
    }
    Ok(())
}

/// Builds the key of `object_type` with `attributes`, in that order.
///
/// The object type must be non-empty; neither it nor any attribute may
/// contain U+0000, U+0001 or U+001F.
pub fn create_composite_key(
    object_type: &str,
    attributes: &[&str],
) -> Result<String, ChaincodeError> {
    if object_type.is_empty() {
        return Err(ChaincodeError::BadRequest(
            "invalid composite key: the object type must not be empty".to_owned(),
        ));
    }
    validate_part("object type", object_type)?;
    let mut key = String::with_capacity(
        2 + object_type.len() + attributes.iter().map(|a| a.len() + 1).sum::<usize>(),
    );
    key.push(COMPOSITE_KEY_PREFIX);
    key.push_str(object_type);
    key.push(COMPOSITE_KEY_SEPARATOR);
    for attribute in attributes {
        validate_part("attribute", attribute)?;
        key.push_str(attribute);
        key.push(COMPOSITE_KEY_SEPARATOR);
    }
    Ok(key)
}

/// Splits a composite key into its object type and attributes.
pub fn split_composite_key(key: &str) -> Result<(String, Vec<String>), ChaincodeError> {
    let malformed = || {
        ChaincodeError::BadRequest(format!(
            "{key:?} is not a composite key made by create_composite_key"
        ))
    };
    let body = key
        .strip_prefix(COMPOSITE_KEY_PREFIX)
        .and_then(|rest| rest.strip_suffix(COMPOSITE_KEY_SEPARATOR))
        .ok_or_else(malformed)?;
    let mut parts = body.split(COMPOSITE_KEY_SEPARATOR);
    let object_type = parts.next().unwrap_or_default();
    if object_type.is_empty() || body.contains(['\0', COMPOSITE_KEY_PREFIX]) {
        return Err(malformed());
    }
    Ok((object_type.to_owned(), parts.map(str::to_owned).collect()))
}

/// The range `[start, end)` holding exactly the composite keys of
/// `object_type` whose first attributes are `attributes`.
pub(super) fn prefix_range(
    object_type: &str,
    attributes: &[&str],
) -> Result<(String, String), ChaincodeError> {
    let start = create_composite_key(object_type, attributes)?;
    // Every key with the prefix has the separator where the prefix ends, and
    // the next character up bounds them all: the range holds nothing else.
    let mut end = start.clone();
    end.pop();
    end.push(char::from_u32(u32::from(COMPOSITE_KEY_SEPARATOR) + 1).unwrap_or(' '));
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_and_splits() {
        let key = create_composite_key("asset", &["blue", "007"]).unwrap();
        assert_eq!(key, "\u{1}asset\u{1f}blue\u{1f}007\u{1f}");
        assert_eq!(
            split_composite_key(&key).unwrap(),
            (
                "asset".to_owned(),
                vec!["blue".to_owned(), "007".to_owned()]
            )
        );
        let bare = create_composite_key("asset", &[]).unwrap();
        assert_eq!(
            split_composite_key(&bare).unwrap(),
            ("asset".to_owned(), vec![])
        );
        let empty_attr = create_composite_key("t", &["", "x"]).unwrap();
        assert_eq!(
            split_composite_key(&empty_attr).unwrap().1,
            vec![String::new(), "x".to_owned()]
        );
    }

    #[test]
    fn refuses_reserved_characters_and_empty_types() {
        assert!(create_composite_key("", &["a"]).is_err());
        for bad in ["a\u{0}", "a\u{1}", "a\u{1f}b"] {
            let err = create_composite_key("t", &[bad]).unwrap_err();
            assert!(err.to_string().contains("must not contain U+"), "{err}");
            assert!(create_composite_key(bad, &[]).is_err());
        }
    }

    #[test]
    fn split_refuses_keys_it_did_not_make() {
        for bad in [
            "plain",
            "\u{1}t",
            "\u{1}\u{1f}",
            "t\u{1f}",
            "\u{1}a\u{1}b\u{1f}",
        ] {
            assert!(split_composite_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn prefix_ranges_hold_exactly_the_prefixed_keys() {
        let (start, end) = prefix_range("asset", &["red"]).unwrap();
        let inside = create_composite_key("asset", &["red", "1"]).unwrap();
        let longer_attr = create_composite_key("asset", &["redder", "1"]).unwrap();
        let longer_type = create_composite_key("assets", &["red"]).unwrap();
        assert!(start <= inside && inside < end);
        assert!(start <= start.clone() && start < end);
        assert!(!(start <= longer_attr && longer_attr < end));
        assert!(!(start <= longer_type && longer_type < end));
        // Every composite key sorts before every simple key.
        assert!(end.as_str() < super::super::SIMPLE_KEYS_START);
    }
}
