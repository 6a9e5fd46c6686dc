//! Commits blocks that arrive from other peers (gossip, catch-up) in
//! order: out-of-order blocks wait in a bounded buffer until the blocks
//! before them arrive.

use crate::peer::{Committer, DeliverError};
use consort_proto::Block;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Blocks ahead of the ledger kept while the ones before them are fetched.
pub const MAX_BUFFERED: u64 = 1024;

/// A block that passed the checks it can pass alone (header, channel, data
/// hash, an orderer's signature), with its number.
#[derive(Debug)]
pub struct Verified {
    /// Its number.
    pub number: u64,
    /// The block.
    pub block: Block,
}

/// Commits verified blocks from `rx` in order until `shutdown` or a fatal
/// ledger failure (returned).
pub async fn run(
    committer: Arc<Committer>,
    mut rx: mpsc::Receiver<Verified>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), DeliverError> {
    let mut pending: BTreeMap<u64, Block> = BTreeMap::new();
    loop {
        let v = tokio::select! {
            v = rx.recv() => match v { Some(v) => v, None => return Ok(()) },
            _ = shutdown.changed() => return Ok(()),
        };
        let height = committer.ledger().height();
        if v.number < height || v.number >= height + MAX_BUFFERED {
            tracing::debug!(block = v.number, height, "block from a peer dropped");
            continue;
        }
        pending.insert(v.number, v.block);
        // Drop what the ledger already has (committed from the orderers
        // meanwhile), then commit every block that is next.
        loop {
            let height = committer.ledger().height();
            pending = pending.split_off(&height);
            let Some(block) = pending.remove(&height) else {
                break;
            };
            let c = committer.clone();
            match tokio::task::spawn_blocking(move || c.commit_next(block))
                .await
                .map_err(DeliverError::CommitTask)?
            {
                Ok(_) => {}
                Err(e) => {
                    let e = DeliverError::from(e);
                    if e.is_fatal() {
                        return Err(e);
                    }
                    tracing::warn!(block = height, error = %e, "block from a peer refused");
                    break;
                }
            }
        }
    }
}
