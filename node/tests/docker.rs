//! Fault tests against the docker-compose network: containers are killed,
//! cut off, stopped and restarted while a load of token transfers runs from
//! the host; afterwards all peers agree and nothing acknowledged is lost.
//! Each test uses its own compose project and removes its containers,
//! network and volumes, even when it fails.

mod common;

use common::*;
use consort::client::{args, Client, ClientError};
use consort::config::ClientProfile;
use consort_proto::PeerStatusResponse;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const IMAGE: &str = "consort:test";
const ORGS: usize = 3;
/// Peers per org in the compose file.
const PEERS_PER_ORG: usize = 2;
/// Nodes per org: its orderer and its peers.
const NODES_PER_ORG: usize = 1 + PEERS_PER_ORG;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn docker_available() -> bool {
    Command::new("docker")
        .arg("info")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Builds the image once per test run, from the binary cargo built for the tests.
fn image() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let ctx = tempfile::tempdir().unwrap();
        let out = run(Command::new("bash")
            .arg(repo().join("deploy/build-image.sh"))
            .env("CONSORT_BINARY", env!("CARGO_BIN_EXE_consort"))
            .env("CONSORT_IMAGE", IMAGE)
            .env("CONSORT_IMAGE_CONTEXT", ctx.path().join("image")));
        assert!(
            out.status.success(),
            "image build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("{}", String::from_utf8_lossy(&out.stdout).trim());
    });
}

/// A compose project of the repository's docker-compose.yml.
struct Compose {
    project: String,
    /// Host ports the OS chose: orderer0, peer0 and peer1 of each org in
    /// turn, then their operations ports in the same order.
    ports: Vec<u16>,
    dir: tempfile::TempDir,
}

