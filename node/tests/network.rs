//! Multi-process tests: real orderer and peer processes on loopback.

mod common;

use common::*;
use consort::client::args;
use consort_proto::{Envelope, GetBlockRequest, Transaction, TxValidationCode as Code};
use prost::Message;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_transfers_through_two_gateways_converge() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    t.setup_token().await;
    let c1 = t.client(1).await;
    let c2 = t.client(2).await;
    let sent = transfer_load(vec![c1.clone(), c2.clone()], 200, 16, None, 7).await;
    let acked: Vec<&Sent> = sent.iter().filter(|s| s.acked_block.is_some()).collect();
    assert_eq!(
        acked.len(),
        200,
        "every submission is acknowledged: {:?}",
        sent.iter().find(|s| s.error.is_some())
    );
    // Every acknowledged transaction commits with a final code on both gateways' peers.
    let mut valid = 0;
    for s in &acked {
        let (code, _) = c1
            .commit_status(&s.tx_id, Duration::from_secs(30))
            .await
            .expect("status");
        assert!(
            matches!(code, Code::Valid | Code::MvccReadConflict),
            "{code:?}"
        );
        valid += usize::from(code == Code::Valid);
    }
    assert!(valid > 0);
    let status = t.wait_converged(2, Duration::from_secs(30)).await;
    assert_eq!(
        t.total_supply(&t.client(3).await).await,
        ALL_ACCOUNTS as u64 * PER_ACCOUNT,
        "transfers never change the supply"
    );
    // Each transaction is in the chain exactly once.
    let occ = tx_occurrences(&c2, status.height).await;
    for s in &acked {
        assert_eq!(occ.get(&s.tx_id).map(Vec::len), Some(1), "tx {}", s.tx_id);
    }
    // A stopped peer's ledger verifies offline end to end.
    let peer = t.peer_names()[2].clone();
    t.net.stop(&peer, Duration::from_secs(10)).unwrap();
    let node = t
        .net
        .nodes()
        .iter()
        .find(|n| n.name == peer)
        .unwrap()
        .clone();
    let (genesis, config) = consort::node::load_genesis(&t.net.net.genesis).unwrap();
    let msp = std::sync::Arc::new(consort::identity::Msp::from_config(&config));
    let rules = consort::node::channel_rules(&config, msp).unwrap();
    let ledger = consort::ledger::Ledger::open(&node.dir.join("data").join("ledger")).unwrap();
    let v = consort::ledger::verify::verify(&ledger, &genesis, &rules).expect("ledger verifies");
    assert_eq!(v.height, status.height);
    assert_eq!(
        v.valid as usize,
        valid + 1 + ALL_ACCOUNTS,
        "create + issues + valid transfers"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_raft_leader_under_load_loses_nothing_acknowledged() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    t.setup_token().await;
    let leader = t.leader(Duration::from_secs(10)).await;
    let clients = vec![t.client(1).await, t.client(2).await, t.client(3).await];
    let load = Load::start(clients.clone(), 4, 11);
    load.wait_for_more(20, Duration::from_secs(60), "before the kill")
        .await;
    let killed_at = Instant::now();
    t.net.kill(&leader).unwrap();
    let new_leader = t.leader(Duration::from_secs(30)).await;
    assert_ne!(new_leader, leader);
    load.wait_for_more(40, Duration::from_secs(60), "after the kill")
        .await;
    let sent = load.stop().await;
    let acked: Vec<&Sent> = sent.iter().filter(|s| s.acked_block.is_some()).collect();
    let before = acked.iter().filter(|s| s.at < killed_at).count();
    let after: Vec<&&Sent> = acked.iter().filter(|s| s.at > killed_at).collect();
    assert!(before > 0, "load ran before the kill");
    let first_after = after
        .iter()
        .map(|s| s.at)
        .min()
        .expect("submissions resumed after the kill");
    let gap = first_after - killed_at;
    let failed = sent.iter().filter(|s| s.acked_block.is_none()).count();
    let mut kinds: std::collections::BTreeMap<String, usize> = Default::default();
    for s in sent.iter().filter_map(|s| s.error.as_ref()) {
        *kinds.entry(s.chars().take(90).collect()).or_default() += 1;
    }
    eprintln!("refusals: {kinds:#?}");
    eprintln!(
        "leader {leader} killed: {before} acknowledged before, {} after, {failed} refused, resumed after {gap:?}, new leader {new_leader}",
        after.len()
    );
    // The killed orderer restarts and catches up.
    t.net.start(&leader).unwrap();
    let status = t.wait_converged(2, Duration::from_secs(30)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let st = t.orderer_statuses().await;
        if st.len() == 3
            && st
                .iter()
                .all(|(_, s)| s.height == st[0].1.height && s.height >= status.height)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "restarted orderer did not catch up: {st:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Every acknowledged transaction is committed exactly once (a copy the
    // gateway resent after an unknown outcome is DUPLICATE_TXID).
    let status = t.wait_converged(2, Duration::from_secs(30)).await;
    assert_acked_committed_once(&clients[0], status.height, &sent).await;
    assert_eq!(
        t.total_supply(&clients[2]).await,
        ALL_ACCOUNTS as u64 * PER_ACCOUNT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_killed_during_commits_catches_up() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    t.setup_token().await;
    let victim = t.peer_names()[2].clone();
    let clients = vec![t.client(1).await, t.client(2).await];
    let load = Load::start(clients.clone(), 8, 13);
    load.wait_for_more(10, Duration::from_secs(60), "before the kill")
        .await;
    t.net.kill(&victim).unwrap();
    load.wait_for_more(30, Duration::from_secs(60), "while the peer is down")
        .await;
    t.net.start(&victim).unwrap();
    load.wait_for_more(10, Duration::from_secs(60), "after the restart")
        .await;
    let sent = load.stop().await;
    assert!(sent.iter().filter(|s| s.acked_block.is_some()).count() > 10);
    let status = t.wait_converged(3, Duration::from_secs(60)).await;
    assert!(status.height > 3);
    assert_eq!(
        t.total_supply(&t.client(3).await).await,
        ALL_ACCOUNTS as u64 * PER_ACCOUNT
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_codes_on_a_live_network() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    t.setup_token().await;
    let c1 = t.client(1).await;
    let c2 = t.client(2).await;
    // The same holder through Org2's gateway.
    let peer2 = t.peer_names()[1].clone();
    let c1_on_2 = t.client_on(1, &peer2).await.unwrap();

    // Two transfers that read the same balance, endorsed first, submitted together.
    let a = c1
        .endorse(
            "token",
            "transfer",
            &args(&["TOK", &acct(&c1, 0), &acct(&c1, 1), "5", "x"]),
        )
        .await
        .unwrap();
    let b = c1_on_2
        .endorse(
            "token",
            "transfer",
            &args(&["TOK", &acct(&c1, 0), &acct(&c1, 2), "5", "y"]),
        )
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(c1.submit_endorsed(&a), c1_on_2.submit_endorsed(&b));
    let (ba, bb) = (ra.unwrap(), rb.unwrap());
    let (ca, _) = c1
        .commit_status(&a.tx_id, Duration::from_secs(30))
        .await
        .unwrap();
    let (cb, _) = c1
        .commit_status(&b.tx_id, Duration::from_secs(30))
        .await
        .unwrap();
    let mut codes = [(ba, ca), (bb, cb)];
    codes.sort_by_key(|(blk, _)| *blk);
    if ba == bb {
        // Same block: the later one in block order conflicts.
        let block = c1
            .gateway()
            .get_block(GetBlockRequest { number: ba })
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<i32> = block.validation_codes.clone();
        assert_eq!(ids.iter().filter(|c| **c == Code::Valid as i32).count(), 1);
        assert_eq!(
            ids.iter()
                .filter(|c| **c == Code::MvccReadConflict as i32)
                .count(),
            1
        );
        assert_eq!(
            ids[0],
            Code::Valid as i32,
            "the earlier transaction in the block wins"
        );
    }
    assert_eq!(codes[0].1, Code::Valid);
    assert_eq!(codes[1].1, Code::MvccReadConflict);
    let bal = c1
        .evaluate("token", "balance", &args(&["TOK", &acct(&c1, 0)]))
        .await
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&bal),
        (PER_ACCOUNT - 5).to_string(),
        "the conflicting transfer changed nothing"
    );

    // Endorsed by one org where the policy needs two.
    let e = c1
        .endorse(
            "token",
            "transfer",
            &args(&["TOK", &acct(&c1, 3), &acct(&c1, 2), "1", "z"]),
        )
        .await
        .unwrap();
    let mut tx = Transaction::decode(e.prepared.as_slice()).unwrap();
    assert_eq!(tx.endorsements.len(), 2);
    tx.endorsements.truncate(1);
    let mut one = e.clone();
    one.prepared = tx.encode_to_vec();
    c1.submit_endorsed(&one).await.unwrap();
    let (code, _) = c1
        .commit_status(&e.tx_id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(code, Code::EndorsementPolicyFailure);

    // A resubmitted transaction.
    let e = c1
        .endorse(
            "token",
            "transfer",
            &args(&["TOK", &acct(&c1, 1), &acct(&c1, 3), "1", "w"]),
        )
        .await
        .unwrap();
    let env: Envelope = c1.envelope(&e).unwrap();
    let first = c1.submit_envelope(env.clone()).await.unwrap();
    let second = c1.submit_envelope(env).await.unwrap();
    assert!(second >= first);
    t.wait_converged(second + 1, Duration::from_secs(30)).await;
    let occ = tx_occurrences(&c1, second + 1).await;
    assert_eq!(
        occ[&e.tx_id],
        vec![Code::Valid as i32, Code::DuplicateTxid as i32]
    );
    let (code, blk) = c2
        .commit_status(&e.tx_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        (code, blk),
        (Code::Valid, first),
        "the index keeps the original"
    );

    // The load generator: every transfer ends VALID or MVCC_READ_CONFLICT
    // (four accounts for four workers per identity: pairs are shared).
    let spec = consort::bench::run::RunSpec {
        symbol: "LOADT".into(),
        accounts: Some(4),
        stop: consort::bench::run::Stop::Count(40),
        concurrency: 8,
        max_duration: Duration::from_secs(60),
        ..Default::default()
    };
    let r = consort::bench::run::run(&[c1.clone(), c2.clone()], &spec, None)
        .await
        .unwrap();
    assert_eq!((r.sent, r.failed), (40, 0), "{:?}", r.first_error);
    assert_eq!(r.valid + r.invalid, 40);
    assert!(r
        .invalid_by_code
        .keys()
        .all(|code| code == "MVCC_READ_CONFLICT"));
    assert!(r.valid > 0 && r.committed_tps > 0.0);
    assert!(r.latency.p50_ms > 0.0 && r.latency.p50_ms <= r.latency.p99_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_cannot_connect_and_tampering_is_refused() {
    use consort::identity::ca::{CertAuthority, IssueRequest, KeyKind};
    use consort::identity::{Role, SigningIdentity};
    use consort::transport::Dialer;
    use consort_proto::gateway_client::GatewayClient;
    use consort_proto::{EvaluateRequest, PeerStatusRequest};
    use std::sync::Arc;

    let _serial = serial().await;
    let mut t = TestNet::start().await;
    let (_, config) = consort::node::load_genesis(&t.net.net.genesis).unwrap();
    let cas = consort::identity::tls_roots(&config);

    // An identity from a CA outside the consortium, one with an expired
    // certificate from a member CA, and no certificate at all.
    let evil_ca = CertAuthority::generate("Org1MSP", KeyKind::Ed25519).unwrap();
    let evil = evil_ca
        .issue(&IssueRequest::new("mallory", Role::Client, vec![]))
        .unwrap();
    let evil = Arc::new(SigningIdentity::from_der("Org1MSP", evil.cert_der, evil.key_der).unwrap());
    let org1_dir = t.net.net.dir.join("orgs/Org1MSP/tlsca");
    let org1_ca = CertAuthority::load(
        "Org1MSP",
        &std::fs::read_to_string(org1_dir.join("ca.crt")).unwrap(),
        &std::fs::read_to_string(org1_dir.join("ca.key")).unwrap(),
    )
    .unwrap();
    let mut req = IssueRequest::new("old", Role::Client, vec![]);
    req.not_before = time::OffsetDateTime::now_utc() - Duration::from_secs(7200);
    req.not_after = time::OffsetDateTime::now_utc() - Duration::from_secs(3600);
    let old = org1_ca.issue(&req).unwrap();
    let old = Arc::new(SigningIdentity::from_der("Org1MSP", old.cert_der, old.key_der).unwrap());

    for node in t.net.nodes().to_vec() {
        for (who, id) in [("outside CA", &evil), ("expired", &old)] {
            let dialer = Dialer::new(id.clone(), cas.clone());
            let refused = match dialer.connect(&node.endpoint, None).await {
                Err(_) => true,
                Ok(ch) => GatewayClient::new(ch)
                    .peer_status(PeerStatusRequest {})
                    .await
                    .is_err(),
            };
            assert!(refused, "{who} certificate got through to {}", node.name);
        }
        // No client certificate.
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificates(cas.iter().map(|d| {
                tonic::transport::Certificate::from_pem(consort::identity::cert::der_to_pem(d))
            }))
            .domain_name("127.0.0.1");
        let ep = tonic::transport::Endpoint::from_shared(format!("https://{}", node.endpoint))
            .unwrap()
            .tls_config(tls)
            .unwrap();
        let refused = match ep.connect().await {
            Err(_) => true,
            Ok(ch) => GatewayClient::new(ch)
                .peer_status(PeerStatusRequest {})
                .await
                .is_err(),
        };
        assert!(
            refused,
            "a client without certificate got through to {}",
            node.name
        );
    }

    // Through the client library the refusal is named as such.
    let evil_dir = t.dir.path().join("evil");
    std::fs::create_dir_all(&evil_dir).unwrap();
    std::fs::write(evil_dir.join("cert.pem"), evil.cert_pem()).unwrap();
    std::fs::write(evil_dir.join("key.pem"), evil.key_pem()).unwrap();
    let profile = consort::config::ClientProfile {
        msp_id: "Org1MSP".into(),
        cert: evil_dir.join("cert.pem"),
        key: evil_dir.join("key.pem"),
        tls_cert: None,
        tls_key: None,
        genesis: t.net.net.genesis.clone(),
        gateway: t.net.nodes_of(consort::config::NodeRole::Peer)[0]
            .endpoint
            .clone(),
        fallback_gateways: vec![],
        tls_name: None,
    };
    match consort::client::Client::connect(&profile).await {
        Err(e @ consort::client::ClientError::Refused { .. }) => {
            assert!(e.to_string().contains("certificate"), "{e}")
        }
        Err(consort::client::ClientError::Connect(_)) => {}
        Err(e) => panic!("unexpected error kind: {e}"),
        Ok(_) => panic!("an outside certificate connected"),
    }

    // A member client with a tampered proposal signature.
    let c = t.client(1).await;
    let mut call = c.propose("token", "balance", &args(&["TOK", "x"])).unwrap();
    call.proposal.signature[0] ^= 0x55;
    let err = c
        .gateway()
        .evaluate(EvaluateRequest {
            proposal: Some(call.proposal),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied);
    assert!(err.message().contains("signature"), "{}", err.message());
    // Malformed bytes, unknown chaincode, oversized message.
    let mut call = c.propose("token", "balance", &args(&["TOK", "x"])).unwrap();
    call.proposal.proposal_bytes = vec![0xff; 10];
    let err = c
        .gateway()
        .evaluate(EvaluateRequest {
            proposal: Some(call.proposal),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument, "{err}");
    let err = c.evaluate("nosuchcc", "f", &[]).await.unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
    let huge = vec![b'x'; 5 * 1024 * 1024];
    let err = c.evaluate("token", "balance", &[huge]).await.unwrap_err();
    assert!(err.code().is_some(), "{err}");
    // The network still works afterwards.
    t.wait_converged(1, Duration::from_secs(10)).await;
    assert!(c.evaluate("token", "info", &args(&["NONE"])).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaincode_state_api_on_a_live_network() {
    use serde_json::Value;
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    let c1 = t.client(1).await;
    let c2 = t.client(2).await;
    let json = |b: Vec<u8>| serde_json::from_slice::<Value>(&b).unwrap();

    // 25 assets, listed 10 at a time across three pages.
    for i in 0..25 {
        let id = format!("a{i:02}");
        let r = c1
            .invoke(
                "asset-transfer",
                "create",
                &args(&[&id, "blue", "5", "alice", "100"]),
            )
            .await
            .unwrap();
        assert_eq!(r.code, Code::Valid);
    }
    // Reads through another org's gateway see what every peer has committed.
    t.wait_converged(2, Duration::from_secs(30)).await;
    let mut seen = Vec::new();
    let mut bookmark = String::new();
    for _ in 0..3 {
        let page = json(
            c2.evaluate("asset-transfer", "list", &args(&["10", &bookmark]))
                .await
                .unwrap(),
        );
        for a in page["assets"].as_array().unwrap() {
            seen.push(a["id"].as_str().unwrap().to_string());
        }
        bookmark = page["bookmark"].as_str().unwrap().to_string();
    }
    assert_eq!(seen.len(), 25);
    assert_eq!(
        seen,
        (0..25).map(|i| format!("a{i:02}")).collect::<Vec<_>>()
    );
    assert!(bookmark.is_empty(), "the last page ends the range");

    // History after an update and a delete, oldest first.
    c2.invoke(
        "asset-transfer",
        "update",
        &args(&["a03", "red", "6", "bob", "150"]),
    )
    .await
    .unwrap();
    c1.invoke("asset-transfer", "delete", &args(&["a03"]))
        .await
        .unwrap();
    let h = json(
        c1.evaluate("asset-transfer", "history", &args(&["a03"]))
            .await
            .unwrap(),
    );
    let h = h.as_array().unwrap();
    assert_eq!(h.len(), 3);
    assert_eq!(h[0]["asset"]["color"], "blue");
    assert_eq!(h[1]["asset"]["owner"], "bob");
    assert_eq!(h[2]["deleted"], true);

    // A range scan endorsed, then a key inserted inside the range commits
    // first: the scanning transaction is a phantom read.
    let scan = c1
        .endorse("asset-transfer", "list", &args(&["100", ""]))
        .await
        .unwrap();
    let r = c2
        .invoke(
            "asset-transfer",
            "create",
            &args(&["a03x", "green", "1", "carol", "10"]),
        )
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    c1.submit_endorsed(&scan).await.unwrap();
    let (code, _) = c1
        .commit_status(&scan.tx_id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(code, Code::PhantomReadConflict);

    // Custody of a lot: only its holder hands it on, and the trace shows each org.
    let r = c1
        .invoke("supply-chain", "harvest", &args(&["lot7", "coffee"]))
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    let r = c1
        .invoke(
            "supply-chain",
            "handover",
            &args(&["lot7", "processed", "Org2MSP"]),
        )
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    let err = c1
        .invoke(
            "supply-chain",
            "handover",
            &args(&["lot7", "shipped", "Org3MSP"]),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only Org2MSP"), "{err}");
    let r = c2
        .invoke(
            "supply-chain",
            "handover",
            &args(&["lot7", "shipped", "Org3MSP"]),
        )
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    let trace = json(
        c2.evaluate("supply-chain", "trace", &args(&["lot7"]))
            .await
            .unwrap(),
    )
    .to_string();
    for org in ["Org1MSP", "Org2MSP", "Org3MSP"] {
        assert!(trace.contains(org), "{trace}");
    }
    t.wait_converged(1, Duration::from_secs(30)).await;
    let held = json(
        c1.evaluate("supply-chain", "lots_of", &args(&["Org3MSP"]))
            .await
            .unwrap(),
    );
    assert_eq!(held, serde_json::json!(["lot7"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_can_run_a_peer_and_an_orderer() {
    use consort::config::NetworkSpec;
    let _serial = serial().await;
    // Org1's orderer and peer share one endpoint: one process serves both.
    let mut spec = with_free_ports(NetworkSpec::three_orgs(7050));
    spec.orgs[0].peers[0].port = spec.orgs[0].orderers[0].port;
    let spec = spec.validate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = std::path::PathBuf::from(env!("CARGO_BIN_EXE_consort"));
    let mut net =
        consort::localnet::LocalNet::generate(&dir.path().join("net"), &spec, &bin).unwrap();
    for n in net.nodes().to_vec() {
        if !n.name.ends_with(".org1") {
            net.start(&n.name).unwrap();
        }
    }
    let nodes = net.nodes().to_vec();
    let orderer = nodes.iter().find(|n| n.name == "orderer0.org1").unwrap();
    let peer = nodes.iter().find(|n| n.name == "peer0.org1").unwrap();
    let orderer_cfg = std::fs::read_to_string(&orderer.config).unwrap();
    let id_line = orderer_cfg
        .lines()
        .find(|l| l.starts_with("orderer_id"))
        .unwrap();
    let combined = peer.dir.join("combined.toml");
    let peer_cfg = std::fs::read_to_string(&peer.config)
        .unwrap()
        .replace("roles = [\"peer\"]", "roles = [\"peer\", \"orderer\"]");
    std::fs::write(
        &combined,
        format!(
            "{peer_cfg}{id_line}\norderer_cert = \"{}\"\norderer_key = \"{}\"\n\
             orderer_tls_cert = \"{}\"\norderer_tls_key = \"{}\"\n",
            orderer.dir.join("cert.pem").display(),
            orderer.dir.join("key.pem").display(),
            orderer.dir.join("tls/cert.pem").display(),
            orderer.dir.join("tls/key.pem").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(peer.dir.join("combined.log")).unwrap();
    let mut child = std::process::Command::new(&bin)
        .args(["node", "start", "--config"])
        .arg(&combined)
        .stderr(log)
        .spawn()
        .unwrap();
    struct Kill<'a>(&'a mut std::process::Child);
    impl Drop for Kill<'_> {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _guard = Kill(&mut child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let c1 = loop {
        if let Ok(c) = net.client("Org1MSP", None).await {
            if c.status().await.map(|s| s.height >= 1).unwrap_or(false) {
                break c;
            }
        }
        assert!(Instant::now() < deadline, "combined node not ready");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let r = c1
        .invoke("token", "create", &args(&["ONE", "100"]))
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    let r = c1
        .invoke("token", "issue", &args(&["ONE", "zoe", "7", "m"]))
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    let c3 = net.client("Org3MSP", None).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (a, b) = (c1.status().await.unwrap(), c3.status().await.unwrap());
        if a.height == b.height && a.state_hash == b.state_hash {
            break;
        }
        assert!(Instant::now() < deadline, "peers did not converge");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let out = c3
        .evaluate("token", "balance", &args(&["ONE", "zoe"]))
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out), "7");
    let s = consort::client::orderer_status(
        &net.profile("Org1MSP", consort::identity::Role::Client, None)
            .unwrap(),
        &orderer.endpoint,
        None,
    )
    .await
    .unwrap();
    assert_eq!(s.id, 1, "the combined process answers as Raft node 1");
    assert!(s.leader != 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_story_runs_as_the_quick_start_shows() {
    let _serial = serial().await;
    let dir = tempfile::tempdir().unwrap();
    let net_dir = dir.path().join("demo");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_consort"))
            .args(["demo", "--once", "--base-port", "21800", "--dir"])
            .arg(&net_dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "every step had its expected outcome",
        "does not hold account",
        "MVCC_READ_CONFLICT",
        "owners bob -> carol",
        "harvested by Org1MSP, processed by Org2MSP, shipped by Org3MSP",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in:\n{stdout}");
    }
}
