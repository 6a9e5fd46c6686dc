//! Validation of ordered transactions, in two phases:
//!
//! 1. [`check_tx`] for one transaction, [`check_block`] for a block's:
//!    everything that depends on the transaction alone (decoding, creator
//!    identity and signature, transaction ID, endorsement signatures and
//!    policy). [`check_block`] runs it over all cores and verifies the
//!    block's Ed25519 signatures in batches, with results identical to
//!    [`check_tx`] on each transaction (see [`phase1`]).
//! 2. [`validate_block`]: in block order, what depends on the ledger and on
//!    earlier transactions of the block (duplicate IDs, MVCC read versions,
//!    phantom reads in scanned ranges).
//!
//! Pure logic over bytes and a [`StateView`]; no I/O of its own.

pub use consort_client::codes;
pub use consort_client::tx::{compute_tx_id, endorsement_message, proposal_hash};

use crate::identity::Msp;
use crate::ledger::StateWrite;
use crate::policy::Policy;
use consort_proto::{RangeQueryInfo, TxReadWriteSet, TxRwSet, TxValidationCode as Code, Version};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub mod phase1;
pub mod signatures;

pub use phase1::{check_block, check_tx};

/// What validation needs to know about the channel.
#[derive(Debug, Clone)]
pub struct ChannelRules {
    /// The channel.
    pub channel_id: String,
    /// Its members.
    pub msp: Arc<Msp>,
    /// Endorsement policy per namespace: each chaincode defined on the
    /// channel by its name. A system namespace (a name starting with `_`,
    /// see [`crate::endorsement::callees::is_system_namespace`]) may be
    /// written only if it has an entry here, whose policy then applies.
    pub policies: HashMap<String, Arc<Policy>>,
}

/// Read access to committed state that validation needs.
pub trait StateView {
    /// The error reads can fail with.
    type Error;
    /// A key's committed version.
    fn version(&self, namespace: &str, key: &str) -> Result<Option<Version>, Self::Error>;
    /// Whether a transaction with this ID is already committed.
    fn tx_committed(&self, tx_id: &str) -> Result<bool, Self::Error>;
    /// The committed versions of `keys` (namespace, key), in their order;
    /// a store that can read many keys at once overrides this.
    fn versions(&self, keys: &[(&str, &str)]) -> Result<Vec<Option<Version>>, Self::Error> {
        keys.iter().map(|(ns, key)| self.version(ns, key)).collect()
    }
    /// Whether each of `tx_ids` is committed, in their order; a store that
    /// can read many keys at once overrides this.
    fn txs_committed(&self, tx_ids: &[&str]) -> Result<Vec<bool>, Self::Error> {
        tx_ids.iter().map(|id| self.tx_committed(id)).collect()
    }
    /// Up to `limit` committed keys of `namespace` with `start <= key` and,
    /// unless `end` is empty, `key < end`, in key order, with their versions.
    fn range_versions(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, Self::Error>;
}

impl StateView for crate::ledger::Ledger {
    type Error = crate::ledger::LedgerError;
    fn version(&self, namespace: &str, key: &str) -> Result<Option<Version>, Self::Error> {
        self.get_version(namespace, key)
    }
    fn tx_committed(&self, tx_id: &str) -> Result<bool, Self::Error> {
        Ok(self.tx(tx_id)?.is_some())
    }
    fn versions(&self, keys: &[(&str, &str)]) -> Result<Vec<Option<Version>>, Self::Error> {
        self.get_versions(keys)
    }
    fn txs_committed(&self, tx_ids: &[&str]) -> Result<Vec<bool>, Self::Error> {
        self.txs_indexed(tx_ids)
    }
    fn range_versions(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, Self::Error> {
        Ok(self
            .range(namespace, start, end, limit)?
            .into_iter()
            .map(|(key, value)| (key, value.version))
            .collect())
    }
}

/// A transaction that passed phase 1.
#[derive(Debug, Clone)]
pub struct CheckedTx {
    /// Its ID.
    pub tx_id: String,
    /// Its reads and writes, per namespace (sorted, each namespace once).
    pub rwset: TxReadWriteSet,
}

/// A transaction that failed phase 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The ID, when the creator's signature proved it (such IDs are indexed
    /// so they cannot be reused).
    pub tx_id: Option<String>,
    /// Why.
    pub code: Code,
    /// What the code alone does not tell, when there is more to tell: an
    /// `ENDORSEMENT_POLICY_FAILURE` because a policy was too complex to
    /// evaluate says so here. For logs; the ledger keeps only the code.
    pub reason: Option<String>,
}

/// The endorsement policies a transaction invoking `invoked` must satisfy:
/// the invoked chaincode's, and that of every other namespace it writes
/// (a namespace it only reads needs none). `None` when the read/write set is
/// malformed: namespaces out of order or repeated, the invoked chaincode's
/// missing, or a namespace without a policy (not a defined chaincode nor a
/// system namespace given a policy).
pub(crate) fn policies_to_satisfy<'a>(
    rules: &'a ChannelRules,
    invoked: &str,
    invoked_policy: &'a Arc<Policy>,
    ns_rwsets: &[TxRwSet],
) -> Option<Vec<&'a Arc<Policy>>> {
    let sorted = ns_rwsets
        .windows(2)
        .all(|pair| pair[0].namespace < pair[1].namespace);
    if !sorted || !ns_rwsets.iter().any(|ns| ns.namespace == invoked) {
        return None;
    }
    let mut policies = vec![invoked_policy];
    for ns in ns_rwsets {
        let policy = rules.policies.get(&ns.namespace)?;
        if ns.namespace != invoked && !ns.writes.is_empty() {
            policies.push(policy);
        }
    }
    Some(policies)
}

