//! The client library: build and sign proposals, ask a gateway to endorse,
//! sign and submit the transaction, wait for its commit. Used by the CLI,
//! the demo, the load generator and the tests.

use crate::codes;
use crate::config::ClientProfile;
use crate::genesis::load_genesis;
use crate::identity::SigningIdentity;
use crate::transport::{Dialer, TransportError};
use crate::tx::compute_tx_id;
use consort_proto::gateway_client::GatewayClient;
use consort_proto::*;
use prost::Message;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Channel;

/// A client-side failure.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The profile, identity or genesis block could not be loaded.
    #[error("client setup: {0}")]
    Setup(String),
    /// The gateway could not be reached or refused the TLS handshake.
    #[error(transparent)]
    Connect(#[from] TransportError),
    /// The node closed the connection during or right after the TLS
    /// handshake: it does not accept this client's certificate.
    #[error(
        "{gateway} refused the connection: the node does not accept this client's certificate \
         (not issued by a channel member's CA, expired, revoked, or without a role) [{reason}]"
    )]
    Refused {
        /// The gateway.
        gateway: String,
        /// The transport's message.
        reason: String,
    },
    /// The chaincode returned an error (nothing was written).
    #[error("{0}")]
    Chaincode(String),
    /// The gateway or ordering service refused or failed the call.
    #[error("{operation} failed ({code:?}): {message}")]
    Rpc {
        /// Which call.
        operation: &'static str,
        /// gRPC status code.
        code: tonic::Code,
        /// The server's message.
        message: String,
    },
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(String),
}

impl ClientError {
    fn rpc(operation: &'static str, s: tonic::Status) -> Self {
        if s.code() == tonic::Code::Aborted && s.message().starts_with("chaincode error") {
            return ClientError::Chaincode(s.message().to_string());
        }
        ClientError::Rpc {
            operation,
            code: s.code(),
            message: s.message().to_string(),
        }
    }

    /// The gRPC code, when the failure came from a call.
    pub fn code(&self) -> Option<tonic::Code> {
        match self {
            ClientError::Rpc { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// Deadline of status calls (and of the connection probe).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of evaluate, endorse and submit calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// A request with a deadline, so a silent peer never hangs the client.
fn timed<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.set_timeout(timeout);
    r
}

/// How many times `invoke` sends a transaction the ordering service did not acknowledge.
const SUBMIT_ATTEMPTS: u32 = 4;

/// A proposal the client built and signed.
#[derive(Debug, Clone)]
pub struct SignedCall {
    /// The transaction ID.
    pub tx_id: String,
    /// The signed proposal.
    pub proposal: SignedProposal,
}

/// An endorsed transaction, ready to sign and submit.
#[derive(Debug, Clone)]
pub struct Endorsed {
    /// The transaction ID.
    pub tx_id: String,
    /// Encoded `Transaction`.
    pub prepared: Vec<u8>,
    /// The chaincode's result payload.
    pub result: Vec<u8>,
    /// Orgs that endorsed.
    pub endorsing_orgs: Vec<String>,
}

/// The outcome of a committed transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// The transaction ID.
    pub tx_id: String,
    /// The block that holds it.
    pub block: u64,
    /// Its validation code.
    pub code: TxValidationCode,
    /// The chaincode's result payload.
    pub result: Vec<u8>,
}

/// A connection to one gateway as one client identity.
#[derive(Clone)]
pub struct Client {
    signer: Arc<SigningIdentity>,
    channel_id: String,
    gateway: GatewayClient<Channel>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("signer", &self.signer)
            .finish()
    }
}

impl Client {
    /// Connects with a profile; fails at once if the gateway is unreachable
    /// or refuses the handshake.
    pub async fn connect(profile: &ClientProfile) -> Result<Self, ClientError> {
        let (dialer, config) = dialer_for(profile)?;
        let signer = signer_for(profile)?;
        let ch = dialer
            .connect(&profile.gateway, profile.tls_name.as_deref())
            .await?;
        let client = Client {
            signer,
            channel_id: config.channel_id,
            gateway: GatewayClient::new(ch).max_decoding_message_size(usize::MAX),
        };
        // Under TLS 1.3 the server judges the client certificate after the
        // client considers the handshake done: one call tells.
        if let Err(s) = client
            .gateway
            .clone()
            .peer_status(timed(PeerStatusRequest {}, PROBE_TIMEOUT))
            .await
        {
            return Err(match s.code() {
                tonic::Code::Cancelled | tonic::Code::Unknown | tonic::Code::Unavailable => {
                    ClientError::Refused {
                        gateway: profile.gateway.clone(),
                        reason: s.message().to_string(),
                    }
                }
                _ => ClientError::rpc("peer status", s),
            });
        }
        Ok(client)
    }

    /// The channel.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The client's signing identity.
    pub fn signer(&self) -> &Arc<SigningIdentity> {
        &self.signer
    }

    /// The raw gateway client.
    pub fn gateway(&self) -> GatewayClient<Channel> {
        self.gateway.clone()
    }

