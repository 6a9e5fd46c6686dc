//! The deliver client: streams blocks from an orderer into the committer.
//!
//! Failures fall in two kinds ([`DeliverError::is_fatal`]): an orderer's
//! stream that breaks or sends a block that does not verify is retried on
//! the next orderer with backoff; a ledger that cannot be written (disk
//! full, corruption, a commit that panicked) stops delivery for good and
//! [`run`] returns it, so that the node stops with a message saying what to
//! do, instead of switching orderers forever.

use super::committer::{CommitError, Committer, PreChecked};
use crate::transport::Dialer;
use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
use consort_proto::{Block, DeliverRequest};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// Where the blocks come from and where they go besides the ledger.
#[derive(Debug, Clone)]
pub struct Source {
    /// The ordering service's endpoints.
    pub orderers: Vec<String>,
    /// Which one to try first (the own org's).
    pub first: usize,
    /// Largest block, bytes.
    pub max_block_bytes: usize,
    /// Blocks committed from an orderer are handed here to be gossiped.
    pub publish: Option<mpsc::Sender<Block>>,
    /// The link's state, for the health check.
    pub link: Arc<OrdererLink>,
}

/// Pulls blocks while `pulling` is true (this peer is its org's puller),
/// until `shutdown` turns true (`Ok`) or the ledger fails (`Err`, fatal).
pub async fn run_while(
    committer: Arc<Committer>,
    dialer: Arc<Dialer>,
    source: Source,
    mut pulling: watch::Receiver<bool>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), DeliverError> {
    // Once the election's sender is gone, its last word stands.
    let mut elected_open = true;
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        if !*pulling.borrow_and_update() {
            source.link.by_gossip();
            tokio::select! {
                r = pulling.changed(), if elected_open => if r.is_err() { elected_open = false },
                _ = shutdown.changed() => return Ok(()),
            }
            if !elected_open && !*pulling.borrow() {
                // Never pulling again: wait for the end.
                let _ = shutdown.changed().await;
                return Ok(());
            }
            continue;
        }
        tracing::info!("pulling blocks from the ordering service");
        source.link.down();
        // Stop this term when the election or shutdown says so.
        let (stop_tx, stop_rx) = watch::channel(false);
        let term = run(committer.clone(), dialer.clone(), source.clone(), stop_rx);
        tokio::pin!(term);
        loop {
            tokio::select! {
                r = &mut term => { r?; break; }
                r = pulling.changed(), if elected_open => {
                    if r.is_err() {
                        elected_open = false;
                    } else if !*pulling.borrow() {
                        let _ = stop_tx.send(true);
                    }
                }
                _ = shutdown.changed() => { let _ = stop_tx.send(true); }
            }
        }
        if !*pulling.borrow() {
            tracing::info!(
                "no longer pulling blocks from the ordering service: another peer of this org does"
            );
        }
    }
}

/// Whether the deliver task has a stream open to an orderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkState {
    /// Streaming from this orderer.
    Connected(String),
    /// Not pulling: another peer of this org does, and blocks arrive by
    /// gossip.
    ByGossip,
    /// No stream since this instant.
    Down {
        /// When the last stream ended (or the task started).
        since: Instant,
    },
}

/// The deliver task's link to the ordering service, as the health check
/// sees it. A std mutex: held only to copy or replace the state.
#[derive(Debug)]
pub struct OrdererLink(Mutex<LinkState>);

impl Default for OrdererLink {
    fn default() -> Self {
        OrdererLink(Mutex::new(LinkState::Down {
            since: Instant::now(),
        }))
    }
}