/// The outcome of validating a block.
#[derive(Debug, Clone, Default)]
pub struct BlockValidation {
    /// One code per transaction.
    pub codes: Vec<Code>,
    /// The writes of valid transactions, in order.
    pub writes: Vec<StateWrite>,
    /// Authenticated transaction IDs with their index and code.
    pub txs: Vec<(String, u64, Code)>,
}

/// Phase 2: validates `envelopes` (one block's data) in order against `state`.
pub fn validate_block<S: StateView>(
    state: &S,
    checked: Vec<Result<CheckedTx, Rejected>>,
) -> Result<BlockValidation, S::Error> {
    let committed = Committed::read(state, &checked)?;
    let mut out = BlockValidation::default();
    let mut ids_in_block: HashSet<&str> = HashSet::new();
    let mut dirty = BlockWrites::new();
    for (num, result) in checked.iter().enumerate() {
        let num = num as u64;
        let tx = match result {
            Err(r) => {
                if let Some(id) = r.tx_id.as_deref() {
                    if !ids_in_block.contains(id) && !committed.tx(id) {
                        ids_in_block.insert(id);
                        out.txs.push((id.to_string(), num, r.code));
                    }
                }
                out.codes.push(r.code);
                continue;
            }
            Ok(tx) => tx,
        };
        if ids_in_block.contains(tx.tx_id.as_str()) || committed.tx(&tx.tx_id) {
            out.codes.push(Code::DuplicateTxid);
            continue;
        }
        ids_in_block.insert(&tx.tx_id);
        let code = read_conflict(state, &committed, &dirty, &tx.rwset)?;
        if code == Code::Valid {
            for ns in &tx.rwset.ns_rwsets {
                for w in &ns.writes {
                    dirty.insert((ns.namespace.clone(), w.key.clone()), w.is_delete);
                    out.writes.push(StateWrite {
                        namespace: ns.namespace.clone(),
                        key: w.key.clone(),
                        value: (!w.is_delete).then(|| w.value.clone()),
                        tx_num: num,
                        tx_id: tx.tx_id.clone(),
                    });
                }
            }
        }
        out.txs.push((tx.tx_id.clone(), num, code));
        out.codes.push(code);
    }
    Ok(out)
}

/// What committed state says about a block's transactions, read for the
/// whole block at once before its transactions are validated in order
/// (state does not change meanwhile: the committer writes after phase 2).
struct Committed<'a> {
    /// The committed version of every key a transaction read.
    versions: HashMap<(&'a str, &'a str), Option<Version>>,
    /// The block's transaction IDs already committed.
    txs: HashSet<&'a str>,
}

