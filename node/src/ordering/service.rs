//! The orderer's gRPC services: `AtomicBroadcast` (Broadcast, Deliver) and
//! `Raft` (messages between orderers).

use super::codec::{self, Codec, CodecError};
use super::cutter::Submission;
use super::store::{ChainTip, OrdererDb};
use super::types::{NodeId, Raft};
use super::{OrderError, Refusal};
use crate::identity::Msp;
use crate::transport::Dialer;
use consort_client::reason;
use consort_client::reason::is_connect_failure;
use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
use consort_proto::atomic_broadcast_server::AtomicBroadcast;
use consort_proto::raft_server;
use consort_proto::ErrorReason as R;
use consort_proto::{
    Block, BroadcastResponse, DeliverRequest, Envelope, OrdererStatusRequest,
    OrdererStatusResponse, ProposalHeader, RaftPayload, Transaction,
};
use prost::Message;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// Metadata key marking a Broadcast forwarded by a follower to the leader.
const FORWARDED: &str = "x-consort-forwarded";
/// Response metadata: the endpoint of the leader that ordered the
/// transaction (documented on `Broadcast` in services.proto).
pub const ORDERED_BY: &str = "x-consort-ordered-by";

/// How long Broadcast waits for a Raft leader before failing.
const LEADER_WAIT: Duration = Duration::from_secs(3);
/// A leader that has not had a quorum acknowledgement for this long
/// refuses submissions at once.
const QUORUM_STALE_MS: u64 = 1_500;
/// How long a follower keeps looking for a reachable leader.
const FAILOVER_WAIT: Duration = Duration::from_secs(5);

/// Maps an ordering error to a gRPC status (the one place this is decided).
pub fn status_of(e: &OrderError) -> Status {
    consort_client::reason::status(e.reason(), e.to_string())
}

/// What the services are built from.
pub struct ServiceParts {
    /// This orderer's Raft ID.
    pub id: NodeId,
    /// Raft handle.
    pub raft: Raft,
    /// Membership.
    pub msp: Arc<Msp>,
    /// The channel.
    pub channel_id: String,
    /// Largest envelope accepted.
    pub max_message_bytes: usize,
    /// Largest Raft message or block sent or accepted.
    pub raft_message_bytes: usize,
    /// The block cutter's queue.
    pub cutter: mpsc::Sender<Submission>,
    /// Dials the leader to forward submissions.
    pub dialer: Arc<Dialer>,
    /// Orderer endpoints by Raft ID.
    pub members: HashMap<NodeId, String>,
    /// The block store.
    pub db: OrdererDb,
    /// The chain tip.
    pub tip: watch::Receiver<ChainTip>,
}

/// The orderer's services; cheap to clone.
#[derive(Clone)]
pub struct OrdererService {
    inner: Arc<ServiceParts>,
    sent: Arc<DeliverCounters>,
}

/// What Deliver streams have sent since the orderer started.
#[derive(Default)]
struct DeliverCounters {
    blocks: AtomicU64,
    bytes: AtomicU64,
}

impl OrdererService {
    /// Builds the services.
    pub fn new(parts: ServiceParts) -> Self {
        OrdererService {
            inner: Arc::new(parts),
            sent: Arc::default(),
        }
    }

    /// The Raft RPC service for other orderers.
    pub fn raft_service(&self) -> raft_server::RaftServer<RaftRpc> {
        raft_server::RaftServer::new(RaftRpc {
            raft: self.inner.raft.clone(),
            max_message_bytes: self.inner.raft_message_bytes,
        })
        .max_decoding_message_size(self.inner.raft_message_bytes)
        .max_encoding_message_size(self.inner.raft_message_bytes)
    }

    /// The chain tip watch.
    pub fn tip(&self) -> watch::Receiver<ChainTip> {
        self.inner.tip.clone()
    }

    /// Checks the submitter's membership and signature, and the channel.
    fn check_envelope(&self, raw_len: usize, env: &Envelope) -> Result<(), OrderError> {
        let p = &self.inner;
        if raw_len > p.max_message_bytes {
            return Err(Refusal::TooLarge {
                size: raw_len,
                limit: p.max_message_bytes,
            }
            .into());
        }
        let tx = Transaction::decode(env.payload.as_slice()).map_err(Refusal::NotATransaction)?;
        let header = ProposalHeader::decode(tx.header.as_slice()).map_err(Refusal::BadHeader)?;
        if header.channel_id != p.channel_id {
            return Err(Refusal::UnknownChannel(header.channel_id).into());
        }
        let creator = p
            .msp
            .validate(&header.creator)
            .map_err(|e| Refusal::Submitter(Arc::new(e)))?;
        creator
            .verify(&env.payload, &env.signature)
            .map_err(|_| Refusal::BadSignature.into())
    }

