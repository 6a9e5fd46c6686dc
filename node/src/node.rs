//! Starting a node from its config: identity, membership, the roles it
//! runs, one mutual-TLS listener for all its services, and orderly shutdown.

use crate::access::{streams::StreamLimits, AccessLayer};
use crate::block;
use crate::chaincode_host::{ChaincodeHost, ChaincodeRegistry, ExternalConnector};
use crate::config::{NodeConfig, NodeRole};
use crate::endorsement::Endorser;
use crate::gateway::{GatewayParts, GatewayService};
use crate::gossip;
use crate::identity::{cert_hash, tls, Consenters, Msp, SigningIdentity};
use crate::ledger::Ledger;
use crate::lifecycle::{self, DefinitionSet, Definitions, Lifecycle};
use crate::operations::{
    self, grpc::GrpcMetricsLayer, health::HealthSources, logspec::LogSpec, Operations,
    OperationsState,
};
use crate::ordering::{Orderer, OrdererSettings};
use crate::peer::deliver::OrdererLink;
use crate::peer::{deliver, Committer, DeliverError};
use crate::policy::Policy;
use crate::transport::{self, Dialer};
use crate::validation::ChannelRules;
use consort_proto::atomic_broadcast_server::AtomicBroadcastServer;
use consort_proto::{Block, ChannelConfig};
use prost::Message;
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tower_layer::Layer;

