//! The client: build and sign proposals, ask a gateway to endorse, sign and
//! submit the transaction, wait for its commit; follow blocks and chaincode
//! events.

use crate::codes;
use crate::config::ClientProfile;
use crate::contract::Contract;
use crate::error::{ClientError, IdentityUse, Operation, Retry};
use crate::events::{BlockEvents, ChaincodeEvents, Checkpoint};
use crate::genesis::load_genesis;
use crate::identity::SigningIdentity;
use crate::transport::Dialer;
use crate::tx::compute_tx_id;
use consort_proto::gateway_client::GatewayClient;
use consort_proto::*;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tonic::transport::Channel;

/// Deadline of status calls (and of the connection probe).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline of evaluate, endorse and submit calls.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How long `invoke` and `submit` wait for the commit.
const COMMIT_WAIT: Duration = Duration::from_secs(30);

/// A request with a deadline, so a silent peer never hangs the client.
fn timed<T>(message: T, timeout: Duration) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.set_timeout(timeout);
    r
}

/// How many times `invoke` sends a transaction the ordering service did not acknowledge.
const SUBMIT_ATTEMPTS: u32 = 4;

/// A proposal built but not yet signed: sign [`UnsignedProposal::bytes`]
/// with the client's key (anywhere, e.g. on a signing device) and attach the
/// signature with [`UnsignedProposal::with_signature`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedProposal {
    /// The transaction ID (derived from the nonce and the creator).
    pub tx_id: String,
    /// The encoded `Proposal`: the exact bytes to sign.
    pub bytes: Vec<u8>,
}

impl UnsignedProposal {
    /// The signed proposal, given the creator's signature over
    /// [`UnsignedProposal::bytes`].
    pub fn with_signature(self, signature: Vec<u8>) -> SignedCall {
        SignedCall {
            tx_id: self.tx_id,
            proposal: SignedProposal {
                proposal_bytes: self.bytes,
                signature,
            },
        }
    }
}

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
    /// Encoded `Transaction`: the exact bytes the creator signs into the
    /// envelope.
    pub prepared: Vec<u8>,
    /// The chaincode's result payload.
    pub result: Vec<u8>,
    /// Orgs that endorsed.
    pub endorsing_orgs: Vec<String>,
}

impl Endorsed {
    /// The envelope, given the creator's signature over
    /// [`Endorsed::prepared`] (made anywhere, e.g. on a signing device).
    pub fn with_signature(&self, signature: Vec<u8>) -> Envelope {
        Envelope {
            payload: self.prepared.clone(),
            signature,
        }
    }
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

impl Committed {
    /// Whether the transaction is `VALID`, i.e. its writes were applied.
    pub fn is_valid(&self) -> bool {
        self.code == TxValidationCode::Valid
    }
}

/// A connection to one gateway as one client identity. Cheap to clone: the
/// clones share the connection.
#[derive(Clone)]
pub struct Client {
    signer: Arc<SigningIdentity>,
    channel_id: String,
    endpoint: String,
    gateway: GatewayClient<Channel>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("signer", &self.signer)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Client {
    /// Connects with a profile: to its `gateway`, or when that cannot be
    /// reached (or does not answer), to each of its `fallback_gateways` in
    /// order. Fails at once when a gateway refuses the client's certificate
    /// or the call (every gateway of the channel would), and with
    /// [`ClientError::NoGateway`] when none of several could be used.
    pub async fn connect(profile: &ClientProfile) -> Result<Self, ClientError> {
        let (dialer, config) = dialer_for(profile)?;
        let signer = signer_for(profile)?;
        let gateways = profile.gateways();
        let mut failures = Vec::new();
        for (i, endpoint) in gateways.iter().enumerate() {
            let tls_name = if i == 0 {
                profile.tls_name.as_deref()
            } else {
                None
            };
            match Self::connect_to(&dialer, endpoint, tls_name, &signer, &config.channel_id).await {
                Ok(client) => {
                    if i > 0 {
                        tracing::info!(gateway = %endpoint, "connected to a fallback gateway");
                    }
                    return Ok(client);
                }
                Err(e) if gateways.len() > 1 && e.tries_next_gateway() => {
                    tracing::warn!(gateway = %endpoint, error = %e, "gateway unusable, trying the next");
                    failures.push(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(ClientError::NoGateway(failures))
    }

    /// Connects to one gateway and checks that it answers.
    async fn connect_to(
        dialer: &Dialer,
        endpoint: &str,
        tls_name: Option<&str>,
        signer: &Arc<SigningIdentity>,
        channel_id: &str,
    ) -> Result<Self, ClientError> {
        let ch = dialer.connect(endpoint, tls_name).await?;
        let client = Client {
            signer: signer.clone(),
            channel_id: channel_id.to_string(),
            endpoint: endpoint.to_string(),
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
                        gateway: endpoint.to_string(),
                        reason: s.message().to_string(),
                    }
                }
                _ => ClientError::rpc(Operation::PeerStatus, endpoint, s),
            });
        }
        Ok(client)
    }

    /// The channel.
    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    /// The gateway this client is connected to, `host:port`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The client's signing identity.
    pub fn signer(&self) -> &Arc<SigningIdentity> {
        &self.signer
    }

    /// The raw gateway client.
    pub fn gateway(&self) -> GatewayClient<Channel> {
        self.gateway.clone()
    }

    /// A handle on one chaincode, for the calls applications make most.
    pub fn contract(&self, chaincode: &str) -> Contract {
        Contract::new(self.clone(), chaincode)
    }

    fn rpc_error(&self, operation: Operation) -> impl FnOnce(tonic::Status) -> ClientError + '_ {
        move |s| ClientError::rpc(operation, &self.endpoint, s)
    }

