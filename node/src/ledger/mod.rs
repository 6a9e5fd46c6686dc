//! The peer's ledger in RocksDB: block store, versioned world state,
//! per-key history, transaction index. Each block's effects are one atomic,
//! synced write batch, so a crash leaves either the whole block or none of it.

pub mod keys;
pub mod verify;

use crate::block::Hash;
use crate::crashpoint::{self, CrashPoint};
use consort_proto::{CommittedBlock, TxValidationCode, Version};
use keys::*;
use prost::Message;
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch,
    WriteOptions, DB,
};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a ledger operation was doing when it failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerOp {
    /// Opening the database.
    Open,
    /// Reading.
    Read,
    /// Writing a block's batch.
    Commit,
}

/// A ledger failure.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// RocksDB failed.
    #[error("ledger {op:?} failed: {source}")]
    Db {
        /// The operation.
        op: LedgerOp,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
    /// A stored record does not decode: the database is damaged.
    #[error("corrupt ledger record in '{cf}': {detail}")]
    Corrupt {
        /// Column family.
        cf: &'static str,
        /// What was wrong.
        detail: String,
    },
    /// The ledger on disk is in another storage format than this release reads.
    #[error(transparent)]
    Format(#[from] crate::store_format::FormatError),
    /// A block was committed out of order.
    #[error("cannot commit block {got}: ledger height is {height}")]
    OutOfOrder {
        /// Current height.
        height: u64,
        /// Block offered.
        got: u64,
    },
}

fn db_err(op: LedgerOp) -> impl FnOnce(rocksdb::Error) -> LedgerError {
    move |source| LedgerError::Db { op, source }
}

/// One key's change made by a valid transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateWrite {
    /// The chaincode namespace.
    pub namespace: String,
    /// The key.
    pub key: String,
    /// New value, or `None` to delete.
    pub value: Option<Vec<u8>>,
    /// Index of the writing transaction in its block.
    pub tx_num: u64,
    /// The writing transaction's ID.
    pub tx_id: String,
}

/// Everything one block changes, applied in one batch.
#[derive(Debug, Clone)]
pub struct BlockUpdate {
    /// The block with its validation codes.
    pub block: CommittedBlock,
    /// Its number.
    pub number: u64,
    /// Its hash.
    pub hash: Hash,
    /// Its timestamp (ms).
    pub timestamp_ms: i64,
    /// Writes of valid transactions, in order.
    pub writes: Vec<StateWrite>,
    /// Every transaction with an ID: (ID, index, code). The first occurrence of an ID wins.
    pub txs: Vec<(String, u64, TxValidationCode)>,
}

/// Where a block's commit spent its time.
#[derive(Debug, Clone, Copy, Default)]
pub struct CommitTimes {
    /// Building the write batch.
    pub batch: std::time::Duration,
    /// Writing it, synced to disk.
    pub write: std::time::Duration,
}

/// A ledger's height and hashes as of one committed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerSummary {
    /// Blocks committed.
    pub height: u64,
    /// The last committed block's hash.
    pub last_hash: Option<Hash>,
    /// [`Ledger::state_hash`] at that height.
    pub state_hash: Hash,
}

/// A value read from world state with the version that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionedValue {
    /// The version.
    pub version: Version,
    /// The bytes.
    pub value: Vec<u8>,
}

/// The ledger's format check: its version, record column families and what
/// an operator does when it differs.
const FORMAT: crate::store_format::FormatSpec<'static> = crate::store_format::FormatSpec {
    store: "ledger",
    expected: LEDGER_FORMAT,
    column_families: &ALL_CFS,
    remedy: "start the release that wrote this ledger, or move the ledger directory aside \
             and restart the peer, which then rebuilds it from the ordering service",
};

/// The stored height: absent is 0.
fn decode_height(raw: Option<&[u8]>) -> Result<u64, LedgerError> {
    match raw {
        None => Ok(0),
        Some(raw) => raw
            .try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| LedgerError::Corrupt {
                cf: CF_META,
                detail: "height is not 8 bytes".into(),
            }),
    }
}

/// All memtables of a ledger together, bytes.
const MEMTABLE_BUDGET: usize = 48 << 20;
/// The block cache shared by a ledger's column families, bytes.
const BLOCK_CACHE_BYTES: usize = 32 << 20;

/// A column family's options: point lookups (state versions at validation,
/// transaction IDs for duplicates and commit status, mostly of IDs not
/// there) get a Bloom filter, so a miss rarely reads a table block. Filters
/// and indexes stay in memory outside the block cache (about 1.3 MB per
/// million keys), so a burst of large blocks cannot evict them. Blocks and
/// history, written once and rarely read, do not go through the block
/// cache at all: it is kept for state and the index.
fn cf_options(name: &str, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    if name == CF_BLOCKS || name == CF_HISTORY {
        table.disable_cache();
    } else {
        table.set_block_cache(cache);
    }
    if name == CF_STATE || name == CF_TXINDEX {
        table.set_bloom_filter(10.0, false);
    }
    let mut o = Options::default();
    o.set_block_based_table_factory(&table);
    o
}

