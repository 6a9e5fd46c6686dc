//! Crash injection on real processes: on one three-org network, each crash
//! moment restarts a peer or an orderer with `CONSORT_CRASH_AT=<point>:<n>`,
//! drives transfers until the node aborts there, checks its store offline
//! (a peer's ledger verifies end to end; an orderer's blocks form one linked
//! chain), restarts it without the hook and waits until it has caught up.
//! At the end every acknowledged transaction is in the chain exactly once
//! and the token supply is unchanged.

mod common;

use common::*;
use consort::client::Client;
use consort::config::NodeRole;
use consort::crashpoint::{CrashPoint, CrashSpec, ENV};
use consort::cryptogen::GeneratedNode;
use consort_proto::{Block, GetBlockRequest};
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

/// Points in the peer's ledger commit, each crashed at these passes.
const PEER_POINTS: [CrashPoint; 5] = [
    CrashPoint::LedgerCommitStart,
    CrashPoint::LedgerHistory,
    CrashPoint::LedgerTxIndex,
    CrashPoint::LedgerBeforeWrite,
    CrashPoint::LedgerAfterWrite,
];
const PEER_PASSES: [u64; 4] = [1, 2, 3, 5];
/// Points in the orderer's state machine and log store.
const ORDERER_POINTS: [CrashPoint; 6] = [
    CrashPoint::ApplyStart,
    CrashPoint::ApplyBlockAdded,
    CrashPoint::ApplyBeforeMeta,
    CrashPoint::ApplyAfterWrite,
    CrashPoint::LogAppendBeforeWrite,
    CrashPoint::LogAppendAfterWrite,
];
const ORDERER_PASSES: [u64; 5] = [1, 2, 3, 4, 6];

/// How long a node armed with a crash point may take to reach it.
const FIRE_WITHIN: Duration = Duration::from_secs(40);
/// How long a node has to stop on SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// How long a restarted node may take to catch up.
const CATCH_UP_WITHIN: Duration = Duration::from_secs(60);

