//! How ledger records are laid out as RocksDB keys and values.
//!
//! | column family | key | value |
//! |---|---|---|
//! | `blocks` | block number, u64 big-endian | encoded `CommittedBlock` |
//! | `state` | namespace, 0x00, key | version (block u64 BE, tx u64 BE), value |
//! | `history` | namespace, 0x00, key, 0x00, block u64 BE, tx u64 BE | `HistoryRecord` (protobuf) |
//! | `txindex` | transaction ID | `TxRecord` (protobuf) |
//! | `meta` | `height`, `last_hash` | u64 BE; 32-byte hash |
//! | `default` | `format_version` | u32 BE, [`LEDGER_FORMAT`] |
//!
//! `HistoryRecord` and `TxRecord` are protobuf messages defined here by
//! their field tags; a change to any of these layouts is a new
//! [`LEDGER_FORMAT`].

use consort_proto::Version;

/// The ledger's storage format version, recorded when a ledger is created
/// and checked at every open (see [`crate::store_format`]). Format 0 was
/// the unversioned bincode layout.
pub const LEDGER_FORMAT: u32 = 1;

/// Column family names.
pub const CF_BLOCKS: &str = "blocks";
/// World state.
pub const CF_STATE: &str = "state";
/// Per-key history.
pub const CF_HISTORY: &str = "history";
/// Transaction index.
pub const CF_TXINDEX: &str = "txindex";
/// Ledger metadata.
pub const CF_META: &str = "meta";
/// All column families.
pub const ALL_CFS: [&str; 5] = [CF_BLOCKS, CF_STATE, CF_HISTORY, CF_TXINDEX, CF_META];

/// Metadata key: number of committed blocks.
pub const META_HEIGHT: &[u8] = b"height";
/// Metadata key: hash of the last committed block.
pub const META_LAST_HASH: &[u8] = b"last_hash";

/// Key of a block.
pub fn block_key(number: u64) -> [u8; 8] {
    number.to_be_bytes()
}

/// Key of a state entry.
pub fn state_key(namespace: &str, key: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(namespace.len() + 1 + key.len());
    k.extend_from_slice(namespace.as_bytes());
    k.push(0);
    k.extend_from_slice(key.as_bytes());
    k
}

/// Splits a state key into namespace and key.
pub fn split_state_key(raw: &[u8]) -> Option<(&str, &str)> {
    let pos = raw.iter().position(|b| *b == 0)?;
    let ns = std::str::from_utf8(&raw[..pos]).ok()?;
    let key = std::str::from_utf8(&raw[pos + 1..]).ok()?;
    Some((ns, key))
}

/// Key of a history entry.
pub fn history_key(namespace: &str, key: &str, version: &Version) -> Vec<u8> {
    let mut k = state_key(namespace, key);
    k.push(0);
    k.extend_from_slice(&version.block_num.to_be_bytes());
    k.extend_from_slice(&version.tx_num.to_be_bytes());
    k
}

/// Encodes a state value with its version.
pub fn encode_state_value(version: &Version, value: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(16 + value.len());
    v.extend_from_slice(&version.block_num.to_be_bytes());
    v.extend_from_slice(&version.tx_num.to_be_bytes());
    v.extend_from_slice(value);
    v
}

/// Decodes a state value into version and value.
pub fn decode_state_value(raw: &[u8]) -> Option<(Version, &[u8])> {
    if raw.len() < 16 {
        return None;
    }
    let block_num = u64::from_be_bytes(raw[0..8].try_into().ok()?);
    let tx_num = u64::from_be_bytes(raw[8..16].try_into().ok()?);
    Some((Version { block_num, tx_num }, &raw[16..]))
}

/// One change to a key, as kept in its history (a protobuf message).
#[derive(Clone, PartialEq, Eq, prost::Message)]
pub struct HistoryRecord {
    /// The transaction that made the change.
    #[prost(string, tag = "1")]
    pub tx_id: String,
    /// Whether the key was deleted.
    #[prost(bool, tag = "2")]
    pub is_delete: bool,
    /// The value written (empty for a delete).
    #[prost(bytes = "vec", tag = "3")]
    pub value: Vec<u8>,
    /// The block's timestamp, ms since the epoch.
    #[prost(int64, tag = "4")]
    pub timestamp_ms: i64,
}

/// Where a transaction is and how it validated (a protobuf message).
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct TxRecord {
    /// Block number.
    #[prost(uint64, tag = "1")]
    pub block: u64,
    /// Index inside the block.
    #[prost(uint64, tag = "2")]
    pub tx_num: u64,
    /// `TxValidationCode` as i32.
    #[prost(int32, tag = "3")]
    pub code: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn records_round_trip_and_keep_their_wire_layout() {
        let h = HistoryRecord {
            tx_id: "abc".into(),
            is_delete: true,
            value: vec![1, 2, 3],
            timestamp_ms: -5,
        };
        let raw = h.encode_to_vec();
        assert_eq!(HistoryRecord::decode(raw.as_slice()).unwrap(), h);
        let t = TxRecord {
            block: 7,
            tx_num: 300,
            code: 11,
        };
        let raw = t.encode_to_vec();
        // Field 1 varint 7, field 2 varint 300, field 3 varint 11: a change
        // here is a new LEDGER_FORMAT.
        assert_eq!(raw, [0x08, 7, 0x10, 0xac, 0x02, 0x18, 11]);
        assert_eq!(TxRecord::decode(raw.as_slice()).unwrap(), t);
        assert!(TxRecord::decode(&[0xff][..]).is_err());
    }

    #[test]
    fn state_keys_round_trip_and_sort_by_namespace() {
        let k = state_key("token", "balance/A/x");
        assert_eq!(split_state_key(&k), Some(("token", "balance/A/x")));
        assert!(state_key("a", "z") < state_key("b", "a"));
        let v = Version {
            block_num: 7,
            tx_num: 3,
        };
        let raw = encode_state_value(&v, b"hello");
        let (v2, val) = decode_state_value(&raw).unwrap();
        assert_eq!(v2, v);
        assert_eq!(val, b"hello");
        assert!(decode_state_value(&raw[..10]).is_none());
    }

    #[test]
    fn history_keys_sort_by_version() {
        let a = history_key(
            "ns",
            "k",
            &Version {
                block_num: 1,
                tx_num: 9,
            },
        );
        let b = history_key(
            "ns",
            "k",
            &Version {
                block_num: 2,
                tx_num: 0,
            },
        );
        assert!(a < b);
    }
}
