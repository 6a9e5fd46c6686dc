//! The ordering service: an openraft cluster whose replicated entries are
//! blocks. The leader's [`cutter`] batches submissions into signed blocks;
//! the state machine ([`store::BlockMachine`]) accepts a block only if it
//! extends the last applied one; [`service`] serves `Broadcast`, `Deliver`
//! and the Raft RPCs.

pub mod codec;
pub mod cutter;
mod error;
pub mod network;
pub mod service;
pub mod store;
pub mod types;

use crate::identity::{Msp, SigningIdentity};
use crate::transport::Dialer;
use consort_proto::{Block, ChannelConfig};
use openraft::BasicNode;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub use error::{BlockRef, StoreError, StoreOp};
pub use types::{NodeId, Raft};

/// Why a transaction was not ordered. Cloned to every submitter of a
/// batch, so sources are shared.
#[derive(Debug, Clone, thiserror::Error)]
pub enum OrderError {
    /// No Raft leader was elected within the wait. Not ordered; resend.
    #[error("ordering service unavailable: no Raft leader (is a majority of orderers up?)")]
    NoLeader,
    /// This leader has not heard from a majority lately, so a block could
    /// not commit. Not ordered; resend.
    #[error(
        "ordering service unavailable: the Raft leader has not heard from a majority of \
         orderers for {since_ms} ms (is a majority of orderers up?)"
    )]
    NoQuorum {
        /// Milliseconds since the last quorum acknowledgement.
        since_ms: u64,
    },
    /// Other blocks kept committing first, so this batch was never
    /// proposed. Not ordered; resend.
    #[error("ordering service unavailable: the chain kept moving under this leader; transaction not ordered")]
    ChainMoving,
    /// The block was proposed but not committed within the write timeout;
    /// it may still commit. Outcome unknown; resending is safe.
    #[error("block {block} was not committed within {waited:?} (is a majority of orderers up?)")]
    NotCommittedInTime {
        /// The block's number.
        block: u64,
        /// How long the cutter waited.
        waited: Duration,
    },
    /// Leadership moved before the block committed; the transaction was not
    /// acknowledged and may be resubmitted (a copy that did commit makes the
    /// resubmission `DUPLICATE_TXID`, never a double spend).
    #[error("ordering service unavailable: Raft leadership changed before the block committed; resubmit")]
    LeaderChanged,
    /// Raft failed the write. Outcome unknown; resending is safe.
    #[error("Raft write failed: {0}")]
    Raft(
        Arc<
            openraft::error::RaftError<
                NodeId,
                openraft::error::ClientWriteError<NodeId, BasicNode>,
            >,
        >,
    ),
    /// The envelope was refused for what it is.
    #[error("transaction refused: {0}")]
    Refused(#[from] Refusal),
    /// The block could not be signed.
    #[error("orderer cannot sign the block: {0}")]
    Sign(Arc<crate::identity::SignerError>),
    /// Raft applied the proposed block as something else: a bug.
    #[error("orderer internal error: Raft applied the block as a non-block entry")]
    NotABlock,
    /// This orderer is shutting down.
    #[error("ordering service unavailable: shutting down")]
    ShuttingDown,
}

/// Why the ordering service refused an envelope; resending it gets the same
/// answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    /// Larger than the channel's `max_message_bytes`.
    #[error("envelope of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// The envelope's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The payload is not an encoded `Transaction`.
    #[error("payload is not a transaction: {0}")]
    NotATransaction(prost::DecodeError),
    /// The transaction's header does not decode.
    #[error("bad transaction header: {0}")]
    BadHeader(prost::DecodeError),
    /// The header names another channel.
    #[error("unknown channel '{0}'")]
    UnknownChannel(String),
    /// The submitter is not a member identity.
    #[error("submitter refused: {0}")]
    Submitter(Arc<crate::identity::MspError>),
    /// The submitter's signature does not verify.
    #[error("submitter's signature does not verify")]
    BadSignature,
}

impl OrderError {
    /// The reason a client is given (`services.proto`'s `ErrorReason`).
    pub fn reason(&self) -> consort_proto::ErrorReason {
        use consort_proto::ErrorReason as R;
        match self {
            OrderError::NoLeader | OrderError::NoQuorum { .. } | OrderError::ChainMoving => {
                R::NoOrderingLeader
            }
            OrderError::NotCommittedInTime { .. }
            | OrderError::LeaderChanged
            | OrderError::Raft(_) => R::OrderingOutcomeUnknown,
            OrderError::Refused(Refusal::TooLarge { .. }) => R::MessageTooLarge,
            OrderError::Refused(Refusal::Submitter(_) | Refusal::BadSignature) => R::CreatorRefused,
            OrderError::Refused(_) => R::TransactionRefused,
            OrderError::Sign(_) | OrderError::NotABlock => R::NodeFailure,
            OrderError::ShuttingDown => R::ShuttingDown,
        }
    }
}

