//! Caps on long-lived streams (block events, deliver): how many one identity
//! and one organisation may hold open on a node at once. A permit is taken
//! when a stream opens and given back when its response body is dropped.

use crate::identity::CertHash;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Stream caps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamLimits {
    /// Open streams per identity (certificate).
    pub per_identity: usize,
    /// Open streams per organisation, over all its identities: an org's
    /// admin can issue any number of certificates, so this is what keeps
    /// one org from exhausting another org's node.
    pub per_org: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_identity: 64,
            per_org: 512,
        }
    }
}

/// Why a stream was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamRefused {
    /// The identity already holds the most streams allowed.
    #[error("this identity already has {0} open streams on this node (the limit)")]
    Identity(usize),
    /// The identity's org already holds the most streams allowed.
    #[error("organisation {org} already has {limit} open streams on this node (the limit)")]
    Org {
        /// The org.
        org: String,
        /// The cap.
        limit: usize,
    },
}

#[derive(Debug, Default)]
struct Counts {
    by_identity: HashMap<CertHash, usize>,
    by_org: HashMap<String, usize>,
}

/// Counts open streams; cheap to clone.
#[derive(Debug, Clone)]
pub struct StreamGauge {
    limits: StreamLimits,
    counts: Arc<Mutex<Counts>>,
}

/// An open stream's place; dropping it frees the place.
#[derive(Debug)]
pub struct StreamPermit {
    identity: CertHash,
    org: String,
    counts: Arc<Mutex<Counts>>,
}

fn decrement<K: std::hash::Hash + Eq>(map: &mut HashMap<K, usize>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n = n.saturating_sub(1);
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl Drop for StreamPermit {
    fn drop(&mut self) {
        // Short critical section, no await inside.
        if let Ok(mut c) = self.counts.lock() {
            decrement(&mut c.by_identity, &self.identity);
            decrement(&mut c.by_org, &self.org);
        }
    }
}

impl StreamGauge {
    /// A gauge enforcing `limits`.
    pub fn new(limits: StreamLimits) -> Self {
        StreamGauge {
            limits,
            counts: Arc::default(),
        }
    }

    /// Takes a place for a stream of `identity` in `org`, or says which cap
    /// is reached.
    pub fn try_open(&self, identity: CertHash, org: &str) -> Result<StreamPermit, StreamRefused> {
        let mut c = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mine = c.by_identity.get(&identity).copied().unwrap_or(0);
        if mine >= self.limits.per_identity {
            return Err(StreamRefused::Identity(self.limits.per_identity));
        }
        let org_count = c.by_org.get(org).copied().unwrap_or(0);
        if org_count >= self.limits.per_org {
            return Err(StreamRefused::Org {
                org: org.to_string(),
                limit: self.limits.per_org,
            });
        }
        *c.by_identity.entry(identity).or_default() += 1;
        *c.by_org.entry(org.to_string()).or_default() += 1;
        Ok(StreamPermit {
            identity,
            org: org.to_string(),
            counts: self.counts.clone(),
        })
    }

    /// Streams open now, over all identities.
    pub fn open(&self) -> usize {
        self.counts
            .lock()
            .map(|c| c.by_identity.values().sum())
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_identity_and_per_org_and_frees_on_drop() {
        let g = StreamGauge::new(StreamLimits {
            per_identity: 2,
            per_org: 3,
        });
        let a1 = g.try_open([1; 32], "Org1MSP").unwrap();
        let _a2 = g.try_open([1; 32], "Org1MSP").unwrap();
        assert_eq!(
            g.try_open([1; 32], "Org1MSP").unwrap_err(),
            StreamRefused::Identity(2)
        );
        // Another identity of the same org: up to the org's cap.
        let _b1 = g.try_open([2; 32], "Org1MSP").unwrap();
        assert_eq!(
            g.try_open([2; 32], "Org1MSP").unwrap_err(),
            StreamRefused::Org {
                org: "Org1MSP".into(),
                limit: 3
            }
        );
        // Other orgs are not affected.
        let _c1 = g.try_open([3; 32], "Org2MSP").unwrap();
        assert_eq!(g.open(), 4);
        drop(a1);
        assert_eq!(g.open(), 3);
        let _a3 = g.try_open([1; 32], "Org1MSP").unwrap();
    }
}
