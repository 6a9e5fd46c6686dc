//! gRPC over mutual TLS: the listener every node serves on. The dialing
//! side (`Dialer`, `host_of`, `TransportError`, …) comes from the client
//! library and is re-exported here.

pub use consort_client::transport::{
    describe_connect_error, host_of, is_connect_failure, Dialer, TransportError,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// The gRPC server failed.
#[derive(Debug, thiserror::Error)]
#[error("gRPC server failed: {0}")]
pub struct ServeError(#[from] pub tonic::transport::Error);

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `router` on `listener`, accepting only connections that complete
/// a mutual TLS handshake under `tls`, until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    router: tonic::transport::server::Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let acceptor = TlsAcceptor::from(tls);
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let accept_loop = async move {
        loop {
            tokio::select! {
                _ = tx.closed() => break,
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    let acceptor = acceptor.clone();
                    let tx = tx.clone();
                    tokio::spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let _ = tx.send(Ok::<_, std::io::Error>(stream)).await;
                            }
                            Ok(Err(e)) => tracing::info!(%peer, error = %e, "TLS handshake refused"),
                            Err(_) => tracing::info!(%peer, "TLS handshake timed out"),
                        }
                    });
                }
            }
        }
    };
    let accept_task = tokio::spawn(accept_loop);
    let result = router
        .serve_with_incoming_shutdown(tokio_stream::wrappers::ReceiverStream::new(rx), shutdown)
        .await;
    accept_task.abort();
    let _ = accept_task.await;
    result.map_err(ServeError)
}
