//! The gateway: the client-facing gRPC service of a peer. It evaluates
//! queries locally, gathers endorsements from peers of enough orgs to
//! satisfy a chaincode's policy, forwards signed transactions to the
//! ordering service and reports commit status and block events. It also
//! serves the peer-to-peer `Endorser` service.

pub mod events;
pub mod plan;
pub mod status;

use crate::endorsement::endorser::{check_proposal, EndorseError, Endorser};
use crate::identity::Msp;
use crate::ledger::Ledger;
use crate::lifecycle;
use crate::transport::Dialer;
use crate::validation::codes;
use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
use consort_proto::endorser_client::EndorserClient;
use consort_proto::endorser_server::{Endorser as EndorserRpc, EndorserServer};
use consort_proto::gateway_server::{Gateway, GatewayServer};
use consort_proto::*;
use futures::future::join_all;
use prost::Message;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code as GrpcCode, Request, Response, Status};

/// How long the gateway waits for a remote endorsement.
const ENDORSE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one Submit attempt on one orderer may take.
const SUBMIT_TIMEOUT: Duration = Duration::from_secs(15);
/// How often endorsement is retried when peers' results differ.
const MISMATCH_RETRIES: u32 = 8;
/// Base wait before such a retry (grows linearly).
const MISMATCH_BACKOFF: Duration = Duration::from_millis(50);
/// Pause before the one resend of a submission whose outcome is unknown
/// (long enough for a Raft election to settle).
const RESEND_PAUSE: Duration = Duration::from_millis(500);
/// Default CommitStatus wait.
const COMMIT_WAIT: Duration = Duration::from_secs(30);

/// What the gateway is built from.
pub struct GatewayParts {
    /// This peer's name.
    pub name: String,
    /// This peer's org.
    pub msp_id: String,
    /// The local endorser.
    pub endorser: Arc<Endorser>,
    /// The local ledger.
    pub ledger: Arc<Ledger>,
    /// Membership.
    pub msp: Arc<Msp>,
    /// Peer endpoints of each org (excluding this peer).
    pub peers_by_org: HashMap<String, Vec<String>>,
    /// Orderer endpoints.
    pub orderers: Vec<String>,
    /// Dials peers and orderers.
    pub dialer: Arc<Dialer>,
    /// Ledger height.
    pub height: watch::Receiver<u64>,
    /// Largest message accepted.
    pub max_message_bytes: usize,
}

/// The gateway service; cheap to clone.
#[derive(Clone)]
pub struct GatewayService {
    p: Arc<GatewayParts>,
    next_orderer: Arc<AtomicUsize>,
}

impl GatewayService {
    /// Builds the gateway.
    pub fn new(p: GatewayParts) -> Self {
        let start = p.name.bytes().map(usize::from).sum::<usize>();
        GatewayService {
            p: Arc::new(p),
            next_orderer: Arc::new(AtomicUsize::new(start)),
        }
    }

    /// The tonic server for the gateway.
    pub fn server(&self) -> GatewayServer<Self> {
        GatewayServer::new(self.clone())
            .max_decoding_message_size(self.p.max_message_bytes)
            .max_encoding_message_size(usize::MAX)
    }

    /// The tonic server for peer-to-peer endorsement.
    pub fn endorser_server(&self) -> EndorserServer<PeerEndorser> {
        EndorserServer::new(PeerEndorser {
            endorser: self.p.endorser.clone(),
        })
        .max_decoding_message_size(self.p.max_message_bytes)
    }

