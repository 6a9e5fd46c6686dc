//! The gossip node: one libp2p swarm (TCP, noise, yamux) running gossipsub
//! for blocks and status announcements, and request-response for the
//! connection hello and block ranges; its event loop admits peers, checks
//! and spreads blocks, elects the org's puller and catches up.

use super::attest::{self, AttestError};
use super::codec::ProtoCodec;
use super::intake::Verified;
use super::limits::RateLimiter;
use super::view::{Member, Membership};
use super::GossipError;
use crate::block;
use crate::identity::{now_unix, Identity, Msp};
use crate::ledger::Ledger;
use consort_proto::{
    Block, BlockRangeRequest, BlockRangeResponse, GossipHello, GossipStatus, PeerAttestation,
};
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAcceptance, MessageAuthenticity};
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identity::Keypair, noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How often a peer announces its status (and re-runs the election).
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// How long a new connection has to prove its certificate.
const HELLO_DEADLINE: Duration = Duration::from_secs(5);
/// How long a peer that misbehaved stays banned.
const BAN: Duration = Duration::from_secs(600);
/// How often unconnected bootstrap peers are dialed again.
const REDIAL: Duration = Duration::from_secs(3);
/// Most blocks asked for in one range request.
pub const MAX_RANGE: u32 = 64;
/// Most remote peers connected at once.
const MAX_PEERS: usize = 128;
/// Gossip messages per second a peer may forward us (bursts of twice that).
const GOSSIP_RATE: f64 = 200.0;
/// Range and hello requests per second a peer may send us.
const REQUEST_RATE: f64 = 20.0;
/// How long a block range request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// The gossipsub application score of a connection that has not proved a
/// peer certificate: below the graylist threshold.
const UNPROVEN_SCORE: f64 = -1.0e6;
/// How long a peer that answered a range request with nothing (or not at
/// all) is not asked again.
const UNHELPFUL: Duration = Duration::from_secs(10);
/// Wait before the first election, so that a starting peer hears its
/// org's others before it decides to pull.
const SETTLE: Duration = Duration::from_millis(2500);

#[derive(NetworkBehaviour)]
struct Behaviour {
    gossipsub: gossipsub::Behaviour,
    hello: request_response::Behaviour<ProtoCodec<GossipHello, GossipHello>>,
    blocks: request_response::Behaviour<ProtoCodec<BlockRangeRequest, BlockRangeResponse>>,
}

/// What the swarm needs to run.
pub struct Settings {
    /// The channel.
    pub channel_id: String,
    /// The channel's members.
    pub msp: Arc<Msp>,
    /// This peer's attestation for its own peer ID.
    pub keypair: Keypair,
    /// Its attestation for that key's peer ID.
    pub attestation: PeerAttestation,
    /// Address to listen on.
    pub listen: Multiaddr,
    /// Addresses to dial and keep dialing.
    pub bootstrap: Vec<Multiaddr>,
    /// Largest block, bytes.
    pub max_block_bytes: usize,
    /// The view to keep.
    pub membership: Membership,
    /// The ledger (heights, blocks to serve).
    pub ledger: Arc<Ledger>,
}

/// `host:port` as a TCP multiaddr (`/ip4`, `/ip6` or `/dns`).
pub fn tcp_multiaddr(host_port: &str) -> Result<Multiaddr, GossipError> {
    let bad = || GossipError::Address(host_port.to_string());
    let (host, port) = host_port.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let text = match host.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(ip)) => format!("/ip4/{ip}/tcp/{port}"),
        Ok(std::net::IpAddr::V6(ip)) => format!("/ip6/{ip}/tcp/{port}"),
        Err(_) if !host.is_empty() => format!("/dns/{host}/tcp/{port}"),
        Err(_) => return Err(bad()),
    };
    text.parse().map_err(|_| bad())
}

fn message_id(m: &gossipsub::Message) -> gossipsub::MessageId {
    // Content-addressed: the same block published by two peers is one message.
    gossipsub::MessageId::from(hex::encode(&block::sha256(&m.data)[..20]))
}

