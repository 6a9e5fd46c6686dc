//! What one simulated transaction read and wrote, per namespace: point
//! reads with the version seen, range scans, and writes buffered in one
//! layer per running chaincode invocation, so that a called chaincode's
//! writes can be kept (it returned `Ok`) or discarded (it failed).

use consort_proto::{KvRead, KvWrite, RangeQueryInfo, TxReadWriteSet, TxRwSet, Version};
use std::collections::BTreeMap;

/// Buffered changes by (namespace, key): `Some(value)` writes, `None` deletes.
type Writes = BTreeMap<(String, String), Option<Vec<u8>>>;

/// Reads and range scans of one namespace.
#[derive(Debug, Default)]
struct NsReads {
    /// Every key read from committed state, with the version first seen.
    reads: BTreeMap<String, Option<Version>>,
    /// The range scans, in the order made.
    range_queries: Vec<RangeQueryInfo>,
}

/// The read/write set of one transaction while it is simulated.
#[derive(Debug)]
pub(crate) struct Recording {
    /// Every namespace touched, sorted by name.
    namespaces: BTreeMap<String, NsReads>,
    /// One write buffer per running invocation, the innermost last; never empty.
    layers: Vec<Writes>,
}

impl Recording {
    /// An empty recording of a transaction invoking `namespace`.
    pub(crate) fn new(namespace: &str) -> Self {
        let mut recording = Recording {
            namespaces: BTreeMap::new(),
            layers: vec![Writes::new()],
        };
        recording.touch(namespace);
        recording
    }

    /// Makes `namespace` part of the read/write set even if nothing is read or written in it.
    pub(crate) fn touch(&mut self, namespace: &str) {
        if !self.namespaces.contains_key(namespace) {
            self.namespaces
                .insert(namespace.to_owned(), NsReads::default());
        }
    }

    /// The pending change of a key by this transaction, innermost first:
    /// `Some(None)` for a pending delete, `None` when the key is untouched.
    pub(crate) fn pending(&self, namespace: &str, key: &str) -> Option<Option<Vec<u8>>> {
        let wanted = (namespace.to_owned(), key.to_owned());
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.get(&wanted).cloned())
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

    /// Buffers a write (`None` deletes) in the innermost invocation's layer.
    pub(crate) fn write(&mut self, namespace: &str, key: &str, value: Option<Vec<u8>>) {
        self.touch(namespace);
        if let Some(layer) = self.layers.last_mut() {
            layer.insert((namespace.to_owned(), key.to_owned()), value);
        }
    }

    /// Starts a called chaincode's write layer.
    pub(crate) fn begin_call(&mut self) {
        self.layers.push(Writes::new());
    }

    /// Ends a called chaincode's write layer: merged into its caller's when
    /// `keep`, discarded otherwise. Reads and scans are kept either way:
    /// the caller's outcome may depend on them.
    pub(crate) fn end_call(&mut self, keep: bool) {
        if self.layers.len() < 2 {
            return; // the invoked chaincode's own layer stays
        }
        if let Some(layer) = self.layers.pop() {
            if keep {
                if let Some(caller) = self.layers.last_mut() {
                    caller.extend(layer);
                }
            }
        }
    }

    /// The read/write set: namespaces sorted by name, reads and writes
    /// sorted by key, range scans in the order made.
    pub(crate) fn into_rwset(self) -> TxReadWriteSet {
        let mut writes: BTreeMap<String, Vec<KvWrite>> = BTreeMap::new();
        let mut all = Writes::new();
        for layer in self.layers {
            all.extend(layer);
        }
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
    fn namespaces_are_sorted_and_the_invoked_one_is_always_there() {
        let mut r = Recording::new("market");
        r.write("token", "b", Some(b"1".to_vec()));
        r.read("asset", "x", Some(version(1, 0)));
        let rw = r.into_rwset();
        assert_eq!(names(&rw), ["asset", "market", "token"]);
        assert!(rw.ns_rwsets[1].reads.is_empty() && rw.ns_rwsets[1].writes.is_empty());
        assert_eq!(rw.ns_rwsets[2].writes[0].key, "b");
    }

    #[test]
    fn a_kept_call_merges_its_writes_and_a_failed_one_keeps_only_its_reads() {
        let mut r = Recording::new("a");
        r.write("b", "k", Some(b"outer".to_vec()));
        r.begin_call();
        assert_eq!(r.pending("b", "k"), Some(Some(b"outer".to_vec())));
        r.write("b", "k", None);
        assert_eq!(r.pending("b", "k"), Some(None));
        r.end_call(true);
        assert_eq!(r.pending("b", "k"), Some(None));

        r.begin_call();
        r.read("c", "seen", None);
        r.write("c", "lost", Some(b"x".to_vec()));
        r.write("b", "k", Some(b"lost too".to_vec()));
        r.end_call(false);
        assert_eq!(r.pending("c", "lost"), None);
        assert_eq!(r.pending("b", "k"), Some(None));
        // The outermost layer cannot be ended.
        r.end_call(false);
        let rw = r.into_rwset();
        assert_eq!(names(&rw), ["a", "b", "c"]);
        let b = &rw.ns_rwsets[1];
        assert_eq!((b.writes.len(), b.writes[0].is_delete), (1, true));
        let c = &rw.ns_rwsets[2];
        assert!(c.writes.is_empty());
        assert_eq!(
            c.reads,
            vec![KvRead {
                key: "seen".into(),
                version: None
            }]
        );
    }
}