    /// Builds and signs a proposal with a fresh nonce.
    pub fn propose(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<SignedCall, ClientError> {
        let nonce: [u8; 24] = rand::random();
        let creator = self.signer.serialized().to_vec();
        let tx_id = compute_tx_id(&nonce, &creator);
        let header = ProposalHeader {
            channel_id: self.channel_id.clone(),
            tx_id: tx_id.clone(),
            chaincode: chaincode.to_string(),
            creator,
            nonce: nonce.to_vec(),
            timestamp_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0),
        };
        let input = ChaincodeInput {
            function: function.to_string(),
            args: args.to_vec(),
        };
        let proposal = Proposal {
            header: header.encode_to_vec(),
            input: input.encode_to_vec(),
            transient: Default::default(),
        }
        .encode_to_vec();
        let signature = self
            .signer
            .sign(&proposal)
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        Ok(SignedCall {
            tx_id,
            proposal: SignedProposal {
                proposal_bytes: proposal,
                signature,
            },
        })
    }

    /// The events `chaincode` sets in valid transactions: every one after
    /// `after` (from block `start` when there is no checkpoint), then new
    /// ones as they commit.
    pub async fn chaincode_events(
        &self,
        chaincode: &str,
        start: u64,
        after: Option<Checkpoint>,
    ) -> Result<ChaincodeEvents, ClientError> {
        let start_block = after.map_or(start, |c| c.block);
        let stream = self
            .gateway
            .clone()
            .chaincode_events(ChaincodeEventsRequest {
                chaincode: chaincode.to_string(),
                start_block,
            })
            .await
            .map_err(|s| ClientError::rpc("chaincode events", s))?
            .into_inner();
        Ok(ChaincodeEvents {
            stream,
            after,
            pending: Default::default(),
        })
    }

