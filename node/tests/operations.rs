//! The operations listener of real node processes: `/metrics` scraped and
//! parsed as Prometheus text, `/healthz` following its dependencies, and
//! `/logspec` changing a running node's log level.

mod common;

use common::*;
use consort::operations::client::{self as ops, Reply};
use consort_proto::TxValidationCode as Code;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const HTTP_TIMEOUT: Duration = Duration::from_secs(5);

/// The operations address of node `name`.
fn ops_addr(t: &TestNet, name: &str) -> String {
    t.net
        .nodes()
        .iter()
        .find(|n| n.name == name)
        .and_then(|n| n.operations.clone())
        .unwrap_or_else(|| panic!("{name} has an operations listener"))
}

async fn get(addr: &str, path: &str) -> Reply {
    ops::get(&format!("http://{addr}{path}"), HTTP_TIMEOUT)
        .await
        .unwrap_or_else(|e| panic!("GET {addr}{path}: {e}"))
}

/// Parses a `/metrics` body with a Prometheus text-format parser.
fn scrape(addr_body: &str) -> prometheus_parse::Scrape {
    let lines = addr_body.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text")
}

async fn metrics_of(addr: &str) -> prometheus_parse::Scrape {
    let r = get(addr, "/metrics").await;
    assert_eq!(r.status, 200, "{}", r.body);
    scrape(&r.body)
}

/// The sum of the samples of `name` whose labels include `labels`.
fn value(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    use prometheus_parse::Value;
    s.samples
        .iter()
        .filter(|x| x.metric == name)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| match x.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// Transactions counted per validation code.
fn tx_counts(s: &prometheus_parse::Scrape) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for x in s
        .samples
        .iter()
        .filter(|x| x.metric == "ledger_transaction_count")
    {
        if let (Some(code), prometheus_parse::Value::Counter(v)) =
            (x.labels.get("validation_code"), &x.value)
        {
            *out.entry(code.to_owned()).or_default() += v;
        }
    }
    out
}