    async fn endorse_at(
        &self,
        org: &str,
        signed: &SignedProposal,
    ) -> Result<ProposalResponse, Status> {
        if org == self.p.msp_id {
            return self
                .p
                .endorser
                .process(signed)
                .await
                .map_err(|e| status::endorse(&e));
        }
        let peers = self.p.peers_by_org.get(org).cloned().unwrap_or_default();
        let mut last = Status::unavailable(format!("no peer of {org} is known"));
        for ep in peers {
            let ch = match self.p.dialer.channel(&ep) {
                Ok(c) => c,
                Err(e) => {
                    last = Status::unavailable(e.to_string());
                    continue;
                }
            };
            let mut client = EndorserClient::new(ch)
                .max_decoding_message_size(self.p.max_message_bytes)
                .max_encoding_message_size(self.p.max_message_bytes);
            let mut req = Request::new(signed.clone());
            req.set_timeout(ENDORSE_TIMEOUT);
            match client.process_proposal(req).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if status::is_transient(&s) => {
                    tracing::warn!(peer = %ep, error = %s, "endorsing peer failed; trying another");
                    last = Status::unavailable(format!("peer {ep} of {org}: {}", s.message()));
                }
                Err(s) => {
                    return Err(Status::new(
                        s.code(),
                        format!("peer {ep} of {org}: {}", s.message()),
                    ))
                }
            }
        }
        Err(last)
    }

    async fn wait_committed(
        &self,
        tx_id: &str,
        wait: Duration,
    ) -> Result<crate::ledger::keys::TxRecord, Status> {
        let mut height = self.p.height.clone();
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            height.borrow_and_update();
            if let Some(rec) = self
                .p
                .ledger
                .tx(tx_id)
                .map_err(|e| Status::internal(e.to_string()))?
            {
                return Ok(rec);
            }
            match tokio::time::timeout_at(deadline, height.changed()).await {
                Err(_) => {
                    return Err(Status::deadline_exceeded(format!(
                        "transaction {tx_id} not committed on this peer within {wait:?}"
                    )))
                }
                Ok(Err(_)) => return Err(Status::unavailable("peer is shutting down")),
                Ok(Ok(())) => {}
            }
        }
    }
}

/// The chaincode's failure as a gRPC status.
fn chaincode_failure(org: &str, r: &consort_proto::Response) -> Status {
    Status::aborted(format!(
        "chaincode error (status {}, from {org}): {}",
        r.status, r.message
    ))
}

#[tonic::async_trait]
impl Gateway for GatewayService {
    async fn evaluate(
        &self,
        req: Request<EvaluateRequest>,
    ) -> Result<Response<EvaluateResponse>, Status> {
        let signed = req
            .into_inner()
            .proposal
            .ok_or_else(|| Status::invalid_argument("missing proposal"))?;
        let resp = self
            .p
            .endorser
            .process(&signed)
            .await
            .map_err(|e| status::endorse(&e))?;
        let result = resp.response.unwrap_or_default();
        if result.status != 200 {
            return Err(chaincode_failure(&self.p.msp_id, &result));
        }
        Ok(Response::new(EvaluateResponse {
            result: Some(result),
        }))
    }