/// Why the orderer could not start.
#[derive(Debug, thiserror::Error)]
pub enum OrdererStartError {
    /// The orderer's store could not be opened or read.
    #[error("cannot open orderer database: {0}")]
    Db(#[from] StoreError),
    /// openraft refused its config.
    #[error("Raft config: {0}")]
    RaftConfig(#[source] Box<openraft::ConfigError>),
    /// openraft failed to start.
    #[error("Raft: {0}")]
    Raft(#[source] Box<openraft::error::Fatal<NodeId>>),
    /// This node's ID is not in the channel's orderer list.
    #[error("orderer id {0} is not in the channel config")]
    NotMember(NodeId),
}

/// A running orderer.
pub struct Orderer {
    /// The Raft handle.
    pub raft: Raft,
    /// The gRPC services.
    pub service: service::OrdererService,
    cutter: tokio::task::JoinHandle<()>,
    tip: tokio::sync::watch::Receiver<store::ChainTip>,
}

/// Everything an orderer needs to start.
pub struct OrdererSettings<'a> {
    /// Raft node ID.
    pub id: NodeId,
    /// Where its RocksDB lives.
    pub data_dir: &'a Path,
    /// The channel config.
    pub config: &'a ChannelConfig,
    /// The genesis block.
    pub genesis: &'a Block,
    /// Signs blocks.
    pub signer: Arc<SigningIdentity>,
    /// Membership.
    pub msp: Arc<Msp>,
    /// Dials other orderers.
    pub dialer: Arc<Dialer>,
}

/// The largest Raft message an orderer sends or accepts under `config`:
/// one block of the largest size plus Raft's framing. Larger batches of
/// entries are split by the sender.
pub fn raft_message_bytes(config: &ChannelConfig) -> usize {
    crate::block::max_block_bytes(config).saturating_add(64 * 1024)
}

/// How long a block proposal may wait for Raft to commit it.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

impl Orderer {
    /// Opens storage, starts Raft (initialising the cluster on first start)
    /// and the block cutter.
    pub async fn start(s: OrdererSettings<'_>) -> Result<Self, OrdererStartError> {
        let members: BTreeMap<NodeId, BasicNode> = s
            .config
            .orderers
            .iter()
            .map(|o| (o.id, BasicNode::new(o.endpoint.clone())))
            .collect();
        if !members.contains_key(&s.id) {
            return Err(OrdererStartError::NotMember(s.id));
        }
        let db = store::OrdererDb::open(&s.data_dir.join("orderer"))?;
        let sm =
            store::BlockMachine::open(db.clone(), s.genesis, &s.config.channel_id, s.msp.clone())?;
        let raft_message_bytes = raft_message_bytes(s.config);
        let tip = sm.tip_watch();
        let log = store::LogStore::new(db.clone());
        let config = openraft::Config {
            cluster_name: s.config.channel_id.clone(),
            heartbeat_interval: 150,
            election_timeout_min: 600,
            election_timeout_max: 1200,
            snapshot_policy: openraft::SnapshotPolicy::Never,
            max_payload_entries: 64,
            snapshot_max_chunk_size: (raft_message_bytes / 2) as u64,
            ..Default::default()
        }
        .validate()
        .map_err(|e| OrdererStartError::RaftConfig(Box::new(e)))?;
        let raft = Raft::new(
            s.id,
            Arc::new(config),
            network::Network::new(s.dialer.clone(), raft_message_bytes),
            log,
            sm,
        )
        .await
        .map_err(|e| OrdererStartError::Raft(Box::new(e)))?;
        let initialized = raft
            .is_initialized()
            .await
            .map_err(|e| OrdererStartError::Raft(Box::new(e)))?;
        if !initialized {
            // Every orderer initialises with the same membership: safe by
            // openraft's contract, and no node has to go first.
            if let Err(e) = raft.initialize(members.clone()).await {
                tracing::info!(error = %e, "Raft already initialised");
            }
        }
        let batch = s.config.batch.unwrap_or_default();
        let (tx, rx) = mpsc::channel(10_000);
        let cutter = cutter::Cutter::new(
            raft.clone(),
            s.signer.clone(),
            s.config.channel_id.clone(),
            (&batch).into(),
            tip.clone(),
            WRITE_TIMEOUT,
        );
        let cutter = tokio::spawn(cutter.run(rx));
        let service = service::OrdererService::new(service::ServiceParts {
            id: s.id,
            raft: raft.clone(),
            msp: s.msp,
            channel_id: s.config.channel_id.clone(),
            max_message_bytes: crate::block::max_message_bytes(s.config),
            raft_message_bytes,
            cutter: tx,
            dialer: s.dialer,
            members: members.into_iter().map(|(id, n)| (id, n.addr)).collect(),
            db,
            tip: tip.clone(),
        });
        Ok(Orderer {
            raft,
            service,
            cutter,
            tip,
        })
    }

    /// Follows the tip of the orderer's chain.
    pub fn tip(&self) -> tokio::sync::watch::Receiver<store::ChainTip> {
        self.tip.clone()
    }

    /// Stops Raft and the cutter.
    pub async fn shutdown(self) {
        drop(self.service);
        let _ = self.raft.shutdown().await;
        self.cutter.abort();
        let _ = self.cutter.await;
    }
}
