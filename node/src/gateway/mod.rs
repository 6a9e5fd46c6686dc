//! The gateway: the client-facing gRPC service of a peer. It evaluates
//! queries locally, gathers endorsements from peers of enough orgs to
//! satisfy a chaincode's policy, forwards signed transactions to the
//! ordering service and reports commit status and block events. It also
//! serves the peer-to-peer `Endorser` service.

pub mod events;
pub mod plan;
pub mod planner;
pub mod status;

use crate::endorsement::endorser::{check_proposal, EndorseError, Endorser};
use crate::identity::Msp;
use crate::ledger::{Ledger, LedgerSummary};
use crate::lifecycle;
use crate::transport::Dialer;
use crate::validation::codes;
use consort_client::reason;
use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
use consort_proto::endorser_client::EndorserClient;
use consort_proto::endorser_server::{Endorser as EndorserRpc, EndorserServer};
use consort_proto::gateway_server::{Gateway, GatewayServer};
use consort_proto::ErrorReason as R;
use consort_proto::*;
use futures::future::join_all;
use planner::{PlanError, Planner, Step};
use prost::Message;
use std::collections::HashMap;
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
/// Pause before the one resend of a submission whose outcome is unknown
/// (long enough for a Raft election to settle).
const RESEND_PAUSE: Duration = Duration::from_millis(500);
/// Default CommitStatus wait.
const COMMIT_WAIT: Duration = Duration::from_secs(30);
/// Request metadata on a peer-to-peer `ProcessProposal`: the asking
/// gateway's ledger height (documented on `Endorser` in services.proto).
pub const MIN_HEIGHT: &str = "x-consort-min-height";
/// The longest an endorsing peer waits to reach [`MIN_HEIGHT`] before it
/// simulates anyway.
const MIN_HEIGHT_WAIT: Duration = Duration::from_secs(3);

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
    /// The gossip view of the channel's peers (absent: gossip is off, and
    /// other orgs' peers are tried in config order).
    pub membership: Option<crate::gossip::Membership>,
}

/// The gateway service; cheap to clone.
#[derive(Clone)]
pub struct GatewayService {
    p: Arc<GatewayParts>,
    next_orderer: Arc<AtomicUsize>,
    /// The orderer that last ordered a submission (the Raft leader, as its
    /// answer said), tried first; `usize::MAX` when none is known.
    leader_orderer: Arc<AtomicUsize>,
    /// The last [`PeerStatus`](Gateway::peer_status) summary: its state
    /// hash is a full scan, made at most once per height, one at a time.
    summary: Arc<tokio::sync::Mutex<Option<LedgerSummary>>>,
}

impl GatewayService {
    /// Builds the gateway.
    pub fn new(p: GatewayParts) -> Self {
        let start = p.name.bytes().map(usize::from).sum::<usize>();
        GatewayService {
            p: Arc::new(p),
            next_orderer: Arc::new(AtomicUsize::new(start)),
            leader_orderer: Arc::new(AtomicUsize::new(usize::MAX)),
            summary: Arc::default(),
        }
    }