    async fn endorse(
        &self,
        req: Request<EndorseRequest>,
    ) -> Result<Response<EndorseResponse>, Status> {
        let signed = req
            .into_inner()
            .proposal
            .ok_or_else(|| Status::invalid_argument("missing proposal"))?;
        let in_force = self.p.endorser.definitions();
        let rules = in_force.rules();
        let checked = check_proposal(rules, &signed).map_err(|e| status::endorse(&e))?;
        let invoked_policy = rules
            .policies
            .get(&checked.header.chaincode)
            .ok_or_else(|| {
                status::endorse(&EndorseError::NotDefined(checked.header.chaincode.clone()))
            })?
            .clone();
        // A `_lifecycle` approval writes only the approving org's key.
        let invoked_policy = if checked.header.chaincode == lifecycle::NAMESPACE {
            Arc::new(lifecycle::key_policy::endorsement_plan(
                &checked.input.function,
                &checked.creator.msp_id,
                &invoked_policy,
            ))
        } else {
            invoked_policy
        };
        // Joined by the policies of the called chaincodes whose namespaces
        // the endorsed result writes, once it shows them.
        let mut policies = vec![invoked_policy];
        let mut widenings = 0;
        let mut available: Vec<String> = self.p.peers_by_org.keys().cloned().collect();
        available.push(self.p.msp_id.clone());
        available.sort();
        available.dedup();
        let mut failed: HashSet<String> = HashSet::new();
        let mut failures: Vec<String> = Vec::new();
        let mut mismatches = 0;
        loop {
            let candidates: Vec<String> = available
                .iter()
                .filter(|o| !failed.contains(*o))
                .cloned()
                .collect();
            let Some(orgs) = plan::pick_orgs_for_all(
                &policies,
                std::slice::from_ref(&self.p.msp_id),
                &candidates,
            ) else {
                let policy = policies
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" and ");
                return Err(Status::unavailable(format!(
                    "cannot satisfy endorsement policy {policy} with reachable peers; failures: {}",
                    if failures.is_empty() {
                        "none".to_string()
                    } else {
                        failures.join("; ")
                    }
                )));
            };
            let results = join_all(orgs.iter().map(|o| self.endorse_at(o, &signed))).await;
            let mut answers = Vec::new();
            let mut unreachable = false;
            for (org, r) in orgs.iter().zip(results) {
                match r {
                    Err(s)
                        if s.code() == GrpcCode::Unavailable
                            || s.code() == GrpcCode::DeadlineExceeded =>
                    {
                        failed.insert(org.clone());
                        failures.push(format!("{org}: {}", s.message()));
                        unreachable = true;
                    }
                    Err(s) => return Err(s),
                    Ok(resp) => answers.push((org.clone(), resp)),
                }
            }
            if unreachable {
                continue;
            }
            let succeeded = answers
                .iter()
                .filter(|(_, r)| r.response.as_ref().map(|r| r.status) == Some(200))
                .count();
            let Some((first_org, first)) = answers.first() else {
                return Err(Status::internal("the endorsement policies selected no org"));
            };
            if succeeded == 0 {
                return Err(chaincode_failure(
                    first_org,
                    &first.response.clone().unwrap_or_default(),
                ));
            }
            let agree = succeeded == answers.len()
                && answers.iter().all(|(_, r)| r.payload == first.payload);
            if !agree {
                // Usually one peer has committed a block the other has not
                // yet: ask again shortly, then give up.
                mismatches += 1;
                if mismatches > MISMATCH_RETRIES {
                    return Err(Status::aborted(format!(
                        "endorsement results differ between peers of {}: \
                         their world states or the chaincode disagree",
                        orgs.join(" and ")
                    )));
                }
                tokio::time::sleep(MISMATCH_BACKOFF * mismatches).await;
                continue;
            }
            let unmet: Vec<Arc<crate::policy::Policy>> =
                plan::written_policies(rules, &checked.header.chaincode, &first.payload)
                    .into_iter()
                    .filter(|p| !plan::satisfied_by_orgs(p, &orgs))
                    .collect();
            if !unmet.is_empty() {
                // The result writes a called chaincode's namespace whose
                // policy these orgs do not satisfy: ask enough orgs for all.
                widenings += 1;
                if widenings > MISMATCH_RETRIES {
                    return Err(Status::aborted(
                        "the chaincodes this transaction writes kept changing between endorsements",
                    ));
                }
                for p in unmet {
                    tracing::debug!(policy = %p, "endorsing for a called chaincode's policy too");
                    if !policies.contains(&p) {
                        policies.push(p);
                    }
                }
                continue;
            }
            let mut endorsements = Vec::new();
            for (org, resp) in &answers {
                endorsements.push(resp.endorsement.clone().ok_or_else(|| {
                    Status::internal(format!("peer of {org} returned no endorsement"))
                })?);
            }
            let (_, first) = answers.swap_remove(0);
            let payload = first.payload;
            let result = first.response;
            let tx = Transaction {
                header: checked.header_bytes.clone(),
                input: checked.input_bytes.clone(),
                response_payload: payload,
                endorsements,
            };
            return Ok(Response::new(EndorseResponse {
                prepared_transaction: tx.encode_to_vec(),
                result,
                endorsing_orgs: orgs,
            }));
        }
    }

    async fn submit(
        &self,
        req: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let env = req
            .into_inner()
            .envelope
            .ok_or_else(|| Status::invalid_argument("missing envelope"))?;
        if self.p.orderers.is_empty() {
            return Err(Status::unavailable(
                "ordering service unavailable: no orderers configured",
            ));
        }
        let n = self.p.orderers.len();
        let start = self.next_orderer.fetch_add(1, Ordering::Relaxed);
        let mut unreachable = Vec::new();
        // Once the outcome is unknown the envelope is resent once (a copy
        // already ordered makes the resend DUPLICATE_TXID, never a second
        // effect); after that the client is told the outcome is unknown.
        let mut unknown: Option<String> = None;
        let mut i = 0;
        while i < n + 1 {
            let ep = &self.p.orderers[(start + i) % n];
            i += 1;
            let ch = match self.p.dialer.channel(ep) {
                Ok(c) => c,
                Err(e) => {
                    unreachable.push(format!("{ep}: {e}"));
                    continue;
                }
            };
            let mut client =
                AtomicBroadcastClient::new(ch).max_encoding_message_size(self.p.max_message_bytes);
            let mut r = Request::new(env.clone());
            r.set_timeout(SUBMIT_TIMEOUT);
            match client.broadcast(r).await {
                Ok(resp) => {
                    return Ok(Response::new(SubmitResponse {
                        block_number: resp.into_inner().block_number,
                    }))
                }
                Err(s) => match status::submit_answer(&s) {
                    status::SubmitAnswer::NotSent => {
                        tracing::info!(orderer = %ep, error = %s, "orderer unreachable; trying the next");
                        unreachable.push(format!("{ep}: {}", s.message()));
                    }
                    status::SubmitAnswer::Refused => return Err(s),
                    status::SubmitAnswer::Unknown => {
                        let detail = format!("{ep}: {:?}: {}", s.code(), s.message());
                        if unknown.is_some() {
                            return Err(status::outcome_unknown(&detail));
                        }
                        tracing::info!(orderer = %ep, error = %s, "submission outcome unknown; resending once");
                        unknown = Some(detail);
                        tokio::time::sleep(RESEND_PAUSE).await;
                    }
                },
            }
        }
        if let Some(detail) = unknown {
            return Err(status::outcome_unknown(&detail));
        }
        Err(Status::unavailable(format!(
            "ordering service unavailable: no orderer reachable ({})",
            unreachable.join("; ")
        )))
    }

    async fn commit_status(
        &self,
        req: Request<CommitStatusRequest>,
    ) -> Result<Response<CommitStatusResponse>, Status> {
        let r = req.into_inner();
        let wait = if r.timeout_ms == 0 {
            COMMIT_WAIT
        } else {
            Duration::from_millis(r.timeout_ms.min(600_000))
        };
        let rec = self.wait_committed(&r.tx_id, wait).await?;
        Ok(Response::new(CommitStatusResponse {
            code: rec.code,
            block_number: rec.block,
        }))
    }

    type BlockEventsStream = ReceiverStream<Result<CommittedBlock, Status>>;

    async fn block_events(
        &self,
        req: Request<BlockEventsRequest>,
    ) -> Result<Response<Self::BlockEventsStream>, Status> {
        let start = req.into_inner().start_block;
        Ok(Response::new(follow(
            self.p.ledger.clone(),
            self.p.height.clone(),
            start,
            |_, block| Some(block),
        )))
    }

    type ChaincodeEventsStream = ReceiverStream<Result<ChaincodeEventsResponse, Status>>;

    async fn chaincode_events(
        &self,
        req: Request<ChaincodeEventsRequest>,
    ) -> Result<Response<Self::ChaincodeEventsStream>, Status> {
        let ChaincodeEventsRequest {
            chaincode,
            start_block,
        } = req.into_inner();
        if chaincode.is_empty() {
            return Err(Status::invalid_argument("missing chaincode"));
        }
        Ok(Response::new(follow(
            self.p.ledger.clone(),
            self.p.height.clone(),
            start_block,
            move |number, block| {
                let found = events::chaincode_events(&block, &chaincode);
                (!found.is_empty()).then_some(ChaincodeEventsResponse {
                    block_number: number,
                    events: found,
                })
            },
        )))
    }

    async fn get_block(
        &self,
        req: Request<GetBlockRequest>,
    ) -> Result<Response<CommittedBlock>, Status> {
        let n = req.into_inner().number;
        match self
            .p
            .ledger
            .block(n)
            .map_err(|e| Status::internal(e.to_string()))?
        {
            Some(b) => Ok(Response::new(b)),
            None => Err(Status::not_found(format!(
                "block {n} not committed (height is {})",
                self.p.ledger.height()
            ))),
        }
    }

    async fn get_transaction(
        &self,
        req: Request<GetTransactionRequest>,
    ) -> Result<Response<TransactionInfo>, Status> {
        let tx_id = req.into_inner().tx_id;
        let rec = self
            .p
            .ledger
            .tx(&tx_id)
            .map_err(|e| Status::internal(e.to_string()))?
            .ok_or_else(|| Status::not_found(format!("transaction {tx_id} not found")))?;
        let envelope = self
            .p
            .ledger
            .block(rec.block)
            .map_err(|e| Status::internal(e.to_string()))?
            .and_then(|b| b.block)
            .and_then(|b| b.data.get(rec.tx_num as usize).cloned())
            .unwrap_or_default();
        Ok(Response::new(TransactionInfo {
            tx_id,
            block_number: rec.block,
            tx_number: rec.tx_num,
            code: codes::from_i32(rec.code) as i32,
            envelope,
        }))
    }

    async fn peer_status(
        &self,
        _req: Request<PeerStatusRequest>,
    ) -> Result<Response<PeerStatusResponse>, Status> {
        let l = &self.p.ledger;
        let err = |e: crate::ledger::LedgerError| Status::internal(e.to_string());
        Ok(Response::new(PeerStatusResponse {
            msp_id: self.p.msp_id.clone(),
            name: self.p.name.clone(),
            height: l.height(),
            last_block_hash: l
                .last_hash()
                .map_err(err)?
                .map(|h| h.to_vec())
                .unwrap_or_default(),
            state_hash: l.state_hash().map_err(err)?.to_vec(),
        }))
    }
}

