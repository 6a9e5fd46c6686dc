//! The format version of a durable store: each RocksDB the node writes (the
//! peer's ledger, the orderer's Raft log and block store) records, when it
//! is created, the version of the record layout it was written in. Opening
//! checks it, so a release never reads records it does not understand.
//!
//! The version is a u32 big-endian under the key `format_version` in the
//! database's `default` column family. A store without that key is accepted
//! only if it is empty (a new store, which gets the current version);
//! a non-empty store without it was written before versions were recorded
//! and counts as format 0.

use rocksdb::{WriteOptions, DB};
use std::path::{Path, PathBuf};

/// Key of the format version in the `default` column family.
pub const FORMAT_KEY: &[u8] = b"format_version";

/// Why a store's format could not be checked or is not the one expected.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The store was written in another format than this release reads.
    #[error(
        "the {store} at {} is in storage format {found}{}, but this release reads format \
         {expected}: {remedy}",
        path.display(),
        if *found == 0 { " (written before formats were versioned)" } else { "" }
    )]
    Mismatch {
        /// Which store (`ledger`, `orderer store`).
        store: &'static str,
        /// Its directory.
        path: PathBuf,
        /// The version it records (0: none recorded, from before versions).
        found: u32,
        /// The version this release reads and writes.
        expected: u32,
        /// What the operator can do about it.
        remedy: &'static str,
    },
    /// The recorded version is not a u32: the store is damaged.
    #[error("the {store} at {} records an unreadable format version ({len} bytes)", path.display())]
    Unreadable {
        /// Which store.
        store: &'static str,
        /// Its directory.
        path: PathBuf,
        /// Length of the stored value.
        len: usize,
    },
    /// RocksDB failed while reading or writing the version.
    #[error("the {store}'s format version could not be read or written: {source}")]
    Db {
        /// Which store.
        store: &'static str,
        /// RocksDB's error.
        source: rocksdb::Error,
    },
}

/// What is checked: a store's name, directory, expected version, the column
/// families that hold its records, and what to tell the operator on a mismatch.
#[derive(Debug, Clone, Copy)]
pub struct FormatSpec<'a> {
    /// Which store, for messages.
    pub store: &'static str,
    /// The version this release reads and writes.
    pub expected: u32,
    /// Column families whose content makes the store non-empty.
    pub column_families: &'a [&'a str],
    /// What to do when the versions differ.
    pub remedy: &'static str,
}

/// Checks the format version of the open database `db` at `path`: a new
/// (empty) store is stamped with `spec.expected` in a synced write; an
/// existing one must record exactly `spec.expected`.
pub fn check_or_stamp(db: &DB, path: &Path, spec: &FormatSpec<'_>) -> Result<(), FormatError> {
    let store = spec.store;
    let db_err = |source| FormatError::Db { store, source };
    let found = match db.get(FORMAT_KEY).map_err(db_err)? {
        Some(raw) => {
            let bytes: [u8; 4] =
                raw.as_slice()
                    .try_into()
                    .map_err(|_| FormatError::Unreadable {
                        store,
                        path: path.to_path_buf(),
                        len: raw.len(),
                    })?;
            u32::from_be_bytes(bytes)
        }
        None if is_empty(db, spec.column_families) => {
            let mut wo = WriteOptions::default();
            wo.set_sync(true);
            db.put_opt(FORMAT_KEY, spec.expected.to_be_bytes(), &wo)
                .map_err(db_err)?;
            tracing::info!(store, format = spec.expected, "new store");
            return Ok(());
        }
        None => 0,
    };
    if found != spec.expected {
        return Err(FormatError::Mismatch {
            store,
            path: path.to_path_buf(),
            found,
            expected: spec.expected,
            remedy: spec.remedy,
        });
    }
    Ok(())
}

/// Whether none of `cfs` (nor the default column family) holds a key.
fn is_empty(db: &DB, cfs: &[&str]) -> bool {
    let default_empty = db.iterator(rocksdb::IteratorMode::Start).next().is_none();
    default_empty
        && cfs.iter().all(|name| match db.cf_handle(name) {
            Some(cf) => db
                .iterator_cf(cf, rocksdb::IteratorMode::Start)
                .next()
                .is_none(),
            None => true,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocksdb::{ColumnFamilyDescriptor, Options};

    const SPEC: FormatSpec<'static> = FormatSpec {
        store: "test store",
        expected: 3,
        column_families: &["records"],
        remedy: "do the thing",
    };

    fn open(path: &Path) -> DB {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        let cfs = [ColumnFamilyDescriptor::new("records", Options::default())];
        DB::open_cf_descriptors(&opts, path, cfs).unwrap()
    }

    fn recorded(db: &DB) -> Option<u32> {
        db.get(FORMAT_KEY)
            .unwrap()
            .map(|v| u32::from_be_bytes(v.as_slice().try_into().unwrap()))
    }

    #[test]
    fn a_new_store_gets_the_current_version_and_reopens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        {
            let db = open(&path);
            check_or_stamp(&db, &path, &SPEC).unwrap();
            assert_eq!(recorded(&db), Some(3));
            db.put_cf(db.cf_handle("records").unwrap(), b"k", b"v")
                .unwrap();
        }
        let db = open(&path);
        check_or_stamp(&db, &path, &SPEC).unwrap();
        assert_eq!(recorded(&db), Some(3));
    }

    #[test]
    fn a_store_of_another_version_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = open(&path);
        db.put(FORMAT_KEY, 7u32.to_be_bytes()).unwrap();
        let e = check_or_stamp(&db, &path, &SPEC).unwrap_err();
        assert!(matches!(
            e,
            FormatError::Mismatch {
                found: 7,
                expected: 3,
                ..
            }
        ));
        let msg = e.to_string();
        assert!(msg.contains("format 7"), "{msg}");
        assert!(msg.contains("reads format 3"), "{msg}");
        assert!(msg.contains("do the thing"), "{msg}");
        // Nothing was overwritten.
        assert_eq!(recorded(&db), Some(7));
    }

    #[test]
    fn a_non_empty_store_without_a_version_is_format_0_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = open(&path);
        db.put_cf(db.cf_handle("records").unwrap(), b"k", b"v")
            .unwrap();
        let msg = check_or_stamp(&db, &path, &SPEC).unwrap_err().to_string();
        assert!(msg.contains("format 0 (written before"), "{msg}");
        assert!(msg.contains("reads format 3"), "{msg}");
        assert_eq!(recorded(&db), None);
    }

    #[test]
    fn an_unreadable_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let db = open(&path);
        db.put(FORMAT_KEY, b"x").unwrap();
        assert!(matches!(
            check_or_stamp(&db, &path, &SPEC),
            Err(FormatError::Unreadable { len: 1, .. })
        ));
    }
}
