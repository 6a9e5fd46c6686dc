//! The block cutter: the task on the Raft leader that batches submitted
//! transactions into blocks, signs them and proposes them to Raft. It owns
//! the pending queue; submitters talk to it over a channel and get their
//! answer on a oneshot once the block is committed (or could not be).

use super::store::ChainTip;
use super::types::{ApplyOutcome, Raft, RaftBlock};
use super::OrderError;
use crate::block;
use crate::identity::SigningIdentity;
use consort_proto::BatchConfig;
use openraft::error::{ClientWriteError, RaftError};
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

/// One transaction waiting to be ordered.
#[derive(Debug)]
pub struct Submission {
    /// The encoded envelope, exactly as the client signed it.
    pub envelope: Vec<u8>,
    /// Where the block number (or the failure) goes.
    pub reply: oneshot::Sender<Result<u64, OrderError>>,
}

/// Batch limits, validated.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Most transactions per block (at least 1).
    pub max_count: usize,
    /// Most bytes per block (a single larger transaction goes alone).
    pub max_bytes: usize,
    /// Longest wait after the first pending transaction.
    pub timeout: Duration,
}

impl From<&BatchConfig> for BatchLimits {
    fn from(c: &BatchConfig) -> Self {
        BatchLimits {
            max_count: (c.max_tx_count as usize).max(1),
            max_bytes: (c.max_bytes as usize).max(1),
            timeout: Duration::from_millis(c.timeout_ms.max(1)),
        }
    }
}

/// Whether a batch with `count` items and `bytes` bytes can take one more
/// of `next` bytes.
pub fn fits(limits: &BatchLimits, count: usize, bytes: usize, next: usize) -> bool {
    count == 0 || (count < limits.max_count && bytes.saturating_add(next) <= limits.max_bytes)
}

/// The cutter's state and collaborators.
pub struct Cutter {
    raft: Raft,
    signer: Arc<SigningIdentity>,
    channel_id: String,
    limits: BatchLimits,
    tip: watch::Receiver<ChainTip>,
    write_timeout: Duration,
}

/// How many times a block is re-cut when Raft applied another block first.
const MAX_RECUTS: usize = 5;

impl Cutter {
    /// A cutter proposing to `raft`.
    pub fn new(
        raft: Raft,
        signer: Arc<SigningIdentity>,
        channel_id: String,
        limits: BatchLimits,
        tip: watch::Receiver<ChainTip>,
        write_timeout: Duration,
    ) -> Self {
        Cutter {
            raft,
            signer,
            channel_id,
            limits,
            tip,
            write_timeout,
        }
    }

    /// Runs until every sender of `rx` is gone.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        let mut carry: Option<Submission> = None;
        loop {
            let first = match carry.take() {
                Some(s) => s,
                None => match rx.recv().await {
                    Some(s) => s,
                    None => return,
                },
            };
            let deadline = Instant::now() + self.limits.timeout;
            let mut bytes = first.envelope.len();
            let mut batch = vec![first];
            while batch.len() < self.limits.max_count {
                tokio::select! {
                    next = rx.recv() => match next {
                        None => break,
                        Some(s) => {
                            if fits(&self.limits, batch.len(), bytes, s.envelope.len()) {
                                bytes += s.envelope.len();
                                batch.push(s);
                            } else {
                                carry = Some(s);
                                break;
                            }
                        }
                    },
                    _ = tokio::time::sleep_until(deadline) => break,
                }
            }
            self.order(batch).await;
        }
    }

    fn now_ms() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }

    async fn order(&mut self, batch: Vec<Submission>) {
        let (envelopes, replies): (Vec<_>, Vec<_>) =
            batch.into_iter().map(|s| (s.envelope, s.reply)).unzip();
        let result = self.propose(envelopes).await;
        for reply in replies {
            let _ = reply.send(result.clone());
        }
    }

    async fn propose(&mut self, envelopes: Vec<Vec<u8>>) -> Result<u64, OrderError> {
        for _ in 0..MAX_RECUTS {
            let tip = *self.tip.borrow_and_update();
            let mut b = block::build(
                &self.channel_id,
                tip.height,
                &tip.last_hash,
                Self::now_ms(),
                envelopes.clone(),
            );
            block::sign(&mut b, &self.signer).map_err(|e| OrderError::Internal(e.to_string()))?;
            let write = self.raft.client_write(RaftBlock(b.encode_to_vec()));
            match tokio::time::timeout(self.write_timeout, write).await {
                Err(_) => {
                    return Err(OrderError::Unavailable(format!(
                        "block {} was not committed within {:?} (is a majority of orderers up?)",
                        tip.height, self.write_timeout
                    )))
                }
                Ok(Ok(resp)) => match resp.data {
                    ApplyOutcome::Accepted(n) => {
                        tracing::debug!(block = n, txs = envelopes.len(), "block committed");
                        return Ok(n);
                    }
                    ApplyOutcome::Rejected(reason) => {
                        tracing::info!(%reason, "block did not extend the chain; cutting again");
                        let _ =
                            tokio::time::timeout(Duration::from_millis(200), self.tip.changed())
                                .await;
                    }
                    ApplyOutcome::NotABlock => {
                        return Err(OrderError::Internal(
                            "Raft applied the block as a non-block entry".into(),
                        ))
                    }
                },
                Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
                    return Err(OrderError::LeaderChanged)
                }
                Ok(Err(e)) => return Err(OrderError::Unavailable(e.to_string())),
            }
        }
        Err(OrderError::Unavailable(
            "the chain kept moving under this leader; transaction not ordered".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_limits() {
        let l = BatchLimits {
            max_count: 3,
            max_bytes: 100,
            timeout: Duration::from_millis(10),
        };
        assert!(
            fits(&l, 0, 0, 1000),
            "an oversized transaction still goes, alone"
        );
        assert!(fits(&l, 1, 50, 50));
        assert!(!fits(&l, 1, 50, 51));
        assert!(!fits(&l, 3, 10, 1));
        let from: BatchLimits = (&BatchConfig {
            max_tx_count: 0,
            max_bytes: 0,
            timeout_ms: 0,
        })
            .into();
        assert_eq!(from.max_count, 1);
    }
}