    /// The current Raft leader other than `avoid`, waiting up to LEADER_WAIT for one.
    async fn leader(&self, avoid: Option<NodeId>) -> Result<NodeId, OrderError> {
        let mut metrics = self.inner.raft.metrics();
        let deadline = tokio::time::Instant::now() + LEADER_WAIT;
        loop {
            let current = metrics.borrow_and_update().current_leader;
            if let Some(l) = current.filter(|l| Some(*l) != avoid) {
                return Ok(l);
            }
            if tokio::time::timeout_at(deadline, metrics.changed())
                .await
                .is_err()
            {
                return Err(OrderError::NoLeader);
            }
        }
    }
}

impl OrdererService {
    /// Fails fast when this leader has not heard from a majority lately:
    /// the block could not commit, so the client should not wait for it.
    fn check_quorum(&self) -> Result<(), OrderError> {
        let since = self.inner.raft.metrics().borrow().millis_since_quorum_ack;
        match since {
            Some(ms) if ms > QUORUM_STALE_MS => Err(OrderError::NoQuorum { since_ms: ms }),
            _ => Ok(()),
        }
    }

    async fn order_locally(&self, raw: Vec<u8>) -> Result<Response<BroadcastResponse>, Status> {
        let (reply, rx) = oneshot::channel();
        let down = || status_of(&OrderError::ShuttingDown);
        self.inner
            .cutter
            .send(Submission {
                envelope: raw,
                reply,
                received: tokio::time::Instant::now(),
            })
            .await
            .map_err(|_| down())?;
        let number = rx.await.map_err(|_| down())?.map_err(|e| status_of(&e))?;
        let mut response = Response::new(BroadcastResponse {
            block_number: number,
        });
        if let Some(value) = self
            .inner
            .members
            .get(&self.inner.id)
            .and_then(|ep| tonic::metadata::MetadataValue::try_from(ep.as_str()).ok())
        {
            response.metadata_mut().insert(ORDERED_BY, value);
        }
        Ok(response)
    }

    async fn forward(
        &self,
        leader: NodeId,
        env: Envelope,
    ) -> Result<Response<BroadcastResponse>, Status> {
        let endpoint = self.inner.members.get(&leader).ok_or_else(|| {
            reason::status(R::NodeFailure, format!("leader {leader} has no endpoint"))
        })?;
        let ch = self.inner.dialer.channel(endpoint).map_err(|e| {
            reason::status(
                R::NoOrderingLeader,
                format!("ordering service unavailable: {e}"),
            )
        })?;
        let mut fwd = Request::new(env);
        fwd.metadata_mut()
            .insert(FORWARDED, tonic::metadata::MetadataValue::from_static("1"));
        tracing::debug!(leader, "forwarding submission to the Raft leader");
        AtomicBroadcastClient::new(ch)
            .max_decoding_message_size(self.inner.max_message_bytes)
            .max_encoding_message_size(self.inner.max_message_bytes)
            .broadcast(fwd)
            .await
    }
}

impl OrdererService {
    /// One `Broadcast`: checks, then orders locally as leader or forwards.
    async fn broadcast_one(
        &self,
        req: Request<Envelope>,
    ) -> Result<Response<BroadcastResponse>, Status> {
        // Only another configured orderer forwards; from anyone else the
        // mark is ignored.
        let from_consenter = crate::access::caller_of(&req).is_some_and(|c| c.consenter.is_some());
        let forwarded = from_consenter && req.metadata().get(FORWARDED).is_some();
        let env = req.into_inner();
        let raw = env.encode_to_vec();
        self.check_envelope(raw.len(), &env)
            .map_err(|e| status_of(&e))?;
        // A follower forwards to the leader; if the leader cannot be reached
        // (it died and the election has not settled), wait for another one.
        let deadline = tokio::time::Instant::now() + FAILOVER_WAIT;
        let mut avoid = None;
        loop {
            let leader = self.leader(avoid).await.map_err(|e| status_of(&e))?;
            if leader == self.inner.id {
                self.check_quorum().map_err(|e| status_of(&e))?;
                return self.order_locally(raw).await;
            }
            if forwarded {
                return Err(status_of(&OrderError::LeaderChanged));
            }
            match self.forward(leader, env.clone()).await {
                Ok(resp) => return Ok(resp),
                Err(s) if is_connect_failure(&s) && tokio::time::Instant::now() < deadline => {
                    tracing::info!(leader, error = %s, "Raft leader unreachable; waiting for a new one");
                    avoid = Some(leader);
                }
                Err(s) => return Err(s),
            }
        }
    }
}

#[tonic::async_trait]
impl AtomicBroadcast for OrdererService {
    async fn broadcast(
        &self,
        req: Request<Envelope>,
    ) -> Result<Response<BroadcastResponse>, Status> {
        let result = self.broadcast_one(req).await;
        crate::operations::metrics::broadcast_processed(match &result {
            Ok(_) => "SUCCESS",
            Err(s) => crate::operations::grpc::code_name(s.code()),
        });
        result
    }

    type DeliverStream = ReceiverStream<Result<Block, Status>>;

