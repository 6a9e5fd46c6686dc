//! Running a chaincode as an external service (the `server` feature).
//!
//! Peers reach an external chaincode over gRPC with mutual TLS: a peer dials
//! the address of the chaincode's definition, presenting its own TLS
//! certificate, and opens one `ChaincodeService.Execute` stream per
//! invocation (`proto/consort/chaincode.proto`). The server runs
//! [`Chaincode::invoke`] on a blocking thread with a stub that forwards
//! every state call to the peer and waits for its answer, so the chaincode
//! reads and writes exactly as it would inside the peer.
//!
//! ```no_run
//! use chaincode_sdk::{samples::token::Token, serve, ServeConfig};
//!
//! # async fn run() -> Result<(), chaincode_sdk::ServeError> {
//! // CHAINCODE_LISTEN, CHAINCODE_TLS_CERT, CHAINCODE_TLS_KEY, CHAINCODE_CLIENT_CA_CERTS
//! let config = ServeConfig::from_env()?;
//! serve(Token, config).await
//! # }
//! ```

mod config;
mod remote;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use consort_proto::chaincode_service_server::{ChaincodeService, ChaincodeServiceServer};
use consort_proto::chaincode_to_peer::Message as Outbound;
use consort_proto::completed::Result as Outcome;
use consort_proto::peer_to_chaincode::Message as Inbound;
use consort_proto::{ChaincodeToPeer, Completed, PeerToChaincode};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig};
use tonic::{Request, Response, Status, Streaming};

pub use config::ServeConfig;
pub use config::{ENV_CLIENT_CA_CERTS, ENV_LISTEN, ENV_NAME, ENV_TLS_CERT, ENV_TLS_KEY};

use crate::wire::{self, Invocation};
use crate::Chaincode;
use remote::RemoteStub;

/// Why a chaincode server could not start or stopped. Each message holds
/// its causes, and the `Debug` form is the message, so a `main` returning
/// `Result<(), ServeError>` prints one readable line.
#[derive(thiserror::Error)]
pub enum ServeError {
    /// A required environment variable is not set.
    #[error("environment variable {0} is not set")]
    MissingEnv(&'static str),
    /// A certificate or key file could not be read.
    #[error("cannot read the {what} file {}: {cause}", path.display())]
    Read {
        /// Which file it is.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error (in the message, so not a separate source).
        cause: std::io::Error,
    },
    /// A field of the [`ServeConfig`] is unusable.
    #[error("invalid chaincode server config: {field}: {reason}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {cause}")]
    Bind {
        /// The address.
        address: String,
        /// The I/O error (in the message, so not a separate source).
        cause: std::io::Error,
    },
    /// The async runtime for [`serve_blocking`] could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The TLS configuration was refused or the server failed; the
    /// message holds the transport error's causes.
    #[error("chaincode server failed: {}", with_causes(.0))]
    Server(tonic::transport::Error),
}

impl From<tonic::transport::Error> for ServeError {
    fn from(error: tonic::transport::Error) -> Self {
        Self::Server(error)
    }
}

impl std::fmt::Debug for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&with_causes(self))
    }
}

/// `error`'s message followed by each cause the message does not already
/// hold, joined by `: `.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        let message = e.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        cause = e.source();
    }
    text
}

/// The one line a chaincode server prints (to standard output) once it
/// listens: `chaincode <name> listening on <address>`.
pub fn ready_line(name: &str, address: &str) -> String {
    format!("chaincode {name} listening on {address}")
}

/// How long a peer's TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest message either side accepts (query results can be large); the
/// peer uses the same limit.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Serves `chaincode` on `config.listen` until the process ends. Once it
/// listens it prints one line to standard output, [`ready_line`]:
/// `chaincode <name> listening on <address>`.
pub async fn serve(chaincode: impl Chaincode, config: ServeConfig) -> Result<(), ServeError> {
    serve_with_shutdown(chaincode, config, std::future::pending()).await
}

/// Serves `chaincode` on `config.listen` until `shutdown` resolves.
pub async fn serve_with_shutdown(
    chaincode: impl Chaincode,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let config = config.validate()?;
    let listener = TcpListener::bind(&config.listen)
        .await
        .map_err(|cause| ServeError::Bind {
            address: config.listen.clone(),
            cause,
        })?;
    serve_on(chaincode, listener, &config, shutdown).await
}