    /// Runs a query on the gateway's peer.
    pub async fn evaluate(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ClientError> {
        let call = self.propose(chaincode, function, args)?;
        let resp = self
            .gateway
            .clone()
            .evaluate(timed(
                EvaluateRequest {
                    proposal: Some(call.proposal),
                },
                CALL_TIMEOUT,
            ))
            .await
            .map_err(|s| ClientError::rpc("evaluate", s))?;
        Ok(resp.into_inner().result.unwrap_or_default().payload)
    }

    /// Endorses a signed proposal.
    pub async fn endorse_call(&self, call: SignedCall) -> Result<Endorsed, ClientError> {
        let resp = self
            .gateway
            .clone()
            .endorse(timed(
                EndorseRequest {
                    proposal: Some(call.proposal),
                },
                CALL_TIMEOUT,
            ))
            .await
            .map_err(|s| ClientError::rpc("endorse", s))?
            .into_inner();
        Ok(Endorsed {
            tx_id: call.tx_id,
            prepared: resp.prepared_transaction,
            result: resp.result.unwrap_or_default().payload,
            endorsing_orgs: resp.endorsing_orgs,
        })
    }

    /// Proposes and endorses.
    pub async fn endorse(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Endorsed, ClientError> {
        let call = self.propose(chaincode, function, args)?;
        self.endorse_call(call).await
    }

    /// Signs an endorsed transaction into an envelope.
    pub fn envelope(&self, endorsed: &Endorsed) -> Result<Envelope, ClientError> {
        let signature = self
            .signer
            .sign(&endorsed.prepared)
            .map_err(|e| ClientError::Sign(e.to_string()))?;
        Ok(Envelope {
            payload: endorsed.prepared.clone(),
            signature,
        })
    }

    /// Submits a signed envelope; returns the block it was ordered into.
    pub async fn submit_envelope(&self, envelope: Envelope) -> Result<u64, ClientError> {
        Ok(self
            .gateway
            .clone()
            .submit(timed(
                SubmitRequest {
                    envelope: Some(envelope),
                },
                CALL_TIMEOUT,
            ))
            .await
            .map_err(|s| ClientError::rpc("submit", s))?
            .into_inner()
            .block_number)
    }

    /// Signs and submits an endorsed transaction.
    pub async fn submit(&self, endorsed: &Endorsed) -> Result<u64, ClientError> {
        let env = self.envelope(endorsed)?;
        self.submit_envelope(env).await
    }

    /// Waits for the gateway's peer to commit a transaction.
    pub async fn commit_status(
        &self,
        tx_id: &str,
        timeout: Duration,
    ) -> Result<(TxValidationCode, u64), ClientError> {
        let r = self
            .gateway
            .clone()
            .commit_status(timed(
                CommitStatusRequest {
                    tx_id: tx_id.to_string(),
                    timeout_ms: timeout.as_millis() as u64,
                },
                timeout + PROBE_TIMEOUT,
            ))
            .await
            .map_err(|s| ClientError::rpc("commit status", s))?
            .into_inner();
        Ok((codes::from_i32(r.code), r.block_number))
    }

    /// Endorses, submits and waits for the commit. A submission the
    /// ordering service could not acknowledge (no leader yet, leadership
    /// changed) is sent again, the same signed envelope, a few times: if an
    /// earlier copy did commit, the later one is a `DUPLICATE_TXID` and the
    /// reported outcome is the first copy's.
    pub async fn invoke(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Committed, ClientError> {
        let endorsed = self.endorse(chaincode, function, args).await?;
        let envelope = self.envelope(&endorsed)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.submit_envelope(envelope.clone()).await {
                Ok(_) => break,
                Err(e)
                    if e.code() == Some(tonic::Code::Unavailable) && attempt < SUBMIT_ATTEMPTS =>
                {
                    tokio::time::sleep(Duration::from_millis(300 * attempt as u64)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let (code, block) = self
            .commit_status(&endorsed.tx_id, Duration::from_secs(30))
            .await?;
        Ok(Committed {
            tx_id: endorsed.tx_id,
            block,
            code,
            result: endorsed.result,
        })
    }

    /// The gateway peer's status.
    pub async fn status(&self) -> Result<PeerStatusResponse, ClientError> {
        Ok(self
            .gateway
            .clone()
            .peer_status(timed(PeerStatusRequest {}, PROBE_TIMEOUT))
            .await
            .map_err(|s| ClientError::rpc("peer status", s))?
            .into_inner())
    }
}

/// Where an application is in a chaincode's event stream: the last event it
/// handled. Save it (e.g. as JSON) after each event; after a restart,
/// [`Client::chaincode_events`] from it delivers every later event once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The block of the last event handled.
    pub block: u64,
    /// Its transaction's index in that block.
    pub tx_number: u64,
}

impl Checkpoint {
    /// The checkpoint just after `event`.
    pub fn after(event: &ChaincodeEventItem) -> Self {
        Checkpoint {
            block: event.block,
            tx_number: event.tx_number,
        }
    }
}

/// One chaincode event with where it was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeEventItem {
    /// The block it was committed in.
    pub block: u64,
    /// The transaction's index in the block.
    pub tx_number: u64,
    /// The transaction.
    pub tx_id: String,
    /// The event's name.
    pub name: String,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// A chaincode's events, in commit order.
pub struct ChaincodeEvents {
    stream: tonic::Streaming<ChaincodeEventsResponse>,
    after: Option<Checkpoint>,
    pending: std::collections::VecDeque<ChaincodeEventItem>,
}

impl ChaincodeEvents {
    /// The next event, waiting for it to commit; `None` when the gateway
    /// ends the stream.
    pub async fn next(&mut self) -> Result<Option<ChaincodeEventItem>, ClientError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            let Some(resp) = self
                .stream
                .message()
                .await
                .map_err(|s| ClientError::rpc("chaincode events", s))?
            else {
                return Ok(None);
            };
            let after = self.after;
            self.pending.extend(
                resp.events
                    .into_iter()
                    .filter(|r| {
                        after.is_none_or(|c| {
                            (resp.block_number, r.tx_number) > (c.block, c.tx_number)
                        })
                    })
                    .map(|r| {
                        let event = r.event.unwrap_or_default();
                        ChaincodeEventItem {
                            block: resp.block_number,
                            tx_number: r.tx_number,
                            tx_id: r.tx_id,
                            name: event.name,
                            payload: event.payload,
                        }
                    }),
            );
        }
    }
}

/// A dialer presenting the profile's TLS identity and trusting the TLS CAs
/// of the channel in the profile's genesis block, with that channel's config.
pub fn dialer_for(profile: &ClientProfile) -> Result<(Dialer, ChannelConfig), ClientError> {
    let (cert, key) = profile.tls_files();
    let tls = Arc::new(
        SigningIdentity::load(&profile.msp_id, cert, key)
            .map_err(|e| ClientError::Setup(format!("TLS identity: {e}")))?,
    );
    let (_, config) =
        load_genesis(&profile.genesis).map_err(|e| ClientError::Setup(e.to_string()))?;
    let roots = crate::identity::tls_roots(&config);
    Ok((Dialer::new(tls, roots), config))
}

/// The profile's signing identity.
pub fn signer_for(profile: &ClientProfile) -> Result<Arc<SigningIdentity>, ClientError> {
    SigningIdentity::load(&profile.msp_id, &profile.cert, &profile.key)
        .map(Arc::new)
        .map_err(|e| ClientError::Setup(format!("signing identity: {e}")))
}

/// An orderer's status, dialing it directly with the profile's identity.
pub async fn orderer_status(
    profile: &ClientProfile,
    orderer: &str,
    tls_name: Option<&str>,
) -> Result<OrdererStatusResponse, ClientError> {
    use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
    let (dialer, _) = dialer_for(profile)?;
    let ch = dialer.connect(orderer, tls_name).await?;
    AtomicBroadcastClient::new(ch)
        .status(timed(OrdererStatusRequest {}, PROBE_TIMEOUT))
        .await
        .map(|r| r.into_inner())
        .map_err(|s| match s.code() {
            tonic::Code::Cancelled | tonic::Code::Unknown | tonic::Code::Unavailable => {
                ClientError::Refused {
                    gateway: orderer.to_string(),
                    reason: s.message().to_string(),
                }
            }
            _ => ClientError::rpc("orderer status", s),
        })
}

/// String arguments as bytes.
pub fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}
