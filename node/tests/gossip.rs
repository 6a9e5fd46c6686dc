//! Gossip among a channel's peers on a live network of three orgs with two
//! peers each: one peer per org pulls from the orderers and the others get
//! blocks by gossip; a peer that was down catches up from its neighbours
//! alone; a killed puller is replaced; outsiders and forgers are cut off.

mod common;

use common::*;
use consort::config::{NetworkSpec, NodeConfig, NodeRole};
use consort::gossip::codec::ProtoCodec;
use consort::identity::SigningIdentity;
use consort_proto::{
    Block, BlockHeader, GossipHello, OrdererStatusResponse, PeerInfo, PeersRequest,
};
use futures::StreamExt;
use libp2p::gossipsub::{self, IdentTopic, MessageAuthenticity};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{identity::Keypair, noise, tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm};
use prost::Message;
use std::time::{Duration, Instant};

fn two_peers_per_org() -> NetworkSpec {
    NetworkSpec::three_orgs_with_peers(7050, 2)
}

/// The channel's peers as `peer` sees them.
async fn view(t: &TestNet, peer: &str) -> Vec<PeerInfo> {
    let msp = t
        .net
        .nodes()
        .iter()
        .find(|n| n.name == peer)
        .map(|n| n.msp_id.clone())
        .expect("known peer");
    let Ok(c) = t.net.client(&msp, Some(peer)).await else {
        return Vec::new();
    };
    match c.gateway().peers(PeersRequest {}).await {
        Ok(r) => r.into_inner().peers,
        Err(_) => Vec::new(),
    }
}