impl Compose {
    async fn up(project: &str) -> Self {
        image();
        let c = Compose {
            project: project.to_string(),
            ports: free_ports(2 * NODES_PER_ORG * ORGS),
            dir: tempfile::tempdir().unwrap(),
        };
        c.down(); // leftovers of an earlier, interrupted run
        let out = c.compose(&["up", "-d"]);
        assert!(
            out.status.success(),
            "compose up: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let init = c.container("init");
        let out = run(Command::new("docker")
            .args(["cp", &format!("{init}:/crypto")])
            .arg(c.crypto()));
        assert!(
            out.status.success(),
            "docker cp: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        c.wait_ready(Duration::from_secs(90)).await;
        c
    }

    fn crypto(&self) -> PathBuf {
        self.dir.path().join("crypto")
    }

    fn ports(&self, cmd: &mut Command) {
        for i in 1..=ORGS {
            cmd.env(
                format!("CONSORT_PORT_ORDERER0_ORG{i}"),
                self.orderer_port(i).to_string(),
            );
            for p in 0..PEERS_PER_ORG {
                cmd.env(
                    format!("CONSORT_PORT_PEER{p}_ORG{i}"),
                    self.nth_peer_port(i, p).to_string(),
                );
            }
            let nodes = std::iter::once("ORDERER0".to_string())
                .chain((0..PEERS_PER_ORG).map(|p| format!("PEER{p}")));
            for (j, node) in nodes.enumerate() {
                cmd.env(
                    format!("CONSORT_OPS_PORT_{node}_ORG{i}"),
                    self.ops_port(i, j).to_string(),
                );
            }
        }
    }

    fn compose(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("docker-compose");
        cmd.args(["-p", &self.project, "-f"])
            .arg(repo().join("docker-compose.yml"))
            .args(args)
            .env("CONSORT_IMAGE", IMAGE);
        self.ports(&mut cmd);
        run(&mut cmd)
    }

    fn down(&self) {
        // Containers the test started on the project's network (not compose
        // services) would keep the network and volumes from being removed.
        let out = run(Command::new("docker").args([
            "ps",
            "-aq",
            "--filter",
            &format!("network={}", self.network()),
        ]));
        for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            let _ = run(Command::new("docker").args(["rm", "-f", id]));
        }
        let _ = self.compose(&["down", "-v", "--remove-orphans", "-t", "5"]);
    }

    fn container(&self, service: &str) -> String {
        let out = self.compose(&["ps", "-q", service]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    fn docker(&self, args: &[&str]) -> Output {
        let out = run(Command::new("docker").args(args));
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    fn network(&self) -> String {
        format!("{}_consort", self.project.replace(['.', '-'], ""))
    }

    fn peer_port(&self, org: usize) -> u16 {
        self.nth_peer_port(org, 0)
    }

    /// The host port of peer `p` of org `org`.
    fn nth_peer_port(&self, org: usize, p: usize) -> u16 {
        self.ports[NODES_PER_ORG * (org - 1) + 1 + p]
    }

    /// The host operations port of node `j` of org `org` (0: its
    /// orderer, 1 + p: peer p).
    fn ops_port(&self, org: usize, j: usize) -> u16 {
        self.ports[NODES_PER_ORG * ORGS + NODES_PER_ORG * (org - 1) + j]
    }

    fn orderer_port(&self, org: usize) -> u16 {
        self.ports[NODES_PER_ORG * (org - 1)]
    }

    /// A client of org `org` on peer `p` of the same org.
    async fn client_on(&self, org: usize, p: usize) -> Result<Client, ClientError> {
        let mut profile = self.profile(org, org);
        profile.gateway = format!("127.0.0.1:{}", self.nth_peer_port(org, p));
        Client::connect(&profile).await
    }

    fn profile(&self, org: usize, peer_org: usize) -> ClientProfile {
        let mut p = ClientProfile::load(
            &self
                .crypto()
                .join(format!("orgs/Org{org}MSP/users/user1/client.toml")),
        )
        .unwrap();
        p.gateway = format!("127.0.0.1:{}", self.peer_port(peer_org));
        p
    }

    async fn client(&self, org: usize) -> Result<Client, ClientError> {
        Client::connect(&self.profile(org, org)).await
    }

    async fn wait_ready(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for org in 1..=ORGS {
            loop {
                if let Ok(c) = self.client(org).await {
                    if c.status().await.map(|s| s.height >= 1).unwrap_or(false) {
                        break;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "peer of org {org} not ready within {timeout:?}"
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }

    async fn statuses(&self) -> Vec<PeerStatusResponse> {
        let mut out = Vec::new();
        for org in 1..=ORGS {
            for p in 0..PEERS_PER_ORG {
                if let Ok(c) = self.client_on(org, p).await {
                    if let Ok(s) = c.status().await {
                        out.push(s);
                    }
                }
            }
        }
        out
    }

    /// The highest chain tip of the reachable orderers: a block ordered but
    /// not yet delivered to any peer is counted too.
    async fn ordered_height(&self) -> u64 {
        let mut best = 0;
        for org in 1..=ORGS {
            let ep = format!("127.0.0.1:{}", self.orderer_port(org));
            if let Ok(s) = consort::client::orderer_status(&self.profile(1, 1), &ep, None).await {
                best = best.max(s.height);
            }
        }
        best
    }

    /// Waits until every peer has the same height, block hash and state
    /// hash, at least `min_height` and every block the orderers hold.
    async fn wait_converged(&self, min_height: u64, timeout: Duration) -> PeerStatusResponse {
        let deadline = Instant::now() + timeout;
        loop {
            let ordered = self.ordered_height().await;
            let all = self.statuses().await;
            if let Some(s) = converged(&all, ORGS * PEERS_PER_ORG, min_height.max(ordered)) {
                return s;
            }
            if Instant::now() > deadline {
                let h: Vec<_> = all.iter().map(|s| (s.name.clone(), s.height)).collect();
                panic!("peers did not converge within {timeout:?}: {h:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// The service name of the Raft leader.
    async fn leader(&self, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            for org in 1..=ORGS {
                let ep = format!("127.0.0.1:{}", self.orderer_port(org));
                if let Ok(s) = consort::client::orderer_status(&self.profile(1, 1), &ep, None).await
                {
                    if s.leader != 0 {
                        return format!("orderer0.org{}", s.leader);
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "no Raft leader within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    /// Which peer (0 or 1) of org `org` pulls from the orderers, as that
    /// org's peer0 sees it.
    async fn org_puller(&self, org: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(c) = self.client(org).await {
                if let Ok(r) = c.gateway().peers(consort_proto::PeersRequest {}).await {
                    let pullers: Vec<String> = r
                        .into_inner()
                        .peers
                        .into_iter()
                        .filter(|p| p.alive && p.pulls_from_orderers)
                        .map(|p| p.name)
                        .filter(|n| n.ends_with(&format!(".org{org}")))
                        .collect();
                    if let [one] = pullers.as_slice() {
                        return usize::from(one.starts_with("peer1."));
                    }
                }
            }
            assert!(
                Instant::now() < deadline,
                "org {org} has no single puller within {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    async fn clients(&self, orgs: &[usize]) -> Vec<Client> {
        let mut v = Vec::new();
        for o in orgs {
            v.push(self.client(*o).await.expect("client"));
        }
        v
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        self.down();
    }
}

/// Runs a load through `clients` until the returned sender is set.
async fn finish(c: &Compose, sent: &[Sent]) {
    let acked = sent.iter().filter(|s| s.acked_block.is_some()).count();
    assert!(acked > 0, "no submission was acknowledged");
    let status = c.wait_converged(2, Duration::from_secs(90)).await;
    let client = c.client(1).await.unwrap();
    assert_acked_committed_once(&client, status.height, sent).await;
    assert_eq!(
        total_supply(&client).await,
        ALL_ACCOUNTS as u64 * PER_ACCOUNT,
        "supply changed"
    );
    eprintln!(
        "{acked} acknowledged of {} sent; all peers at height {}",
        sent.len(),
        status.height
    );
}

macro_rules! require_docker {
    () => {
        if !docker_available() {
            // Under CI a missing docker is a failure, never a silent pass.
            if std::env::var_os("CI").is_some() {
                panic!("docker is not available (`docker info` failed) and CI is set");
            }
            eprintln!("docker is not available here; skipping");
            return;
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_container_then_starting_it_again() {
    require_docker!();
    let _serial = serial().await;
    let c = Compose::up("consortkill").await;
    setup_token(&c.client(1).await.unwrap()).await;
    let leader = c.leader(Duration::from_secs(20)).await;
    let load = Load::start(c.clients(&[1, 2, 3]).await, 4, 21);
    load.wait_for_more(10, Duration::from_secs(60), "before the kill")
        .await;
    c.docker(&["kill", &c.container(&leader)]);
    load.wait_for_more(20, Duration::from_secs(90), "after the kill")
        .await;
    c.docker(&["start", &c.container(&leader)]);
    load.wait_for_more(10, Duration::from_secs(60), "after the restart")
        .await;
    let sent = load.stop().await;
    finish(&c, &sent).await;
}

/// Cuts off the peer of org 3 that pulls from the orderers: its sibling
/// keeps committing (by gossip from other orgs' peers, or by taking over the
/// pull), and the cut-off peer catches up once reconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_puller_leaves_its_sibling_committing_and_catches_up() {
    require_docker!();
    let _serial = serial().await;
    let c = Compose::up("consortpart").await;
    setup_token(&c.client(1).await.unwrap()).await;
    let puller = c.org_puller(3, Duration::from_secs(30)).await;
    let sibling = 1 - puller;
    let load = Load::start(c.clients(&[1, 2]).await, 4, 23);
    load.wait_for_more(10, Duration::from_secs(60), "before the partition")
        .await;
    let service = format!("peer{puller}.org3");
    let container = c.container(&service);
    c.docker(&["network", "disconnect", &c.network(), &container]);
    let sibling_client = c.client_on(3, sibling).await.unwrap();
    let before = sibling_client.status().await.unwrap().height;
    load.wait_for_more(30, Duration::from_secs(90), "during the partition")
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = sibling_client.status().await.unwrap().height;
        if now >= before + 3 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "peer{sibling}.org3 stopped committing while {service} was cut off: {before} -> {now}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    c.docker(&[
        "network",
        "connect",
        "--alias",
        &service,
        &c.network(),
        &container,
    ]);
    load.wait_for_more(10, Duration::from_secs(60), "after reconnecting")
        .await;
    let sent = load.stop().await;
    finish(&c, &sent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_orderer_majority_submissions_fail_fast_then_resume() {
    require_docker!();
    let _serial = serial().await;
    let c = Compose::up("consortquorum").await;
    let client = c.client(1).await.unwrap();
    setup_token(&client).await;
    let before = transfer_load(vec![client.clone()], 10, 2, None, 29).await;
    assert!(before.iter().all(|s| s.acked_block.is_some()));
    let out = c.compose(&["stop", "-t", "2", "orderer0.org2", "orderer0.org3"]);
    assert!(out.status.success());
    let started = Instant::now();
    let e = client
        .endorse(
            "token",
            "transfer",
            &args(&["TOK", &acct(&client, 0), &acct(&client, 1), "1", "q"]),
        )
        .await
        .unwrap();
    let err = client
        .submit_endorsed(&e)
        .await
        .expect_err("no quorum, no acknowledgement");
    let took = started.elapsed();
    assert!(
        err.to_string().contains("ordering service unavailable"),
        "{err}"
    );
    assert!(took < Duration::from_secs(12), "took {took:?}");
    eprintln!("without a majority: refused after {took:?}: {err}");
    let out = c.compose(&["start", "orderer0.org2", "orderer0.org3"]);
    assert!(out.status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = transfer_load(vec![client.clone()], 1, 1, None, 31).await;
        if r[0].acked_block.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "submissions did not resume: {:?}",
            r[0].error
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    finish(&c, &before).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarting_or_recreating_the_network_keeps_every_ledger() {
    require_docker!();
    let _serial = serial().await;
    let c = Compose::up("consortrestart").await;
    let client = c.client(1).await.unwrap();
    setup_token(&client).await;
    let sent = transfer_load(c.clients(&[1, 2]).await, 40, 4, None, 37).await;
    let before = c.wait_converged(2, Duration::from_secs(60)).await;
    let out = c.compose(&["restart", "-t", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.wait_ready(Duration::from_secs(90)).await;
    let after = c
        .wait_converged(before.height, Duration::from_secs(60))
        .await;
    assert_eq!(after.height, before.height);
    assert_eq!(after.last_block_hash, before.last_block_hash);
    assert_eq!(after.state_hash, before.state_hash);
    finish(&c, &sent).await;
    // `down` then `up` (volumes kept) brings the same ledgers back too.
    let out = c.compose(&["down", "-t", "5"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = c.compose(&["up", "-d"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    c.wait_ready(Duration::from_secs(90)).await;
    let again = c
        .wait_converged(before.height, Duration::from_secs(60))
        .await;
    assert_eq!(
        (again.height, &again.last_block_hash, &again.state_hash),
        (before.height, &before.last_block_hash, &before.state_hash)
    );
    // And the network still takes transactions.
    let more = transfer_load(c.clients(&[2]).await, 3, 1, None, 41).await;
    assert!(more.iter().all(|s| s.acked_block.is_some()), "{:?}", more);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_with_an_outside_certificate_cannot_connect() {
    require_docker!();
    let _serial = serial().await;
    let c = Compose::up("consortoutside").await;
    // A whole second network's crypto: its Org1MSP CA is not the channel's.
    let evil = c.dir.path().join("evil");
    let out = run(Command::new(env!("CARGO_BIN_EXE_consort"))
        .args(["crypto", "generate", "--out"])
        .arg(&evil));
    assert!(out.status.success());
    std::fs::copy(c.crypto().join("genesis.block"), evil.join("channel.block")).unwrap();
    let profile = |dir: &str| {
        format!(
            "msp_id = \"Org1MSP\"\ncert = \"{dir}/orgs/Org1MSP/users/user1/cert.pem\"\nkey = \"{dir}/orgs/Org1MSP/users/user1/key.pem\"\ntls_cert = \"{dir}/orgs/Org1MSP/users/user1/tls/cert.pem\"\ntls_key = \"{dir}/orgs/Org1MSP/users/user1/tls/key.pem\"\ngenesis = \"/evil/channel.block\"\ngateway = \"peer0.org1:7051\"\n"
        )
    };
    std::fs::write(evil.join("outsider.toml"), profile("/evil")).unwrap();
    // A genuine member for comparison: same container, same paths, real certificate.
    let member = evil.join("member");
    std::fs::create_dir_all(member.join("orgs/Org1MSP/users")).unwrap();
    run(Command::new("cp")
        .arg("-r")
        .arg(c.crypto().join("orgs/Org1MSP/users/user1"))
        .arg(member.join("orgs/Org1MSP/users/")));
    std::fs::write(evil.join("member.toml"), profile("/evil/member")).unwrap();
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(&evil));
    let in_container = |args: &[String]| {
        let mut cmd = Command::new("docker");
        cmd.args(["run", "--rm", "--network", &c.network(), "-v"])
            .arg(format!("{}:/evil:ro", evil.display()))
            .arg(IMAGE)
            .args(args);
        run(&mut cmd)
    };
    for org in 1..=ORGS {
        let peer = format!("peer0.org{org}:{}", 7049 + 2 * org);
        let orderer = format!("orderer0.org{org}:{}", 7048 + 2 * org);
        for (who, expect_ok) in [("member", true), ("outsider", false)] {
            let prof = format!("/evil/{who}.toml");
            let peer_call = in_container(&[
                "status".into(),
                "--profile".into(),
                prof.clone(),
                "--gateway".into(),
                peer.clone(),
            ]);
            let ord_call = in_container(&[
                "orderer".into(),
                "status".into(),
                "--profile".into(),
                prof,
                "--orderer".into(),
                orderer.clone(),
            ]);
            for (target, out) in [(&peer, peer_call), (&orderer, ord_call)] {
                let stderr = String::from_utf8_lossy(&out.stderr).to_string();
                assert_eq!(
                    out.status.success(),
                    expect_ok,
                    "{who} -> {target}: {stderr}"
                );
                if !expect_ok {
                    assert!(stderr.contains("refused"), "{who} -> {target}: {stderr}");
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_container_is_healthy_through_its_operations_port() {
    require_docker!();
    let _serial = serial().await;
    let c = Compose::up("consortops").await;
    let services: Vec<(usize, usize, String)> = (1..=ORGS)
        .flat_map(|i| {
            std::iter::once((i, 0, format!("orderer0.org{i}")))
                .chain((0..PEERS_PER_ORG).map(move |p| (i, 1 + p, format!("peer{p}.org{i}"))))
        })
        .collect();
    // The image's HEALTHCHECK (`consort node health`, a GET of /healthz)
    // reports every node healthy.
    let deadline = Instant::now() + Duration::from_secs(90);
    for (_, _, service) in &services {
        let id = c.container(service);
        loop {
            let out = run(Command::new("docker").args([
                "inspect",
                "--format",
                "{{.State.Health.Status}}",
                &id,
            ]));
            let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
            if status == "healthy" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{service} is {status}, not healthy"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    // The published operations ports answer from the host.
    for (org, j, service) in &services {
        let port = c.ops_port(*org, *j);
        let base = format!("http://127.0.0.1:{port}");
        let timeout = Duration::from_secs(5);
        let health = consort::operations::client::get(&format!("{base}/healthz"), timeout)
            .await
            .expect("healthz");
        assert_eq!(health.status, 200, "{service}: {}", health.body);
        let metrics = consort::operations::client::get(&format!("{base}/metrics"), timeout)
            .await
            .expect("metrics");
        let gauge = if service.starts_with("peer") {
            "ledger_blockchain_height"
        } else {
            "consensus_etcdraft_cluster_size"
        };
        assert!(metrics.body.contains(gauge), "{service}: {}", metrics.body);
    }
}