fn gossipsub_behaviour(
    keypair: &Keypair,
    max_block_bytes: usize,
    blocks: &IdentTopic,
) -> Result<gossipsub::Behaviour, GossipError> {
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .validate_messages()
        .message_id_fn(message_id)
        .max_transmit_size(max_block_bytes + 64 * 1024)
        .heartbeat_interval(Duration::from_millis(700))
        .build()
        .map_err(|e| GossipError::Config(e.to_string()))?;
    let mut g = gossipsub::Behaviour::new(MessageAuthenticity::Signed(keypair.clone()), config)
        .map_err(|e| GossipError::Config(e.to_string()))?;
    // An invalid block costs far more score than honest traffic earns:
    // one graylists its sender. Delivery counts are not penalised (a quiet
    // channel has no traffic to deliver).
    let topic = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.01,
        first_message_deliveries_weight: 1.0,
        first_message_deliveries_cap: 50.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: -100.0,
        invalid_message_deliveries_decay: 0.99,
        ..Default::default()
    };
    let mut params = gossipsub::PeerScoreParams {
        ip_colocation_factor_weight: 0.0,
        app_specific_weight: 1.0,
        ..Default::default()
    };
    params.topics.insert(blocks.hash(), topic);
    g.with_peer_score(params, gossipsub::PeerScoreThresholds::default())
        .map_err(|e| GossipError::Config(e.to_string()))?;
    Ok(g)
}

/// Builds the swarm and starts listening.
fn build(s: &Settings, blocks: &IdentTopic) -> Result<Swarm<Behaviour>, GossipError> {
    let gossipsub = gossipsub_behaviour(&s.keypair, s.max_block_bytes, blocks)?;
    let rr = |timeout| {
        request_response::Config::default()
            .with_request_timeout(timeout)
            .with_max_concurrent_streams(16)
    };
    let hello = request_response::Behaviour::with_codec(
        ProtoCodec::new(64 * 1024, 64 * 1024),
        [(
            StreamProtocol::new("/consort/hello/1"),
            ProtocolSupport::Full,
        )],
        rr(HELLO_DEADLINE),
    );
    let range = request_response::Behaviour::with_codec(
        ProtoCodec::new(1024, range_budget(s.max_block_bytes) + 64 * 1024),
        [(
            StreamProtocol::new("/consort/blocks/1"),
            ProtocolSupport::Full,
        )],
        rr(REQUEST_TIMEOUT),
    );
    let behaviour = Behaviour {
        gossipsub,
        hello,
        blocks: range,
    };
    let transport = |e: &dyn std::fmt::Display| GossipError::Transport(e.to_string());
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(s.keypair.clone())
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| transport(&e))?
        .with_dns()
        .map_err(|e| transport(&e))?
        .with_behaviour(move |_| behaviour)
        .map_err(|e| transport(&e))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(120)))
        .build();
    swarm
        .listen_on(s.listen.clone())
        .map_err(|e| GossipError::Listen {
            addr: s.listen.to_string(),
            reason: e.to_string(),
        })?;
    Ok(swarm)
}

/// Bytes of blocks one range response carries at most.
fn range_budget(max_block_bytes: usize) -> usize {
    (4 * max_block_bytes).clamp(1 << 20, 64 << 20)
}

struct Catchup {
    id: OutboundRequestId,
    start: u64,
}

struct Node {
    swarm: Swarm<Behaviour>,
    s: Settings,
    blocks_topic: IdentTopic,
    status_topic: IdentTopic,
    /// Connected peers that proved a peer certificate.
    attested: HashMap<PeerId, Arc<Identity>>,
    /// Authors of status messages, by the attestation they sent.
    authors: HashMap<PeerId, (Vec<u8>, Arc<Identity>)>,
    /// Connected peers yet to prove one, with their deadline.
    unproven: HashMap<PeerId, Instant>,
    banned: HashMap<PeerId, Instant>,
    gossip_rate: RateLimiter,
    request_rate: RateLimiter,
    intake: mpsc::Sender<Verified>,
    pulling: watch::Sender<bool>,
    started: Instant,
    catchup: Option<Catchup>,
    /// Blocks fetched up to (exclusive), and when: the next range starts
    /// there while the intake commits the last one.
    fetched: (u64, Instant),
    responses: mpsc::Sender<(ResponseChannel<BlockRangeResponse>, BlockRangeResponse)>,
    /// Which peer each bootstrap address reached.
    dialed: HashMap<Multiaddr, PeerId>,
    /// Peers not to ask for ranges until then: their last answer had no
    /// block, or failed.
    unhelpful: HashMap<PeerId, Instant>,
}