/// Why a node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The genesis block is not valid.
    #[error("genesis block {path}: {reason}")]
    Genesis {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A certificate and key of the node could not be loaded.
    #[error("node identity ({which}): {source}")]
    LoadIdentity {
        /// Which identity: "signing", "TLS", "orderer signing".
        which: &'static str,
        /// Why.
        source: crate::identity::SignerError,
    },
    /// The node's identity is not a member of the channel.
    #[error("node identity ({which}) is not a channel member: {source}")]
    NotMember {
        /// Which identity.
        which: &'static str,
        /// Why the channel's MSP refuses it.
        source: crate::identity::MspError,
    },
    /// The orderer identity carries another role.
    #[error("orderer_cert carries role {0}, not orderer")]
    NotAnOrderer(crate::identity::Role),
    /// This orderer's config disagrees with the channel's consenter set.
    #[error("orderer {id}: {problem}")]
    Consenter {
        /// The Raft ID in the node config.
        id: u64,
        /// What disagrees.
        problem: ConsenterMismatch,
    },
    /// A chaincode's endorsement policy does not parse.
    #[error("chaincode '{name}': bad endorsement policy: {reason}")]
    Policy {
        /// The chaincode.
        name: String,
        /// The parser's message.
        reason: String,
    },
    /// TLS setup failed.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The orderer failed to start.
    #[error(transparent)]
    Orderer(#[from] crate::ordering::OrdererStartError),
    /// The ledger failed to open.
    #[error(transparent)]
    Ledger(#[from] crate::ledger::LedgerError),
    /// The committer refused the ledger.
    #[error(transparent)]
    Commit(#[from] crate::peer::CommitError),
    /// Dialing the node failed (health check).
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    /// The server failed.
    #[error(transparent)]
    Serve(#[from] transport::ServeError),
    /// The peer's ledger could not be written; the node stopped.
    #[error(transparent)]
    Deliver(#[from] crate::peer::DeliverError),
    /// Gossip could not start.
    #[error(transparent)]
    Gossip(#[from] gossip::GossipError),
    /// The operations listener could not start.
    #[error(transparent)]
    Operations(#[from] operations::OperationsError),
}

/// Reads and checks a genesis block file.
pub fn load_genesis(path: &Path) -> Result<(Block, ChannelConfig), NodeError> {
    let bytes = std::fs::read(path).map_err(|source| NodeError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let genesis_err = |reason: String| NodeError::Genesis {
        path: path.display().to_string(),
        reason,
    };
    let b = Block::decode(bytes.as_slice()).map_err(|e| genesis_err(e.to_string()))?;
    let config = block::genesis_config(&b).map_err(|e| genesis_err(e.to_string()))?;
    Ok((b, config))
}

/// The validation rules of a channel config.
pub fn channel_rules(config: &ChannelConfig, msp: Arc<Msp>) -> Result<ChannelRules, NodeError> {
    let mut policies = HashMap::new();
    for cc in &config.chaincodes {
        let p: Policy =
            cc.endorsement_policy
                .parse()
                .map_err(|e: crate::policy::PolicyError| NodeError::Policy {
                    name: cc.name.clone(),
                    reason: e.to_string(),
                })?;
        policies.insert(cc.name.clone(), Arc::new(p));
    }
    Ok(ChannelRules {
        channel_id: config.channel_id.clone(),
        msp,
        policies,
    })
}

/// The chaincode definitions in force at `ledger`'s height: the genesis
/// block's, overridden by those committed in `_lifecycle`.
pub fn definitions_at(
    config: &ChannelConfig,
    msp: Arc<Msp>,
    ledger: &Ledger,
) -> Result<Definitions, NodeError> {
    let mut set = DefinitionSet::new(channel_rules(config, msp)?, &config.chaincodes);
    set.load(ledger)?;
    Ok(Definitions::new(set))
}

/// Concurrent HTTP/2 streams one connection may have open (announced in
/// the server's SETTINGS; further streams are refused by HTTP/2 itself).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 128;

/// How an orderer's config disagrees with the channel's consenter set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsenterMismatch {
    /// No orderer of this ID.
    #[error("not in the channel config")]
    Unknown,
    /// The ID belongs to another org.
    #[error("belongs to {config} in the channel config, not {node}")]
    OtherOrg {
        /// The org in the channel config.
        config: String,
        /// The node's org.
        node: String,
    },
    /// The signing certificate differs.
    #[error("the channel config binds it to another signing certificate than this node's")]
    SigningCert,
    /// The TLS certificate differs.
    #[error("the channel config binds it to another TLS certificate than this node's")]
    TlsCert,
}

/// Checks that this orderer's identities are the ones the channel config
/// binds to its Raft ID, so a misconfigured node says so at start instead
/// of being refused by every other orderer.
fn check_consenter(
    cfg: &NodeConfig,
    consenters: &Consenters,
    signer: &SigningIdentity,
    dialer: &Dialer,
) -> Result<(), NodeError> {
    let id = cfg.orderer_id.unwrap_or(0);
    let mismatch = |problem| NodeError::Consenter { id, problem };
    let me = consenters
        .get(id)
        .ok_or_else(|| mismatch(ConsenterMismatch::Unknown))?;
    if me.msp_id != cfg.msp_id {
        return Err(mismatch(ConsenterMismatch::OtherOrg {
            config: me.msp_id.clone(),
            node: cfg.msp_id.clone(),
        }));
    }
    if me.signing_cert != cert_hash(signer.cert_der()) {
        return Err(mismatch(ConsenterMismatch::SigningCert));
    }
    if me.tls_cert != cert_hash(dialer.identity().cert_der()) {
        return Err(mismatch(ConsenterMismatch::TlsCert));
    }
    Ok(())
}

/// The operations listener's TLS, when `node.toml` configures it.
fn operations_tls(cfg: &NodeConfig) -> Result<Option<Arc<rustls::ServerConfig>>, NodeError> {
    let (Some(cert), Some(key)) = (&cfg.operations_tls_cert, &cfg.operations_tls_key) else {
        return Ok(None);
    };
    let id = SigningIdentity::load(&cfg.msp_id, cert, key).map_err(|source| {
        NodeError::LoadIdentity {
            which: "operations TLS",
            source,
        }
    })?;
    let client_cas = match &cfg.operations_client_ca {
        Some(path) => {
            let load_err = |reason: String| operations::OperationsError::Load {
                what: path.display().to_string(),
                reason,
            };
            let pem = std::fs::read(path).map_err(|e| load_err(e.to_string()))?;
            Some(crate::identity::cert::pem_to_ders(&pem).map_err(|e| load_err(e.to_string()))?)
        }
        None => None,
    };
    let config = operations::tls::server_config(&id, client_cas.as_deref())
        .map_err(operations::OperationsError::from)?;
    Ok(Some(config))
}

/// Runs a node until `shutdown` resolves.
pub async fn run(
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    run_with(cfg, None, shutdown).await
}

/// Runs a node until `shutdown` resolves; its operations listener's
/// `/logspec` changes the process's log filter through `logspec`.
pub async fn run_with(
    cfg: NodeConfig,
    logspec: Option<LogSpec>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let (genesis, config) = load_genesis(&cfg.genesis)?;
    let consenters = Consenters::from_config(&config).map_err(|e| NodeError::Genesis {
        path: cfg.genesis.display().to_string(),
        reason: e.to_string(),
    })?;
    let msp = Arc::new(Msp::from_config(&config));
    let signer = Arc::new(
        SigningIdentity::load(&cfg.msp_id, &cfg.cert, &cfg.key).map_err(|source| {
            NodeError::LoadIdentity {
                which: "signing",
                source,
            }
        })?,
    );
    let me = msp
        .validate(signer.serialized())
        .map_err(|source| NodeError::NotMember {
            which: "signing",
            source,
        })?;
    tracing::info!(node = %cfg.name, msp = %me.msp_id, role = %me.role, channel = %config.channel_id, "starting");
    let tls_roots = crate::identity::tls_roots(&config);
    let load_tls = |(cert, key): (&Path, &Path)| {
        SigningIdentity::load(&cfg.msp_id, cert, key)
            .map(Arc::new)
            .map_err(|source| NodeError::LoadIdentity {
                which: "TLS",
                source,
            })
    };
    let tls_identity = load_tls(cfg.tls_files())?;
    let dialer = Arc::new(Dialer::new(tls_identity.clone(), tls_roots.clone()));
    // A node running both roles orders and signs blocks as its own orderer
    // identity, and presents the orderer's TLS certificate to other orderers.
    let (orderer_signer, orderer_dialer) =
        match (&cfg.orderer_cert, &cfg.orderer_key) {
            (Some(cert), Some(key)) if cfg.has(NodeRole::Orderer) => {
                let id = Arc::new(SigningIdentity::load(&cfg.msp_id, cert, key).map_err(
                    |source| NodeError::LoadIdentity {
                        which: "orderer signing",
                        source,
                    },
                )?);
                let role = msp
                    .validate(id.serialized())
                    .map_err(|source| NodeError::NotMember {
                        which: "orderer signing",
                        source,
                    })?
                    .role;
                if role != crate::identity::Role::Orderer {
                    return Err(NodeError::NotAnOrderer(role));
                }
                let tls = match cfg.orderer_tls_files() {
                    Some(files) => load_tls(files)?,
                    None => id.clone(),
                };
                let d = Arc::new(Dialer::new(tls, tls_roots.clone()));
                (id, d)
            }
            _ => (signer.clone(), dialer.clone()),
        };
    if cfg.has(NodeRole::Orderer) {
        check_consenter(&cfg, &consenters, &orderer_signer, &orderer_dialer)?;
    }
    let server_tls = tls::server_config(&tls_identity, msp.clone())?;
    // Refused before anything starts, like the node's own TLS.
    let ops_tls = operations_tls(&cfg)?;
    let max = block::max_message_bytes(&config);
    let (stop_tx, stop_rx) = watch::channel(false);

    let mut orderer = None;
    if cfg.has(NodeRole::Orderer) {
        let id = cfg.orderer_id.unwrap_or(0);
        orderer = Some(
            Orderer::start(OrdererSettings {
                id,
                data_dir: &cfg.data_dir,
                config: &config,
                genesis: &genesis,
                signer: orderer_signer.clone(),
                msp: msp.clone(),
                dialer: orderer_dialer.clone(),
            })
            .await?,
        );
    }

    let mut health = HealthSources {
        data_dir: cfg.data_dir.clone(),
        min_free_bytes: cfg.operations_min_free_mb.saturating_mul(1024 * 1024),
        ledger: None,
        orderer_link: None,
        raft: orderer
            .as_ref()
            .map(|o| (o.raft.clone(), cfg.orderer_id.unwrap_or(0))),
    };
    let mut gateway = None;
    let mut deliver_task = None;
    // Tasks whose failure (a ledger that cannot be written) stops the node.
    let mut side_tasks: Vec<tokio::task::JoinHandle<Result<(), DeliverError>>> = Vec::new();
    let mut explorer = None;
    if cfg.has(NodeRole::Peer) {
        let ledger = Arc::new(Ledger::open(&cfg.data_dir.join("ledger"))?);
        let link = Arc::new(OrdererLink::default());
        health.ledger = Some(ledger.clone());
        health.orderer_link = Some(link.clone());
        let definitions = definitions_at(&config, msp.clone(), &ledger)?;
        let committer = Arc::new(Committer::new(
            ledger.clone(),
            definitions.clone(),
            &genesis,
        )?);
        explorer = Some((ledger.clone(), definitions.clone()));
        let mut chaincodes = ChaincodeRegistry::builtin();
        let lifecycle = Lifecycle::new(&config).with_installed(chaincodes.names());
        chaincodes.register(lifecycle::NAMESPACE, Arc::new(lifecycle));
        let endorser = Arc::new(Endorser::new(
            definitions,
            ledger.clone(),
            ChaincodeHost::new(chaincodes, Arc::new(ExternalConnector::new(&tls_identity))),
            signer.clone(),
            Duration::from_millis(cfg.chaincode_timeout_ms),
        ));
        // Other orgs' peers; the own org endorses locally.
        let mut peers_by_org: HashMap<String, Vec<String>> = HashMap::new();
        for p in &config.peers {
            if p.msp_id != cfg.msp_id {
                peers_by_org
                    .entry(p.msp_id.clone())
                    .or_default()
                    .push(p.endpoint.clone());
            }
        }
        let orderers: Vec<String> = config.orderers.iter().map(|o| o.endpoint.clone()).collect();
        // Prefer the own org's orderer for Deliver.
        let first = config
            .orderers
            .iter()
            .position(|o| o.msp_id == cfg.msp_id)
            .unwrap_or(0);
        let max_block = block::max_block_bytes(&config);
        let mut source = deliver::Source {
            orderers: orderers.clone(),
            first,
            max_block_bytes: max_block,
            publish: None,
            link,
        };
        let mut membership = None;
        // With gossip, the org's elected peer pulls from the orderers and
        // the others take blocks from gossip; without, this peer pulls.
        let pulling = match &cfg.gossip_listen {
            Some(listen) => {
                let g = gossip::start(
                    &gossip::GossipConfig {
                        listen: listen.clone(),
                        bootstrap: cfg.gossip_bootstrap.clone(),
                        mode: cfg.gossip_pull,
                    },
                    &config,
                    gossip::PeerSelf {
                        name: me.subject.clone(),
                        msp_id: cfg.msp_id.clone(),
                        endpoint: config
                            .peers
                            .iter()
                            .find(|p| p.name == me.subject)
                            .map(|p| p.endpoint.clone())
                            .unwrap_or_else(|| cfg.listen.clone()),
                    },
                    msp.clone(),
                    &signer,
                    committer.clone(),
                    max_block,
                    stop_rx.clone(),
                )?;
                source.publish = Some(g.publish.clone());
                membership = Some(g.membership.clone());
                side_tasks.push(tokio::spawn(async move {
                    match g.swarm.await {
                        Ok(Err(e)) => tracing::error!(error = %e, "gossip stopped"),
                        Err(e) => tracing::error!(error = %e, "gossip task failed"),
                        Ok(Ok(())) => {}
                    }
                    Ok(())
                }));
                side_tasks.push(tokio::spawn(async move {
                    match g.intake.await {
                        Ok(r) => r,
                        Err(e) => Err(DeliverError::CommitTask(e)),
                    }
                }));
                g.pulling
            }
            None => watch::channel(true).1,
        };
        deliver_task = Some(tokio::spawn(deliver::run_while(
            committer.clone(),
            dialer.clone(),
            source,
            pulling,
            stop_rx.clone(),
        )));
        gateway = Some(GatewayService::new(GatewayParts {
            name: cfg.name.clone(),
            msp_id: cfg.msp_id.clone(),
            endorser,
            ledger,
            msp: msp.clone(),
            peers_by_org,
            orderers,
            dialer: dialer.clone(),
            height: committer.height_watch(),
            max_message_bytes: max,
            membership,
        }));
    }

    // Every service sits behind the one authorisation layer, and is
    // counted and timed outside it (refused calls included).
    let access = AccessLayer::new(msp.clone(), StreamLimits::default());
    let metered = GrpcMetricsLayer;
    let router = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(Duration::from_secs(10)))
        .http2_keepalive_timeout(Some(Duration::from_secs(10)))
        .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
        .add_optional_service(orderer.as_ref().map(|o| {
            metered.layer(
                access.layer(
                    AtomicBroadcastServer::new(o.service.clone())
                        .max_decoding_message_size(max)
                        .max_encoding_message_size(block::max_block_bytes(&config)),
                ),
            )
        }))
        .add_optional_service(
            orderer
                .as_ref()
                .map(|o| metered.layer(access.layer(o.service.raft_service()))),
        )
        .add_optional_service(
            gateway
                .as_ref()
                .map(|g| metered.layer(access.layer(g.server()))),
        )
        .add_optional_service(
            gateway
                .as_ref()
                .map(|g| metered.layer(access.layer(g.endorser_server()))),
        );
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .map_err(|source| NodeError::Bind {
            addr: cfg.listen.clone(),
            source,
        })?;
    tracing::info!(listen = %cfg.listen, "serving");
    let ops = match &cfg.operations_listen {
        Some(listen) => {
            let metrics = match operations::metrics::install() {
                Ok(h) => Some(h),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are not recorded");
                    None
                }
            };
            let mut own = vec![("signing", signer.as_ref()), ("tls", tls_identity.as_ref())];
            if cfg.has(NodeRole::Orderer) && cfg.has(NodeRole::Peer) {
                own.push(("orderer_signing", orderer_signer.as_ref()));
            }
            operations::certs::record(&operations::certs::watched(&own, &config));
            if let Some(l) = &health.ledger {
                operations::metrics::ledger_height(&config.channel_id, l.height());
            }
            let explorer = explorer.map(|(ledger, definitions)| {
                Arc::new(operations::explorer::view::Source {
                    ledger,
                    config: Arc::new(config.clone()),
                    definitions,
                    health: Some(health.clone()),
                })
            });
            let state = OperationsState {
                health,
                metrics,
                logspec,
                explorer,
            };
            match Operations::start(listen, state, ops_tls).await {
                Ok(o) => Some(o),
                Err(e) => {
                    // Stop what already runs before saying why.
                    let _ = stop_tx.send(true);
                    if let Some(t) = deliver_task {
                        let _ = t.await;
                    }
                    if let Some(o) = orderer {
                        o.shutdown().await;
                    }
                    return Err(e.into());
                }
            }
        }
        None => None,
    };
    let raft_watch = orderer.as_ref().map(|o| {
        tokio::spawn(operations::raft::watch(
            o.raft.clone(),
            cfg.orderer_id.unwrap_or(0),
            o.tip(),
            stop_rx.clone(),
        ))
    });

    // A ledger that cannot be written stops the node (the deliver task
    // returns the failure): it is shut down like a signal would.
    let (fatal_tx, fatal_rx) = tokio::sync::oneshot::channel::<DeliverError>();
    let deliver_task = deliver_task.map(|t| {
        side_tasks.push(t);
        tokio::spawn(async move {
            let mut fatal_tx = Some(fatal_tx);
            let mut tasks: futures::stream::FuturesUnordered<_> = side_tasks.into_iter().collect();
            while let Some(r) = futures::StreamExt::next(&mut tasks).await {
                match r {
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "stopping");
                        if let Some(tx) = fatal_tx.take() {
                            let _ = tx.send(e);
                        }
                    }
                    Ok(Ok(())) => {}
                    Err(e) => tracing::error!(error = %e, "peer task failed"),
                }
            }
        })
    });
    let (fatal_seen_tx, fatal_seen_rx) = tokio::sync::oneshot::channel::<DeliverError>();
    let stop = async move {
        tokio::select! {
            _ = shutdown => {}
            Ok(e) = fatal_rx => { let _ = fatal_seen_tx.send(e); }
        }
    };
    let served = transport::serve(listener, server_tls, router, stop).await;
    tracing::info!("shutting down");
    let _ = stop_tx.send(true);
    if let Some(t) = deliver_task {
        let _ = t.await;
    }
    if let Some(t) = raft_watch {
        let _ = t.await;
    }
    if let Some(o) = ops {
        o.shutdown().await;
    }
    if let Some(o) = orderer {
        o.shutdown().await;
    }
    served?;
    match fatal_seen_rx.await {
        Ok(e) => Err(NodeError::Deliver(e)),
        Err(_) => Ok(()),
    }
}

/// Asks the node described by `cfg` whether it serves, over mutual TLS as
/// the node itself, on its own listen port. Returns a one-line summary.
pub async fn health(cfg: &NodeConfig) -> Result<String, NodeError> {
    use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
    use consort_proto::gateway_client::GatewayClient;
    let (_, config) = load_genesis(&cfg.genesis)?;
    let (cert, key) = cfg.tls_files();
    let tls_identity = Arc::new(SigningIdentity::load(&cfg.msp_id, cert, key).map_err(
        |source| NodeError::LoadIdentity {
            which: "TLS",
            source,
        },
    )?);
    let port = cfg.listen.rsplit(':').next().unwrap_or_default();
    let endpoint = format!("127.0.0.1:{port}");
    let dialer = Dialer::new(tls_identity, crate::identity::tls_roots(&config));
    let ch = dialer.connect(&endpoint, Some("127.0.0.1")).await?;
    let unhealthy = |what: &str, s: tonic::Status| {
        NodeError::Transport(transport::TransportError::Connect {
            endpoint: endpoint.clone(),
            reason: format!("{what}: {}", s.message()),
        })
    };
    let mut parts = Vec::new();
    if cfg.has(NodeRole::Peer) {
        let s = GatewayClient::new(ch.clone())
            .peer_status(consort_proto::PeerStatusRequest {})
            .await
            .map_err(|s| unhealthy("peer status", s))?
            .into_inner();
        parts.push(format!("peer {} height {}", s.name, s.height));
    }
    if cfg.has(NodeRole::Orderer) {
        let s = AtomicBroadcastClient::new(ch)
            .status(consort_proto::OrdererStatusRequest {})
            .await
            .map_err(|s| unhealthy("orderer status", s))?
            .into_inner();
        let leader = if s.leader == 0 {
            "none".to_string()
        } else {
            s.leader.to_string()
        };
        parts.push(format!(
            "orderer {} height {} leader {leader} term {}",
            s.id, s.height, s.term
        ));
    }
    Ok(parts.join("; "))
}