impl OrdererLink {
    /// The current state.
    pub fn state(&self) -> LinkState {
        match self.0.lock() {
            Ok(s) => s.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, state: LinkState) {
        match self.0.lock() {
            Ok(mut s) => *s = state,
            Err(poisoned) => *poisoned.into_inner() = state,
        }
    }

    fn connected(&self, endpoint: &str) {
        self.set(LinkState::Connected(endpoint.to_owned()));
    }

    fn by_gossip(&self) {
        self.set(LinkState::ByGossip);
    }

    fn down(&self) {
        if matches!(self.state(), LinkState::Connected(_) | LinkState::ByGossip) {
            self.set(LinkState::Down {
                since: Instant::now(),
            });
        }
    }
}

/// Pulls blocks until `shutdown` turns true (`Ok`) or the ledger fails
/// (`Err`, fatal). A block larger than `max_block_bytes` is refused while
/// it is decoded. `link` follows whether a stream is open.
pub async fn run(
    committer: Arc<Committer>,
    dialer: Arc<Dialer>,
    source: Source,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), DeliverError> {
    let Source {
        orderers,
        first,
        max_block_bytes,
        publish,
        link,
    } = source;
    if orderers.is_empty() {
        tracing::error!("no orderers in the channel config; not receiving blocks");
        return Ok(());
    }
    let mut i = first;
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return Ok(());
        }
        let endpoint = &orderers[i % orderers.len()];
        let before = committer.ledger().height();
        tokio::select! {
            r = stream_from(&committer, &dialer, endpoint, max_block_bytes, publish.as_ref(), &link) => {
                link.down();
                match r {
                    Ok(()) => tracing::info!(orderer = %endpoint, "deliver stream ended"),
                    Err(e) if e.is_fatal() => return Err(e),
                    Err(e) => tracing::warn!(orderer = %endpoint, error = %e, "deliver stream failed; switching orderer"),
                }
            }
            _ = shutdown.changed() => return Ok(()),
        }
        if committer.ledger().height() > before {
            backoff = Duration::from_millis(100);
        } else {
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        i += 1;
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Why a deliver stream ended.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    /// The orderer could not be dialed. Retried on the next orderer.
    #[error(transparent)]
    Dial(#[from] crate::transport::TransportError),
    /// The stream failed or the orderer refused it. Retried on the next
    /// orderer.
    #[error("deliver stream: {0}")]
    Stream(#[source] tonic::Status),
    /// The orderer sent a block that does not verify or does not extend the
    /// chain. Retried on the next orderer.
    #[error("block refused: {0}")]
    Block(#[source] CommitError),
    /// The ledger could not be written: fatal.
    #[error(
        "the ledger could not commit a block: {0}. The node stops: free disk space or \
         restore the data directory (or remove it to rebuild the ledger from the ordering \
         service), then start it again"
    )]
    Ledger(#[source] CommitError),
    /// The commit task panicked: fatal (the ledger's one writer is gone).
    #[error("the commit task failed: {0}. The node stops; start it again (the ledger is intact: a block is written in one batch)")]
    CommitTask(#[source] tokio::task::JoinError),
}

impl DeliverError {
    /// Whether delivery must stop: the failure is this node's, and another
    /// orderer would not help.
    pub fn is_fatal(&self) -> bool {
        matches!(self, DeliverError::Ledger(_) | DeliverError::CommitTask(_))
    }
}

impl From<CommitError> for DeliverError {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Ledger(_) | CommitError::GenesisMismatch => DeliverError::Ledger(e),
            CommitError::Block(_) => DeliverError::Block(e),
        }
    }
}

async fn stream_from(
    committer: &Arc<Committer>,
    dialer: &Dialer,
    endpoint: &str,
    max_block_bytes: usize,
    publish: Option<&mpsc::Sender<Block>>,
    link: &OrdererLink,
) -> Result<(), DeliverError> {
    let ch = dialer.channel(endpoint)?;
    let mut client = AtomicBroadcastClient::new(ch).max_decoding_message_size(max_block_bytes);
    let start = committer.ledger().height();
    let mut stream = client
        .deliver(DeliverRequest { start })
        .await
        .map_err(DeliverError::Stream)?
        .into_inner();
    link.connected(endpoint);
    // A two-stage pipeline: phase 1 of block N+1 runs on blocking threads
    // while block N commits; block N+1 commits once block N has.
    let mut committing: Option<Committing> = None;
    let ended = loop {
        let block = match stream.message().await {
            Ok(Some(block)) => block,
            Ok(None) => break Ok(()),
            Err(e) => break Err(DeliverError::Stream(e)),
        };
        let c = committer.clone();
        let copy = publish.map(|tx| (tx.clone(), block.clone()));
        let checking = tokio::task::spawn_blocking(move || c.pre_check(block));
        if let Some(previous) = committing.take() {
            previous.finish().await?;
        }
        let pre = checking.await.map_err(DeliverError::CommitTask)?;
        committing = Some(Committing::start(committer.clone(), pre, copy));
    };
    // The block in flight is committed (or its failure reported) before the
    // stream's end or failure is: a ledger failure outranks a stream's.
    if let Some(last) = committing {
        last.finish().await?;
    }
    ended
}

/// A block being committed on a blocking thread.
struct Committing {
    task:
        tokio::task::JoinHandle<Result<Option<Vec<consort_proto::TxValidationCode>>, CommitError>>,
}

impl Committing {
    /// Commits `pre` on a blocking thread and, as soon as it is committed,
    /// hands a copy to gossip: the other peers get it without waiting for
    /// the next block (a block another peer gave us first is already
    /// spreading, and is not handed again).
    fn start(
        committer: Arc<Committer>,
        pre: PreChecked,
        publish: Option<(mpsc::Sender<Block>, Block)>,
    ) -> Self {
        let task = tokio::task::spawn_blocking(move || {
            let committed = committer.commit_checked_next(pre);
            if let (Ok(Some(_)), Some((tx, b))) = (&committed, publish) {
                let _ = tx.try_send(b);
            }
            committed
        });
        Committing { task }
    }

    /// Waits for the commit.
    async fn finish(self) -> Result<(), DeliverError> {
        self.task.await.map_err(DeliverError::CommitTask)??;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::LedgerError;

    #[test]
    fn a_ledger_failure_is_fatal_and_a_bad_block_or_stream_is_not() {
        let ledger = DeliverError::from(CommitError::Ledger(LedgerError::Corrupt {
            cf: "meta",
            detail: "disk full".into(),
        }));
        assert!(ledger.is_fatal());
        let m = ledger.to_string();
        assert!(
            m.contains("disk full") && m.contains("The node stops"),
            "{m}"
        );
        assert!(DeliverError::from(CommitError::GenesisMismatch).is_fatal());
        assert!(!DeliverError::Stream(tonic::Status::unavailable("gone")).is_fatal());
        let bad = DeliverError::from(CommitError::Block(
            crate::block::BlockError::DataHashMismatch(3),
        ));
        assert!(!bad.is_fatal());
    }
}
