//! gRPC over mutual TLS: the listener every node serves on, the dialer it
//! uses to reach other nodes.
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

use crate::identity::{tls, SigningIdentity};
use preface::{read_preface, Prefaced};
use stats::{Gauge, Slot};
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use summary::{Summary, SummaryGate};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::Router;
use tonic::transport::{Channel, Endpoint};
use tonic::Status;

/// A transport failure.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The endpoint is not a valid `host:port`.
    #[error("invalid endpoint '{0}': expected host:port")]
    BadEndpoint(String),
    /// Connecting (TCP or TLS handshake) failed.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why, as tonic reports it.
        reason: String,
    },
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
) -> Result<(), TransportError> {
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
) -> Result<(), TransportError> {
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
    result.map_err(TransportError::Serve)
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

/// The TLS server name of an endpoint: its host part.
pub fn host_of(endpoint: &str) -> Result<&str, TransportError> {
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| TransportError::BadEndpoint(endpoint.to_string()))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(TransportError::BadEndpoint(endpoint.to_string()));
    }
    Ok(host.trim_start_matches('[').trim_end_matches(']'))
}

/// Dials other nodes over mutual TLS and keeps one channel per endpoint.
pub struct Dialer {
    identity: Arc<SigningIdentity>,
    ca_certs: Vec<Vec<u8>>,
    channels: Mutex<HashMap<String, Channel>>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("identity", &self.identity)
            .finish()
    }
}

impl Dialer {
    /// A dialer presenting `identity` and trusting `ca_certs` (DER).
    pub fn new(identity: Arc<SigningIdentity>, ca_certs: Vec<Vec<u8>>) -> Self {
        Dialer {
            identity,
            ca_certs,
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// The identity this dialer presents.
    pub fn identity(&self) -> &Arc<SigningIdentity> {
        &self.identity
    }

    fn endpoint(
        &self,
        endpoint: &str,
        server_name: Option<&str>,
    ) -> Result<Endpoint, TransportError> {
        let host = match server_name {
            Some(n) => n,
            None => host_of(endpoint)?,
        };
        let tls = tls::client_config(&self.identity, &self.ca_certs, host);
        Endpoint::from_shared(format!("https://{endpoint}"))
            .map_err(|_| TransportError::BadEndpoint(endpoint.to_string()))?
            .tls_config(tls)
            .map_err(|e| TransportError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })
            .map(|e| {
                e.connect_timeout(Duration::from_secs(3))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .keep_alive_while_idle(true)
            })
    }

    /// A lazily connected channel to `endpoint`, shared by all callers;
    /// it reconnects by itself after failures.
    pub fn channel(&self, endpoint: &str) -> Result<Channel, TransportError> {
        if let Ok(map) = self.channels.lock() {
            if let Some(ch) = map.get(endpoint) {
                return Ok(ch.clone());
            }
        }
        let ch = self.endpoint(endpoint, None)?.connect_lazy();
        if let Ok(mut map) = self.channels.lock() {
            map.insert(endpoint.to_string(), ch.clone());
        }
        Ok(ch)
    }

    /// Connects now, so that a refused handshake or an unreachable node is
    /// reported at once (what the CLI wants).
    pub async fn connect(
        &self,
        endpoint: &str,
        server_name: Option<&str>,
    ) -> Result<Channel, TransportError> {
        self.endpoint(endpoint, server_name)?
            .connect()
            .await
            .map_err(|e| TransportError::Connect {
                endpoint: endpoint.to_string(),
                reason: describe_connect_error(&e),
            })
    }
}

/// Flattens a tonic connect error's source chain into one line.
pub fn describe_connect_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.contains(&t) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}

/// Whether a call failed before reaching the server (connection refused,
/// name not resolved): retrying it elsewhere cannot duplicate it.
pub fn is_connect_failure(s: &Status) -> bool {
    s.code() == tonic::Code::Unavailable
        && (s.message().contains("connect") || s.message().contains("dns error"))
}