    /// Runs a read of the ledger on a blocking thread, off the async
    /// runtime's threads.
    async fn read_ledger<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Ledger) -> Result<T, crate::ledger::LedgerError> + Send + 'static,
    ) -> Result<T, Status> {
        let ledger = self.p.ledger.clone();
        tokio::task::spawn_blocking(move || read(&ledger))
            .await
            .map_err(|e| Status::internal(format!("ledger read failed: {e}")))?
            .map_err(node_failure)
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
            height: self.p.height.clone(),
        })
        .max_decoding_message_size(self.p.max_message_bytes)
    }

    async fn endorse_at(
        &self,
        org: &str,
        signed: &SignedProposal,
        min_height: Option<u64>,
    ) -> Result<ProposalResponse, Status> {
        if org == self.p.msp_id {
            return self
                .p
                .endorser
                .process(signed)
                .await
                .map_err(|e| status::endorse(&e));
        }
        let configured = self.p.peers_by_org.get(org).cloned().unwrap_or_default();
        // Live peers first, the most up to date first among them.
        let peers = match &self.p.membership {
            Some(m) => m.rank_endpoints(&configured),
            None => configured,
        };
        let mut last = unavailable_at(org, format!("no peer of {org} is known"));
        let min_height = min_height.map(tonic::metadata::MetadataValue::from);
        for ep in peers {
            let ch = match self.p.dialer.channel(&ep) {
                Ok(c) => c,
                Err(e) => {
                    last = unavailable_at(org, e.to_string());
                    continue;
                }
            };
            let mut client = EndorserClient::new(ch)
                .max_decoding_message_size(self.p.max_message_bytes)
                .max_encoding_message_size(self.p.max_message_bytes);
            let mut req = Request::new(signed.clone());
            req.set_timeout(ENDORSE_TIMEOUT);
            if let Some(h) = &min_height {
                req.metadata_mut().insert(MIN_HEIGHT, h.clone());
            }
            match client.process_proposal(req).await {
                Ok(r) => return Ok(r.into_inner()),
                Err(s) if status::is_transient(&s) => {
                    tracing::warn!(peer = %ep, error = %s, "endorsing peer failed; trying another");
                    last = unavailable_at(org, format!("peer {ep} of {org}: {}", s.message()));
                }
                Err(s) => return Err(reason::prefixed(&s, &format!("peer {ep} of {org}"))),
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
            if let Some(rec) = self.p.ledger.tx(tx_id).map_err(node_failure)? {
                return Ok(rec);
            }
            match tokio::time::timeout_at(deadline, height.changed()).await {
                Err(_) => {
                    return Err(reason::status(
                        R::CommitWaitExpired,
                        format!("transaction {tx_id} not committed on this peer within {wait:?}"),
                    ))
                }
                Ok(Err(_)) => return Err(reason::status(R::ShuttingDown, "peer is shutting down")),
                Ok(Ok(())) => {}
            }
        }
    }
}

/// The chaincode's failure as a gRPC status: reason `CHAINCODE_ERROR`,
/// with the org and the chaincode's status in its metadata.
fn chaincode_failure(org: &str, r: &consort_proto::Response) -> Status {
    reason::status_with(
        R::ChaincodeError,
        format!(
            "chaincode error (status {}, from {org}): {}",
            r.status, r.message
        ),
        [("org", org.to_string()), ("status", r.status.to_string())],
    )
}

/// The status for a failed endorsement plan of a proposal invoking `chaincode`.
fn plan_failure(e: PlanError, chaincode: &str) -> Status {
    match e {
        PlanError::Refused(s) => s,
        PlanError::ChaincodeFailed { org, response } => chaincode_failure(&org, &response),
        PlanError::CannotSatisfy { .. } => reason::status(R::EndorsersUnavailable, e.to_string()),
        PlanError::PolicyTooComplex { .. } => reason::status(
            R::PolicyTooComplex,
            format!("endorsing a proposal for chaincode '{chaincode}': {e}"),
        ),
        PlanError::Disagree { .. } | PlanError::KeptWidening => {
            reason::status(R::EndorsementsDiffer, e.to_string())
        }
        PlanError::NoEndorsement(_) | PlanError::NoOrgs => node_failure(e),
    }
}

/// A needed org's peers could not endorse (unreachable, overloaded).
fn unavailable_at(org: &str, message: String) -> Status {
    reason::status_with(R::EndorsersUnavailable, message, [("org", org.to_string())])
}

/// This node failed (storage, signing): retrying is safe.
fn node_failure(e: impl std::fmt::Display) -> Status {
    reason::status(R::NodeFailure, e.to_string())
}

