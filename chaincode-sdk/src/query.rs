//! What range scans, pagination, bookmarks and composite keys mean, in one
//! place shared by every stub: [`MockStub`](crate::MockStub) and the peer's
//! simulator both run a [`Query`] over a [`SortedSource`] of committed state,
//! so a chaincode sees the same results in its unit tests as on a network.
//!
//! # Key spaces
//!
//! The peer stores a key as `namespace 0x00 key` (and its history as
//! `namespace 0x00 key 0x00 version`), so no key may contain 0x00. Composite
//! keys therefore use other reserved characters: a composite key starts with
//! [`COMPOSITE_KEY_PREFIX`] (U+0001) and ends every part (the object type and
//! each attribute) with [`COMPOSITE_KEY_SEPARATOR`] (U+001F):
//!
//! ```text
//! U+0001 objectType U+001F attr1 U+001F attr2 U+001F
//! ```
//!
//! Neither character may appear in an object type or attribute, and a simple
//! key may not start with U+0001. As U+0000 is refused everywhere, every
//! composite key sorts before every simple key, which is how a range over
//! simple keys leaves composite keys out (as in Fabric, whose composite keys
//! start with 0x00).
//!
//! # Ranges
//!
//! A range is `start <= key < end`; an empty `start` means "from the first
//! simple key" and an empty `end` means "to the last key". Results are sorted
//! by key. Range queries read committed state only: they do not see the
//! invocation's own writes or deletes (as in Fabric), while `get_state` does.
//!
//! # Pagination
//!
//! A paginated query returns at most `page_size` entries and a bookmark: an
//! opaque string naming the next key to return, or an empty string when the
//! range is exhausted. Passing the bookmark back continues from that key; an
//! empty bookmark starts at the beginning of the range.

mod bookmark;
mod composite;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;

use std::collections::BTreeMap;

use crate::ChaincodeError;

pub use composite::{
    create_composite_key, split_composite_key, COMPOSITE_KEY_PREFIX, COMPOSITE_KEY_SEPARATOR,
};

/// Where a range with an empty start begins: the lowest key that is not composite.
pub const SIMPLE_KEYS_START: &str = "\u{2}";

/// A key and its value, as a range query returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key.
    pub key: String,
    /// Its committed value.
    pub value: Vec<u8>,
}

/// What a paginated query says about the page it returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryMetadata {
    /// How many entries the page holds.
    pub fetched_records: u32,
    /// Where the next page starts; empty when the range is exhausted.
    pub bookmark: String,
}

/// One committed change of a key, as its history reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyModification {
    /// The transaction that made the change.
    pub tx_id: String,
    /// The value written; empty for a delete.
    pub value: Vec<u8>,
    /// Whether the change deleted the key.
    pub is_delete: bool,
    /// When the change was made, in milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
}

/// Committed state in key order, as a query reads it.
pub trait SortedSource {
    /// Up to `limit` entries with `start <= key` and, unless `end` is empty,
    /// `key < end`, in ascending key order.
    fn scan(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<KeyValue>, ChaincodeError>;
}

impl SortedSource for &BTreeMap<String, Vec<u8>> {
    fn scan(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<KeyValue>, ChaincodeError> {
        Ok(self
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .take_while(|(key, _)| end.is_empty() || key.as_str() < end)
            .take(limit)
            .map(|(key, value)| KeyValue {
                key: key.clone(),
                value: value.clone(),
            })
            .collect())
    }
}

/// Refuses keys that cannot be stored: empty ones, ones containing 0x00, and
/// ones starting with [`COMPOSITE_KEY_PREFIX`] that are not well-formed
/// composite keys.
pub fn validate_key(key: &str) -> Result<(), ChaincodeError> {
    if key.is_empty() {
        return Err(ChaincodeError::BadRequest(
            "invalid key: a key must not be empty".to_owned(),
        ));
    }
    if key.contains('\0') {
        return Err(ChaincodeError::BadRequest(format!(
            "invalid key {key:?}: a key must not contain the byte 0x00"
        )));
    }
    if key.starts_with(COMPOSITE_KEY_PREFIX) {
        split_composite_key(key)?;
    }
    Ok(())
}

/// Checks a bound of a simple-key range: no 0x00, not a composite key.
fn validate_bound(what: &str, bound: &str) -> Result<(), ChaincodeError> {
    if bound.contains('\0') {
        return Err(ChaincodeError::BadRequest(format!(
            "invalid range {what} {bound:?}: a key must not contain the byte 0x00"
        )));
    }
    if bound.starts_with(COMPOSITE_KEY_PREFIX) {
        return Err(ChaincodeError::BadRequest(format!(
            "invalid range {what} {bound:?}: a range over simple keys cannot start or end at a composite key"
        )));
    }
    Ok(())
}

/// The least string greater than every string starting with `prefix`:
/// `prefix` with its last character that has a successor replaced by that
/// successor and what follows dropped; empty (no end) when there is none.
fn prefix_end(prefix: &str) -> String {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            return chars.into_iter().collect();
        }
    }
    String::new()
}

/// One page of a paginated query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Page {
    /// At most this many entries.
    size: u32,
    /// The key the page starts at, decoded from the bookmark; `None` for the first page.
    from: Option<String>,
}

/// A checked range query, ready to run over any [`SortedSource`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// First key of the range (inclusive).
    start: String,
    /// End of the range (exclusive); empty for no end.
    end: String,
    /// Set for a paginated query.
    page: Option<Page>,
}