/// A raw state entry: encoded key and encoded value.
pub type RawEntry = (Vec<u8>, Vec<u8>);

/// A peer's ledger for one channel.
pub struct Ledger {
    db: DB,
    height: AtomicU64,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("height", &self.height())
            .finish()
    }
}

impl Ledger {
    /// Opens (or creates) the ledger at `path`.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        // Memtables of all column families together stay under this, so a
        // peer's memory does not grow with the ledger: blocks, state,
        // history and index are written together, and five full 64 MB
        // memtables (RocksDB's default each) would be 320 MB.
        opts.set_db_write_buffer_size(MEMTABLE_BUDGET);
        opts.set_max_background_jobs(2);
        let cache = Cache::new_lru_cache(BLOCK_CACHE_BYTES);
        let cfs = ALL_CFS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, cf_options(name, &cache)));
        let db = DB::open_cf_descriptors(&opts, path, cfs).map_err(db_err(LedgerOp::Open))?;
        crate::store_format::check_or_stamp(&db, path, &FORMAT)?;
        let ledger = Ledger {
            db,
            height: AtomicU64::new(0),
        };
        let h = ledger.read_height()?;
        ledger.height.store(h, Ordering::SeqCst);
        Ok(ledger)
    }

    fn cf(&self, name: &'static str) -> &rocksdb::ColumnFamily {
        // The column families are created at open; their absence is a bug.
        #[allow(clippy::expect_used)]
        self.db
            .cf_handle(name)
            .expect("column family created at open")
    }

    fn read_height(&self) -> Result<u64, LedgerError> {
        let raw = self
            .db
            .get_cf(self.cf(CF_META), META_HEIGHT)
            .map_err(db_err(LedgerOp::Read))?;
        decode_height(raw.as_deref())
    }

    /// Number of committed blocks (= the next block's number).
    pub fn height(&self) -> u64 {
        self.height.load(Ordering::SeqCst)
    }

    /// Hash of the last committed block, if any.
    pub fn last_hash(&self) -> Result<Option<Hash>, LedgerError> {
        match self
            .db
            .get_cf(self.cf(CF_META), META_LAST_HASH)
            .map_err(db_err(LedgerOp::Read))?
        {
            None => Ok(None),
            Some(raw) => raw
                .as_slice()
                .try_into()
                .map(Some)
                .map_err(|_| LedgerError::Corrupt {
                    cf: CF_META,
                    detail: "last hash is not 32 bytes".into(),
                }),
        }
    }

    /// A committed block.
    pub fn block(&self, number: u64) -> Result<Option<CommittedBlock>, LedgerError> {
        let Some(raw) = self
            .db
            .get_cf(self.cf(CF_BLOCKS), block_key(number))
            .map_err(db_err(LedgerOp::Read))?
        else {
            return Ok(None);
        };
        CommittedBlock::decode(raw.as_slice())
            .map(Some)
            .map_err(|e| LedgerError::Corrupt {
                cf: CF_BLOCKS,
                detail: format!("block {number}: {e}"),
            })
    }

    /// A key's current value and version.
    pub fn get_state(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Option<VersionedValue>, LedgerError> {
        let Some(raw) = self
            .db
            .get_cf(self.cf(CF_STATE), state_key(namespace, key))
            .map_err(db_err(LedgerOp::Read))?
        else {
            return Ok(None);
        };
        let (version, value) = decode_state_value(&raw).ok_or_else(|| LedgerError::Corrupt {
            cf: CF_STATE,
            detail: format!("{namespace}/{key}: short value"),
        })?;
        Ok(Some(VersionedValue {
            version,
            value: value.to_vec(),
        }))
    }

    /// A key's current version.
    pub fn get_version(&self, namespace: &str, key: &str) -> Result<Option<Version>, LedgerError> {
        Ok(self.get_versions(&[(namespace, key)])?.pop().flatten())
    }

    /// The current versions of `keys` (namespace, key), in their order, in
    /// one batched read.
    pub fn get_versions(&self, keys: &[(&str, &str)]) -> Result<Vec<Option<Version>>, LedgerError> {
        let raw: Vec<Vec<u8>> = keys.iter().map(|(ns, key)| state_key(ns, key)).collect();
        self.db
            .batched_multi_get_cf(self.cf(CF_STATE), &raw, false)
            .into_iter()
            .zip(keys)
            .map(|(got, (ns, key))| {
                let Some(value) = got.map_err(db_err(LedgerOp::Read))? else {
                    return Ok(None);
                };
                decode_state_value(&value)
                    .map(|(version, _)| Some(version))
                    .ok_or_else(|| LedgerError::Corrupt {
                        cf: CF_STATE,
                        detail: format!("{ns}/{key}: short value"),
                    })
            })
            .collect()
    }

    /// Whether each of `tx_ids` is in the transaction index, in their
    /// order, in one batched read.
    pub fn txs_indexed(&self, tx_ids: &[&str]) -> Result<Vec<bool>, LedgerError> {
        self.db
            .batched_multi_get_cf(
                self.cf(CF_TXINDEX),
                tx_ids.iter().map(|id| id.as_bytes()),
                false,
            )
            .into_iter()
            .map(|got| Ok(got.map_err(db_err(LedgerOp::Read))?.is_some()))
            .collect()
    }

    /// Where a committed transaction is, and its validation code.
    pub fn tx(&self, tx_id: &str) -> Result<Option<TxRecord>, LedgerError> {
        let Some(raw) = self
            .db
            .get_cf(self.cf(CF_TXINDEX), tx_id.as_bytes())
            .map_err(db_err(LedgerOp::Read))?
        else {
            return Ok(None);
        };
        TxRecord::decode(raw.as_slice())
            .map(Some)
            .map_err(|e| LedgerError::Corrupt {
                cf: CF_TXINDEX,
                detail: format!("{tx_id}: {e}"),
            })
    }

    /// The history of a key, oldest first.
    pub fn history(
        &self,
        namespace: &str,
        key: &str,
    ) -> Result<Vec<(Version, HistoryRecord)>, LedgerError> {
        let mut prefix = state_key(namespace, key);
        prefix.push(0);
        let mut out = Vec::new();
        let iter = self.db.iterator_cf(
            self.cf(CF_HISTORY),
            IteratorMode::From(&prefix, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(db_err(LedgerOp::Read))?;
            if !k.starts_with(&prefix) {
                break;
            }
            let corrupt = |detail: String| LedgerError::Corrupt {
                cf: CF_HISTORY,
                detail,
            };
            let suffix = &k[prefix.len()..];
            if suffix.len() != 16 {
                return Err(corrupt(format!("{namespace}/{key}: bad history key")));
            }
            let version = Version {
                block_num: u64::from_be_bytes(
                    suffix[..8].try_into().map_err(|_| corrupt("key".into()))?,
                ),
                tx_num: u64::from_be_bytes(
                    suffix[8..].try_into().map_err(|_| corrupt("key".into()))?,
                ),
            };
            let rec = HistoryRecord::decode(v.as_ref()).map_err(|e| corrupt(e.to_string()))?;
            out.push((version, rec));
        }
        Ok(out)
    }

    /// Applies one block's effects in a single synced write batch.
    pub fn commit(&self, update: &BlockUpdate) -> Result<(), LedgerError> {
        self.commit_timed(update).map(|_| ())
    }

    /// [`commit`](Self::commit), with the time spent building the batch and
    /// writing it.
    pub fn commit_timed(&self, update: &BlockUpdate) -> Result<CommitTimes, LedgerError> {
        let height = self.height();
        if update.number != height {
            return Err(LedgerError::OutOfOrder {
                height,
                got: update.number,
            });
        }
        crashpoint::hit(CrashPoint::LedgerCommitStart);
        let started = std::time::Instant::now();
        let batch = self.batch_for(update)?;
        let built = std::time::Instant::now();
        crashpoint::hit(CrashPoint::LedgerBeforeWrite);
        let mut wo = WriteOptions::default();
        wo.set_sync(true);
        self.db
            .write_opt(batch, &wo)
            .map_err(db_err(LedgerOp::Commit))?;
        crashpoint::hit(CrashPoint::LedgerAfterWrite);
        self.height.store(update.number + 1, Ordering::SeqCst);
        Ok(CommitTimes {
            batch: built - started,
            write: built.elapsed(),
        })
    }

    /// Builds the write batch for a block without writing it.
    pub fn batch_for(&self, update: &BlockUpdate) -> Result<WriteBatch, LedgerError> {
        let mut batch = WriteBatch::default();
        batch.put_cf(
            self.cf(CF_BLOCKS),
            block_key(update.number),
            update.block.encode_to_vec(),
        );
        for w in &update.writes {
            let version = Version {
                block_num: update.number,
                tx_num: w.tx_num,
            };
            let sk = state_key(&w.namespace, &w.key);
            match &w.value {
                Some(v) => batch.put_cf(self.cf(CF_STATE), &sk, encode_state_value(&version, v)),
                None => batch.delete_cf(self.cf(CF_STATE), &sk),
            }
            crashpoint::hit(CrashPoint::LedgerHistory);
            let rec = HistoryRecord {
                tx_id: w.tx_id.clone(),
                is_delete: w.value.is_none(),
                value: w.value.clone().unwrap_or_default(),
                timestamp_ms: update.timestamp_ms,
            };
            batch.put_cf(
                self.cf(CF_HISTORY),
                history_key(&w.namespace, &w.key, &version),
                rec.encode_to_vec(),
            );
        }
        let mut indexed = std::collections::HashSet::new();
        for (tx_id, tx_num, code) in &update.txs {
            if !indexed.insert(tx_id.as_str()) || self.tx(tx_id)?.is_some() {
                continue; // a duplicate keeps pointing at the original
            }
            crashpoint::hit(CrashPoint::LedgerTxIndex);
            let rec = TxRecord {
                block: update.number,
                tx_num: *tx_num,
                code: *code as i32,
            };
            batch.put_cf(self.cf(CF_TXINDEX), tx_id.as_bytes(), rec.encode_to_vec());
        }
        batch.put_cf(
            self.cf(CF_META),
            META_HEIGHT,
            (update.number + 1).to_be_bytes(),
        );
        batch.put_cf(self.cf(CF_META), META_LAST_HASH, update.hash);
        Ok(batch)
    }

    /// SHA-256 over every state entry (key, version, value) in key order:
    /// equal on two peers exactly when their world states are equal. A full
    /// scan: blocking, and as long as the state is large.
    pub fn state_hash(&self) -> Result<Hash, LedgerError> {
        Ok(self.summary()?.state_hash)
    }

    /// The height, last block hash and state hash, all as of one committed
    /// block (read from one RocksDB snapshot while blocks keep committing).
    /// A full scan of the state, like [`state_hash`](Self::state_hash).
    pub fn summary(&self) -> Result<LedgerSummary, LedgerError> {
        let snap = self.db.snapshot();
        let meta = self.cf(CF_META);
        let height = decode_height(
            snap.get_cf(meta, META_HEIGHT)
                .map_err(db_err(LedgerOp::Read))?
                .as_deref(),
        )?;
        let last_hash = match snap
            .get_cf(meta, META_LAST_HASH)
            .map_err(db_err(LedgerOp::Read))?
        {
            None => None,
            Some(raw) => Some(
                raw.as_slice()
                    .try_into()
                    .map_err(|_| LedgerError::Corrupt {
                        cf: CF_META,
                        detail: "last hash is not 32 bytes".into(),
                    })?,
            ),
        };
        let mut h = Sha256::new();
        for item in snap.iterator_cf(self.cf(CF_STATE), IteratorMode::Start) {
            let (k, v) = item.map_err(db_err(LedgerOp::Read))?;
            h.update((k.len() as u64).to_be_bytes());
            h.update(&k);
            h.update((v.len() as u64).to_be_bytes());
            h.update(&v);
        }
        Ok(LedgerSummary {
            height,
            last_hash,
            state_hash: h.finalize().into(),
        })
    }

    /// Every state entry of a namespace as (key, version, value), in key order.
    pub fn scan_namespace(
        &self,
        namespace: &str,
    ) -> Result<Vec<(String, VersionedValue)>, LedgerError> {
        self.range(namespace, "", "", usize::MAX)
    }

    /// Up to `limit` state entries of a namespace with `start <= key` and,
    /// unless `end` is empty, `key < end`, in key order: a bounded forward scan.
    pub fn range(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, VersionedValue)>, LedgerError> {
        let prefix = state_key(namespace, "");
        let from = state_key(namespace, start);
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let iter = self.db.iterator_cf(
            self.cf(CF_STATE),
            IteratorMode::From(&from, Direction::Forward),
        );
        for item in iter {
            let (k, v) = item.map_err(db_err(LedgerOp::Read))?;
            if !k.starts_with(&prefix) {
                break;
            }
            let Some((_, key)) = split_state_key(&k) else {
                continue;
            };
            if !end.is_empty() && key >= end {
                break;
            }
            let (version, value) = decode_state_value(&v).ok_or_else(|| LedgerError::Corrupt {
                cf: CF_STATE,
                detail: format!("{namespace}/{key}: short value"),
            })?;
            out.push((
                key.to_string(),
                VersionedValue {
                    version,
                    value: value.to_vec(),
                },
            ));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Every state entry as raw (key, value) pairs, in key order.
    pub fn raw_state(&self) -> Result<Vec<RawEntry>, LedgerError> {
        self.db
            .iterator_cf(self.cf(CF_STATE), IteratorMode::Start)
            .map(|item| {
                item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(db_err(LedgerOp::Read))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