/// Waits until `peer` sees `alive` live peers and exactly one puller in
/// each org that has a live peer; returns the pullers' names.
async fn wait_for_pullers(t: &TestNet, peer: &str, alive: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let v = view(t, peer).await;
        let live: Vec<&PeerInfo> = v.iter().filter(|p| p.alive).collect();
        let mut orgs: Vec<&str> = live.iter().map(|p| p.msp_id.as_str()).collect();
        orgs.sort_unstable();
        orgs.dedup();
        let pullers: Vec<String> = live
            .iter()
            .filter(|p| p.pulls_from_orderers)
            .map(|p| p.name.clone())
            .collect();
        let one_per_org = orgs.iter().all(|o| {
            live.iter()
                .filter(|p| p.msp_id == *o && p.pulls_from_orderers)
                .count()
                == 1
        });
        if live.len() == alive && one_per_org {
            return pullers;
        }
        assert!(
            Instant::now() < deadline,
            "{peer} did not see {alive} live peers with one puller per org within {within:?}: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Waits until the running peers named in `peers` agree on height, last
/// block hash and state hash, at least `min_height`.
async fn wait_agree(t: &mut TestNet, peers: &[&str], min_height: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let all: Vec<_> = t
            .peer_statuses()
            .await
            .into_iter()
            .filter(|s| peers.contains(&s.name.as_str()))
            .collect();
        if let Some(s) = converged(&all, peers.len(), min_height) {
            return s.height;
        }
        let heights: Vec<(String, u64)> = all.iter().map(|s| (s.name.clone(), s.height)).collect();
        assert!(
            Instant::now() < deadline,
            "{peers:?} did not agree at height >= {min_height} within {within:?}: {heights:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// How long until every one of `peers` has at least `height` blocks
/// (fails the test after 10 s).
async fn time_to_reach(t: &mut TestNet, peers: &[&str], height: u64) -> Duration {
    let started = Instant::now();
    loop {
        let statuses = t.peer_statuses().await;
        let behind: Vec<(&str, u64)> = statuses
            .iter()
            .filter(|s| peers.contains(&s.name.as_str()) && s.height < height)
            .map(|s| (s.name.as_str(), s.height))
            .collect();
        if behind.is_empty() && statuses.len() >= peers.len() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still below height {height}: {behind:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn orderer_totals(t: &mut TestNet) -> (u64, u64) {
    let st: Vec<(String, OrdererStatusResponse)> = t.orderer_statuses().await;
    st.iter().fold((0, 0), |(b, n), (_, s)| {
        (b + s.deliver_bytes_sent, n + s.deliver_blocks_sent)
    })
}

/// One client per org, on peer1, peer0 and peer1 of orgs 1, 2 and 3.
async fn mixed_clients(t: &TestNet) -> Vec<consort::client::Client> {
    vec![
        t.client_on(1, "peer1.org1").await.expect("client"),
        t.client_on(2, "peer0.org2").await.expect("client"),
        t.client_on(3, "peer1.org3").await.expect("client"),
    ]
}

async fn height_of(t: &TestNet, peer: &str, msp: &str) -> u64 {
    let c = t.net.client(msp, Some(peer)).await.expect("client");
    c.status().await.expect("status").height
}

/// Blocks from the orderers go to one peer per org; the other three get
/// them by gossip, and all six agree. When that org's puller is killed its
/// sibling takes over, and gateways keep endorsing with the dead peers'
/// siblings.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_puller_per_org_feeds_six_peers_and_a_dead_puller_is_replaced() {
    let _g = serial().await;
    let mut t = TestNet::start_with(two_peers_per_org()).await;
    let names = t.peer_names();
    assert_eq!(names.len(), 6, "{names:?}");
    let pullers = wait_for_pullers(&t, "peer0.org1", 6, Duration::from_secs(30)).await;
    assert_eq!(pullers.len(), 3, "{pullers:?}");

    t.setup_token().await;
    let (bytes0, blocks0) = orderer_totals(&mut t).await;
    let h0 = height_of(&t, "peer0.org1", "Org1MSP").await;
    let clients = mixed_clients(&t).await;
    let sent = transfer_load(clients, 300, 16, None, 11).await;
    let errors: Vec<&String> = sent.iter().filter_map(|s| s.error.as_ref()).collect();
    assert!(
        errors.is_empty(),
        "{} transfers failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let h = wait_agree(&mut t, &all, h0 + 1, Duration::from_secs(60)).await;
    let (bytes1, blocks1) = orderer_totals(&mut t).await;
    let committed = h - h0;
    let sent_blocks = blocks1 - blocks0;
    println!(
        "gossip: {committed} blocks committed by 6 peers; orderers sent {sent_blocks} blocks, \
         {} bytes per committed block",
        (bytes1 - bytes0) / committed.max(1)
    );
    assert!(
        sent_blocks <= 3 * committed + 6,
        "the orderers sent {sent_blocks} blocks for {committed} blocks: more than one pulling peer per org"
    );

    // A lone block reaches every peer by push, at once: not a block
    // interval later, nor at the next height announcement (every second).
    let puller = pullers.first().cloned().expect("a puller");
    let lone = t.client_on(1, &puller).await.expect("client");
    for round in 0..3u64 {
        let sent = transfer_load(vec![lone.clone()], 1, 1, None, 12 + round).await;
        let block = sent[0].acked_block.expect("acknowledged");
        let took = time_to_reach(&mut t, &all, block + 1).await;
        assert!(
            took < Duration::from_millis(500),
            "block {block} reached all six peers only after {took:?}"
        );
    }

    // Kill org 1's puller and org 3's peer0: org 1's other peer takes over
    // the pull, and gateways endorse through the survivors.
    let org1_puller = pullers
        .iter()
        .find(|p| p.ends_with(".org1"))
        .cloned()
        .expect("org 1 has a puller");
    let org1_other = if org1_puller == "peer0.org1" {
        "peer1.org1"
    } else {
        "peer0.org1"
    };
    t.net.kill(&org1_puller).expect("kill");
    t.net.kill("peer0.org3").expect("kill");
    let took_over = Instant::now();
    let pullers = wait_for_pullers(&t, org1_other, 4, Duration::from_secs(15)).await;
    assert!(pullers.iter().any(|p| p == org1_other), "{pullers:?}");
    println!(
        "{org1_other} took over the pull in {:?}",
        took_over.elapsed()
    );

    let clients = vec![
        t.client_on(1, org1_other).await.expect("client"),
        t.client_on(2, "peer0.org2").await.expect("client"),
        t.client_on(2, "peer1.org2").await.expect("client"),
    ];
    let sent = transfer_load(clients, 60, 8, None, 12).await;
    let failed: Vec<_> = sent.iter().filter_map(|s| s.error.clone()).collect();
    assert!(
        failed.is_empty(),
        "{} transfers failed with peers down: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    let survivors = [org1_other, "peer0.org2", "peer1.org2", "peer1.org3"];
    let h2 = wait_agree(&mut t, &survivors, h + 1, Duration::from_secs(60)).await;

    // Back up, everyone agrees again.
    t.net.start(&org1_puller).expect("restart");
    t.net.start("peer0.org3").expect("restart");
    wait_agree(&mut t, &all, h2, Duration::from_secs(90)).await;
    t.net.stop_all();
}

/// A peer that was down while 500 transactions were committed catches up
/// from the other peers with the whole ordering service stopped.
/// `CONSORT_TEST_CATCHUP_TX` and `CONSORT_TEST_CATCHUP_CONCURRENCY` change
/// the load (e.g. 2000 and 1 leave the peer about 1,000 blocks behind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_was_down_catches_up_from_peers_alone() {
    let _g = serial().await;
    let mut t = TestNet::start_with(two_peers_per_org()).await;
    wait_for_pullers(&t, "peer0.org1", 6, Duration::from_secs(30)).await;
    t.setup_token().await;
    let lagging = "peer1.org2";
    t.net.stop(lagging, Duration::from_secs(10)).expect("stop");
    let before = height_of(&t, "peer0.org2", "Org2MSP").await;

    let count: usize = std::env::var("CONSORT_TEST_CATCHUP_TX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    let clients = vec![
        t.client_on(1, "peer0.org1").await.expect("client"),
        t.client_on(2, "peer0.org2").await.expect("client"),
        t.client_on(3, "peer0.org3").await.expect("client"),
    ];
    let concurrency: usize = std::env::var("CONSORT_TEST_CATCHUP_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    let sent = transfer_load(clients, count, concurrency, None, 21).await;
    assert!(
        sent.iter().all(|s| s.acked_block.is_some()),
        "all acknowledged"
    );
    let others: Vec<String> = t
        .peer_names()
        .into_iter()
        .filter(|n| n != lagging)
        .collect();
    let others: Vec<&str> = others.iter().map(String::as_str).collect();
    let h = wait_agree(&mut t, &others, before + 1, Duration::from_secs(60)).await;

    // No orderer runs now: the lagging peer can only learn from peers.
    for o in t.orderer_names() {
        t.net
            .stop(&o, Duration::from_secs(10))
            .expect("stop orderer");
    }
    t.net.start(lagging).expect("restart");
    let started = Instant::now();
    let all: Vec<String> = t.peer_names();
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    wait_agree(&mut t, &all, h, Duration::from_secs(120)).await;
    println!(
        "{lagging} caught up {} blocks from peers in {:?} (including its start)",
        h - before,
        started.elapsed()
    );

    // The ordering service comes back and the network goes on.
    for o in t.orderer_names() {
        t.net.start(&o).expect("start orderer");
    }
    t.leader(Duration::from_secs(30)).await;
    let c = t.client_on(2, lagging).await.expect("client");
    let sent = transfer_load(vec![c], 10, 2, None, 22).await;
    assert!(sent.iter().all(|s| s.acked_block.is_some()), "{sent:?}");
    wait_agree(&mut t, &all, h + 1, Duration::from_secs(60)).await;
    t.net.stop_all();
}

#[derive(NetworkBehaviour)]
struct Probe {
    gossipsub: gossipsub::Behaviour,
    hello: request_response::Behaviour<ProtoCodec<GossipHello, GossipHello>>,
}

/// A libp2p node speaking the peers' protocols, as an outsider or a member
/// gone bad would run one.
fn probe_swarm() -> Swarm<Probe> {
    let key = Keypair::generate_ed25519();
    let config = gossipsub::ConfigBuilder::default()
        .validation_mode(gossipsub::ValidationMode::Strict)
        .max_transmit_size(8 << 20)
        .build()
        .expect("gossipsub config");
    let gossipsub = gossipsub::Behaviour::new(MessageAuthenticity::Signed(key.clone()), config)
        .expect("gossipsub");
    let hello = request_response::Behaviour::with_codec(
        ProtoCodec::new(64 * 1024, 64 * 1024),
        [(
            StreamProtocol::new("/consort/hello/1"),
            ProtocolSupport::Full,
        )],
        request_response::Config::default(),
    );
    libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .expect("tcp")
        .with_behaviour(|_| Probe { gossipsub, hello })
        .expect("behaviour")
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

/// What a probe saw while it was connected.
#[derive(Debug, Default)]
struct Seen {
    closed: bool,
    hello_answered: bool,
    block_messages: usize,
    status_messages: usize,
}

/// Drives `swarm` for `dur` or until its connection closes, answering
/// hellos with `hello` (`None`: stays silent).
async fn drive(swarm: &mut Swarm<Probe>, hello: &Option<GossipHello>, dur: Duration) -> Seen {
    let mut seen = Seen::default();
    let deadline = tokio::time::sleep(dur);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return seen,
            ev = swarm.select_next_some() => match ev {
                SwarmEvent::ConnectionClosed { num_established: 0, .. } => {
                    seen.closed = true;
                    return seen;
                }
                SwarmEvent::Behaviour(ProbeEvent::Hello(request_response::Event::Message { message, .. })) => {
                    match message {
                        request_response::Message::Request { channel, .. } => {
                            if let Some(h) = hello {
                                let _ = swarm.behaviour_mut().hello.send_response(channel, h.clone());
                            }
                        }
                        request_response::Message::Response { .. } => seen.hello_answered = true,
                    }
                }
                SwarmEvent::Behaviour(ProbeEvent::Gossipsub(gossipsub::Event::Message { message, .. })) => {
                    if message.topic.as_str().ends_with("/blocks/1") {
                        seen.block_messages += 1;
                    } else {
                        seen.status_messages += 1;
                    }
                }
                _ => {}
            }
        }
    }
}

/// Connects probe `s` to `addr` and says hello with `hello`.
async fn connect(
    mut s: Swarm<Probe>,
    addr: &Multiaddr,
    channel: &str,
    hello: &Option<GossipHello>,
) -> Swarm<Probe> {
    for t in ["blocks", "status"] {
        s.behaviour_mut()
            .gossipsub
            .subscribe(&IdentTopic::new(format!("/consort/{channel}/{t}/1")))
            .expect("subscribe");
    }
    s.dial(addr.clone()).expect("dial");
    loop {
        match tokio::time::timeout(Duration::from_secs(10), s.select_next_some()).await {
            Ok(SwarmEvent::ConnectionEstablished { peer_id, .. }) => {
                if let Some(h) = hello {
                    s.behaviour_mut().hello.send_request(&peer_id, h.clone());
                }
                return s;
            }
            Ok(SwarmEvent::OutgoingConnectionError { error, .. }) => panic!("dial {addr}: {error}"),
            Ok(_) => {}
            Err(_) => panic!("no connection to {addr} within 10s"),
        }
    }
}

fn hello_from(id: &SigningIdentity, channel: &str, peer: &PeerId) -> Option<GossipHello> {
    Some(GossipHello {
        attestation: Some(consort::gossip::attest::attest(id, channel, peer).expect("attest")),
    })
}

fn gossip_addr(t: &TestNet, peer: &str) -> Multiaddr {
    let node = t.net.nodes().iter().find(|n| n.name == peer).expect("peer");
    let cfg = NodeConfig::load(&node.config).expect("node config");
    let listen = cfg.gossip_listen.expect("gossip is on");
    consort::gossip::swarm::tcp_multiaddr(&listen).expect("address")
}

fn signing_identity(t: &TestNet, name: &str) -> SigningIdentity {
    let node = t.net.nodes().iter().find(|n| n.name == name).expect("node");
    SigningIdentity::load(
        &node.msp_id,
        &node.dir.join("cert.pem"),
        &node.dir.join("key.pem"),
    )
    .expect("identity")
}

/// A libp2p node without a member peer certificate (none, another
/// consortium's, or a member's client or orderer certificate) is
/// disconnected and never gets a block; a member peer that gossips a block
/// with a bad orderer signature is disconnected and the block is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_are_cut_off_and_a_forged_block_costs_its_sender_the_connection() {
    let _g = serial().await;
    let mut t = TestNet::start_with(two_peers_per_org()).await;
    wait_for_pullers(&t, "peer0.org1", 6, Duration::from_secs(30)).await;
    t.setup_token().await;
    let channel = "consort";
    let target = gossip_addr(&t, "peer0.org1");

    // Another consortium's peer certificate (same org name, other CA).
    let other_dir = tempfile::tempdir().expect("tempdir");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_consort"));
    let other = consort::localnet::LocalNet::generate(
        &other_dir.path().join("net"),
        &with_free_ports(NetworkSpec::three_orgs(7050)),
        &bin,
    )
    .expect("generate another network");
    let foreign_node = other
        .nodes_of(NodeRole::Peer)
        .into_iter()
        .next()
        .expect("a peer");
    let foreign = SigningIdentity::load(
        &foreign_node.msp_id,
        &foreign_node.dir.join("cert.pem"),
        &foreign_node.dir.join("key.pem"),
    )
    .expect("foreign identity");
    let orderer = signing_identity(&t, "orderer0.org2");
    let client_dir = t.dir.path().join("net/orgs/Org1MSP/users/user1");
    let client = SigningIdentity::load(
        "Org1MSP",
        &client_dir.join("cert.pem"),
        &client_dir.join("key.pem"),
    )
    .expect("client identity");

    // Blocks keep coming while the outsiders are connected.
    let load = Load::start(vec![t.client(2).await], 2, 31);
    let cases: Vec<(&str, Option<&SigningIdentity>)> = vec![
        ("silent", None),
        ("foreign CA", Some(&foreign)),
        ("orderer certificate", Some(&orderer)),
        ("client certificate", Some(&client)),
    ];
    for (what, id) in cases {
        let s = probe_swarm();
        let me = *s.local_peer_id();
        let hello = id.and_then(|id| hello_from(id, channel, &me));
        let mut s = connect(s, &target, channel, &hello).await;
        let seen = drive(&mut s, &hello, Duration::from_secs(12)).await;
        assert!(seen.closed, "{what}: still connected: {seen:?}");
        assert!(!seen.hello_answered, "{what}: got a hello back: {seen:?}");
        assert_eq!(
            seen.block_messages + seen.status_messages,
            0,
            "{what}: got gossip: {seen:?}"
        );
    }
    load.stop().await;

    // A member peer's key (peer1.org3's) is admitted and hears gossip...
    let member = signing_identity(&t, "peer1.org3");
    let s = probe_swarm();
    let me = *s.local_peer_id();
    let hello = hello_from(&member, channel, &me);
    let mut s = connect(s, &target, channel, &hello).await;
    let seen = drive(&mut s, &hello, Duration::from_secs(4)).await;
    assert!(
        !seen.closed && seen.hello_answered,
        "member refused: {seen:?}"
    );
    assert!(seen.status_messages > 0, "member hears no status: {seen:?}");

    // ...until it gossips a block whose orderer signature does not verify.
    let h = height_of(&t, "peer0.org1", "Org1MSP").await;
    let c = t.client(1).await;
    let last = c.block(h - 1).await.expect("block").block.expect("block");
    let mut header = BlockHeader::decode(last.header.as_slice()).expect("header");
    header.previous_hash = consort::block::sha256(&last.header).to_vec();
    header.number = h;
    let mut forged = Block {
        header: header.encode_to_vec(),
        data: last.data.clone(),
        signature: last.signature.clone(),
    };
    if let Some(sig) = forged.signature.as_mut() {
        if let Some(b) = sig.signature.first_mut() {
            *b ^= 1;
        }
    }
    let topic = IdentTopic::new(format!("/consort/{channel}/blocks/1"));
    // Wait for the mesh to include the peer, then publish.
    let mut published = false;
    for _ in 0..20 {
        if s.behaviour_mut()
            .gossipsub
            .publish(topic.clone(), forged.encode_to_vec())
            .is_ok()
        {
            published = true;
            break;
        }
        drive(&mut s, &hello, Duration::from_millis(500)).await;
    }
    assert!(published, "the probe could not publish");
    let seen = drive(&mut s, &hello, Duration::from_secs(10)).await;
    assert!(seen.closed, "the forger is still connected: {seen:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    for n in t.net.nodes_of(NodeRole::Peer) {
        let c = t
            .net
            .client(&n.msp_id, Some(&n.name))
            .await
            .expect("client");
        if let Ok(b) = c.block(h).await {
            assert_ne!(
                b.block.map(|b| b.signature),
                Some(forged.signature.clone()),
                "{} committed the forged block",
                n.name
            );
        }
    }
    t.net.stop_all();
}

/// The comparison for the gossip test's orderer traffic: every peer pulls
/// from the orderers (`gossip_pull = "always"`), as without gossip. Run by
/// hand: `cargo test -p consort --test gossip -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn orderer_traffic_when_every_peer_pulls() {
    let _g = serial().await;
    // The node processes inherit it.
    std::env::set_var("CONSORT_GOSSIP_PULL", "always");
    let mut t = TestNet::start_with(two_peers_per_org()).await;
    std::env::remove_var("CONSORT_GOSSIP_PULL");
    t.setup_token().await;
    let (bytes0, blocks0) = orderer_totals(&mut t).await;
    let h0 = height_of(&t, "peer0.org1", "Org1MSP").await;
    let clients = mixed_clients(&t).await;
    transfer_load(clients, 300, 16, None, 11).await;
    let names = t.peer_names();
    let all: Vec<&str> = names.iter().map(String::as_str).collect();
    let h = wait_agree(&mut t, &all, h0 + 1, Duration::from_secs(60)).await;
    let (bytes1, blocks1) = orderer_totals(&mut t).await;
    let committed = h - h0;
    println!(
        "every peer pulls: {committed} blocks committed by 6 peers; orderers sent {} blocks, \
         {} bytes per committed block",
        blocks1 - blocks0,
        (bytes1 - bytes0) / committed.max(1)
    );
    t.net.stop_all();
}
