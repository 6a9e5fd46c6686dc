//! gRPC over mutual TLS: the listener every node serves on. The dialing
//! side (`Dialer`, `host_of`, `TransportError`, …) comes from the client
//! library and is re-exported here.
//!
//! The listener admits a connection only while it is under its caps
//! ([`ServeLimits`]), then gives it a bounded time for the TLS handshake and
//! for the HTTP/2 client preface before gRPC sees it. What it drops is
//! counted in [`TransportStats`] and summarised in the log at most once per
//! interval.

mod limits;
mod preface;
mod stats;
mod summary;
#[cfg(test)]
mod tests;

pub use limits::{LimitsError, ServeLimits};
pub use stats::{Refusal, RefusalCounts, TransportStats};

pub use consort_client::transport::{describe_connect_error, host_of, Dialer, TransportError};

use preface::{read_preface, Prefaced};
use stats::{Gauge, Slot};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use summary::{Summary, SummaryGate};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Router;

/// Why the listener stopped or could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Serving failed.
    #[error("gRPC server failed: {0}")]
    Serve(#[from] tonic::transport::Error),
    /// The listener's limits are unusable; nothing was served.
    #[error(transparent)]
    Limits(#[from] LimitsError),
}

/// Serves `router` on `listener` under the default [`ServeLimits`],
/// accepting only connections that complete a mutual TLS handshake under
/// `tls`, until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let stats = Arc::new(TransportStats::default());
    serve_with_limits(
        listener,
        tls,
        router,
        shutdown,
        ServeLimits::default(),
        stats,
    )
    .await
}

/// Serves `router` on `listener` until `shutdown` resolves, handing gRPC
/// only connections that complete a mutual TLS handshake under `tls` and
/// then send the HTTP/2 client preface, each within `limits`, and no more
/// connections than `limits` allow. Every connection dropped on the way is
/// counted in `stats` and logged at `debug`; a summary of the counts is
/// logged at most once per `limits.summary_interval` (`warn` when the caps
/// turned connections away, `info` otherwise), and once more on shutdown.
pub async fn serve_with_limits(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: ServeLimits,
    stats: Arc<TransportStats>,
) -> Result<(), ServeError> {
    let limits = limits.validate()?;
    let (tx, rx) = mpsc::channel(64);
    let accept_task = tokio::spawn(accept_loop(
        listener,
        TlsAcceptor::from(tls),
        limits,
        stats,
        tx,
    ));
    let result = router
        .serve_with_incoming_shutdown(ReceiverStream::new(rx), shutdown)
        .await;
    // tonic has dropped the receiver by now, which ends the accept loop.
    let _ = accept_task.await;
    result.map_err(ServeError::Serve)
}

/// A connection as gRPC gets it: TLS done, preface read (and given back),
/// holding its place under `max_connections`.
type Connection = Prefaced<TlsStream<TcpStream>, Slot>;

/// Accepts connections until gRPC stops taking them. Each admitted
/// connection gets its own task for the handshake and the preface; those
/// tasks live in a `JoinSet`, so none outlives the loop.
async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    limits: ServeLimits,
    stats: Arc<TransportStats>,
    tx: mpsc::Sender<std::io::Result<Connection>>,
) {
    let open_cap = Arc::new(Semaphore::new(limits.max_connections));
    let pending_cap = Arc::new(Semaphore::new(limits.max_pending_handshakes));
    let mut handshakes = JoinSet::new();
    let start = tokio::time::Instant::now();
    let mut gate = SummaryGate::new(start.into_std(), limits.summary_interval);
    let mut ticks =
        tokio::time::interval_at(start + limits.summary_interval, limits.summary_interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tx.closed() => break,
            Some(_) = handshakes.join_next(), if !handshakes.is_empty() => {}
            at = ticks.tick() => {
                if let Some(line) = gate.poll(at.into_std(), stats.refusals()) {
                    log_summary(&line, &stats);
                }
            }
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        stats.record(Refusal::AcceptError);
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                        continue;
                    }
                };
                // Both places are taken at once or the connection is closed
                // here (dropping `tcp`): no waiting, no task for it.
                let Some(open) = Slot::try_take(&open_cap, &stats, Gauge::Open) else {
                    stats.record(Refusal::ConnectionCap);
                    tracing::debug!(%peer, "connection refused: too many open connections");
                    continue;
                };
                let Some(pending) = Slot::try_take(&pending_cap, &stats, Gauge::Pending) else {
                    stats.record(Refusal::HandshakeCap);
                    tracing::debug!(%peer, "connection refused: too many pending handshakes");
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                handshakes.spawn(establish(
                    tcp,
                    peer,
                    acceptor.clone(),
                    limits,
                    stats.clone(),
                    (open, pending),
                    tx.clone(),
                ));
            }
        }
    }
    drop(handshakes);
    if let Some(line) = gate.flush(std::time::Instant::now(), stats.refusals()) {
        log_summary(&line, &stats);
    }
}

/// How long the listener pauses after a failed `accept` (e.g. out of file
/// descriptors) before trying again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// One connection's TLS handshake and preface, each under its timeout; a
/// connection that passes both goes to gRPC, keeping its `open` place and
/// giving back its `pending` one.
async fn establish(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    limits: ServeLimits,
    stats: Arc<TransportStats>,
    (open, pending): (Slot, Slot),
    tx: mpsc::Sender<std::io::Result<Connection>>,
) {
    let mut stream =
        match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                let reason = handshake_refusal(&e);
                stats.record(reason);
                tracing::debug!(%peer, error = %e, ?reason, "TLS handshake refused");
                return;
            }
            Err(_) => {
                stats.record(Refusal::HandshakeTimeout);
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
    match tokio::time::timeout(limits.preface_timeout, read_preface(&mut stream)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            stats.record(Refusal::PrefaceInvalid);
            tracing::debug!(%peer, error = %e, "no HTTP/2 preface; connection dropped");
            return;
        }
        Err(_) => {
            stats.record(Refusal::PrefaceTimeout);
            tracing::debug!(%peer, "HTTP/2 preface timed out; connection dropped");
            return;
        }
    }
    drop(pending);
    stats.served();
    let _ = tx.send(Ok(Prefaced::new(stream, open))).await;
}

/// Which refusal a failed TLS handshake is: the client's certificate (none,
/// or refused by the member verifier) or anything else.
fn handshake_refusal(e: &std::io::Error) -> Refusal {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented) => {
            Refusal::Certificate
        }
        _ => Refusal::Handshake,
    }
}

/// Logs one summary line: `warn` when the node turned connections away for
/// lack of room, `info` otherwise.
fn log_summary(line: &Summary, stats: &TransportStats) {
    macro_rules! summary {
        ($level:expr) => {
            tracing::event!(
                $level,
                handshakes_refused = line.counts.handshakes_refused,
                certificates_refused = line.counts.certificates_refused,
                handshake_timeouts = line.counts.handshake_timeouts,
                preface_timeouts = line.counts.preface_timeouts,
                prefaces_invalid = line.counts.prefaces_invalid,
                over_connection_cap = line.counts.over_connection_cap,
                over_handshake_cap = line.counts.over_handshake_cap,
                accept_errors = line.counts.accept_errors,
                window_s = line.window.as_secs(),
                open_connections = stats.open_connections(),
                pending_handshakes = stats.pending_handshakes(),
                "connections refused since the last summary"
            )
        };
    }
    if line.counts.shows_exhaustion() {
        summary!(tracing::Level::WARN);
    } else {
        summary!(tracing::Level::INFO);
    }
}
