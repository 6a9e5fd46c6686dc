//! A multi-process network fixture for the integration tests: real
//! `consort` node processes on loopback, with helpers to load, kill and
//! compare them.
#![allow(dead_code)]

use consort::client::{args, Client, ClientError};
use consort::config::{NetworkSpec, NodeRole};
use consort::identity::Role;
use consort::localnet::LocalNet;
use consort_proto::{OrdererStatusResponse, PeerStatusResponse};
use std::time::{Duration, Instant};

/// Network tests run one at a time: each starts six processes on two cores.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    LOCK.lock().await
}

/// A running three-org network in a temporary directory.
pub struct TestNet {
    pub net: LocalNet,
    pub dir: tempfile::TempDir,
}

/// `n` distinct ports the OS considers free on loopback: all are bound at
/// once, then released for the caller's servers to take.
pub fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().expect("local address").port())
        .collect()
}

/// `spec` with every node's port, gossip port and operations port
/// replaced by a free one; nodes that share a port keep sharing one.
pub fn with_free_ports(mut spec: NetworkSpec) -> NetworkSpec {
    let mut old: Vec<u16> = spec
        .orgs
        .iter()
        .flat_map(|o| o.orderers.iter().chain(&o.peers))
        .flat_map(|n| [Some(n.port), n.gossip_port, n.ops_port()])
        .flatten()
        .collect();
    old.sort_unstable();
    old.dedup();
    let new: std::collections::HashMap<u16, u16> =
        old.iter().copied().zip(free_ports(old.len())).collect();
    for org in &mut spec.orgs {
        for node in org.orderers.iter_mut().chain(org.peers.iter_mut()) {
            node.operations_port = node.ops_port().map(|p| new[&p]);
            node.port = new[&node.port];
            node.gossip_port = node.gossip_port.map(|g| new[&g]);
        }
    }
    spec
}

/// The token accounts of the three orgs' `user1` clients (see
/// `consort::bench::run::token_account`); each holds ACCOUNTS sub-accounts.
pub const HOLDERS: [&str; 3] = [
    "Org1MSP:user1@org1",
    "Org2MSP:user1@org2",
    "Org3MSP:user1@org3",
];
/// Sub-accounts per holder.
pub const ACCOUNTS: usize = 4;
/// Accounts funded by `setup_token`.
pub const ALL_ACCOUNTS: usize = HOLDERS.len() * ACCOUNTS;
pub const PER_ACCOUNT: u64 = 100_000;

/// Sub-account `i` of `holder`.
pub fn sub_account(holder: &str, i: usize) -> String {
    format!("{holder}#acct{i}")
}

/// Sub-account `i` of the identity `c` signs as: accounts `c` may transfer from.
pub fn acct(c: &Client, i: usize) -> String {
    sub_account(&consort::bench::run::token_account(c), i)
}

impl TestNet {
    /// Generates and starts the standard three-org network from `base_port`.
    /// The demo's three-org network, on ports the OS chose.
    pub async fn start() -> Self {
        Self::start_with(NetworkSpec::three_orgs(7050)).await
    }

    /// A network from `spec`, with its node ports replaced by ports the OS
    /// chose (nodes that share a port in `spec` still share one).
    pub async fn start_with(spec: NetworkSpec) -> Self {
        let spec = with_free_ports(spec);
        // CONSORT_TEST_KEEP=1 keeps the network's directory (node logs).
        let dir = tempfile::Builder::new()
            .disable_cleanup(std::env::var_os("CONSORT_TEST_KEEP").is_some())
            .tempdir()
            .expect("tempdir");
        if std::env::var_os("CONSORT_TEST_KEEP").is_some() {
            eprintln!("network directory: {}", dir.path().display());
        }
        let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_consort"));
        let mut net = LocalNet::generate(&dir.path().join("net"), &spec, &bin).expect("generate");
        net.start_all().expect("start");
        net.wait_ready(Duration::from_secs(60))
            .await
            .expect("network ready");
        TestNet { net, dir }
    }

    pub fn peer_names(&self) -> Vec<String> {
        self.net
            .nodes_of(NodeRole::Peer)
            .into_iter()
            .map(|n| n.name)
            .collect()
    }

    pub fn orderer_names(&self) -> Vec<String> {
        self.net
            .nodes_of(NodeRole::Orderer)
            .into_iter()
            .map(|n| n.name)
            .collect()
    }

    /// A client of org `i` (1-based) on its own peer.
    pub async fn client(&self, i: usize) -> Client {
        self.net
            .client(&format!("Org{i}MSP"), None)
            .await
            .expect("client")
    }

    /// A client of org `i` on `peer`.
    pub async fn client_on(&self, i: usize, peer: &str) -> Result<Client, String> {
        self.net
            .client(&format!("Org{i}MSP"), Some(peer))
            .await
            .map_err(|e| e.to_string())
    }

    /// Creates token TOK and issues PER_ACCOUNT to each of ACCOUNTS accounts.
    pub async fn setup_token(&self) {
        setup_token(&self.client(1).await).await
    }

