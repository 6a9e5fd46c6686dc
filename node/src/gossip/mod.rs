//! Gossip among a channel's peers over libp2p (TCP, noise, yamux).
//!
//! - **Admission** ([`attest`]): a connection carries no gossip until its
//!   remote proves, with a signature of its peer certificate's key over its
//!   libp2p peer ID, that it is a peer of a member org; anything else is
//!   disconnected and banned.
//! - **Dissemination** ([`swarm`]): in each org one peer pulls blocks from
//!   the ordering service (elected: the live eligible peer with the
//!   smallest name, [`view::Membership::should_pull`]) and publishes them on
//!   the channel's blocks topic (gossipsub); every peer checks a gossiped
//!   block on its own (orderer signature, data hash, channel) before it
//!   passes it on, and commits it in order ([`intake`]).
//! - **Catch-up**: a peer behind the heights other peers announce fetches
//!   the missing blocks in ranges by request-response.
//! - **Membership** ([`view`]): each peer announces its name, endpoint,
//!   height and pulling state every second on the status topic; the
//!   gateway ranks endorsers with that view.
//! - **Bounds** ([`limits`], [`codec`]): message sizes per protocol, rates
//!   per peer; a flooding or lying peer is disconnected and banned.

pub mod attest;
pub mod codec;
pub mod intake;
pub mod limits;
pub mod swarm;
pub mod view;

pub use view::{Membership, PullMode};

use crate::identity::{Msp, SigningIdentity};
use crate::peer::{Committer, DeliverError};
use consort_proto::{Block, ChannelConfig};
use libp2p::identity::Keypair;
use libp2p::PeerId;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Why gossip could not start.
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// An address is not `host:port`.
    #[error("'{0}' is not a host:port address")]
    Address(String),
    /// gossipsub refused its configuration.
    #[error("gossip configuration: {0}")]
    Config(String),
    /// The transport could not be built.
    #[error("gossip transport: {0}")]
    Transport(String),
    /// The listen address could not be bound.
    #[error("gossip cannot listen on {addr}: {reason}")]
    Listen {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The peer's attestation could not be signed.
    #[error("signing the gossip attestation: {0}")]
    Sign(#[from] crate::identity::SignerError),
}

/// A node's gossip settings.
#[derive(Debug, Clone)]
pub struct GossipConfig {
    /// `ip:port` to listen on.
    pub listen: String,
    /// `host:port`s to dial; empty: every other peer's `gossip_endpoint`
    /// in the channel config.
    pub bootstrap: Vec<String>,
    /// Whether this peer pulls from the orderers.
    pub mode: PullMode,
}

/// Who this peer is on the channel.
#[derive(Debug, Clone)]
pub struct PeerSelf {
    /// Its name (certificate common name).
    pub name: String,
    /// Its org.
    pub msp_id: String,
    /// Its gRPC endpoint as other nodes reach it.
    pub endpoint: String,
}

/// A running gossip node.
#[derive(Debug)]
pub struct Gossip {
    /// The membership view.
    pub membership: Membership,
    /// Blocks this peer got from the orderers, to spread.
    pub publish: mpsc::Sender<Block>,
    /// Whether this peer should pull from the orderers now.
    pub pulling: watch::Receiver<bool>,
    /// The swarm's task.
    pub swarm: JoinHandle<Result<(), GossipError>>,
    /// The task that commits blocks from other peers; a ledger failure
    /// ends it with the error.
    pub intake: JoinHandle<Result<(), DeliverError>>,
}

/// Starts gossip for a peer.
#[allow(clippy::too_many_arguments)]
pub fn start(
    cfg: &GossipConfig,
    channel: &ChannelConfig,
    me: PeerSelf,
    msp: Arc<Msp>,
    signer: &SigningIdentity,
    committer: Arc<Committer>,
    max_block_bytes: usize,
    shutdown: watch::Receiver<bool>,
) -> Result<Gossip, GossipError> {
    let keypair = Keypair::generate_ed25519();
    let peer_id = PeerId::from(keypair.public());
    let attestation = attest::attest(signer, &channel.channel_id, &peer_id)?;
    let own = channel
        .peers
        .iter()
        .find(|p| p.name == me.name)
        .map(|p| p.gossip_endpoint.clone());
    let bootstrap: Vec<String> = if cfg.bootstrap.is_empty() {
        channel
            .peers
            .iter()
            .filter(|p| p.name != me.name && !p.gossip_endpoint.is_empty())
            .map(|p| p.gossip_endpoint.clone())
            .collect()
    } else {
        cfg.bootstrap.clone()
    };
    let bootstrap = bootstrap
        .iter()
        .filter(|b| Some(*b) != own.as_ref() && **b != cfg.listen)
        .map(|b| swarm::tcp_multiaddr(b))
        .collect::<Result<Vec<_>, _>>()?;
    let membership = Membership::new(
        view::Me {
            name: me.name,
            msp_id: me.msp_id,
            endpoint: me.endpoint,
            peer_id,
            mode: cfg.mode,
        },
        channel.peers.clone(),
    );
    let (intake_tx, intake_rx) = mpsc::channel(256);
    let (publish, publish_rx) = mpsc::channel(64);
    let (pull_tx, pulling) = watch::channel(false);
    let settings = swarm::Settings {
        channel_id: channel.channel_id.clone(),
        msp,
        keypair,
        attestation,
        listen: swarm::tcp_multiaddr(&cfg.listen)?,
        bootstrap,
        max_block_bytes,
        membership: membership.clone(),
        ledger: committer.ledger().clone(),
    };
    tracing::info!(%peer_id, listen = %cfg.listen, mode = ?cfg.mode, "starting gossip");
    let swarm = tokio::spawn(swarm::run(
        settings,
        intake_tx,
        publish_rx,
        pull_tx,
        shutdown.clone(),
    ));
    let intake = tokio::spawn(intake::run(committer, intake_rx, shutdown));
    Ok(Gossip {
        membership,
        publish,
        pulling,
        swarm,
        intake,
    })
}
