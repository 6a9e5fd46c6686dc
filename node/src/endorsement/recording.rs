//! What one simulated transaction read, per namespace: point reads with the
//! version seen and range scans; with the writes the transaction kept (the
//! SDK's write layers, [`chaincode_sdk::calls::WriteLayers`]) it becomes
//! the read/write set.

use chaincode_sdk::calls::Writes;
use consort_proto::{KvRead, KvWrite, RangeQueryInfo, TxReadWriteSet, TxRwSet, Version};
use std::collections::BTreeMap;

/// Reads and range scans of one namespace.
#[derive(Debug, Default)]
struct NsReads {
    /// Every key read from committed state, with the version first seen.
    reads: BTreeMap<String, Option<Version>>,
    /// The range scans, in the order made.
    range_queries: Vec<RangeQueryInfo>,
}

/// The reads of one transaction while it is simulated.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    /// Every namespace touched, sorted by name.
    namespaces: BTreeMap<String, NsReads>,
}

impl Recording {
    /// Makes `namespace` part of the read/write set even if nothing is read or written in it.
    pub(crate) fn touch(&mut self, namespace: &str) {
        if !self.namespaces.contains_key(namespace) {
            self.namespaces
                .insert(namespace.to_owned(), NsReads::default());
        }
    }

    /// Records a read of committed state; the first read of a key wins.
    pub(crate) fn read(&mut self, namespace: &str, key: &str, version: Option<Version>) {
        self.touch(namespace);
        if let Some(ns) = self.namespaces.get_mut(namespace) {
            ns.reads.entry(key.to_owned()).or_insert(version);
        }
    }

    /// Records a range scan.
    pub(crate) fn range(&mut self, namespace: &str, info: RangeQueryInfo) {
        self.touch(namespace);
        if let Some(ns) = self.namespaces.get_mut(namespace) {
            ns.range_queries.push(info);
        }
    }

    /// The read/write set with the transaction's kept `writes`: namespaces
    /// sorted by name (every one touched, read or written), reads and
    /// writes sorted by key, range scans in the order made.
    pub(crate) fn into_rwset(mut self, writes: Writes) -> TxReadWriteSet {
        for (namespace, _) in writes.keys() {
            self.touch(namespace);
        }
        let all = writes;
        let mut writes: BTreeMap<String, Vec<KvWrite>> = BTreeMap::new();
        for ((namespace, key), value) in all {
            writes.entry(namespace).or_default().push(KvWrite {
                key,
                is_delete: value.is_none(),
                value: value.unwrap_or_default(),
            });
        }
        TxReadWriteSet {
            ns_rwsets: self
                .namespaces
                .into_iter()
                .map(|(namespace, ns)| TxRwSet {
                    writes: writes.remove(&namespace).unwrap_or_default(),
                    namespace,
                    reads: ns
                        .reads
                        .into_iter()
                        .map(|(key, version)| KvRead { key, version })
                        .collect(),
                    range_queries: ns.range_queries,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::version;

    fn names(rw: &TxReadWriteSet) -> Vec<&str> {
        rw.ns_rwsets.iter().map(|n| n.namespace.as_str()).collect()
    }

    #[test]
    fn namespaces_are_sorted_and_a_touched_one_is_always_there() {
        let mut r = Recording::default();
        r.touch("market");
        r.read("asset", "x", Some(version(1, 0)));
        let writes = [(("token".to_owned(), "b".to_owned()), Some(b"1".to_vec()))].into();
        let rw = r.into_rwset(writes);
        assert_eq!(names(&rw), ["asset", "market", "token"]);
        assert!(rw.ns_rwsets[1].reads.is_empty() && rw.ns_rwsets[1].writes.is_empty());
        assert_eq!(rw.ns_rwsets[2].writes[0].key, "b");
    }

    #[test]
    fn the_first_read_of_a_key_wins() {
        let mut r = Recording::default();
        r.read("a", "k", None);
        r.read("a", "k", Some(version(2, 0)));
        let rw = r.into_rwset(Writes::new());
        assert_eq!(
            rw.ns_rwsets[0].reads,
            vec![KvRead {
                key: "k".into(),
                version: None
            }]
        );
    }
}