    async fn deliver(
        &self,
        req: Request<DeliverRequest>,
    ) -> Result<Response<Self::DeliverStream>, Status> {
        let mut next = req.into_inner().start;
        let (tx, rx) = mpsc::channel(16);
        let db = self.inner.db.clone();
        let mut tip = self.inner.tip.clone();
        let sent = self.sent.clone();
        tokio::spawn(async move {
            loop {
                let height = tip.borrow_and_update().height;
                while next < height {
                    let item = match db.block(next) {
                        Ok(Some(b)) => Ok(b),
                        Ok(None) => Err(reason::status(
                            R::NodeFailure,
                            format!("block {next} missing from store"),
                        )),
                        Err(e) => Err(reason::status(R::NodeFailure, format!("block {next}: {e}"))),
                    };
                    let failed = item.is_err();
                    let bytes = item.as_ref().map(|b| b.encoded_len()).unwrap_or(0);
                    if tx.send(item).await.is_err() || failed {
                        return;
                    }
                    sent.blocks.fetch_add(1, Ordering::Relaxed);
                    sent.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
                    next += 1;
                }
                tokio::select! {
                    _ = tx.closed() => return,
                    changed = tip.changed() => if changed.is_err() { return },
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn status(
        &self,
        _req: Request<OrdererStatusRequest>,
    ) -> Result<Response<OrdererStatusResponse>, Status> {
        let m = self.inner.raft.metrics().borrow().clone();
        let tip = *self.inner.tip.borrow();
        Ok(Response::new(OrdererStatusResponse {
            id: self.inner.id,
            leader: m.current_leader.unwrap_or(0),
            height: tip.height,
            last_block_hash: tip.last_hash.to_vec(),
            term: m.current_term,
            deliver_blocks_sent: self.sent.blocks.load(Ordering::Relaxed),
            deliver_bytes_sent: self.sent.bytes.load(Ordering::Relaxed),
        }))
    }
}

/// The Raft RPC endpoint. The access layer admits only the channel's
/// configured orderers (by TLS certificate); here each call must also speak
/// for the Raft node that orderer is: the leader of an AppendEntries or
/// InstallSnapshot, the candidate of a Vote.
pub struct RaftRpc {
    raft: Raft,
    max_message_bytes: usize,
}

/// Decodes a Raft request of at most `limit` bytes. Another format is
/// `FAILED_PRECONDITION` (an orderer of another release), anything else
/// that does not decode `INVALID_ARGUMENT`.
fn decode<T: Codec>(p: &RaftPayload, limit: usize) -> Result<T, Status> {
    codec::from_payload(p, limit).map_err(|e| match e {
        CodecError::Format { .. } => Status::failed_precondition(e.to_string()),
        _ => Status::invalid_argument(format!("bad Raft message: {e}")),
    })
}

fn encode<T: Codec>(v: &T) -> Result<Response<RaftPayload>, Status> {
    Ok(Response::new(codec::to_payload(v)))
}

/// The Raft node ID the calling orderer holds.
fn consenter_of<T>(req: &Request<T>) -> Result<NodeId, Status> {
    crate::access::caller_of(req)
        .and_then(|c| c.consenter)
        .ok_or_else(|| Status::permission_denied("only the channel's orderers may call Raft"))
}

/// Refuses a message whose sender claims another node's ID.
fn bind(consenter: NodeId, claimed: Option<NodeId>) -> Result<(), Status> {
    match claimed {
        Some(id) if id == consenter => Ok(()),
        other => Err(Status::permission_denied(format!(
            "orderer {consenter} may speak Raft only as itself, not as {}",
            other.map_or_else(|| "nobody".to_string(), |id| id.to_string())
        ))),
    }
}

#[tonic::async_trait]
impl raft_server::Raft for RaftRpc {
    async fn append_entries(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let me = consenter_of(&req)?;
        let rpc: openraft::raft::AppendEntriesRequest<super::types::TypeConfig> =
            decode(req.get_ref(), self.max_message_bytes)?;
        bind(me, rpc.vote.leader_id().voted_for())?;
        encode(&self.raft.append_entries(rpc).await)
    }

    async fn vote(&self, req: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        let me = consenter_of(&req)?;
        let rpc: openraft::raft::VoteRequest<NodeId> =
            decode(req.get_ref(), self.max_message_bytes)?;
        bind(me, rpc.vote.leader_id().voted_for())?;
        encode(&self.raft.vote(rpc).await)
    }

    async fn install_snapshot(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let me = consenter_of(&req)?;
        let rpc: openraft::raft::InstallSnapshotRequest<super::types::TypeConfig> =
            decode(req.get_ref(), self.max_message_bytes)?;
        bind(me, rpc.vote.leader_id().voted_for())?;
        encode(&self.raft.install_snapshot(rpc).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_orderer_speaks_only_as_itself() {
        assert!(bind(2, Some(2)).is_ok());
        let e = bind(2, Some(1)).unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied);
        assert!(e.message().contains("only as itself, not as 1"));
        assert_eq!(
            bind(2, None).unwrap_err().code(),
            tonic::Code::PermissionDenied
        );
    }
}