    /// Sum of all account balances.
    pub async fn total_supply(&self, c: &Client) -> u64 {
        total_supply(c).await
    }

    /// Status of every running peer.
    pub async fn peer_statuses(&mut self) -> Vec<PeerStatusResponse> {
        let mut out = Vec::new();
        for n in self.net.nodes_of(NodeRole::Peer) {
            if !self.net.is_running(&n.name) {
                continue;
            }
            if let Ok(c) = self.net.client(&n.msp_id, Some(&n.name)).await {
                if let Ok(s) = c.status().await {
                    out.push(s);
                }
            }
        }
        out
    }

    /// Waits until every running peer has the same height, block hash and
    /// state hash, and at least `min_height`; returns that status.
    pub async fn wait_converged(
        &mut self,
        min_height: u64,
        timeout: Duration,
    ) -> PeerStatusResponse {
        let deadline = Instant::now() + timeout;
        loop {
            let all = self.peer_statuses().await;
            if let Some(s) = converged(&all, self.peer_names().len(), min_height) {
                return s;
            }
            if Instant::now() > deadline {
                let summary: Vec<String> = all
                    .iter()
                    .map(|s| {
                        format!(
                            "{} h={} state={}",
                            s.name,
                            s.height,
                            hex::encode(&s.state_hash[..4.min(s.state_hash.len())])
                        )
                    })
                    .collect();
                panic!("peers did not converge within {timeout:?}: {summary:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Each running orderer's status, dialing as org 1's client.
    pub async fn orderer_statuses(&mut self) -> Vec<(String, OrdererStatusResponse)> {
        let profile = self
            .net
            .profile("Org1MSP", Role::Client, None)
            .expect("profile");
        let mut out = Vec::new();
        for n in self.net.nodes_of(NodeRole::Orderer) {
            if !self.net.is_running(&n.name) {
                continue;
            }
            if let Ok(s) = consort::client::orderer_status(&profile, &n.endpoint, None).await {
                out.push((n.name.clone(), s));
            }
        }
        out
    }

    /// The name of the current Raft leader, waiting for one.
    pub async fn leader(&mut self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let st = self.orderer_statuses().await;
            if let Some((_, s)) = st.iter().find(|(_, s)| s.leader != 0) {
                let leader_id = s.leader;
                if let Some((name, _)) = st.iter().find(|(_, s)| s.id == leader_id) {
                    return name.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "no Raft leader within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Outcome of one load transaction.
#[derive(Debug, Clone)]
pub struct Sent {
    pub tx_id: String,
    pub acked_block: Option<u64>,
    pub error: Option<String>,
    pub at: Instant,
}

/// Sends `count` transfers (or until `stop` turns true) through `clients`
/// round robin, `concurrency` at a time; returns what each submission got.
pub async fn transfer_load(
    clients: Vec<Client>,
    count: usize,
    concurrency: usize,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    seed: u64,
) -> Vec<Sent> {
    counted_transfer_load(clients, count, concurrency, stop, seed, Default::default()).await
}

/// A transfer load running in the background until stopped, counting its
/// acknowledged submissions so that a test can wait for progress instead of
/// sleeping.
pub struct Load {
    stop: tokio::sync::watch::Sender<bool>,
    acked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<Vec<Sent>>,
}

impl Load {
    /// Starts `concurrency` transfers at a time across `clients`.
    pub fn start(clients: Vec<Client>, concurrency: usize, seed: u64) -> Self {
        let (stop, rx) = tokio::sync::watch::channel(false);
        let acked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let task = tokio::spawn(counted_transfer_load(
            clients,
            usize::MAX,
            concurrency,
            Some(rx),
            seed,
            acked.clone(),
        ));
        Load { stop, acked, task }
    }

    /// Acknowledged submissions so far.
    pub fn acked(&self) -> usize {
        self.acked.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Waits until `more` submissions beyond those acknowledged now are
    /// acknowledged; fails the test after `within`, saying `what`.
    pub async fn wait_for_more(&self, more: usize, within: Duration, what: &str) {
        let target = self.acked() + more;
        let deadline = Instant::now() + within;
        while self.acked() < target {
            assert!(
                Instant::now() < deadline,
                "{what}: {} of {target} submissions acknowledged after {within:?}",
                self.acked()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the load and returns every submission's outcome.
    pub async fn stop(self) -> Vec<Sent> {
        let _ = self.stop.send(true);
        self.task.await.expect("load task")
    }
}

async fn counted_transfer_load(
    clients: Vec<Client>,
    count: usize,
    concurrency: usize,
    stop: Option<tokio::sync::watch::Receiver<bool>>,
    seed: u64,
    acked: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> Vec<Sent> {
    use futures::stream::{self, StreamExt};
    let results = stream::iter(0..count)
        .take_while(|_| {
            let stopped = stop.as_ref().map(|s| *s.borrow()).unwrap_or(false);
            async move { !stopped }
        })
        .map(|i| {
            let c = clients[i % clients.len()].clone();
            let acked = acked.clone();
            async move {
                let x = (i as u64)
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(seed);
                let from = (x >> 33) as usize % ACCOUNTS;
                let to = (from + 1 + ((x >> 17) as usize % (ACCOUNTS - 1))) % ACCOUNTS;
                let amount = 1 + (x >> 7) % 10;
                let a = args(&[
                    "TOK",
                    &acct(&c, from),
                    &acct(&c, to),
                    &amount.to_string(),
                    "load",
                ]);
                let endorsed = match c.endorse("token", "transfer", &a).await {
                    Ok(e) => e,
                    Err(e) => {
                        return Sent {
                            tx_id: String::new(),
                            acked_block: None,
                            error: Some(format!("endorse: {e}")),
                            at: Instant::now(),
                        }
                    }
                };
                let r: Result<u64, ClientError> = c.submit_endorsed(&endorsed).await;
                if r.is_ok() {
                    acked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                Sent {
                    tx_id: endorsed.tx_id,
                    acked_block: r.as_ref().ok().copied(),
                    error: r.err().map(|e| e.to_string()),
                    at: Instant::now(),
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect::<Vec<_>>()
        .await;
    results
}

/// How many times each transaction ID occurs in blocks 1..height, with its codes.
pub async fn tx_occurrences(
    c: &Client,
    height: u64,
) -> std::collections::HashMap<String, Vec<i32>> {
    use consort_proto::{Envelope, GetBlockRequest, ProposalHeader, Transaction};
    use prost::Message;
    let mut out: std::collections::HashMap<String, Vec<i32>> = Default::default();
    for n in 1..height {
        let b = c
            .gateway()
            .get_block(GetBlockRequest { number: n })
            .await
            .expect("block")
            .into_inner();
        let block = b.block.unwrap_or_default();
        for (i, d) in block.data.iter().enumerate() {
            let id = Envelope::decode(d.as_slice())
                .ok()
                .and_then(|e| Transaction::decode(e.payload.as_slice()).ok())
                .and_then(|t| ProposalHeader::decode(t.header.as_slice()).ok())
                .map(|h| h.tx_id)
                .unwrap_or_default();
            out.entry(id)
                .or_default()
                .push(b.validation_codes.get(i).copied().unwrap_or(-1));
        }
    }
    out
}

/// Creates token TOK and issues PER_ACCOUNT to each of the ACCOUNTS
/// sub-accounts of every holder.
pub async fn setup_token(c: &Client) {
    let r = c
        .invoke("token", "create", &args(&["TOK", "1000000000"]))
        .await
        .expect("create");
    assert_eq!(r.code.as_str_name(), "VALID");
    // Issues all update the token's issued counter: one at a time.
    let amount = PER_ACCOUNT.to_string();
    for holder in HOLDERS {
        for i in 0..ACCOUNTS {
            let r = c
                .invoke(
                    "token",
                    "issue",
                    &args(&["TOK", &sub_account(holder, i), &amount, "setup"]),
                )
                .await
                .expect("issue");
            assert_eq!(r.code.as_str_name(), "VALID");
        }
    }
}

/// Sum of all account balances.
pub async fn total_supply(c: &Client) -> u64 {
    let mut total = 0;
    for holder in HOLDERS {
        for i in 0..ACCOUNTS {
            let out = c
                .evaluate("token", "balance", &args(&["TOK", &sub_account(holder, i)]))
                .await
                .expect("balance");
            total += String::from_utf8_lossy(&out)
                .parse::<u64>()
                .expect("number");
        }
    }
    total
}

/// Asserts every acknowledged transfer is committed exactly once: its first
/// copy in the chain has a final code other than DUPLICATE_TXID, and any
/// later copy (the gateway resends an envelope after an unknown outcome) is
/// DUPLICATE_TXID, which changes nothing. Returns the number of such copies.
pub async fn assert_acked_committed_once(c: &Client, height: u64, sent: &[Sent]) -> usize {
    let occ = tx_occurrences(c, height).await;
    let mut resent = 0;
    for s in sent.iter().filter(|s| s.acked_block.is_some()) {
        let codes = occ.get(&s.tx_id).cloned().unwrap_or_default();
        let duplicate = consort_proto::TxValidationCode::DuplicateTxid as i32;
        assert!(
            codes.first().is_some_and(|c| *c != duplicate),
            "acknowledged tx {} is not committed: {codes:?}",
            s.tx_id
        );
        assert!(
            codes[1..].iter().all(|c| *c == duplicate),
            "acknowledged tx {} has a second effective copy: {codes:?}",
            s.tx_id
        );
        resent += codes.len() - 1;
    }
    resent
}

/// The common status when `expected` peers all report the same height (at
/// least `min_height`), block hash and state hash.
pub fn converged(
    all: &[PeerStatusResponse],
    expected: usize,
    min_height: u64,
) -> Option<PeerStatusResponse> {
    let first = all.first()?;
    let same = all.iter().all(|s| {
        s.height == first.height
            && s.last_block_hash == first.last_block_hash
            && s.state_hash == first.state_hash
    });
    (all.len() == expected && first.height >= min_height && same).then(|| first.clone())
}