/// Serves `chaincode` on an already bound `listener` (its address wins
/// over `config.listen`) until `shutdown` resolves; for tests that bind
/// port 0.
pub async fn serve_on(
    chaincode: impl Chaincode,
    listener: TcpListener,
    config: &ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let tls = ServerTlsConfig::new()
        .identity(Identity::from_pem(
            &config.tls_cert_pem,
            &config.tls_key_pem,
        ))
        .client_ca_root(Certificate::from_pem(&config.client_ca_pem))
        .timeout(HANDSHAKE_TIMEOUT);
    let address: Option<SocketAddr> = listener.local_addr().ok();
    let service = ExecuteService {
        chaincode: Arc::new(chaincode),
    };
    let router = Server::builder().tls_config(tls)?.add_service(
        ChaincodeServiceServer::new(service)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    );
    let shown = address.map_or_else(|| config.listen.clone(), |a| a.to_string());
    tracing::debug!(chaincode = %config.name, address = %shown, "chaincode server listening");
    println!("{}", ready_line(&config.name, &shown));
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    router
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

/// [`serve`] on a runtime of its own, for a `main` that is not async.
pub fn serve_blocking(chaincode: impl Chaincode, config: ServeConfig) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Runtime::new().map_err(ServeError::Runtime)?;
    runtime.block_on(serve(chaincode, config))
}

/// The `ChaincodeService` of one chaincode.
struct ExecuteService {
    chaincode: Arc<dyn Chaincode>,
}

/// What a panic carried, as text.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

/// Runs one invocation to its end on the current (blocking) thread and
/// sends its `Completed` message.
fn run_invocation(
    chaincode: Arc<dyn Chaincode>,
    invocation: Invocation,
    outbound: mpsc::Sender<Result<ChaincodeToPeer, Status>>,
    inbound: Streaming<PeerToChaincode>,
    runtime: tokio::runtime::Handle,
) {
    let tx_id = invocation.tx_id.clone();
    let mut stub = RemoteStub::new(invocation, outbound.clone(), inbound, runtime);
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| chaincode.invoke(&mut stub)));
    let outcome = match result {
        Ok(Ok(payload)) => Outcome::Payload(payload),
        Ok(Err(error)) => Outcome::Error(wire::error_to_proto(&error)),
        Err(panic) => {
            let message = panic_message(panic.as_ref());
            tracing::warn!(%tx_id, panic = %message, "chaincode panicked");
            Outcome::Panicked(message)
        }
    };
    let completed = ChaincodeToPeer {
        message: Some(Outbound::Completed(Completed {
            result: Some(outcome),
        })),
    };
    if outbound.blocking_send(Ok(completed)).is_err() {
        tracing::info!(%tx_id, "the peer left before the invocation completed");
    }
}

#[tonic::async_trait]
impl ChaincodeService for ExecuteService {
    type ExecuteStream = ReceiverStream<Result<ChaincodeToPeer, Status>>;

    async fn execute(
        &self,
        request: Request<Streaming<PeerToChaincode>>,
    ) -> Result<Response<Self::ExecuteStream>, Status> {
        let mut inbound = request.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the stream ended before the invoke"))?;
        let invocation = match first.message {
            Some(Inbound::Invoke(invoke)) => Invocation::from_proto(invoke)
                .map_err(|e| Status::invalid_argument(e.to_string()))?,
            _ => {
                return Err(Status::invalid_argument(
                    "protocol violation: the first message must be an invoke",
                ))
            }
        };
        tracing::debug!(tx_id = %invocation.tx_id, function = %invocation.function, "invoke");
        let (outbound, receiver) = mpsc::channel(4);
        let chaincode = self.chaincode.clone();
        let runtime = tokio::runtime::Handle::current();
        // The thread ends with the invocation: every stub call fails once
        // the peer's stream is gone, and the chaincode then returns.
        tokio::task::spawn_blocking(move || {
            run_invocation(chaincode, invocation, outbound, inbound, runtime)
        });
        Ok(Response::new(ReceiverStream::new(receiver)))
    }
}