    /// Builds a proposal with a fresh nonce, not yet signed, with private
    /// `transient` data for the chaincode (excluded from everything signed
    /// by endorsers or ordered).
    pub fn proposal(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
        transient: HashMap<String, Vec<u8>>,
    ) -> UnsignedProposal {
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
        let bytes = Proposal {
            header: header.encode_to_vec(),
            input: input.encode_to_vec(),
            transient,
        }
        .encode_to_vec();
        UnsignedProposal { tx_id, bytes }
    }

    /// Builds and signs a proposal with a fresh nonce.
    pub fn propose(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<SignedCall, ClientError> {
        self.sign_proposal(self.proposal(chaincode, function, args, HashMap::new()))
    }

    /// Signs a proposal with the client's identity.
    pub fn sign_proposal(&self, proposal: UnsignedProposal) -> Result<SignedCall, ClientError> {
        let signature = self.signer.sign(&proposal.bytes)?;
        Ok(proposal.with_signature(signature))
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
            .map_err(self.rpc_error(Operation::ChaincodeEvents))?
            .into_inner();
        Ok(ChaincodeEvents {
            stream,
            endpoint: self.endpoint.clone(),
            after,
            pending: Default::default(),
        })
    }

    /// Committed blocks from block `start`, then new ones as they commit.
    pub async fn block_events(&self, start: u64) -> Result<BlockEvents, ClientError> {
        let stream = self
            .gateway
            .clone()
            .block_events(BlockEventsRequest { start_block: start })
            .await
            .map_err(self.rpc_error(Operation::BlockEvents))?
            .into_inner();
        Ok(BlockEvents {
            stream,
            endpoint: self.endpoint.clone(),
        })
    }

    /// Runs a query on the gateway's peer; nothing is ordered.
    pub async fn evaluate(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ClientError> {
        let call = self.propose(chaincode, function, args)?;
        self.evaluate_call(call).await
    }

    /// Runs a signed proposal as a query on the gateway's peer.
    pub async fn evaluate_call(&self, call: SignedCall) -> Result<Vec<u8>, ClientError> {
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
            .map_err(self.rpc_error(Operation::Evaluate))?;
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
            .map_err(self.rpc_error(Operation::Endorse))?
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
        let signature = self.signer.sign(&endorsed.prepared)?;
        Ok(endorsed.with_signature(signature))
    }

    /// Submits a signed envelope; returns the block it was ordered into.
    /// On a failure whose [`ClientError::retry`] is [`Retry::Resend`], sending
    /// the same envelope again is safe.
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
            .map_err(self.rpc_error(Operation::Submit))?
            .into_inner()
            .block_number)
    }

    /// Signs and submits an endorsed transaction; returns the block it was
    /// ordered into.
    pub async fn submit_endorsed(&self, endorsed: &Endorsed) -> Result<u64, ClientError> {
        let env = self.envelope(endorsed)?;
        self.submit_envelope(env).await
    }

    /// Waits up to `timeout` for the gateway's peer to commit a transaction;
    /// returns its validation code and block. `DEADLINE_EXCEEDED` when the
    /// wait runs out (ask again).
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
            .map_err(self.rpc_error(Operation::CommitStatus))?
            .into_inner();
        Ok((codes::from_i32(r.code), r.block_number))
    }