/// Streams `pick(number, block)` for every committed block from `next`,
/// then for each new block as it commits; a block `pick` maps to `None` is
/// skipped. The task ends when the receiver is dropped or the ledger fails.
fn follow<T: Send + 'static>(
    ledger: Arc<Ledger>,
    mut height: watch::Receiver<u64>,
    mut next: u64,
    pick: impl Fn(u64, CommittedBlock) -> Option<T> + Send + 'static,
) -> ReceiverStream<Result<T, Status>> {
    let (tx, rx) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            let h = *height.borrow_and_update();
            while next < h {
                let item = match ledger.block(next) {
                    Ok(Some(b)) => pick(next, b).map(Ok),
                    Ok(None) => Some(Err(Status::internal(format!("block {next} missing")))),
                    Err(e) => Some(Err(Status::internal(e.to_string()))),
                };
                if let Some(item) = item {
                    let failed = item.is_err();
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                }
                next += 1;
            }
            tokio::select! {
                _ = tx.closed() => return,
                c = height.changed() => if c.is_err() { return },
            }
        }
    });
    ReceiverStream::new(rx)
}

/// Peer-to-peer endorsement: only peers (other orgs' gateways) may call
/// (see the access matrix).
pub struct PeerEndorser {
    endorser: Arc<Endorser>,
}

#[tonic::async_trait]
impl EndorserRpc for PeerEndorser {
    async fn process_proposal(
        &self,
        req: Request<SignedProposal>,
    ) -> Result<Response<ProposalResponse>, Status> {
        self.endorser
            .process(req.get_ref())
            .await
            .map(Response::new)
            .map_err(|e| status::endorse(&e))
    }
}
