//! Write layers: one buffer of pending writes per running invocation, so
//! that a called chaincode's writes can be kept (it returned `Ok`) or
//! dropped (it failed).

use std::collections::BTreeMap;

/// Buffered changes by (namespace, key): `Some(value)` writes, `None` deletes.
pub type Writes = BTreeMap<(String, String), Option<Vec<u8>>>;

/// The pending writes of a transaction, one layer per running invocation.
#[derive(Debug, Clone)]
pub struct WriteLayers {
    /// The innermost last; never empty (the invoked chaincode's layer).
    layers: Vec<Writes>,
}

impl Default for WriteLayers {
    fn default() -> Self {
        Self::new()
    }
}

impl WriteLayers {
    /// One empty layer: the invoked chaincode's.
    pub fn new() -> Self {
        Self {
            layers: vec![Writes::new()],
        }
    }

    /// The pending change of a key, innermost layer first: `Some(None)` for
    /// a pending delete, `None` when no running invocation touched the key.
    pub fn pending(&self, namespace: &str, key: &str) -> Option<Option<Vec<u8>>> {
        let wanted = (namespace.to_owned(), key.to_owned());
        self.layers
            .iter()
            .rev()
            .find_map(|layer| layer.get(&wanted).cloned())
    }

    /// Buffers a write (`None` deletes) in the innermost layer.
    pub fn write(&mut self, namespace: &str, key: &str, value: Option<Vec<u8>>) {
        if let Some(layer) = self.layers.last_mut() {
            layer.insert((namespace.to_owned(), key.to_owned()), value);
        }
    }

    /// Starts a called chaincode's layer.
    pub fn begin(&mut self) {
        self.layers.push(Writes::new());
    }

    /// Ends a called chaincode's layer: merged into its caller's when
    /// `keep`, dropped otherwise. The invoked chaincode's layer stays.
    pub fn end(&mut self, keep: bool) {
        if self.layers.len() < 2 {
            return;
        }
        if let Some(layer) = self.layers.pop() {
            if keep {
                if let Some(caller) = self.layers.last_mut() {
                    caller.extend(layer);
                }
            }
        }
    }

    /// Every kept write, the innermost layer's winning.
    pub fn into_writes(self) -> Writes {
        let mut all = Writes::new();
        for layer in self.layers {
            all.extend(layer);
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::WriteLayers;

    #[test]
    fn a_kept_layer_merges_and_a_dropped_one_leaves_nothing() {
        let mut layers = WriteLayers::new();
        layers.write("b", "k", Some(b"outer".to_vec()));
        layers.begin();
        assert_eq!(layers.pending("b", "k"), Some(Some(b"outer".to_vec())));
        layers.write("b", "k", None);
        assert_eq!(layers.pending("b", "k"), Some(None));
        layers.end(true);
        assert_eq!(layers.pending("b", "k"), Some(None));

        layers.begin();
        layers.write("c", "lost", Some(b"x".to_vec()));
        layers.write("b", "k", Some(b"lost too".to_vec()));
        layers.end(false);
        assert_eq!(layers.pending("c", "lost"), None);
        assert_eq!(layers.pending("b", "k"), Some(None));
        // The invoked chaincode's layer cannot be ended.
        layers.end(false);
        let writes = layers.into_writes();
        assert_eq!(writes.len(), 1);
        assert_eq!(writes.get(&("b".to_owned(), "k".to_owned())), Some(&None));
    }
}
