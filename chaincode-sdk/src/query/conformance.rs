//! One table of query cases that every stub must pass: the shared module
//! directly, [`MockStub`](crate::MockStub) and the peer's simulator run the
//! same [`cases`] over the same [`seed`] state. Built for tests only (the
//! `conformance` feature).

use super::{bookmark, create_composite_key, KeyValue, Query, QueryMetadata};
use crate::{ChaincodeError, ChaincodeStub};

/// What a case queries.
#[derive(Debug, Clone)]
pub enum Target {
    /// A range of simple keys: start, end.
    Range(&'static str, &'static str),
    /// Composite keys by partial key: object type, leading attributes.
    Partial(&'static str, Vec<&'static str>),
    /// The simple keys starting with a prefix.
    Prefix(&'static str),
}

/// One call a case makes.
#[derive(Debug, Clone)]
pub struct Request {
    /// What is queried.
    pub target: Target,
    /// Page size and bookmark, for a paginated call.
    pub page: Option<(u32, String)>,
}

impl Request {
    /// The shared module's query for this request.
    pub fn query(&self) -> Result<Query, ChaincodeError> {
        let query = match &self.target {
            Target::Range(start, end) => Query::range(start, end)?,
            Target::Partial(object_type, attributes) => {
                Query::partial_composite(object_type, attributes)?
            }
            Target::Prefix(prefix) => Query::prefix(prefix)?,
        };
        match &self.page {
            None => Ok(query),
            Some((size, bookmark)) => query.paginated(*size, bookmark),
        }
    }
}

/// What a case must produce.
#[derive(Debug, Clone)]
pub enum Expect {
    /// An unpaginated query returns these keys.
    Keys(Vec<String>),
    /// Following bookmarks from the first page yields these pages.
    Pages(Vec<Vec<String>>),
    /// The call fails as a bad request (status 400) with a message
    /// containing this text.
    BadRequest(&'static str),
}

/// What one call returns: the entries and the page's metadata.
pub type PageResult = Result<(Vec<KeyValue>, QueryMetadata), ChaincodeError>;

/// One case of the table.
#[derive(Debug, Clone)]
pub struct Case {
    /// What it shows.
    pub name: &'static str,
    /// The first call; a `Pages` case follows the returned bookmarks.
    pub request: Request,
    /// The expected outcome.
    pub expect: Expect,
}

/// The composite key of `object_type` and `attributes`.
fn ck(object_type: &str, attributes: &[&str]) -> String {
    create_composite_key(object_type, attributes).unwrap_or_default()
}

fn keys(list: &[&str]) -> Vec<String> {
    list.iter().map(|k| (*k).to_owned()).collect()
}

/// The simple keys of [`seed`], sorted.
pub const SIMPLE_KEYS: [&str; 7] = ["a", "b", "b1", "c", "d", "e", "zz"];

/// The committed state every case runs against: simple keys and composite
/// keys, each with the value `v:` followed by the key.
pub fn seed() -> Vec<(String, Vec<u8>)> {
    let composite = [
        ck("asset", &["blue", "1"]),
        ck("asset", &["blue", "2"]),
        ck("asset", &["red", "1"]),
        ck("asset", &["red", "2"]),
        ck("asset", &["redder", "1"]),
        ck("assets", &["red", "1"]),
        ck("owner", &["alice"]),
    ];
    SIMPLE_KEYS
        .iter()
        .map(|k| (*k).to_owned())
        .chain(composite)
        .map(|k| {
            let value = format!("v:{k}").into_bytes();
            (k, value)
        })
        .collect()
}

fn range(start: &'static str, end: &'static str) -> Request {
    Request {
        target: Target::Range(start, end),
        page: None,
    }
}

fn partial(object_type: &'static str, attributes: &[&'static str]) -> Request {
    Request {
        target: Target::Partial(object_type, attributes.to_vec()),
        page: None,
    }
}

fn prefix(prefix: &'static str) -> Request {
    Request {
        target: Target::Prefix(prefix),
        page: None,
    }
}

fn paged(mut request: Request, size: u32, bookmark: &str) -> Request {
    request.page = Some((size, bookmark.to_owned()));
    request
}

/// Every case.
pub fn cases() -> Vec<Case> {
    let case = |name, request, expect| Case {
        name,
        request,
        expect,
    };
    let blue = || vec![ck("asset", &["blue", "1"]), ck("asset", &["blue", "2"])];
    let red = || vec![ck("asset", &["red", "1"]), ck("asset", &["red", "2"])];
    vec![
        case(
            "all simple keys, no composite ones",
            range("", ""),
            Expect::Keys(keys(&SIMPLE_KEYS)),
        ),
        case(
            "start inclusive, end exclusive",
            range("b", "d"),
            Expect::Keys(keys(&["b", "b1", "c"])),
        ),
        case(
            "open end",
            range("c", ""),
            Expect::Keys(keys(&["c", "d", "e", "zz"])),
        ),
        case(
            "open start",
            range("", "b1"),
            Expect::Keys(keys(&["a", "b"])),
        ),
        case("start equals end", range("d", "d"), Expect::Keys(vec![])),
        case("start after end", range("e", "b"), Expect::Keys(vec![])),
        case("no key inside", range("f", "z"), Expect::Keys(vec![])),
        case(
            "pages of two",
            paged(range("", ""), 2, ""),
            Expect::Pages(vec![
                keys(&["a", "b"]),
                keys(&["b1", "c"]),
                keys(&["d", "e"]),
                keys(&["zz"]),
            ]),
        ),
        case(
            "the last page is exactly full",
            paged(range("a", "d"), 2, ""),
            Expect::Pages(vec![keys(&["a", "b"]), keys(&["b1", "c"])]),
        ),
        case(
            "a page larger than the range",
            paged(range("b", "c"), 10, ""),
            Expect::Pages(vec![keys(&["b", "b1"])]),
        ),
        case(
            "an empty range is one empty page",
            paged(range("f", "z"), 3, ""),
            Expect::Pages(vec![vec![]]),
        ),
        case(
            "continuing from a bookmark",
            paged(range("", ""), 3, &bookmark::encode("c")),
            Expect::Pages(vec![keys(&["c", "d", "e"]), keys(&["zz"])]),
        ),
        case(
            "a bookmark at a key deleted since",
            paged(range("", ""), 2, &bookmark::encode("b2")),
            Expect::Pages(vec![keys(&["c", "d"]), keys(&["e", "zz"])]),
        ),
        case(
            "a prefix takes every key starting with it",
            prefix("b"),
            Expect::Keys(keys(&["b", "b1"])),
        ),
        case(
            "a prefix that is a whole key",
            prefix("zz"),
            Expect::Keys(keys(&["zz"])),
        ),
        case(
            "an empty prefix takes every simple key",
            prefix(""),
            Expect::Keys(keys(&SIMPLE_KEYS)),
        ),
        case(
            "prefix pages",
            paged(prefix("b"), 1, ""),
            Expect::Pages(vec![keys(&["b"]), keys(&["b1"])]),
        ),
        case(
            "a prefix cannot be a composite key",
            prefix("\u{1}asset"),
            Expect::BadRequest("composite key"),
        ),
        case(
            "every key of an object type",
            partial("asset", &[]),
            Expect::Keys([blue(), red(), vec![ck("asset", &["redder", "1"])]].concat()),
        ),
        case(
            "a leading attribute matches whole",
            partial("asset", &["red"]),
            Expect::Keys(red()),
        ),
        case(
            "every attribute given",
            partial("asset", &["red", "1"]),
            Expect::Keys(vec![ck("asset", &["red", "1"])]),
        ),
        case(
            "an object type matches whole",
            partial("assets", &[]),
            Expect::Keys(vec![ck("assets", &["red", "1"])]),
        ),
        case(
            "an unknown object type",
            partial("nothing", &[]),
            Expect::Keys(vec![]),
        ),
        case(
            "composite pages",
            paged(partial("asset", &[]), 2, ""),
            Expect::Pages(vec![blue(), red(), vec![ck("asset", &["redder", "1"])]]),
        ),
        case(
            "composite pages from a bookmark",
            paged(
                partial("asset", &["red"]),
                1,
                &bookmark::encode(&ck("asset", &["red", "2"])),
            ),
            Expect::Pages(vec![vec![ck("asset", &["red", "2"])]]),
        ),
        case(
            "a range cannot start at a composite key",
            range("\u{1}asset\u{1f}", ""),
            Expect::BadRequest("composite key"),
        ),
        case(
            "a range bound cannot hold 0x00",
            range("a", "b\0"),
            Expect::BadRequest("0x00"),
        ),
        case(
            "an attribute cannot hold the separator",
            partial("asset", &["re\u{1f}d"]),
            Expect::BadRequest("must not contain U+001F"),
        ),
        case(
            "the object type is required",
            partial("", &[]),
            Expect::BadRequest("must not be empty"),
        ),
        case(
            "a page holds at least one entry",
            paged(range("", ""), 0, ""),
            Expect::BadRequest("page size"),
        ),
        case(
            "a bookmark is not a key",
            paged(range("", ""), 2, "c"),
            Expect::BadRequest("invalid bookmark"),
        ),
        case(
            "a bookmark outside the range",
            paged(range("c", "e"), 2, &bookmark::encode("a")),
            Expect::BadRequest("not inside the queried range"),
        ),
        case(
            "a bookmark outside the composite range",
            paged(
                partial("asset", &["red"]),
                2,
                &bookmark::encode(&ck("asset", &["redder", "1"])),
            ),
            Expect::BadRequest("not inside the queried range"),
        ),
    ]
}

/// Runs every case through `run` (which answers one call) and panics naming
/// the first case whose result differs from the table.
pub fn check(run: &mut dyn FnMut(&Request) -> PageResult) {
    for case in cases() {
        let name = case.name;
        let first = run(&case.request);
        match case.expect {
            Expect::BadRequest(text) => match first {
                Err(e @ ChaincodeError::BadRequest(_)) => {
                    assert!(e.to_string().contains(text), "{name}: error {e}")
                }
                Err(e) => panic!("{name}: expected a bad request, got {e:?}"),
                Ok(got) => panic!("{name}: expected an error, got {got:?}"),
            },
            Expect::Keys(expected) => {
                let (entries, metadata) = first.unwrap_or_else(|e| panic!("{name}: {e}"));
                check_entries(name, &entries, &expected);
                assert_eq!(metadata.bookmark, "", "{name}: bookmark");
            }
            Expect::Pages(expected) => {
                let mut request = case.request.clone();
                let mut result = first;
                let mut pages = Vec::new();
                loop {
                    let (entries, metadata) = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                    assert_eq!(
                        metadata.fetched_records as usize,
                        entries.len(),
                        "{name}: fetched_records"
                    );
                    pages.push(entries);
                    if metadata.bookmark.is_empty() || pages.len() > expected.len() {
                        break;
                    }
                    if let Some(page) = request.page.as_mut() {
                        page.1 = metadata.bookmark;
                    }
                    result = run(&request);
                }
                assert_eq!(pages.len(), expected.len(), "{name}: pages {pages:?}");
                for (page, keys) in pages.iter().zip(&expected) {
                    check_entries(name, page, keys);
                }
            }
        }
    }
}

/// Checks that `entries` hold exactly `expected`, in order, with their seeded values.
fn check_entries(name: &str, entries: &[KeyValue], expected: &[String]) {
    let got: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(got, expected, "{name}: keys");
    for entry in entries {
        assert_eq!(
            entry.value,
            format!("v:{}", entry.key).into_bytes(),
            "{name}: value of {:?}",
            entry.key
        );
    }
}

/// Runs every case through a stub's query methods over the [`seed`] state
/// (already committed), then checks that range queries ignore the
/// invocation's own writes and deletes: this leaves a write and a delete in
/// the stub's buffer.
pub fn check_stub(stub: &mut dyn ChaincodeStub) {
    check(&mut |request: &Request| {
        let unpaged = |entries: Vec<KeyValue>| {
            let metadata = QueryMetadata {
                fetched_records: u32::try_from(entries.len()).unwrap_or(u32::MAX),
                bookmark: String::new(),
            };
            (entries, metadata)
        };
        match (&request.target, &request.page) {
            (Target::Range(start, end), None) => stub.get_state_by_range(start, end).map(unpaged),
            (Target::Range(start, end), Some((size, bookmark))) => {
                stub.get_state_by_range_with_pagination(start, end, *size, bookmark)
            }
            (Target::Partial(object_type, attributes), None) => stub
                .get_state_by_partial_composite_key(object_type, attributes)
                .map(unpaged),
            (Target::Partial(object_type, attributes), Some((size, bookmark))) => stub
                .get_state_by_partial_composite_key_with_pagination(
                    object_type,
                    attributes,
                    *size,
                    bookmark,
                ),
            (Target::Prefix(prefix), None) => stub.get_state_by_prefix(prefix).map(unpaged),
            (Target::Prefix(prefix), Some((size, bookmark))) => {
                stub.get_state_by_prefix_with_pagination(prefix, *size, bookmark)
            }
        }
    });
    let own_writes = "range queries do not see the invocation's own writes";
    stub.put_state("b0", b"mine").expect(own_writes);
    stub.del_state("c").expect(own_writes);
    stub.put_state(&ck("asset", &["blue", "0"]), b"mine")
        .expect(own_writes);
    let all: Vec<String> = stub
        .get_state_by_range("", "")
        .expect(own_writes)
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(all, keys(&SIMPLE_KEYS), "{own_writes}");
    let blue = stub
        .get_state_by_partial_composite_key("asset", &["blue"])
        .expect(own_writes);
    assert_eq!(blue.len(), 2, "{own_writes}");
    // `get_state` does see them.
    assert_eq!(
        stub.get_state("b0").expect(own_writes),
        Some(b"mine".to_vec())
    );
    assert_eq!(stub.get_state("c").expect(own_writes), None);
}
