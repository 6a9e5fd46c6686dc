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
use std::collections::VecDeque;
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
    /// When the ordering service accepted it (for the block fill time).
    pub received: Instant,
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
    /// Cut whatever is pending as soon as the cutter is idle.
    pub cut_when_idle: bool,
}

impl From<&BatchConfig> for BatchLimits {
    fn from(c: &BatchConfig) -> Self {
        BatchLimits {
            max_count: (c.max_tx_count as usize).max(1),
            max_bytes: (c.max_bytes as usize).max(1),
            timeout: Duration::from_millis(c.timeout_ms.max(1)),
            cut_when_idle: c.cut_when_idle,
        }
    }
}

/// Whether a batch with `count` items and `bytes` bytes can take one more
/// of `next` bytes.
pub fn fits(limits: &BatchLimits, count: usize, bytes: usize, next: usize) -> bool {
    count == 0 || (count < limits.max_count && bytes.saturating_add(next) <= limits.max_bytes)
}

/// Batching, with time passed in: items join the open batch while they
/// fit ([`fits`]); a batch is cut when it is full, when the next item does
/// not fit (that item opens the next batch), or at its deadline, `timeout`
/// after its first item arrived. Pure: [`next_batch`] drives it from a
/// channel and the clock.
#[derive(Debug)]
pub struct Batcher<T> {
    limits: BatchLimits,
    open: Vec<T>,
    bytes: usize,
    deadline: Option<Instant>,
    ready: VecDeque<Vec<T>>,
}

impl<T> Batcher<T> {
    /// An empty batcher.
    pub fn new(limits: BatchLimits) -> Self {
        Batcher {
            limits,
            open: Vec::new(),
            bytes: 0,
            deadline: None,
            ready: VecDeque::new(),
        }
    }

    /// Adds an item of `size` bytes that arrived at `now`.
    pub fn push(&mut self, item: T, size: usize, now: Instant) {
        if !fits(&self.limits, self.open.len(), self.bytes, size) {
            self.cut();
        }
        if self.open.is_empty() {
            self.deadline = Some(now + self.limits.timeout);
        }
        self.open.push(item);
        self.bytes = self.bytes.saturating_add(size);
        if self.open.len() >= self.limits.max_count {
            self.cut();
        }
    }

    /// When the open batch must be cut, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Cuts the open batch if its deadline has passed at `now`.
    pub fn tick(&mut self, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.cut();
        }
    }

    /// The oldest batch that was cut, if any.
    pub fn take_ready(&mut self) -> Option<Vec<T>> {
        self.ready.pop_front()
    }

    /// Whether an open batch has items.
    pub fn has_open(&self) -> bool {
        !self.open.is_empty()
    }

    /// Cuts whatever is open and returns the oldest batch: for when no more
    /// items will come.
    pub fn drain(&mut self) -> Option<Vec<T>> {
        self.cut();
        self.take_ready()
    }

    fn cut(&mut self) {
        if !self.open.is_empty() {
            self.ready.push_back(std::mem::take(&mut self.open));
        }
        self.bytes = 0;
        self.deadline = None;
    }
}

