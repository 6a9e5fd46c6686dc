//! Chaincodes that run as external services: dialing the chaincode server
//! over mutual TLS with the peer's own certificate, and running one
//! invocation as one `ChaincodeService.Execute` stream, answering the
//! chaincode's state requests from the caller's stub.

use super::HostError;
use crate::identity::SigningIdentity;
use crate::transport;
use chaincode_sdk::wire::{self, Invocation};
use chaincode_sdk::{ChaincodeError, ChaincodeStub};
use consort_proto::chaincode_service_client::ChaincodeServiceClient;
use consort_proto::chaincode_to_peer::Message as Inbound;
use consort_proto::completed::Result as Outcome;
use consort_proto::peer_to_chaincode::Message as Outbound;
use consort_proto::{ExternalChaincode, PeerToChaincode};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

/// How long connecting to a chaincode server (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Largest message either side accepts, as the chaincode server does.
const MAX_MESSAGE_BYTES: usize = chaincode_sdk::server::MAX_MESSAGE_BYTES;

/// Dials external chaincodes with the peer's TLS identity, keeping one
/// lazily connected channel per (address, TLS root). A channel reconnects by
/// itself, so a chaincode server that comes back is used again without any
/// action on the peer.
pub struct ExternalConnector {
    identity: Identity,
    channels: Mutex<HashMap<(String, String), Channel>>,
}

impl std::fmt::Debug for ExternalConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExternalConnector").finish_non_exhaustive()
    }
}

impl ExternalConnector {
    /// A connector presenting `identity`'s certificate, as the peer's listener does.
    pub fn new(identity: &SigningIdentity) -> Self {
        Self::from_pem(&identity.cert_pem(), &identity.key_pem())
    }

    /// A connector presenting the certificate and PKCS#8 key given as PEM.
    pub fn from_pem(cert_pem: &str, key_pem: &str) -> Self {
        Self {
            identity: Identity::from_pem(cert_pem, key_pem),
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// The shared channel to `external`, made on first use.
    pub fn channel(
        &self,
        chaincode: &str,
        external: &ExternalChaincode,
    ) -> Result<Channel, HostError> {
        let key = (external.address.clone(), external.tls_root_pem.clone());
        // Short sections, no await: the map only hands out channel clones.
        if let Ok(map) = self.channels.lock() {
            if let Some(channel) = map.get(&key) {
                return Ok(channel.clone());
            }
        }
        let channel = self.endpoint(chaincode, external)?.connect_lazy();
        if let Ok(mut map) = self.channels.lock() {
            map.entry(key).or_insert_with(|| channel.clone());
        }
        Ok(channel)
    }

    fn endpoint(
        &self,
        chaincode: &str,
        external: &ExternalChaincode,
    ) -> Result<Endpoint, HostError> {
        let bad = |reason: String| HostError::BadExternal {
            chaincode: chaincode.to_owned(),
            address: external.address.clone(),
            reason,
        };
        let host = transport::host_of(&external.address).map_err(|e| bad(e.to_string()))?;
        let roots = pem::parse_many(&external.tls_root_pem)
            .map_err(|e| bad(format!("tls_root_pem: {e}")))?;
        if !roots.iter().any(|block| block.tag() == "CERTIFICATE") {
            return Err(bad("tls_root_pem holds no CERTIFICATE".to_owned()));
        }
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&external.tls_root_pem))
            .identity(self.identity.clone())
            .domain_name(host.to_owned())
            .timeout(CONNECT_TIMEOUT);
        Endpoint::from_shared(format!("https://{}", external.address))
            .map_err(|e| bad(e.to_string()))?
            .tls_config(tls)
            .map_err(|e| bad(e.to_string()))
            .map(|endpoint| {
                endpoint
                    .connect_timeout(CONNECT_TIMEOUT)
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .keep_alive_while_idle(true)
            })
    }
}

/// One external chaincode, ready to run invocations.
#[derive(Debug, Clone)]
pub struct ExternalRuntime {
    chaincode: String,
    address: String,
    channel: Channel,
}

impl ExternalRuntime {
    /// `chaincode` served at `address` over `channel`.
    pub fn new(chaincode: &str, address: &str, channel: Channel) -> Self {
        Self {
            chaincode: chaincode.to_owned(),
            address: address.to_owned(),
            channel,
        }
    }

