use std::collections::BTreeMap;

use super::conformance::{self, Request};
use super::*;

fn seeded() -> BTreeMap<String, Vec<u8>> {
    conformance::seed().into_iter().collect()
}

#[test]
fn passes_the_conformance_table() {
    let state = seeded();
    conformance::check(&mut |request: &Request| {
        let outcome = request.query()?.run(&mut &state)?;
        Ok((outcome.entries, outcome.metadata))
    });
}

#[test]
fn an_unpaginated_scan_covers_its_whole_range() {
    let state = seeded();
    let outcome = Query::range("", "c").unwrap().run(&mut &state).unwrap();
    assert_eq!(outcome.metadata.fetched_records, 3);
    assert_eq!(
        outcome.scanned,
        ScannedRange {
            start_key: SIMPLE_KEYS_START.to_owned(),
            end_key: "c".to_owned(),
            exhausted: true,
        }
    );
}

#[test]
fn a_page_covers_up_to_its_last_key() {
    let state = seeded();
    let first = Query::range("b", "")
        .unwrap()
        .paginated(2, "")
        .unwrap()
        .run(&mut &state)
        .unwrap();
    let keys: Vec<&str> = first.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["b", "b1"]);
    assert_eq!(
        first.scanned,
        ScannedRange {
            start_key: "b".to_owned(),
            end_key: String::new(),
            exhausted: false,
        }
    );
    let last = Query::range("b", "")
        .unwrap()
        .paginated(10, &first.metadata.bookmark)
        .unwrap()
        .run(&mut &state)
        .unwrap();
    assert_eq!(last.scanned.start_key, "c");
    assert!(last.scanned.exhausted);
    assert!(last.metadata.bookmark.is_empty());
}

#[test]
fn composite_queries_span_the_prefix() {
    let query = Query::partial_composite("asset", &["red"]).unwrap();
    assert_eq!(query.start(), "\u{1}asset\u{1f}red\u{1f}");
    assert_eq!(query.end(), "\u{1}asset\u{1f}red ");
}

#[test]
fn validates_keys() {
    assert!(validate_key("a").is_ok());
    assert!(validate_key(&create_composite_key("t", &["x"]).unwrap()).is_ok());
    for bad in ["", "a\0", "\u{1}not composite"] {
        assert!(validate_key(bad).is_err(), "{bad:?}");
    }
    // The separator is reserved in composite keys only.
    assert!(validate_key("a\u{1f}b").is_ok());
}

#[test]
fn a_query_rebuilt_from_its_parts_is_the_same_query() {
    let queries = [
        Query::range("", "").unwrap(),
        Query::range("b", "d").unwrap().paginated(2, "").unwrap(),
        Query::range("b", "").unwrap().paginated(2, "6231").unwrap(),
        Query::partial_composite("asset", &["red"]).unwrap(),
    ];
    for query in queries {
        let rebuilt = Query::from_parts(query.start(), query.end(), query.page()).unwrap();
        assert_eq!(rebuilt, query);
    }
}

#[test]
fn refuses_parts_no_query_has() {
    for (start, end, page, expect) in [
        ("", "", None, "start key must not be empty"),
        ("a\0", "", None, "0x00"),
        ("a", "b\0", None, "0x00"),
        ("a", "", Some((0, None)), "invalid page size 0"),
        (
            "b",
            "c",
            Some((1, Some("a"))),
            "not inside the queried range",
        ),
        (
            "b",
            "c",
            Some((1, Some("c"))),
            "not inside the queried range",
        ),
    ] {
        let err = Query::from_parts(start, end, page).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
    }
}

#[test]
fn a_prefix_is_the_range_of_keys_starting_with_it() {
    let query = Query::prefix("b").unwrap();
    assert_eq!((query.start(), query.end()), ("b", "c"));
    let query = Query::prefix("a\u{d7ff}").unwrap();
    assert_eq!(query.end(), "a\u{e000}", "surrogates are skipped");
    let query = Query::prefix("a\u{10ffff}").unwrap();
    assert_eq!(query.end(), "b");
    assert_eq!(Query::prefix("\u{10ffff}").unwrap().end(), "");
    assert_eq!(Query::prefix("").unwrap(), Query::range("", "").unwrap());
    let err = Query::prefix("\u{1}asset").unwrap_err();
    assert!(matches!(err, crate::ChaincodeError::BadRequest(_)), "{err}");
}
