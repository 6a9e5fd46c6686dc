//! Multi-process test of an external chaincode: a three-org network whose
//! `asset-transfer` chaincode runs in a `consort chaincode serve` process.
//! Killing that process makes invocations fail with a clear error and write
//! nothing; restarting it makes them succeed again with no peer restarted.

mod common;

use common::*;
use consort::client::{args, Client, ClientError};
use consort::config::network::ExternalSpec;
use consort::config::NetworkSpec;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The sample the external chaincode server runs.
const CC: &str = "asset-transfer";

/// A `consort chaincode serve` process, killed on drop.
struct ChaincodeProcess(Child);

impl ChaincodeProcess {
    fn start(dir: &Path, address: &str) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("serve.log"))
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_consort"))
            .args(["chaincode", "serve", "--sample", CC, "--listen", address])
            .arg("--cert")
            .arg(dir.join("tls.crt"))
            .arg("--key")
            .arg(dir.join("tls.key"))
            .arg("--client-ca")
            .arg(dir.join("client-cas.crt"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start chaincode server");
        ChaincodeProcess(child)
    }

    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for ChaincodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

fn create_args(id: &str) -> Vec<Vec<u8>> {
    args(&[id, "blue", "5", "tom", "300"])
}

async fn exists(c: &Client, id: &str) -> bool {
    let out = c
        .evaluate(CC, "exists", &args(&[id]))
        .await
        .expect("exists");
    out == b"true"
}

/// Retries `create` of `id` until it commits or `timeout` passes.
async fn create_eventually(c: &Client, id: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        match c.invoke(CC, "create", &create_args(id)).await {
            Ok(_) => return,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{id} never committed: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_chaincode_fails_cleanly_when_killed_and_serves_again_when_back() {
    let _serial = serial().await;
    let cc_address = format!("127.0.0.1:{}", free_ports(1)[0]);
    let mut spec = NetworkSpec::three_orgs(7050);
    spec.chaincodes[1].external = Some(ExternalSpec {
        address: cc_address.clone(),
        tls_root: None,
        org: Some("Org1MSP".into()),
    });
    let mut t = TestNet::start_with(spec).await;
    let cc_dir = t.dir.path().join("net/orgs/Org1MSP/chaincodes").join(CC);
    let mut server = ChaincodeProcess::start(&cc_dir, &cc_address);
    let clients = [t.client(1).await, t.client(2).await, t.client(3).await];

    // Every org's gateway invokes through the external chaincode.
    create_eventually(&clients[0], "a0", Duration::from_secs(30)).await;
    for (i, c) in clients.iter().enumerate() {
        c.invoke(CC, "create", &create_args(&format!("a{}", i + 1)))
            .await
            .expect("create through every gateway");
    }
    for c in &clients {
        for id in ["a0", "a1", "a2", "a3"] {
            assert!(exists(c, id).await, "{id}");
        }
    }
    // In-process chaincodes are unaffected by the external one.
    setup_token(&clients[0]).await;

    // Under load, kill the chaincode server.
    let committed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut load = Vec::new();
    for (w, c) in clients.iter().cloned().enumerate() {
        let committed = committed.clone();
        load.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for n in 0..40 {
                let id = format!("load-{w}-{n}");
                let result = c.invoke(CC, "create", &create_args(&id)).await;
                let valid = result.map(|done| done.code.as_str_name() == "VALID");
                if matches!(valid, Ok(true)) {
                    committed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                outcomes.push((id, valid.map_err(|e| e.to_string())));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            outcomes
        }));
    }
    // Killed once the load is under way.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while committed.load(std::sync::atomic::Ordering::Relaxed) < 6 {
        assert!(
            std::time::Instant::now() < deadline,
            "the load did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.kill();
    let mut outcomes = Vec::new();
    for task in load {
        outcomes.extend(task.await.expect("load task"));
    }
    let failed: Vec<&(String, Result<bool, String>)> =
        outcomes.iter().filter(|(_, r)| r.is_err()).collect();
    assert!(!failed.is_empty(), "invocations after the kill fail");
    assert!(
        outcomes.iter().any(|(_, r)| matches!(r, Ok(true))),
        "invocations before the kill commit"
    );
    eprintln!(
        "{} of {} invocations under load failed after the kill, e.g. {:?}",
        failed.len(),
        outcomes.len(),
        failed[0].1
    );

    // Down: a clear error naming the chaincode and its address.
    let err = clients[1]
        .invoke(CC, "create", &create_args("while-down"))
        .await
        .expect_err("no chaincode server");
    let ClientError::Chaincode(message) = &err else {
        panic!("expected a chaincode error, got {err:?}");
    };
    assert!(
        message.contains(CC) && message.contains(&cc_address) && message.contains("status 500"),
        "{message}"
    );
    // The in-process token chaincode still works.
    clients[2]
        .invoke(
            "token",
            "transfer",
            &args(&["TOK", &acct(&clients[2], 0), &acct(&clients[2], 1), "1", ""]),
        )
        .await
        .expect("token transfer while the external chaincode is down");

    // Back: invocations succeed again, no peer restarted.
    let mut server = ChaincodeProcess::start(&cc_dir, &cc_address);
    create_eventually(&clients[1], "after-restart", Duration::from_secs(30)).await;
    t.wait_converged(2, Duration::from_secs(30)).await;
    // Nothing a failed invocation attempted was written; what committed was.
    for (id, result) in &outcomes {
        let committed = matches!(result, Ok(true));
        assert_eq!(exists(&clients[0], id).await, committed, "{id}: {result:?}");
    }
    assert!(!exists(&clients[0], "while-down").await);
    for c in &clients {
        assert!(exists(c, "after-restart").await);
    }
    server.kill();
}