    /// The chaincode server's address.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Runs one invocation on the chaincode server, answering its state
    /// requests from `stub`, within `timeout`. Returns the stub (with what
    /// it recorded) and the chaincode's result.
    pub async fn execute<S>(
        &self,
        stub: S,
        timeout: Duration,
    ) -> Result<(S, Result<Vec<u8>, ChaincodeError>), HostError>
    where
        S: ChaincodeStub + Send + 'static,
    {
        match tokio::time::timeout(timeout, self.session(stub)).await {
            Ok(done) => done,
            Err(_) => Err(HostError::ExternalTimeout {
                chaincode: self.chaincode.clone(),
                address: self.address.clone(),
                timeout,
            }),
        }
    }

    fn stream_err(&self, reason: String) -> HostError {
        HostError::Stream {
            chaincode: self.chaincode.clone(),
            address: self.address.clone(),
            reason,
        }
    }

    fn protocol_err(&self, reason: String) -> HostError {
        HostError::Protocol {
            chaincode: self.chaincode.clone(),
            address: self.address.clone(),
            reason,
        }
    }

    /// Opening the stream failed: unreachable when the server could not be
    /// reached, otherwise a refusal of the stream.
    fn open_err(&self, status: &tonic::Status) -> HostError {
        let reason = status_text(status);
        if status.code() == tonic::Code::Unavailable {
            HostError::Unreachable {
                chaincode: self.chaincode.clone(),
                address: self.address.clone(),
                reason,
            }
        } else {
            self.stream_err(reason)
        }
    }

    async fn session<S>(
        &self,
        mut stub: S,
    ) -> Result<(S, Result<Vec<u8>, ChaincodeError>), HostError>
    where
        S: ChaincodeStub + Send + 'static,
    {
        let invoke = Invocation::of_stub(&stub).to_proto();
        let (outbound, receiver) = mpsc::channel(4);
        outbound
            .send(PeerToChaincode {
                message: Some(Outbound::Invoke(invoke)),
            })
            .await
            .map_err(|_| self.stream_err("the request stream closed".to_owned()))?;
        let mut client = ChaincodeServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let mut inbound = client
            .execute(ReceiverStream::new(receiver))
            .await
            .map_err(|status| self.open_err(&status))?
            .into_inner();
        loop {
            let message = inbound
                .message()
                .await
                .map_err(|status| self.stream_err(status_text(&status)))?
                .ok_or_else(|| {
                    self.stream_err("the chaincode closed the stream before completing".to_owned())
                })?;
            match message.message {
                Some(Inbound::Request(request)) => {
                    // The stub may read the ledger: off the async threads.
                    let (back, answered) = tokio::task::spawn_blocking(move || {
                        let answered = wire::answer(&mut stub, request);
                        (stub, answered)
                    })
                    .await
                    .map_err(|e| HostError::Panicked(format!("the peer's stub failed: {e}")))?;
                    stub = back;
                    let response = answered.map_err(|e| self.protocol_err(e.to_string()))?;
                    outbound
                        .send(PeerToChaincode {
                            message: Some(Outbound::Response(response)),
                        })
                        .await
                        .map_err(|_| self.stream_err("the request stream closed".to_owned()))?;
                }
                Some(Inbound::Completed(completed)) => {
                    return match completed.result {
                        Some(Outcome::Payload(payload)) => Ok((stub, Ok(payload))),
                        Some(Outcome::Error(failure)) => {
                            Ok((stub, Err(wire::error_from_proto(failure))))
                        }
                        Some(Outcome::Panicked(message)) => Err(HostError::Panicked(message)),
                        None => Err(self.protocol_err("an empty completion".to_owned())),
                    };
                }
                None => return Err(self.protocol_err("an empty message".to_owned())),
            }
        }
    }
}

/// A status as one line: its code and message, and the transport's causes.
fn status_text(status: &tonic::Status) -> String {
    let mut text = format!("{:?}: {}", status.code(), status.message());
    if let Some(source) = std::error::Error::source(status) {
        let cause = transport::describe_connect_error(source);
        if !text.contains(&cause) {
            text.push_str(" (");
            text.push_str(&cause);
            text.push(')');
        }
    }
    text
}