    /// Endorses, signs, submits and waits for the commit of a transaction
    /// that must be `VALID`: an invalid one is [`ClientError::Invalid`].
    /// Fabric's `SubmitTransaction`.
    pub async fn submit(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Committed, ClientError> {
        let committed = self.invoke(chaincode, function, args).await?;
        if !committed.is_valid() {
            return Err(ClientError::Invalid {
                tx_id: committed.tx_id,
                block: committed.block,
                code: committed.code,
            });
        }
        Ok(committed)
    }

    /// Endorses, signs, submits and waits for the commit, returning the
    /// outcome whatever its validation code. A submission that failed with
    /// [`Retry::Resend`] (no leader yet, leadership changed, outcome
    /// unknown) is sent again, the same signed envelope, a few times: if an
    /// earlier copy did commit, the later one is a `DUPLICATE_TXID` and the
    /// reported outcome is the first copy's.
    pub async fn invoke(
        &self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Committed, ClientError> {
        let endorsed = self.endorse(chaincode, function, args).await?;
        self.submit_and_wait(endorsed).await
    }

    /// Signs, submits (resending as [`Client::invoke`] does) and waits for
    /// the commit of an endorsed transaction.
    pub async fn submit_and_wait(&self, endorsed: Endorsed) -> Result<Committed, ClientError> {
        let envelope = self.envelope(&endorsed)?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.submit_envelope(envelope.clone()).await {
                Ok(_) => break,
                Err(e) if e.retry() == Retry::Resend && attempt < SUBMIT_ATTEMPTS => {
                    tracing::debug!(tx_id = %endorsed.tx_id, attempt, error = %e, "resending");
                    tokio::time::sleep(Duration::from_millis(300 * attempt as u64)).await;
                }
                Err(e) => return Err(e),
            }
        }
        let (code, block) = self.commit_status(&endorsed.tx_id, COMMIT_WAIT).await?;
        Ok(Committed {
            tx_id: endorsed.tx_id,
            block,
            code,
            result: endorsed.result,
        })
    }

    /// One committed block with its validation codes.
    pub async fn block(&self, number: u64) -> Result<CommittedBlock, ClientError> {
        Ok(self
            .gateway
            .clone()
            .get_block(timed(GetBlockRequest { number }, PROBE_TIMEOUT))
            .await
            .map_err(self.rpc_error(Operation::GetBlock))?
            .into_inner())
    }

    /// One committed transaction with its block and validation code.
    pub async fn transaction(&self, tx_id: &str) -> Result<TransactionInfo, ClientError> {
        Ok(self
            .gateway
            .clone()
            .get_transaction(timed(
                GetTransactionRequest {
                    tx_id: tx_id.to_string(),
                },
                PROBE_TIMEOUT,
            ))
            .await
            .map_err(self.rpc_error(Operation::GetTransaction))?
            .into_inner())
    }

    /// The gateway peer's status.
    pub async fn status(&self) -> Result<PeerStatusResponse, ClientError> {
        Ok(self
            .gateway
            .clone()
            .peer_status(timed(PeerStatusRequest {}, PROBE_TIMEOUT))
            .await
            .map_err(self.rpc_error(Operation::PeerStatus))?
            .into_inner())
    }
}

/// A dialer presenting the profile's TLS identity and trusting the TLS CAs
/// of the channel in the profile's genesis block, with that channel's config.
pub fn dialer_for(profile: &ClientProfile) -> Result<(Dialer, ChannelConfig), ClientError> {
    let (cert, key) = profile.tls_files();
    let tls = Arc::new(
        SigningIdentity::load(&profile.msp_id, cert, key).map_err(|source| {
            ClientError::Identity {
                which: IdentityUse::Tls,
                source,
            }
        })?,
    );
    let (_, config) = load_genesis(&profile.genesis)?;
    let roots = crate::identity::tls_roots(&config);
    Ok((Dialer::new(tls, roots), config))
}

/// The profile's signing identity.
pub fn signer_for(profile: &ClientProfile) -> Result<Arc<SigningIdentity>, ClientError> {
    SigningIdentity::load(&profile.msp_id, &profile.cert, &profile.key)
        .map(Arc::new)
        .map_err(|source| ClientError::Identity {
            which: IdentityUse::Signing,
            source,
        })
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
            _ => ClientError::rpc(Operation::OrdererStatus, orderer, s),
        })
}

/// String arguments as bytes.
pub fn args(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}
