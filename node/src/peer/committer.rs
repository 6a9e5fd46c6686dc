//! The committer: checks each block against the chain and the orderers'
//! signatures, validates its transactions and writes the result to the
//! ledger in one batch. It is the ledger's only writer.

use crate::block::{self, BlockError};
use crate::ledger::{BlockUpdate, Ledger, LedgerError};
use crate::validation::{self, ChannelRules};
use consort_proto::{Block, CommittedBlock, TxValidationCode as Code};
use std::sync::Arc;
use tokio::sync::watch;

/// Why a block was not committed.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// The block does not verify (chain, data hash, signature).
    #[error(transparent)]
    Block(#[from] BlockError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The local genesis block differs from the ledger's block 0.
    #[error("the ledger's genesis block differs from the configured genesis block")]
    GenesisMismatch,
}

/// Commits blocks to one ledger.
pub struct Committer {
    ledger: Arc<Ledger>,
    rules: ChannelRules,
    height: watch::Sender<u64>,
}

impl std::fmt::Debug for Committer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committer")
            .field("height", &self.ledger.height())
            .finish()
    }
}

/// Transactions per thread above which phase 1 runs on two threads.
const PARALLEL_THRESHOLD: usize = 32;

impl Committer {
    /// A committer for `ledger`; commits the genesis block if the ledger is new.
    pub fn new(
        ledger: Arc<Ledger>,
        rules: ChannelRules,
        genesis: &Block,
    ) -> Result<Self, CommitError> {
        if ledger.height() == 0 {
            let update = BlockUpdate {
                block: CommittedBlock {
                    block: Some(genesis.clone()),
                    validation_codes: vec![],
                },
                number: 0,
                hash: block::block_hash(genesis),
                timestamp_ms: 0,
                writes: vec![],
                txs: vec![],
            };
            ledger.commit(&update)?;
        } else {
            let stored = ledger.block(0)?.and_then(|b| b.block);
            if stored.as_ref() != Some(genesis) {
                return Err(CommitError::GenesisMismatch);
            }
        }
        let (height, _) = watch::channel(ledger.height());
        Ok(Committer {
            ledger,
            rules,
            height,
        })
    }

    /// Watches the ledger height.
    pub fn height_watch(&self) -> watch::Receiver<u64> {
        self.height.subscribe()
    }

    /// The ledger.
    pub fn ledger(&self) -> &Arc<Ledger> {
        &self.ledger
    }

    /// Verifies, validates and commits the next block. Blocking (CPU and a
    /// synced RocksDB write): call from a blocking thread.
    #[tracing::instrument(skip_all, fields(block))]
    pub fn commit(&self, b: Block) -> Result<Vec<Code>, CommitError> {
        let height = self.ledger.height();
        let prev = self.ledger.last_hash()?.unwrap_or([0; 32]);
        let header = block::check_link(&b, &self.rules.channel_id, height, &prev)?;
        tracing::Span::current().record("block", header.number);
        block::check_signature(&b, header.number, &self.rules.msp)?;
        let checked = self.check_all(&b.data);
        let result = validation::validate_block(self.ledger.as_ref(), checked)?;
        let codes = result.codes.clone();
        let update = BlockUpdate {
            hash: block::block_hash(&b),
            number: header.number,
            timestamp_ms: header.timestamp_ms,
            block: CommittedBlock {
                block: Some(b),
                validation_codes: codes.iter().map(|c| *c as i32).collect(),
            },
            writes: result.writes,
            txs: result.txs,
        };
        self.ledger.commit(&update)?;
        self.height.send_replace(header.number + 1);
        let valid = codes.iter().filter(|c| **c == Code::Valid).count();
        tracing::info!(
            block = header.number,
            txs = codes.len(),
            valid,
            "committed block"
        );
        Ok(codes)
    }

    fn check_all(
        &self,
        data: &[Vec<u8>],
    ) -> Vec<Result<validation::CheckedTx, validation::Rejected>> {
        if data.len() < PARALLEL_THRESHOLD {
            return data
                .iter()
                .map(|d| validation::check_tx(&self.rules, d))
                .collect();
        }
        let mid = data.len() / 2;
        let (a, b) = data.split_at(mid);
        std::thread::scope(|s| {
            let left = s.spawn(|| {
                a.iter()
                    .map(|d| validation::check_tx(&self.rules, d))
                    .collect::<Vec<_>>()
            });
            let mut right: Vec<_> = b
                .iter()
                .map(|d| validation::check_tx(&self.rules, d))
                .collect();
            let mut out = left.join().unwrap_or_else(|_| {
                // A panic in phase 1 is a bug; re-run sequentially rather than lose the block.
                a.iter()
                    .map(|d| validation::check_tx(&self.rules, d))
                    .collect()
            });
            out.append(&mut right);
            out
        })
    }
}