/// What the offline check found in a crashed node's store.
#[derive(Debug, Clone)]
struct Stored {
    /// Blocks in the store after the crash.
    height: u64,
    /// An orderer's last stored block.
    tip: Option<Block>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crashes_inside_ledger_commit_and_raft_apply_recover_without_half_applied_blocks() {
    let _serial = serial().await;
    let started = Instant::now();
    let mut t = TestNet::start().await;
    t.setup_token().await;
    let peers: Vec<GeneratedNode> = t.net.nodes_of(NodeRole::Peer);
    let orderers: Vec<GeneratedNode> = t.net.nodes_of(NodeRole::Orderer);
    let (genesis, config) = consort::node::load_genesis(&t.net.net.genesis).expect("genesis");
    let msp = std::sync::Arc::new(consort::identity::Msp::from_config(&config));
    let rules = consort::node::channel_rules(&config, msp).expect("rules");
    let clients: Vec<Client> = vec![t.client(1).await, t.client(2).await, t.client(3).await];

    let mut moments: Vec<(NodeRole, CrashSpec)> = Vec::new();
    for pass in PEER_PASSES {
        for point in PEER_POINTS {
            moments.push((NodeRole::Peer, CrashSpec { point, pass }));
        }
    }
    for pass in ORDERER_PASSES {
        for point in ORDERER_POINTS {
            moments.push((NodeRole::Orderer, CrashSpec { point, pass }));
        }
    }

    let mut sent: Vec<Sent> = Vec::new();
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut seed = 100;
    for (i, (role, spec)) in moments.iter().enumerate() {
        let moment_started = Instant::now();
        let (victim, load_clients) = match role {
            NodeRole::Peer => {
                let k = i % peers.len();
                // Transfers go through the other orgs' gateways.
                let others: Vec<Client> = (0..clients.len())
                    .filter(|j| *j != k)
                    .map(|j| clients[j].clone())
                    .collect();
                (peers[k].clone(), others)
            }
            _ => (orderers[i % orderers.len()].clone(), clients.clone()),
        };
        let env_value = spec.env_value();
        // SIGTERM, then SIGKILL after STOP_GRACE: an orderer's graceful
        // shutdown waits for its peers' Deliver streams to end.
        t.net.stop(&victim.name, STOP_GRACE).expect("stop");
        let armed_at = Instant::now();
        t.net
            .start_with_env(&victim.name, &[(ENV, &env_value)])
            .expect("start armed");

        // Transfers until the armed node aborts; the load keeps running
        // through its restart.
        seed += 1;
        let (stop_load, load_stopped) = tokio::sync::watch::channel(false);
        let load = tokio::spawn(transfer_load(
            load_clients,
            100_000,
            3,
            Some(load_stopped),
            seed,
        ));
        let deadline = Instant::now() + FIRE_WITHIN;
        let status = loop {
            if let Some(status) = t.net.exit_status(&victim.name) {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "{} armed with {env_value} did not crash within {FIRE_WITHIN:?}",
                victim.name
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert_eq!(
            status.signal(),
            Some(libc::SIGABRT),
            "{} armed with {env_value} ended with {status}",
            victim.name
        );
        let log = std::fs::read_to_string(victim.dir.join("node.log")).expect("node log");
        let line = format!("crash injected at {} pass {}", spec.point, spec.pass);
        assert!(log.contains(&line), "{}'s log lacks '{line}'", victim.name);

        let fired_after = armed_at.elapsed();

        // Offline: no half-applied block in the crashed node's store.
        let stored = match role {
            NodeRole::Peer => check_peer_store(&victim, &genesis, &rules),
            _ => check_orderer_store(&victim, &genesis, &config.channel_id),
        };

        // Restarted without the hook, it starts and catches up.
        t.net.start(&victim.name).expect("restart");
        let restarted_at = Instant::now();
        let _ = stop_load.send(true);
        sent.extend(load.await.expect("load task"));
        let min_height = sent.iter().filter_map(|s| s.acked_block).max().unwrap_or(0) + 1;
        let status = t.wait_converged(min_height, CATCH_UP_WITHIN).await;
        if *role == NodeRole::Orderer {
            wait_orderers_agree(&mut t, status.height).await;
            // What the crashed orderer had stored is a prefix of the chain.
            let tip = stored.height - 1;
            let at_tip = peer_block(&clients[0], tip).await;
            let offline_tip = stored.tip.clone().expect("an orderer's tip");
            assert_eq!(
                consort::block::block_hash(&at_tip),
                consort::block::block_hash(&offline_tip),
                "{}'s block {tip} after the crash differs from the chain's",
                victim.name
            );
        }
        let kind = match role {
            NodeRole::Peer => "peer",
            _ => "orderer",
        };
        *outcomes
            .entry(format!("{kind} {}", spec.point))
            .or_default() += 1;
        eprintln!(
            "crash moment {}/{}: {} ({kind}) at {env_value}: aborted {:?} after its restart with {} blocks stored, caught up to height {} in {:?}; {:?} in all",
            i + 1,
            moments.len(),
            victim.name,
            fired_after,
            stored.height,
            status.height,
            restarted_at.elapsed(),
            moment_started.elapsed()
        );
    }

    // Every acknowledged transaction is committed exactly once.
    let status = t.wait_converged(1, CATCH_UP_WITHIN).await;
    let resent = assert_acked_committed_once(&clients[0], status.height, &sent).await;
    assert_eq!(
        t.total_supply(&clients[2]).await,
        ALL_ACCOUNTS as u64 * PER_ACCOUNT,
        "transfers never change the supply"
    );
    let acked = sent.iter().filter(|s| s.acked_block.is_some()).count();
    eprintln!("crash moments by node kind and point: {outcomes:#?}");
    eprintln!(
        "{} distinct crash moments ({} peer, {} orderer), each aborted at its point, verified offline, restarted and caught up; {acked} of {} transfers acknowledged, each committed exactly once ({resent} resent copies ordered again as DUPLICATE_TXID); final height {}; {:?} in all",
        moments.len(),
        PEER_POINTS.len() * PEER_PASSES.len(),
        ORDERER_POINTS.len() * ORDERER_PASSES.len(),
        sent.len(),
        status.height,
        started.elapsed()
    );
}

/// Opens a crashed peer's ledger and verifies it end to end.
fn check_peer_store(
    node: &GeneratedNode,
    genesis: &Block,
    rules: &consort::validation::ChannelRules,
) -> Stored {
    let path = node.dir.join("data").join("ledger");
    let ledger = consort::ledger::Ledger::open(&path).expect("crashed peer's ledger opens");
    let v = consort::ledger::verify::verify(&ledger, genesis, rules)
        .unwrap_or_else(|e| panic!("{}'s ledger after the crash: {e}", node.name));
    Stored {
        height: v.height,
        tip: None,
    }
}

/// Opens a crashed orderer's store and checks its blocks are one linked,
/// gap-free chain from the genesis block.
fn check_orderer_store(node: &GeneratedNode, genesis: &Block, channel_id: &str) -> Stored {
    let path = node.dir.join("data").join("orderer");
    let db =
        consort::ordering::store::OrdererDb::open(&path).expect("crashed orderer's store opens");
    let first = db.block(0).expect("read").expect("block 0");
    assert_eq!(
        &first, genesis,
        "{}: block 0 is the genesis block",
        node.name
    );
    let mut prev = consort::block::block_hash(&first);
    let mut tip = first;
    let mut height = 1;
    while let Some(b) = db.block(height).expect("read") {
        consort::block::check_link(&b, channel_id, height, &prev)
            .unwrap_or_else(|e| panic!("{}: block {height} does not link: {e}", node.name));
        prev = consort::block::block_hash(&b);
        tip = b;
        height += 1;
    }
    for gap in height + 1..height + 64 {
        assert!(
            db.block(gap).expect("read").is_none(),
            "{}: block {gap} stored after missing block {height}",
            node.name
        );
    }
    Stored {
        height,
        tip: Some(tip),
    }
}

/// A committed block from a peer.
async fn peer_block(c: &Client, number: u64) -> Block {
    c.gateway()
        .get_block(GetBlockRequest { number })
        .await
        .expect("block")
        .into_inner()
        .block
        .expect("block in committed block")
}

/// Waits until all three orderers report the same height and last hash, at
/// least `min_height`.
async fn wait_orderers_agree(t: &mut TestNet, min_height: u64) {
    let deadline = Instant::now() + CATCH_UP_WITHIN;
    loop {
        let st = t.orderer_statuses().await;
        if st.len() == 3
            && st.iter().all(|(_, s)| {
                s.height == st[0].1.height
                    && s.last_block_hash == st[0].1.last_block_hash
                    && s.height >= min_height
            })
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "restarted orderer did not catch up: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