impl<'a> Committed<'a> {
    fn read<S: StateView>(
        state: &S,
        checked: &'a [Result<CheckedTx, Rejected>],
    ) -> Result<Self, S::Error> {
        let ids: Vec<&str> = checked
            .iter()
            .filter_map(|r| match r {
                Ok(tx) => Some(tx.tx_id.as_str()),
                Err(r) => r.tx_id.as_deref(),
            })
            .collect();
        let txs = ids
            .iter()
            .zip(state.txs_committed(&ids)?)
            .filter_map(|(id, committed)| committed.then_some(*id))
            .collect();
        let mut keys: Vec<(&str, &str)> = checked
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .flat_map(|tx| &tx.rwset.ns_rwsets)
            .flat_map(|ns| {
                ns.reads
                    .iter()
                    .map(|r| (ns.namespace.as_str(), r.key.as_str()))
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let versions = state.versions(&keys)?;
        Ok(Committed {
            versions: keys.into_iter().zip(versions).collect(),
            txs,
        })
    }

    fn tx(&self, id: &str) -> bool {
        self.txs.contains(id)
    }
}

/// `VALID`, or the conflict that invalidates a transaction's reads in any
/// namespace: `MVCC_READ_CONFLICT` when a key read was written by an earlier
/// valid transaction of the block or has another committed version now
/// (checked in every namespace first), then `PHANTOM_READ_CONFLICT` when a
/// scanned range changed.
fn read_conflict<S: StateView>(
    state: &S,
    committed: &Committed<'_>,
    dirty: &BlockWrites,
    rwset: &TxReadWriteSet,
) -> Result<Code, S::Error> {
    for ns in &rwset.ns_rwsets {
        for read in &ns.reads {
            let now = match committed
                .versions
                .get(&(ns.namespace.as_str(), read.key.as_str()))
            {
                Some(v) => *v,
                None => state.version(&ns.namespace, &read.key)?,
            };
            if dirty.contains_key(&(ns.namespace.clone(), read.key.clone())) || now != read.version
            {
                return Ok(Code::MvccReadConflict);
            }
        }
    }
    for ns in &rwset.ns_rwsets {
        for range in &ns.range_queries {
            if !range_unchanged(state, dirty, &ns.namespace, range)? {
                return Ok(Code::PhantomReadConflict);
            }
        }
    }
    Ok(Code::Valid)
}

/// Keys written by earlier valid transactions of the block being validated,
/// by (namespace, key); `true` for a delete.
type BlockWrites = BTreeMap<(String, String), bool>;

/// Whether a recorded range scan would return the same keys, with the same
/// versions, over committed state plus the writes of earlier valid
/// transactions of the block.
fn range_unchanged<S: StateView>(
    state: &S,
    dirty: &BlockWrites,
    ns: &str,
    range: &RangeQueryInfo,
) -> Result<bool, S::Error> {
    let start = range.start_key.as_str();
    // A scan that stopped at the end of a page covers keys up to its last
    // one: the smallest key after it, that key plus 0x00, ends the range.
    let page_end;
    let end = if range.itr_exhausted {
        range.end_key.as_str()
    } else {
        let Some(last) = range.reads.last() else {
            return Ok(true); // an empty page that did not reach the end covers nothing
        };
        page_end = format!("{}\0", last.key);
        if range.end_key.is_empty() || page_end.as_str() < range.end_key.as_str() {
            page_end.as_str()
        } else {
            range.end_key.as_str()
        }
    };
    let inside = |key: &str| start <= key && (end.is_empty() || key < end);
    let in_block: Vec<(&str, bool)> = dirty
        .range((ns.to_owned(), start.to_owned())..)
        .take_while(|((n, key), _)| n == ns && inside(key))
        .map(|((_, key), deleted)| (key.as_str(), *deleted))
        .collect();
    // Deletes can hide at most one committed key each: reading one more
    // committed key than that beyond the recorded count proves a phantom.
    let deletes = in_block.iter().filter(|(_, deleted)| *deleted).count();
    let limit = range.reads.len() + deletes + 1;
    let committed = state.range_versions(ns, start, end, limit)?;
    if committed.len() >= limit {
        return Ok(false);
    }
    // `None`: written by this block, a version no recorded read can have.
    let mut now: BTreeMap<&str, Option<Version>> = committed
        .iter()
        .map(|(key, version)| (key.as_str(), Some(*version)))
        .collect();
    for (key, deleted) in in_block {
        if deleted {
            now.remove(key);
        } else {
            now.insert(key, None);
        }
    }
    Ok(now.len() == range.reads.len()
        && now
            .into_iter()
            .zip(&range.reads)
            .all(|((key, version), read)| {
                key == read.key && version.is_some() && version == read.version
            }))
}

#[cfg(test)]
mod identity_tests;
#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod parallel_tests;
#[cfg(test)]
mod tests;
