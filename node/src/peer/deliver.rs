//! The deliver client: streams blocks from an orderer into the committer,
//! switching to the next orderer when its stream fails.

use super::committer::{CommitError, Committer};
use crate::transport::Dialer;
use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
use consort_proto::DeliverRequest;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Pulls blocks until `shutdown` turns true. A block larger than
/// `max_block_bytes` is refused while it is decoded.
pub async fn run(
    committer: Arc<Committer>,
    dialer: Arc<Dialer>,
    orderers: Vec<String>,
    first: usize,
    max_block_bytes: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    if orderers.is_empty() {
        tracing::error!("no orderers in the channel config; not receiving blocks");
        return;
    }
    let mut i = first;
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let endpoint = &orderers[i % orderers.len()];
        let before = committer.ledger().height();
        tokio::select! {
            r = stream_from(&committer, &dialer, endpoint, max_block_bytes) => {
                match r {
                    Ok(()) => tracing::info!(orderer = %endpoint, "deliver stream ended"),
                    Err(e) => tracing::warn!(orderer = %endpoint, error = %e, "deliver stream failed; switching orderer"),
                }
            }
            _ = shutdown.changed() => return,
        }
        if committer.ledger().height() > before {
            backoff = Duration::from_millis(100);
        } else {
            backoff = (backoff * 2).min(Duration::from_secs(2));
        }
        i += 1;
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum DeliverError {
    #[error("{0}")]
    Transport(String),
    #[error(transparent)]
    Commit(#[from] CommitError),
}

async fn stream_from(
    committer: &Arc<Committer>,
    dialer: &Dialer,
    endpoint: &str,
    max_block_bytes: usize,
) -> Result<(), DeliverError> {
    let ch = dialer
        .channel(endpoint)
        .map_err(|e| DeliverError::Transport(e.to_string()))?;
    let mut client = AtomicBroadcastClient::new(ch).max_decoding_message_size(max_block_bytes);
    let start = committer.ledger().height();
    let mut stream = client
        .deliver(DeliverRequest { start })
        .await
        .map_err(|s| DeliverError::Transport(s.to_string()))?
        .into_inner();
    while let Some(item) = stream
        .message()
        .await
        .map_err(|s| DeliverError::Transport(s.to_string()))
        .transpose()
    {
        let block = item?;
        let c = committer.clone();
        tokio::task::spawn_blocking(move || c.commit(block))
            .await
            .map_err(|e| DeliverError::Transport(format!("commit task failed: {e}")))??;
    }
    Ok(())
}