fn malformed(message: &str) -> Status {
    reason::status(R::MalformedRequest, message)
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
            .ok_or_else(|| malformed("missing proposal"))?;
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
            .ok_or_else(|| malformed("missing proposal"))?;
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
        let chaincode = checked.header.chaincode.clone();
        let peers: Vec<String> = self.p.peers_by_org.keys().cloned().collect();
        let mut planner = Planner::new(
            invoked_policy,
            &self.p.msp_id,
            &peers,
            |payload: &[u8]| plan::written_policies(rules, &chaincode, payload),
        );
        let mut step = planner.start();
        let mut answers = loop {
            match step {
                Step::Ask {
                    orgs,
                    after,
                    catch_up,
                } => {
                    if !after.is_zero() {
                        tokio::time::sleep(after).await;
                    }
                    let min_height = catch_up.then(|| *self.p.height.borrow());
                    let results =
                        join_all(orgs.iter().map(|o| self.endorse_at(o, &signed, min_height)))
                            .await;
                    step = planner.on_answers(orgs.into_iter().zip(results).collect(), |s| {
                        matches!(s.code(), GrpcCode::Unavailable | GrpcCode::DeadlineExceeded)
                    });
                }
                Step::Agreed(answers) => break answers,
                Step::Failed(e) => return Err(plan_failure(e, &chaincode)),
            }
        };
        let orgs: Vec<String> = answers.iter().map(|(o, _)| o.clone()).collect();
        let endorsements = answers
            .iter()
            .filter_map(|(_, r)| r.endorsement.clone())
            .collect();
        let (_, first) = answers.swap_remove(0);
        Ok(Response::new(EndorseResponse {
            prepared_transaction: Transaction {
                header: checked.header_bytes.clone(),
                input: checked.input_bytes.clone(),
                response_payload: first.payload,
                endorsements,
            }
            .encode_to_vec(),
            result: first.response,
            endorsing_orgs: orgs,
        }))
    }

    async fn submit(
        &self,
        req: Request<SubmitRequest>,
    ) -> Result<Response<SubmitResponse>, Status> {
        let env = req
            .into_inner()
            .envelope
            .ok_or_else(|| malformed("missing envelope"))?;
        if self.p.orderers.is_empty() {
            return Err(reason::status(
                R::NoOrderingLeader,
                "ordering service unavailable: no orderers configured",
            ));
        }
        let n = self.p.orderers.len();
        // The known leader first (no forwarding hop), else round robin.
        let start = match self.leader_orderer.load(Ordering::Relaxed) {
            i if i < n => i,
            _ => self.next_orderer.fetch_add(1, Ordering::Relaxed),
        };
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
                    let leader = resp
                        .metadata()
                        .get(crate::ordering::service::ORDERED_BY)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|ep| self.p.orderers.iter().position(|o| o == ep));
                    self.leader_orderer
                        .store(leader.unwrap_or(usize::MAX), Ordering::Relaxed);
                    return Ok(Response::new(SubmitResponse {
                        block_number: resp.into_inner().block_number,
                    }));
                }
                Err(s) => match status::submit_answer(&s) {
                    status::SubmitAnswer::NotSent => {
                        // Whoever the leader was, it is not this one now.
                        let _ = self.leader_orderer.compare_exchange(
                            (start + i - 1) % n,
                            usize::MAX,
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
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
        Err(reason::status(
            R::NoOrderingLeader,
            format!(
                "ordering service unavailable: no orderer reachable ({})",
                unreachable.join("; ")
            ),
        ))
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
            return Err(malformed("missing chaincode"));
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
        match self.read_ledger(move |l| l.block(n)).await? {
            Some(b) => Ok(Response::new(b)),
            None => Err(reason::status(
                R::NotCommitted,
                format!(
                    "block {n} not committed (height is {})",
                    self.p.ledger.height()
                ),
            )),
        }
    }

    async fn get_transaction(
        &self,
        req: Request<GetTransactionRequest>,
    ) -> Result<Response<TransactionInfo>, Status> {
        let tx_id = req.into_inner().tx_id;
        let id = tx_id.clone();
        let found = self
            .read_ledger(move |l| {
                let Some(rec) = l.tx(&id)? else {
                    return Ok(None);
                };
                let envelope = l
                    .block(rec.block)?
                    .and_then(|b| b.block)
                    .and_then(|b| b.data.get(rec.tx_num as usize).cloned())
                    .unwrap_or_default();
                Ok(Some((rec, envelope)))
            })
            .await?;
        let (rec, envelope) = found.ok_or_else(|| {
            reason::status(R::NotCommitted, format!("transaction {tx_id} not found"))
        })?;
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
        let mut cached = self.summary.lock().await;
        let summary = match *cached {
            Some(s) if s.height == self.p.ledger.height() => s,
            _ => {
                let s = self.read_ledger(|l| l.summary()).await?;
                *cached = Some(s);
                s
            }
        };
        Ok(Response::new(PeerStatusResponse {
            msp_id: self.p.msp_id.clone(),
            name: self.p.name.clone(),
            height: summary.height,
            last_block_hash: summary.last_hash.map(|h| h.to_vec()).unwrap_or_default(),
            state_hash: summary.state_hash.to_vec(),
        }))
    }

    async fn peers(
        &self,
        _req: Request<consort_proto::PeersRequest>,
    ) -> Result<Response<consort_proto::PeersResponse>, Status> {
        let (peers, gossip_enabled) = match &self.p.membership {
            Some(m) => (m.snapshot(), true),
            None => {
                let mut peers = vec![consort_proto::PeerInfo {
                    name: self.p.name.clone(),
                    msp_id: self.p.msp_id.clone(),
                    height: self.p.ledger.height(),
                    alive: true,
                    pulls_from_orderers: true,
                    is_self: true,
                    ..Default::default()
                }];
                for (org, eps) in &self.p.peers_by_org {
                    peers.extend(eps.iter().map(|ep| consort_proto::PeerInfo {
                        msp_id: org.clone(),
                        endpoint: ep.clone(),
                        ..Default::default()
                    }));
                }
                (peers, false)
            }
        };
        Ok(Response::new(consort_proto::PeersResponse {
            peers,
            gossip_enabled,
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
                    Ok(None) => Some(Err(node_failure(format!("block {next} missing")))),
                    Err(e) => Some(Err(node_failure(e))),
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
    height: watch::Receiver<u64>,
}

/// Waits, at most `wait`, until this peer has committed the asking
/// gateway's height, so that a client that saw its last transaction
/// committed there is endorsed on state that holds it. Whether it did.
async fn reach(height: &watch::Receiver<u64>, min_height: u64, wait: Duration) -> bool {
    let mut height = height.clone();
    let reached = height.wait_for(|h| *h >= min_height);
    let ok = matches!(tokio::time::timeout(wait, reached).await, Ok(Ok(_)));
    if !ok {
        tracing::debug!(min_height, "endorsing below the asking gateway's height");
    }
    ok
}

/// The asking gateway's height from a request's [`MIN_HEIGHT`] metadata
/// (0, no wait, when absent).
fn min_height<T>(req: &Request<T>) -> Result<u64, Status> {
    match req.metadata().get(MIN_HEIGHT) {
        None => Ok(0),
        Some(v) => v.to_str().ok().and_then(|v| v.parse().ok()).ok_or_else(|| {
            Status::invalid_argument(format!("metadata {MIN_HEIGHT} is not a block height"))
        }),
    }
}

#[tonic::async_trait]
impl EndorserRpc for PeerEndorser {
    async fn process_proposal(
        &self,
        req: Request<SignedProposal>,
    ) -> Result<Response<ProposalResponse>, Status> {
        reach(&self.height, min_height(&req)?, MIN_HEIGHT_WAIT).await;
        self.endorser
            .process(req.get_ref())
            .await
            .map(Response::new)
            .map_err(|e| status::endorse(&e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::EvalError;

    #[tokio::test]
    async fn an_endorser_waits_for_the_asking_gateways_height_but_not_forever() {
        let (tx, rx) = watch::channel(5u64);
        assert!(reach(&rx, 5, Duration::ZERO).await, "already there");
        let waiting = tokio::spawn({
            let rx = rx.clone();
            async move { reach(&rx, 7, Duration::from_secs(10)).await }
        });
        tx.send_replace(6);
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "6 is below 7");
        tx.send_replace(7);
        assert!(waiting.await.expect("joined"), "reached 7");
        assert!(!reach(&rx, 100, Duration::from_millis(20)).await, "gave up");
    }

    #[test]
    fn a_min_height_that_is_not_a_number_is_invalid_argument() {
        let mut req = Request::new(());
        assert_eq!(min_height(&req).expect("absent"), 0);
        req.metadata_mut()
            .insert(MIN_HEIGHT, tonic::metadata::MetadataValue::from(42u64));
        assert_eq!(min_height(&req).expect("number"), 42);
        req.metadata_mut()
            .insert(MIN_HEIGHT, "forty".parse().expect("ascii"));
        let s = min_height(&req).expect_err("not a number");
        assert_eq!(s.code(), GrpcCode::InvalidArgument);
        assert!(s.message().contains(MIN_HEIGHT), "{}", s.message());
    }

    #[test]
    fn a_policy_too_complex_is_failed_precondition_naming_the_chaincode() {
        let e = PlanError::PolicyTooComplex {
            policy: "OR('Org1MSP.peer')".into(),
            error: EvalError::SearchBudgetExhausted { budget: 7 },
        };
        let s = plan_failure(e, "token");
        assert_eq!(s.code(), GrpcCode::FailedPrecondition);
        assert_eq!(reason::reason_of(&s), Some(R::PolicyTooComplex));
        assert_eq!(reason::metadata(&s, "resend").as_deref(), Some("no"));
        let m = s.message();
        assert!(m.contains("chaincode 'token'"), "{m}");
        assert!(m.contains("OR('Org1MSP.peer')"), "{m}");
        assert!(m.contains("too complex to evaluate"), "{m}");
    }
}