/// Runs the gossip node until `shutdown`.
pub async fn run(
    s: Settings,
    intake: mpsc::Sender<Verified>,
    mut publish: mpsc::Receiver<Block>,
    pulling: watch::Sender<bool>,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), GossipError> {
    let blocks_topic = IdentTopic::new(format!("/consort/{}/blocks/1", s.channel_id));
    let status_topic = IdentTopic::new(format!("/consort/{}/status/1", s.channel_id));
    let mut swarm = build(&s, &blocks_topic)?;
    for t in [&blocks_topic, &status_topic] {
        swarm
            .behaviour_mut()
            .gossipsub
            .subscribe(t)
            .map_err(|e| GossipError::Config(e.to_string()))?;
    }
    let (responses, mut responses_rx) = mpsc::channel(64);
    let mut node = Node {
        swarm,
        s,
        blocks_topic,
        status_topic,
        attested: HashMap::new(),
        authors: HashMap::new(),
        unproven: HashMap::new(),
        banned: HashMap::new(),
        gossip_rate: RateLimiter::new(GOSSIP_RATE, 2.0 * GOSSIP_RATE),
        request_rate: RateLimiter::new(REQUEST_RATE, 2.0 * REQUEST_RATE),
        intake,
        pulling,
        started: Instant::now(),
        catchup: None,
        fetched: (0, Instant::now()),
        responses,
        dialed: HashMap::new(),
        unhelpful: HashMap::new(),
    };
    node.dial_bootstrap();
    let mut status = tokio::time::interval(STATUS_INTERVAL);
    let mut redial = tokio::time::interval(REDIAL);
    let mut catchup = tokio::time::interval(Duration::from_millis(300));
    loop {
        tokio::select! {
            ev = node.swarm.select_next_some() => node.on_event(ev),
            Some(b) = publish.recv() => node.publish_block(&b),
            Some((ch, resp)) = responses_rx.recv() => {
                let _ = node.swarm.behaviour_mut().blocks.send_response(ch, resp);
            }
            _ = status.tick() => node.on_status_tick(),
            _ = redial.tick() => node.dial_bootstrap(),
            _ = catchup.tick() => node.maybe_catch_up(),
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

type Event = SwarmEvent<BehaviourEvent>;

impl Node {
    fn dial_bootstrap(&mut self) {
        if self.swarm.connected_peers().count() >= MAX_PEERS {
            return;
        }
        for addr in self.s.bootstrap.clone() {
            let reached = self
                .dialed
                .get(&addr)
                .is_some_and(|p| self.swarm.is_connected(p));
            if reached {
                continue;
            }
            if let Err(e) = self.swarm.dial(addr.clone()) {
                tracing::debug!(%addr, error = %e, "gossip dial failed");
            }
        }
    }

    fn ledger_height(&self) -> u64 {
        self.s.ledger.height()
    }

    /// Disconnects `peer` and refuses it for a while.
    fn ban(&mut self, peer: PeerId, why: &str) {
        let who = self
            .attested
            .get(&peer)
            .map(|id| format!("{} ({})", id.subject, id.msp_id))
            .unwrap_or_else(|| "unproven".into());
        tracing::warn!(%peer, %who, reason = why, "gossip peer disconnected and banned");
        self.banned.insert(peer, Instant::now() + BAN);
        self.attested.remove(&peer);
        self.unproven.remove(&peer);
        self.s.membership.forget(&peer);
        self.swarm.behaviour_mut().gossipsub.blacklist_peer(&peer);
        let _ = self.swarm.disconnect_peer_id(peer);
    }

    fn is_banned(&mut self, peer: &PeerId) -> bool {
        let now = Instant::now();
        self.banned.retain(|_, until| *until > now);
        self.banned.contains_key(peer)
    }

    fn on_event(&mut self, ev: Event) {
        match ev {
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                if self.is_banned(&peer_id) {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                if let libp2p::core::ConnectedPoint::Dialer { address, .. } = &endpoint {
                    self.dialed.insert(address.clone(), peer_id);
                }
                if self.swarm.connected_peers().count() > MAX_PEERS {
                    let _ = self.swarm.disconnect_peer_id(peer_id);
                    return;
                }
                if num_established.get() == 1 && !self.attested.contains_key(&peer_id) {
                    // No gossip either way until it proves a peer certificate:
                    // below every score threshold it is neither meshed,
                    // published to nor listened to (its subscriptions are
                    // still recorded, for when it is admitted).
                    self.swarm
                        .behaviour_mut()
                        .gossipsub
                        .set_application_score(&peer_id, UNPROVEN_SCORE);
                    self.unproven
                        .insert(peer_id, Instant::now() + HELLO_DEADLINE);
                    let hello = GossipHello {
                        attestation: Some(self.s.attestation.clone()),
                    };
                    self.swarm
                        .behaviour_mut()
                        .hello
                        .send_request(&peer_id, hello);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established: 0,
                ..
            } => {
                self.attested.remove(&peer_id);
                self.unproven.remove(&peer_id);
                self.gossip_rate.forget(&peer_id);
                self.request_rate.forget(&peer_id);
            }
            SwarmEvent::Behaviour(BehaviourEvent::Hello(e)) => self.on_hello(e),
            SwarmEvent::Behaviour(BehaviourEvent::Blocks(e)) => self.on_blocks(e),
            SwarmEvent::Behaviour(BehaviourEvent::Gossipsub(gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            })) => {
                let verdict = self.on_gossip(propagation_source, &message);
                let reject = verdict == MessageAcceptance::Reject;
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .gossipsub
                    .report_message_validation_result(&message_id, &propagation_source, verdict);
                if reject {
                    self.ban(propagation_source, "sent an invalid gossip message");
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "gossip listening");
            }
            SwarmEvent::ListenerError { error, .. } => {
                tracing::error!(error = %error, "gossip listener failed");
            }
            _ => {}
        }
    }

    /// Admits `peer` if `a` proves it a member peer, else bans it.
    fn admit(&mut self, peer: PeerId, a: Option<&PeerAttestation>) {
        if self.attested.contains_key(&peer) {
            return;
        }
        match attest::verify(&self.s.msp, &self.s.channel_id, &peer, a) {
            Ok(id) => {
                tracing::info!(%peer, name = %id.subject, msp = %id.msp_id, "gossip peer admitted");
                self.unproven.remove(&peer);
                self.attested.insert(peer, id);
                let g = &mut self.swarm.behaviour_mut().gossipsub;
                g.remove_blacklisted_peer(&peer);
                g.set_application_score(&peer, 0.0);
            }
            Err(e) => self.ban(peer, &format!("no member peer certificate: {e}")),
        }
    }

    fn on_hello(&mut self, e: request_response::Event<GossipHello, GossipHello>) {
        match e {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    if !self.request_rate.allow(&peer, Instant::now()) {
                        self.ban(peer, "too many requests");
                        return;
                    }
                    self.admit(peer, request.attestation.as_ref());
                    if self.attested.contains_key(&peer) {
                        let hello = GossipHello {
                            attestation: Some(self.s.attestation.clone()),
                        };
                        let _ = self
                            .swarm
                            .behaviour_mut()
                            .hello
                            .send_response(channel, hello);
                    }
                }
                request_response::Message::Response { response, .. } => {
                    self.admit(peer, response.attestation.as_ref());
                }
            },
            request_response::Event::OutboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, error = %error, "gossip hello failed");
            }
            _ => {}
        }
    }

    fn on_blocks(&mut self, e: request_response::Event<BlockRangeRequest, BlockRangeResponse>) {
        match e {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request {
                    request, channel, ..
                } => {
                    if !self.attested.contains_key(&peer) {
                        self.ban(peer, "asked for blocks before proving a peer certificate");
                        return;
                    }
                    if !self.request_rate.allow(&peer, Instant::now()) {
                        self.ban(peer, "too many block requests");
                        return;
                    }
                    self.serve_range(request, channel);
                }
                request_response::Message::Response {
                    request_id,
                    response,
                } => {
                    let Some(c) = self.catchup.take_if(|c| c.id == request_id) else {
                        return;
                    };
                    self.on_range(c, peer, response);
                }
            },
            request_response::Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } if self.catchup.as_ref().is_some_and(|c| c.id == request_id) => {
                tracing::debug!(%peer, error = %error, "block range request failed");
                self.catchup = None;
                self.unhelpful.insert(peer, Instant::now() + UNHELPFUL);
            }
            _ => {}
        }
    }

    /// Reads the asked blocks on a blocking thread and answers from the loop.
    fn serve_range(&self, req: BlockRangeRequest, channel: ResponseChannel<BlockRangeResponse>) {
        let ledger = self.s.ledger.clone();
        let budget = range_budget(self.s.max_block_bytes);
        let tx = self.responses.clone();
        tokio::task::spawn_blocking(move || {
            let height = ledger.height();
            let end = req
                .start
                .saturating_add(u64::from(req.count.min(MAX_RANGE)))
                .min(height);
            let mut blocks = Vec::new();
            let mut bytes = 0;
            for n in req.start..end {
                match ledger.block(n) {
                    Ok(Some(cb)) => {
                        let Some(b) = cb.block else { break };
                        let enc = b.encode_to_vec();
                        if bytes + enc.len() > budget && !blocks.is_empty() {
                            break;
                        }
                        bytes += enc.len();
                        blocks.push(enc);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!(block = n, error = %e, "cannot read a block for a peer");
                        break;
                    }
                }
            }
            let _ = tx.blocking_send((channel, BlockRangeResponse { blocks, height }));
        });
    }

    /// Checks a range answer's blocks and hands them to the intake.
    fn on_range(&mut self, c: Catchup, peer: PeerId, r: BlockRangeResponse) {
        let mut expected = c.start;
        for bytes in &r.blocks {
            let checked = Block::decode(bytes.as_slice())
                .map_err(|e| e.to_string())
                .and_then(|b| {
                    block::check_standalone(&b, &self.s.channel_id, &self.s.msp)
                        .map(|h| (h, b))
                        .map_err(|e| e.to_string())
                });
            match checked {
                Ok((h, b)) if h.number == expected => {
                    expected += 1;
                    if self
                        .intake
                        .try_send(Verified {
                            number: h.number,
                            block: b,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
                Ok((h, _)) => {
                    self.ban(
                        peer,
                        &format!("answered a range from {} with block {}", expected, h.number),
                    );
                    return;
                }
                Err(e) => {
                    self.ban(peer, &format!("sent a block that does not verify: {e}"));
                    return;
                }
            }
        }
        if expected > c.start {
            tracing::debug!(%peer, from = c.start, to = expected, "caught up blocks from a peer");
            self.fetched = (expected, Instant::now());
        } else {
            // It announced blocks it does not serve: ask others for a while.
            self.unhelpful.insert(peer, Instant::now() + UNHELPFUL);
        }
    }

    fn maybe_catch_up(&mut self) {
        if self.catchup.is_some() {
            return;
        }
        let height = self.ledger_height();
        let now = Instant::now();
        // Continue after the last range while the intake commits it.
        let start = if self.fetched.0 > height && now - self.fetched.1 < Duration::from_secs(3) {
            self.fetched.0
        } else {
            height
        };
        self.unhelpful.retain(|_, until| *until > now);
        let (attested, unhelpful) = (&self.attested, &self.unhelpful);
        let usable = |p: &PeerId| attested.contains_key(p) && !unhelpful.contains_key(p);
        let Some((peer, their)) = self.s.membership.best_ahead_of(start, now, usable) else {
            return;
        };
        let count = (their - start).min(u64::from(MAX_RANGE)) as u32;
        let id = self
            .swarm
            .behaviour_mut()
            .blocks
            .send_request(&peer, BlockRangeRequest { start, count });
        self.catchup = Some(Catchup { id, start });
    }

    /// Checks one gossip message; the verdict also decides whether it is
    /// passed on.
    fn on_gossip(&mut self, from: PeerId, m: &gossipsub::Message) -> MessageAcceptance {
        if !self.attested.contains_key(&from) {
            return MessageAcceptance::Ignore;
        }
        if !self.gossip_rate.allow(&from, Instant::now()) {
            self.ban(from, "flooding gossip messages");
            return MessageAcceptance::Ignore;
        }
        if m.topic == self.blocks_topic.hash() {
            self.on_gossiped_block(&m.data)
        } else if m.topic == self.status_topic.hash() {
            self.on_status(m.source, &m.data)
        } else {
            MessageAcceptance::Reject
        }
    }

    fn on_gossiped_block(&mut self, data: &[u8]) -> MessageAcceptance {
        let Ok(b) = Block::decode(data) else {
            return MessageAcceptance::Reject;
        };
        let header = match block::check_standalone(&b, &self.s.channel_id, &self.s.msp) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(error = %e, "gossiped block refused");
                return MessageAcceptance::Reject;
            }
        };
        if header.number < self.ledger_height() {
            return MessageAcceptance::Ignore;
        }
        if let Err(e) = self.intake.try_send(Verified {
            number: header.number,
            block: b,
        }) {
            tracing::warn!(block = header.number, error = %e, "gossiped block not taken in");
        }
        MessageAcceptance::Accept
    }

    fn on_status(&mut self, author: Option<PeerId>, data: &[u8]) -> MessageAcceptance {
        let (Some(author), Ok(st)) = (author, GossipStatus::decode(data)) else {
            return MessageAcceptance::Reject;
        };
        let Some(a) = st.attestation.as_ref() else {
            return MessageAcceptance::Reject;
        };
        let id = match self.authors.get(&author) {
            Some((bytes, id)) if *bytes == a.identity && id.not_after >= now_unix() => id.clone(),
            _ => match attest::verify(&self.s.msp, &self.s.channel_id, &author, Some(a)) {
                Ok(id) => {
                    if self.authors.len() > 4 * MAX_PEERS {
                        self.authors.clear();
                    }
                    self.authors
                        .insert(author, (a.identity.clone(), id.clone()));
                    id
                }
                Err(AttestError::Expired(_)) => return MessageAcceptance::Ignore,
                Err(e) => {
                    tracing::warn!(%author, error = %e, "status announcement refused");
                    return MessageAcceptance::Reject;
                }
            },
        };
        // The gateway dials the endpoint the channel config gives the
        // certificate's name, never one a peer claims for itself.
        let endpoint = self
            .s
            .membership
            .configured_endpoint(&id.subject, &id.msp_id)
            .unwrap_or_default();
        self.s.membership.heard(
            author,
            Member {
                name: id.subject.clone(),
                msp_id: id.msp_id.clone(),
                endpoint,
                height: st.height,
                pulling: st.pulling,
                eligible: st.eligible,
                last_seen: Instant::now(),
                time_ms: st.time_ms,
            },
        );
        MessageAcceptance::Accept
    }

    fn publish_block(&mut self, b: &Block) {
        let g = &mut self.swarm.behaviour_mut().gossipsub;
        match g.publish(self.blocks_topic.clone(), b.encode_to_vec()) {
            Ok(_) | Err(gossipsub::PublishError::Duplicate) => {}
            Err(gossipsub::PublishError::NoPeersSubscribedToTopic) => {}
            Err(e) => tracing::debug!(error = %e, "block not gossiped"),
        }
    }

    fn on_status_tick(&mut self) {
        let now = Instant::now();
        // Connections that did not prove a certificate in time.
        let late: Vec<PeerId> = self
            .unproven
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(p, _)| *p)
            .collect();
        for p in late {
            self.ban(p, "did not prove a peer certificate in time");
        }
        // Certificates that expired while connected.
        let expired: Vec<PeerId> = self
            .attested
            .iter()
            .filter(|(_, id)| id.check_valid_at(now_unix()).is_err())
            .map(|(p, _)| *p)
            .collect();
        for p in expired {
            self.ban(p, "its certificate expired");
        }
        let pull = now.duration_since(self.started) >= SETTLE && self.s.membership.should_pull(now);
        let height = self.ledger_height();
        self.s.membership.set_self(height, pull);
        if *self.pulling.borrow() != pull {
            tracing::info!(
                pulling = pull,
                "pulling blocks from the ordering service: {}",
                if pull {
                    "this peer"
                } else {
                    "another peer of this org"
                }
            );
            self.pulling.send_replace(pull);
        }
        let me = self.s.membership.me();
        let st = GossipStatus {
            attestation: Some(self.s.attestation.clone()),
            endpoint: me.endpoint.clone(),
            height,
            pulling: pull,
            eligible: me.mode != super::PullMode::Never,
            time_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0),
        };
        let topic = self.status_topic.clone();
        let g = &mut self.swarm.behaviour_mut().gossipsub;
        if let Err(e) = g.publish(topic, st.encode_to_vec()) {
            if !matches!(e, gossipsub::PublishError::NoPeersSubscribedToTopic) {
                tracing::debug!(error = %e, "status not gossiped");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_become_tcp_multiaddrs() {
        assert_eq!(
            tcp_multiaddr("127.0.0.1:7151").unwrap().to_string(),
            "/ip4/127.0.0.1/tcp/7151"
        );
        assert_eq!(
            tcp_multiaddr("peer0.org1:7151").unwrap().to_string(),
            "/dns/peer0.org1/tcp/7151"
        );
        assert_eq!(
            tcp_multiaddr("[::1]:7151").unwrap().to_string(),
            "/ip6/::1/tcp/7151"
        );
        for bad in ["nohost", ":7151", "h:port", "h:99999"] {
            assert!(tcp_multiaddr(bad).is_err(), "{bad}");
        }
    }
}
