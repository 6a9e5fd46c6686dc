//! Offline verification of a stopped peer's ledger: the hash chain, every
//! block's orderer signature, the validation codes against a re-validation,
//! and the world state rebuilt from the blocks against the stored state.

use super::{keys, Ledger, LedgerError};
use crate::block::{self, BlockError};
use crate::validation::{self, ChannelRules, StateView};
use consort_proto::{TxValidationCode, Version};
use std::collections::{BTreeMap, HashSet};
use std::convert::Infallible;

/// The first problem found.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A block is missing below the ledger height.
    #[error("block {0} is missing")]
    Missing(u64),
    /// A block does not verify.
    #[error("block {number} does not verify: {source}")]
    Block {
        /// The block.
        number: u64,
        /// Why.
        source: BlockError,
    },
    /// The stored validation codes differ from a re-validation.
    #[error("block {number}: stored validation codes differ from re-validation (tx {tx})")]
    Codes {
        /// The block.
        number: u64,
        /// The first differing transaction.
        tx: usize,
    },
    /// The genesis block differs.
    #[error("block 0 differs from the given genesis block")]
    Genesis,
    /// The stored state differs from the state rebuilt from the blocks.
    #[error("world state differs from the state rebuilt from blocks 0..{height}: {detail}")]
    State {
        /// Ledger height.
        height: u64,
        /// First differing key.
        detail: String,
    },
}

/// A summary of a ledger that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Number of blocks.
    pub height: u64,
    /// Number of transactions.
    pub transactions: u64,
    /// Number of valid transactions.
    pub valid: u64,
    /// State entries.
    pub keys: usize,
}

/// The state as rebuilt during replay.
#[derive(Default)]
struct Replay {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    txids: HashSet<String>,
}

impl StateView for Replay {
    type Error = Infallible;
    fn version(&self, namespace: &str, key: &str) -> Result<Option<Version>, Infallible> {
        Ok(self
            .state
            .get(&keys::state_key(namespace, key))
            .and_then(|raw| keys::decode_state_value(raw))
            .map(|(v, _)| v))
    }
    fn tx_committed(&self, tx_id: &str) -> Result<bool, Infallible> {
        Ok(self.txids.contains(tx_id))
    }
}

/// Verifies `ledger` end to end against `genesis` and `rules`.
pub fn verify(
    ledger: &Ledger,
    genesis: &consort_proto::Block,
    rules: &ChannelRules,
) -> Result<Verified, VerifyError> {
    let height = ledger.height();
    let mut replay = Replay::default();
    let mut prev = [0u8; 32];
    let mut summary = Verified {
        height,
        transactions: 0,
        valid: 0,
        keys: 0,
    };
    for n in 0..height {
        let stored = ledger.block(n)?.ok_or(VerifyError::Missing(n))?;
        let b = stored.block.ok_or(VerifyError::Missing(n))?;
        if n == 0 {
            if &b != genesis {
                return Err(VerifyError::Genesis);
            }
            prev = block::block_hash(&b);
            continue;
        }
        let bad = |source| VerifyError::Block { number: n, source };
        block::check_link(&b, &rules.channel_id, n, &prev).map_err(bad)?;
        block::check_signature(&b, n, &rules.msp).map_err(bad)?;
        let checked = b
            .data
            .iter()
            .map(|d| validation::check_tx(rules, d))
            .collect();
        let result = match validation::validate_block(&replay, checked) {
            Ok(r) => r,
            Err(never) => match never {},
        };
        let stored_codes = &stored.validation_codes;
        for (i, code) in result.codes.iter().enumerate() {
            if stored_codes.get(i).copied() != Some(*code as i32) {
                return Err(VerifyError::Codes { number: n, tx: i });
            }
        }
        if stored_codes.len() != result.codes.len() {
            return Err(VerifyError::Codes {
                number: n,
                tx: result.codes.len(),
            });
        }
        summary.transactions += result.codes.len() as u64;
        summary.valid += result
            .codes
            .iter()
            .filter(|c| **c == TxValidationCode::Valid)
            .count() as u64;
        for w in result.writes {
            let k = keys::state_key(&w.namespace, &w.key);
            match w.value {
                Some(v) => {
                    let version = Version {
                        block_num: n,
                        tx_num: w.tx_num,
                    };
                    replay
                        .state
                        .insert(k, keys::encode_state_value(&version, &v));
                }
                None => {
                    replay.state.remove(&k);
                }
            }
        }
        for (id, _, _) in result.txs {
            replay.txids.insert(id);
        }
        prev = block::block_hash(&b);
    }
    let stored: Vec<(Vec<u8>, Vec<u8>)> = ledger.raw_state()?;
    let rebuilt: Vec<(Vec<u8>, Vec<u8>)> = replay.state.into_iter().collect();
    if stored != rebuilt {
        let detail = stored
            .iter()
            .zip(&rebuilt)
            .find(|(a, b)| a != b)
            .map(|(a, _)| String::from_utf8_lossy(&a.0).replace('\0', "/"))
            .unwrap_or_else(|| format!("{} stored keys, {} rebuilt", stored.len(), rebuilt.len()));
        return Err(VerifyError::State { height, detail });
    }
    summary.keys = stored.len();
    Ok(summary)
}