/// The next batch: waits for items on `rx` and for the open batch's
/// deadline. `None` once `rx` is closed and everything was handed out.
///
/// With `cut_when_idle` (the caller is idle while it waits here), the items
/// already queued are taken without waiting and the open batch is cut at
/// once: what arrived while the previous batch was being ordered makes the
/// next one.
pub async fn next_batch<T>(
    rx: &mut mpsc::Receiver<T>,
    batcher: &mut Batcher<T>,
    size: impl Fn(&T) -> usize,
) -> Option<Vec<T>> {
    loop {
        if let Some(batch) = batcher.take_ready() {
            return Some(batch);
        }
        if batcher.limits.cut_when_idle {
            loop {
                match rx.try_recv() {
                    Ok(item) => {
                        let n = size(&item);
                        batcher.push(item, n, Instant::now());
                    }
                    Err(mpsc::error::TryRecvError::Empty) => break,
                    Err(mpsc::error::TryRecvError::Disconnected) => return batcher.drain(),
                }
            }
            if batcher.has_open() {
                return batcher.drain();
            }
        }
        let deadline = batcher.deadline();
        tokio::select! {
            next = rx.recv() => match next {
                Some(item) => {
                    let n = size(&item);
                    batcher.push(item, n, Instant::now());
                }
                None => return batcher.drain(),
            },
            _ = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                batcher.tick(Instant::now());
            }
        }
    }
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

    /// Runs until every sender of `rx` is gone, ordering each batch the
    /// [`Batcher`] cuts.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Submission>) {
        let mut batcher = Batcher::new(self.limits);
        while let Some(batch) = next_batch(&mut rx, &mut batcher, |s| s.envelope.len()).await {
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
        if let Some(first) = batch.iter().map(|s| s.received).min() {
            crate::operations::metrics::block_filled(first.elapsed());
        }
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
            block::sign(&mut b, &self.signer).map_err(|e| OrderError::Sign(Arc::new(e)))?;
            let write = self.raft.client_write(RaftBlock(b.encode_to_vec()));
            match tokio::time::timeout(self.write_timeout, write).await {
                Err(_) => {
                    return Err(OrderError::NotCommittedInTime {
                        block: tip.height,
                        waited: self.write_timeout,
                    })
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
                    ApplyOutcome::NotABlock => return Err(OrderError::NotABlock),
                },
                Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
                    return Err(OrderError::LeaderChanged)
                }
                Ok(Err(e)) => return Err(OrderError::Raft(Arc::new(e))),
            }
        }
        Err(OrderError::ChainMoving)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_count: usize, max_bytes: usize, timeout_ms: u64) -> BatchLimits {
        BatchLimits {
            max_count,
            max_bytes,
            timeout: Duration::from_millis(timeout_ms),
            cut_when_idle: false,
        }
    }

    #[test]
    fn a_full_batch_is_cut_at_once_and_a_partial_one_at_its_deadline() {
        let t0 = Instant::now();
        let mut b = Batcher::new(limits(3, 1000, 100));
        b.push(1, 10, t0);
        b.push(2, 10, t0 + Duration::from_millis(10));
        assert_eq!(b.take_ready(), None);
        assert_eq!(b.deadline(), Some(t0 + Duration::from_millis(100)));
        b.push(3, 10, t0 + Duration::from_millis(20));
        assert_eq!(b.take_ready(), Some(vec![1, 2, 3]));
        assert_eq!(b.deadline(), None);

        b.push(4, 10, t0 + Duration::from_millis(50));
        b.tick(t0 + Duration::from_millis(149));
        assert_eq!(b.take_ready(), None, "not before the deadline");
        b.tick(t0 + Duration::from_millis(150));
        assert_eq!(b.take_ready(), Some(vec![4]));
    }

    #[test]
    fn an_item_that_does_not_fit_opens_the_next_batch_with_its_own_deadline() {
        let t0 = Instant::now();
        let mut b = Batcher::new(limits(10, 100, 100));
        b.push("a", 60, t0);
        b.push("b", 60, t0 + Duration::from_millis(30));
        assert_eq!(b.take_ready(), Some(vec!["a"]));
        assert_eq!(b.deadline(), Some(t0 + Duration::from_millis(130)));
        // An item larger than a block still goes, alone.
        b.push("huge", 500, t0 + Duration::from_millis(40));
        assert_eq!(b.take_ready(), Some(vec!["b"]));
        b.push("c", 1, t0 + Duration::from_millis(41));
        assert_eq!(b.take_ready(), Some(vec!["huge"]));
        assert_eq!(b.drain(), Some(vec!["c"]));
        assert_eq!(b.drain(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn when_idle_what_is_queued_is_cut_at_once_up_to_the_limits() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut b = Batcher::new(BatchLimits {
            cut_when_idle: true,
            ..limits(3, 1000, 10_000)
        });
        for i in 0..5 {
            tx.send(vec![i]).await.unwrap();
        }
        let t0 = Instant::now();
        // Queued while the previous block was ordered: no waiting for the
        // 10 s timeout, and each block within max_count.
        assert_eq!(
            next_batch(&mut rx, &mut b, Vec::len).await,
            Some(vec![vec![0], vec![1], vec![2]])
        );
        assert_eq!(
            next_batch(&mut rx, &mut b, Vec::len).await,
            Some(vec![vec![3], vec![4]])
        );
        assert_eq!(Instant::now(), t0);
        // Idle: the next arrival is cut on its own, at once.
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tx.send(vec![9]).await.unwrap();
        });
        assert_eq!(
            next_batch(&mut rx, &mut b, Vec::len).await,
            Some(vec![vec![9]])
        );
        assert_eq!(Instant::now(), t0 + Duration::from_millis(5));
        sender.await.unwrap();
        assert_eq!(next_batch(&mut rx, &mut b, Vec::len).await, None);
    }

    #[test]
    fn a_batch_of_one_is_cut_on_arrival() {
        let mut b = Batcher::new(limits(1, 100, 100));
        let t0 = Instant::now();
        b.push(1, 1, t0);
        b.push(2, 1, t0);
        assert_eq!(b.take_ready(), Some(vec![1]));
        assert_eq!(b.take_ready(), Some(vec![2]));
        assert_eq!(b.deadline(), None);
    }

    #[tokio::test(start_paused = true)]
    async fn next_batch_waits_for_the_deadline_on_the_clock() {
        let (tx, mut rx) = mpsc::channel(16);
        let mut b = Batcher::new(limits(3, 1000, 250));
        let started = Instant::now();
        tx.send(vec![0u8; 10]).await.unwrap();
        let batch = next_batch(&mut rx, &mut b, Vec::len).await.unwrap();
        assert_eq!(batch.len(), 1);
        assert_eq!(started.elapsed(), Duration::from_millis(250));

        // A full batch needs no waiting.
        let started = Instant::now();
        for _ in 0..3 {
            tx.send(vec![0u8; 10]).await.unwrap();
        }
        let batch = next_batch(&mut rx, &mut b, Vec::len).await.unwrap();
        assert_eq!(batch.len(), 3);
        assert_eq!(started.elapsed(), Duration::ZERO);

        // Closing the channel hands out what is open, then ends.
        tx.send(vec![1u8]).await.unwrap();
        drop(tx);
        assert_eq!(
            next_batch(&mut rx, &mut b, Vec::len).await,
            Some(vec![vec![1u8]])
        );
        assert_eq!(next_batch(&mut rx, &mut b, Vec::len).await, None);
    }

    #[test]
    fn batch_limits() {
        let l = BatchLimits {
            max_count: 3,
            max_bytes: 100,
            timeout: Duration::from_millis(10),
            cut_when_idle: false,
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
            cut_when_idle: false,
        })
            .into();
        assert_eq!(from.max_count, 1);
    }
}