/// The part of the key space a query's result depends on. A peer records it
/// and validation re-runs it to detect phantom reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedRange {
    /// Where the scan started (inclusive).
    pub start_key: String,
    /// The query's end (exclusive; empty for no end).
    pub end_key: String,
    /// True when the scan reached `end_key`; false when it stopped at the
    /// end of a page, in which case it covered `start_key` up to and
    /// including the last key returned.
    pub exhausted: bool,
}

/// What running a [`Query`] produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryOutcome {
    /// The entries, in key order.
    pub entries: Vec<KeyValue>,
    /// The page's metadata (for an unpaginated query: all entries, empty bookmark).
    pub metadata: QueryMetadata,
    /// What the result depends on.
    pub scanned: ScannedRange,
}

impl Query {
    /// All simple keys with `start <= key < end`; an empty `start` or `end` leaves that side open.
    pub fn range(start: &str, end: &str) -> Result<Self, ChaincodeError> {
        validate_bound("start", start)?;
        validate_bound("end", end)?;
        let start = if start.is_empty() {
            SIMPLE_KEYS_START
        } else {
            start
        };
        Ok(Self {
            start: start.to_owned(),
            end: end.to_owned(),
            page: None,
        })
    }

    /// All simple keys starting with `prefix`, as the range from `prefix` to
    /// the first string after every string starting with it; an empty
    /// `prefix` is every simple key.
    pub fn prefix(prefix: &str) -> Result<Self, ChaincodeError> {
        Self::range(prefix, &prefix_end(prefix))
    }

    /// All composite keys of `object_type` whose first attributes are `attributes`.
    pub fn partial_composite(
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Self, ChaincodeError> {
        let (start, end) = composite::prefix_range(object_type, attributes)?;
        Ok(Self {
            start,
            end,
            page: None,
        })
    }

    /// Turns the query into one page of at most `page_size` entries,
    /// starting at `bookmark` (empty: at the start of the range).
    pub fn paginated(mut self, page_size: u32, bookmark: &str) -> Result<Self, ChaincodeError> {
        if page_size == 0 {
            return Err(ChaincodeError::BadRequest(
                "invalid page size 0: a page holds at least one entry".to_owned(),
            ));
        }
        let from = if bookmark.is_empty() {
            None
        } else {
            let key = bookmark::decode(bookmark)?;
            if key < self.start || (!self.end.is_empty() && key >= self.end) {
                return Err(ChaincodeError::BadRequest(format!(
                    "invalid bookmark {bookmark:?}: it is not inside the queried range"
                )));
            }
            Some(key)
        };
        self.page = Some(Page {
            size: page_size,
            from,
        });
        Ok(self)
    }

    /// The first key of the range.
    pub fn start(&self) -> &str {
        &self.start
    }

    /// The end of the range (exclusive; empty for no end).
    pub fn end(&self) -> &str {
        &self.end
    }

    /// For a paginated query, the page size and the key the page starts at
    /// (the decoded bookmark; `None` for the first page).
    pub fn page(&self) -> Option<(u32, Option<&str>)> {
        self.page
            .as_ref()
            .map(|page| (page.size, page.from.as_deref()))
    }

    /// Rebuilds a query from its parts ([`start`](Self::start),
    /// [`end`](Self::end), [`page`](Self::page)), as a query travels between
    /// an external chaincode and its peer. Refuses parts no query could
    /// have: a bound with 0x00, an empty start, a page of size 0, or a page
    /// start outside the range.
    pub fn from_parts(
        start: &str,
        end: &str,
        page: Option<(u32, Option<&str>)>,
    ) -> Result<Self, ChaincodeError> {
        if start.is_empty() {
            return Err(ChaincodeError::BadRequest(
                "invalid query: the start key must not be empty".to_owned(),
            ));
        }
        for bound in [start, end] {
            if bound.contains('\0') {
                return Err(ChaincodeError::BadRequest(format!(
                    "invalid query bound {bound:?}: a key must not contain the byte 0x00"
                )));
            }
        }
        let query = Self {
            start: start.to_owned(),
            end: end.to_owned(),
            page: None,
        };
        match page {
            None => Ok(query),
            Some((size, from)) => {
                let bookmark = from.map(bookmark::encode).unwrap_or_default();
                query.paginated(size, &bookmark)
            }
        }
    }

    /// Runs the query over `source`.
    pub fn run<S: SortedSource + ?Sized>(
        &self,
        source: &mut S,
    ) -> Result<QueryOutcome, ChaincodeError> {
        let Some(page) = &self.page else {
            let entries = source.scan(&self.start, &self.end, usize::MAX)?;
            return Ok(QueryOutcome {
                metadata: QueryMetadata {
                    fetched_records: u32::try_from(entries.len()).unwrap_or(u32::MAX),
                    bookmark: String::new(),
                },
                entries,
                scanned: ScannedRange {
                    start_key: self.start.clone(),
                    end_key: self.end.clone(),
                    exhausted: true,
                },
            });
        };
        let from = page.from.as_deref().unwrap_or(&self.start);
        let size = usize::try_from(page.size).unwrap_or(usize::MAX);
        // One entry beyond the page tells whether the range goes on.
        let mut entries = source.scan(from, &self.end, size.saturating_add(1))?;
        let beyond = entries.split_off(size.min(entries.len()));
        let bookmark = beyond
            .first()
            .map(|next| bookmark::encode(&next.key))
            .unwrap_or_default();
        Ok(QueryOutcome {
            metadata: QueryMetadata {
                fetched_records: u32::try_from(entries.len()).unwrap_or(u32::MAX),
                bookmark: bookmark.clone(),
            },
            entries,
            scanned: ScannedRange {
                start_key: from.to_owned(),
                end_key: self.end.clone(),
                exhausted: bookmark.is_empty(),
            },
        })
    }
}

#[cfg(test)]
mod tests;