/// Polls `/healthz` of `addr` until its status is `want`; returns the body.
async fn wait_health(addr: &str, want: u16, within: Duration, what: &str) -> String {
    let deadline = Instant::now() + within;
    loop {
        let last = match ops::get(&format!("http://{addr}/healthz"), HTTP_TIMEOUT).await {
            Ok(r) if r.status == want => return r.body,
            Ok(r) => format!("{}: {}", r.status, r.body),
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "{what}: /healthz of {addr} not {want} within {within:?}; last: {last}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_the_transactions_sent_and_the_height_matches_peer_status() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    let peer = ops_addr(&t, "peer0.org1");
    let before = tx_counts(&metrics_of(&peer).await);

    t.setup_token().await;
    let c1 = t.client(1).await;
    let c2 = t.client(2).await;
    // Concurrent transfers between few accounts: some conflict, so more
    // than one validation code is counted.
    let sent = transfer_load(vec![c1.clone(), c2.clone()], 40, 8, None, 11).await;
    let mut expected: HashMap<String, f64> = HashMap::new();
    // The token's creation and its issues, all valid.
    *expected.entry("VALID".into()).or_default() += (1 + ALL_ACCOUNTS) as f64;
    let mut first_valid = None;
    for s in &sent {
        assert!(s.acked_block.is_some(), "submission failed: {:?}", s.error);
        let (code, _) = c1
            .commit_status(&s.tx_id, Duration::from_secs(30))
            .await
            .expect("commit status");
        if code == Code::Valid && first_valid.is_none() {
            first_valid = Some(s.tx_id.clone());
        }
        *expected.entry(code.as_str_name().to_owned()).or_default() += 1.0;
    }

    // The peer's counters, less what it had counted before, are exactly
    // the transactions sent; its height gauge is its PeerStatus height.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = metrics_of(&peer).await;
        let mut counted = tx_counts(&s);
        for (code, n) in &before {
            *counted.entry(code.clone()).or_default() -= n;
        }
        counted.retain(|_, n| *n != 0.0);
        let status = c1.status().await.expect("peer status");
        let height = value(&s, "ledger_blockchain_height", &[("channel", "consort")]);
        if counted == expected && height == status.height as f64 {
            assert!(value(&s, "ledger_block_processing_time_count", &[]) >= 1.0);
            assert!(value(&s, "endorser_proposals_received", &[]) >= 1.0);
            assert!(
                value(
                    &s,
                    "chaincode_execute_duration_count",
                    &[("chaincode", "token")]
                ) >= 1.0
            );
            assert!(
                value(
                    &s,
                    "grpc_server_requests_completed",
                    &[("service", "consort.Gateway"), ("method", "Submit")]
                ) >= 1.0
            );
            let expiry = value(
                &s,
                "consort_certificate_expiration_timestamp_seconds",
                &[("kind", "tls")],
            );
            assert!(expiry > consort::identity::now_unix() as f64, "{expiry}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "metrics {counted:?} at height {height} vs sent {expected:?} at height {}",
            status.height
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        expected
            .get(Code::Valid.as_str_name())
            .copied()
            .unwrap_or(0.0)
            > 0.0,
        "{expected:?}"
    );

    // The explorer shows the same transactions: a block links to a
    // transaction, whose writes link to the key's history, which names it.
    let valid_tx = first_valid.expect("a valid transfer");
    explore(&peer, &valid_tx, &c1).await;

    // The orderers: one leader of three, and the submissions counted.
    let mut leaders = 0.0;
    let mut broadcast = 0.0;
    for o in t.orderer_names() {
        let s = metrics_of(&ops_addr(&t, &o)).await;
        assert_eq!(
            value(&s, "consensus_etcdraft_cluster_size", &[]),
            3.0,
            "{o}"
        );
        leaders += value(&s, "consensus_etcdraft_is_leader", &[]);
        broadcast += value(&s, "broadcast_processed_count", &[("status", "SUCCESS")]);
    }
    assert_eq!(leaders, 1.0);
    assert!(broadcast >= sent.len() as f64, "{broadcast}");
    t.net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_fails_when_the_orderers_or_their_quorum_go_and_recovers() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    let peer = ops_addr(&t, "peer0.org1");
    let orderers = t.orderer_names();
    let within = Duration::from_secs(30);
    for name in t.peer_names().iter().chain(&orderers) {
        let body = wait_health(&ops_addr(&t, name), 200, within, "at start").await;
        assert!(body.contains(r#""status":"OK""#), "{body}");
    }

    // Two of three orderers stop: the last one has no quorum.
    let last = orderers[0].clone();
    for o in &orderers[1..] {
        t.net.stop(o, Duration::from_secs(5)).expect("stop orderer");
    }
    let body = wait_health(&ops_addr(&t, &last), 503, within, "quorum lost").await;
    assert!(body.contains(r#""failed_checks":["raft"]"#), "{body}");

    // No orderer at all: the peer has nothing to receive blocks from.
    t.net
        .stop(&last, Duration::from_secs(5))
        .expect("stop orderer");
    let body = wait_health(&peer, 503, within, "orderers stopped").await;
    assert!(body.contains(r#""failed_checks":["orderer"]"#), "{body}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_consort"))
        .args(["node", "health", "--url", &format!("http://{peer}/healthz")])
        .output()
        .expect("run consort node health");
    assert_eq!(out.status.code(), Some(1), "unhealthy exits 1");

    for o in &orderers {
        t.net.start(o).expect("restart orderer");
    }
    for name in t.peer_names().iter().chain(&orderers) {
        wait_health(
            &ops_addr(&t, name),
            200,
            Duration::from_secs(60),
            "after restart",
        )
        .await;
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_consort"))
        .args(["node", "health", "--url", &format!("http://{peer}/healthz")])
        .output()
        .expect("run consort node health");
    assert!(out.status.success(), "healthy exits 0");
    t.net.stop_all();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logspec_change_takes_effect_without_a_restart_and_version_names_the_release() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    let name = "peer0.org1";
    let addr = ops_addr(&t, name);
    let log = t
        .net
        .nodes()
        .iter()
        .find(|n| n.name == name)
        .map(|n| n.dir.join("node.log"))
        .expect("peer dir");
    let pid = t.net.pid(name).expect("peer runs");
    let debug_lines = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("DEBUG"))
            .count()
    };
    assert_eq!(debug_lines(), 0, "the node starts at info");
    let r = get(&addr, "/logspec").await;
    assert_eq!(r.body, r#"{"spec":"info"}"#);

    let url = format!("http://{addr}/logspec");
    let put = |spec: &str| {
        ops::request(
            http::Method::PUT,
            &url,
            Some(format!(r#"{{"spec":"{spec}"}}"#)),
            HTTP_TIMEOUT,
        )
    };
    let bad = put("consort=loud").await.expect("PUT");
    assert_eq!(bad.status, 400, "{}", bad.body);
    let ok = put("debug").await.expect("PUT");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(get(&addr, "/logspec").await.body, r#"{"spec":"debug"}"#);

    // Work for the node to log about, until debug lines appear.
    let c = t.client(1).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while debug_lines() == 0 {
        let _ = c.status().await;
        let _ = get(&addr, "/healthz").await;
        assert!(
            Instant::now() < deadline,
            "no debug line in {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(t.net.pid(name), Some(pid), "the same process");

    let r = get(&addr, "/version").await;
    assert_eq!(r.status, 200);
    let v: serde_json::Value = serde_json::from_str(&r.body).expect("JSON");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    t.net.stop_all();
}

/// Follows the explorer from a block to transaction `tx_id` to the history
/// of a key it wrote, HTML and JSON alike.
async fn explore(peer: &str, tx_id: &str, c: &consort::client::Client) {
    use consort::operations::explorer::html::enc;
    let json = |body: &str| -> serde_json::Value { serde_json::from_str(body).expect("JSON") };
    let (code, block) = c
        .commit_status(tx_id, Duration::from_secs(30))
        .await
        .expect("commit status");

    let b = get(peer, &format!("/api/blocks/{block}")).await;
    assert_eq!(b.status, 200, "{}", b.body);
    let bj = json(&b.body);
    let listed = bj["txs"].as_array().expect("txs");
    assert!(listed.iter().any(|t| t["tx_id"] == tx_id), "{}", b.body);
    let page = get(peer, &format!("/explorer/blocks/{block}")).await;
    assert!(
        page.body
            .contains(&format!("href=\"/explorer/tx/{tx_id}\"")),
        "{}",
        page.body
    );

    let t = get(peer, &format!("/api/tx/{tx_id}")).await;
    assert_eq!(t.status, 200, "{}", t.body);
    let tj = json(&t.body);
    assert_eq!(tj["code"], code.as_str_name());
    assert_eq!(tj["block"], block);
    let html = get(peer, &format!("/explorer/tx/{tx_id}")).await.body;
    assert!(
        html.contains(tx_id) && html.contains(code.as_str_name()),
        "{html}"
    );

    let written = tj["rwsets"]
        .as_array()
        .and_then(|ns| ns.iter().find(|n| n["namespace"] == "token"))
        .and_then(|n| n["writes"].as_array())
        .and_then(|w| w.first())
        .map(|w| w["key"].as_str().unwrap_or_default().to_owned());
    if code == Code::Valid {
        let key = written.expect("a valid transfer writes token state");
        assert!(html.contains(&format!("/explorer/history/token?key={}", enc(&key))));
        let h = get(peer, &format!("/api/history/token?key={}", enc(&key))).await;
        assert!(
            json(&h.body)["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .any(|e| e["tx_id"] == tx_id),
            "{}",
            h.body
        );
        let st = get(peer, &format!("/api/state/token?prefix={}", enc(&key))).await;
        assert_eq!(
            json(&st.body)["entries"][0]["key"],
            key.as_str(),
            "{}",
            st.body
        );
    }

    let d = json(&get(peer, "/api/dashboard").await.body);
    assert!(d["height"].as_u64().expect("height") > block);
    assert_eq!(d["health"]["status"], "OK", "{d}");
    let orgs = get(peer, "/explorer/orgs").await.body;
    assert!(orgs.contains("Org3MSP"), "{orgs}");
    let cc = json(&get(peer, "/api/chaincodes").await.body);
    assert!(cc
        .as_array()
        .expect("list")
        .iter()
        .any(|c| c["name"] == "token"));
    assert_eq!(get(peer, "/api/tx/nothing").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_whose_operations_port_is_taken_stops_saying_so() {
    let _serial = serial().await;
    let spec = with_free_ports(consort::config::NetworkSpec::three_orgs(7050));
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_consort"));
    let mut net = consort::localnet::LocalNet::generate(&dir.path().join("net"), &spec, &bin)
        .expect("generate");
    let node = net
        .nodes()
        .iter()
        .find(|n| n.name == "peer0.org1")
        .cloned()
        .expect("peer0.org1");
    let ops = node.operations.clone().expect("operations address");
    let _taken = std::net::TcpListener::bind(&ops).expect("take the operations port");
    net.start(&node.name).expect("start");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = net.exit_status(&node.name) {
            break s;
        }
        assert!(Instant::now() < deadline, "the node kept running");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(!status.success());
    let log = std::fs::read_to_string(node.dir.join("node.log")).unwrap_or_default();
    assert!(
        log.contains(&format!("operations listener: cannot listen on {ops}")),
        "{log}"
    );
}
