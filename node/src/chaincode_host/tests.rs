//! In-process and external chaincodes behave the same: every sample's
//! functions, a probe of each stub call, errors, panics and the query
//! conformance table run both ways against the peer's simulator, and the
//! responses, read-write sets and events must be equal. Plus the external
//! runtime's own failures: a server that is down or comes back, a timeout,
//! a peer whose certificate the server does not trust.

use super::*;
use crate::endorsement::simulator::{Invocation, PeerState, SimulationResults, Simulator};
use crate::identity::ca::{CertAuthority, KeyKind};
use crate::identity::Role;
use crate::ledger::{BlockUpdate, Ledger, StateWrite};
use crate::testkit::{self, Consortium};
use chaincode_sdk::samples::{
    asset_transfer::AssetTransfer, supply_chain::SupplyChain, token::Token,
};
use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub, Creator, ServeConfig};
use consort_proto::{ChaincodeDefinition, CommittedBlock, ExternalChaincode};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

const TIMEOUT: Duration = Duration::from_secs(10);

/// Exercises one stub call per function.
struct Probe;

impl Chaincode for Probe {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function().to_owned();
        if function == "raw_args" {
            return Ok(stub.args().concat());
        }
        let args = stub.string_args()?;
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match (function.as_str(), args.as_slice()) {
            ("context", []) => {
                let creator = stub.creator();
                let secret = stub.transient().get("secret").cloned().unwrap_or_default();
                Ok(format!(
                    "{}|{}|{}|{}|{}|{}|{}|{}",
                    stub.tx_id(),
                    stub.channel_id(),
                    creator.msp_id,
                    creator.role,
                    creator.subject,
                    creator.cert_der.len(),
                    stub.tx_timestamp_ms(),
                    String::from_utf8_lossy(&secret)
                )
                .into_bytes())
            }
            ("write", [key, value]) => {
                stub.put_state(key, value.as_bytes())?;
                Ok(Vec::new())
            }
            ("delete", [key]) => {
                stub.del_state(key)?;
                Ok(Vec::new())
            }
            ("read", [key]) => Ok(stub.get_state(key)?.unwrap_or_else(|| b"<none>".to_vec())),
            ("event", [name, payload]) => {
                stub.set_event("first", b"replaced")?;
                stub.set_event(name, payload.as_bytes())?;
                Ok(Vec::new())
            }
            ("scan", [start, end, size, bookmark]) => {
                let size: u32 = size.parse().unwrap_or(0);
                let (entries, meta) =
                    stub.get_state_by_range_with_pagination(start, end, size, bookmark)?;
                let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
                Ok(format!(
                    "{}|{}|{}",
                    keys.join(","),
                    meta.fetched_records,
                    meta.bookmark
                )
                .into_bytes())
            }
            ("composite", [object_type, attribute]) => {
                let key = chaincode_sdk::create_composite_key(object_type, &[attribute, "x"])?;
                stub.put_state(&key, b"c")?;
                let found = stub.get_state_by_partial_composite_key(object_type, &[attribute])?;
                Ok(found.len().to_string().into_bytes())
            }
            ("history", [key]) => {
                let changes = stub.get_history_for_key(key)?;
                let text: Vec<String> = changes
                    .iter()
                    .map(|c| {
                        format!(
                            "{}:{}:{}",
                            c.tx_id,
                            String::from_utf8_lossy(&c.value),
                            c.is_delete
                        )
                    })
                    .collect();
                Ok(text.join(",").into_bytes())
            }
            ("call", [chaincode]) => stub.invoke_chaincode(chaincode, "f", &[b"a".to_vec()]),
            ("fail_after_write", [key]) => {
                stub.put_state(key, b"lost")?;
                Err(ChaincodeError::business("refused after writing"))
            }
            ("bad_key", []) => {
                stub.put_state("", b"v")?;
                Ok(Vec::new())
            }
            ("panic", []) => panic!("probe exploded"),
            ("sleep", [ms]) => {
                std::thread::sleep(Duration::from_millis(ms.parse().unwrap_or(0)));
                Ok(b"woke".to_vec())
            }
            ("seed_conformance", []) => {
                for (key, value) in chaincode_sdk::query::conformance::seed() {
                    stub.put_state(&key, &value)?;
                }
                Ok(Vec::new())
            }
            ("conformance", []) => {
                chaincode_sdk::query::conformance::check_stub(stub);
                Ok(b"conformant".to_vec())
            }
            _ => Err(ChaincodeError::UnknownFunction(function)),
        }
    }
}

/// A chaincode server on a loopback port, stopped on drop.
struct Server {
    address: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), chaincode_sdk::ServeError>>>,
}

impl Server {
    async fn start(cc: impl Chaincode, config: &ServeConfig, listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let (stop, stopped) = oneshot::channel::<()>();
        let config = config.clone();
        let task = tokio::spawn(async move {
            chaincode_sdk::serve_on(cc, listener, &config, async {
                let _ = stopped.await;
            })
            .await
        });
        Server {
            address: format!("localhost:{port}"),
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops serving and closes every connection (graceful shutdown).
    async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The consortium, the chaincode servers' TLS material and a peer's host.
struct Fixture {
    c: Consortium,
    server_tls: ServeConfig,
    tls_root_pem: String,
    host: ChaincodeHost,
}

fn registry() -> ChaincodeRegistry {
    let mut registry = ChaincodeRegistry::builtin();
    registry.register("probe", Arc::new(Probe));
    registry
}

impl Fixture {
    fn new() -> Self {
        let c = Consortium::new(3);
        let ca = &c.orgs[0].ca;
        let issued = ca
            .issue_chaincode_server(&["localhost".into()], KeyKind::Ed25519)
            .unwrap();
        let client_ca_pem: String = c
            .orgs
            .iter()
            .map(|o| o.ca.cert().cert_pem.clone())
            .collect();
        let server_tls = ServeConfig {
            name: "probe".into(),
            listen: "127.0.0.1:0".into(),
            tls_cert_pem: issued.cert_pem,
            tls_key_pem: issued.key_pem,
            client_ca_pem,
        };
        let connector = Arc::new(ExternalConnector::new(&c.orgs[1].peer));
        Fixture {
            tls_root_pem: ca.cert().cert_pem.clone(),
            host: ChaincodeHost::new(registry(), connector),
            server_tls,
            c,
        }
    }

    async fn serve(&self, cc: impl Chaincode) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Server::start(cc, &self.server_tls, listener).await
    }

    fn external(&self, name: &str, address: &str) -> ChaincodeDefinition {
        ChaincodeDefinition {
            name: name.into(),
            external: Some(ExternalChaincode {
                address: address.into(),
                tls_root_pem: self.tls_root_pem.clone(),
            }),
            ..Default::default()
        }
    }

    fn creator(&self, org: usize) -> Creator {
        Creator {
            msp_id: format!("Org{}MSP", org + 1),
            role: "client".into(),
            subject: format!("user1@org{}", org + 1),
            cert_der: self.c.orgs[org].client.cert_der().to_vec(),
            attributes: [("department".to_owned(), format!("d{org}"))].into(),
        }
    }
}

/// One call of a scenario: as which org, which function, which arguments.
struct Call {
    org: usize,
    function: &'static str,
    args: Vec<Vec<u8>>,
}

fn call(org: usize, function: &'static str, args: &[&str]) -> Call {
    Call {
        org,
        function,
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
    }
}

/// What one call produced: the host's result, and what the simulator recorded.
type Outcome = Result<(Result<Vec<u8>, ChaincodeError>, SimulationResults), HostError>;

/// Runs `calls` of chaincode `definition.name` in order on a fresh ledger,
/// committing the writes of each successful call as its own block (block
/// timestamp fixed), and returns every outcome.
async fn run_scenario(
    f: &Fixture,
    definition: &ChaincodeDefinition,
    calls: &[Call],
) -> Vec<Outcome> {
    let (_dir, ledger) = testkit::temp_ledger();
    let mut outcomes = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let outcome = run_one(f, definition, &ledger, i, c).await;
        if let Ok((Ok(_), results)) = &outcome {
            commit(&ledger, &format!("tx{i}"), results);
        }
        outcomes.push(outcome);
    }
    outcomes
}

async fn run_one(
    f: &Fixture,
    definition: &ChaincodeDefinition,
    ledger: &Arc<Ledger>,
    i: usize,
    c: &Call,
) -> Outcome {
    let sim = Simulator::new(
        PeerState::new(ledger.clone()),
        &definition.name,
        Invocation {
            function: c.function.into(),
            args: c.args.clone(),
            tx_id: format!("tx{i}"),
            channel_id: "testchannel".into(),
            creator: f.creator(c.org),
            timestamp_ms: 1_700_000_000_000 + i as i64,
            transient: [("secret".to_owned(), format!("s{i}").into_bytes())].into(),
        },
    );
    let runtime = f.host.runtime_for(definition)?;
    let (sim, result) = runtime.execute(sim, TIMEOUT).await?;
    Ok((result, SimulationResults::from(sim)))
}

fn commit(ledger: &Ledger, tx_id: &str, results: &SimulationResults) {
    let number = ledger.height();
    let writes = results
        .rwset
        .ns_rwsets
        .iter()
        .flat_map(|ns| {
            ns.writes.iter().map(|w| StateWrite {
                namespace: ns.namespace.clone(),
                key: w.key.clone(),
                value: (!w.is_delete).then(|| w.value.clone()),
                tx_num: 0,
                tx_id: tx_id.to_owned(),
            })
        })
        .collect();
    ledger
        .commit(&BlockUpdate {
            block: CommittedBlock::default(),
            number,
            hash: [number as u8; 32],
            timestamp_ms: 1_000 + number as i64,
            writes,
            txs: vec![],
        })
        .unwrap();
}

/// Runs `calls` in process and on an external server of `cc`, and checks
/// that both give the same outcomes; returns them.
async fn same_both_ways(name: &str, cc: impl Chaincode, calls: &[Call]) -> Vec<Outcome> {
    let f = Fixture::new();
    let server = f.serve(cc).await;
    let in_process = ChaincodeDefinition {
        name: name.into(),
        ..Default::default()
    };
    let local = run_scenario(&f, &in_process, calls).await;
    let remote = run_scenario(&f, &f.external(name, &server.address), calls).await;
    server.shutdown().await;
    assert_eq!(local.len(), remote.len());
    for (i, (l, r)) in local.iter().zip(&remote).enumerate() {
        assert_eq!(l, r, "{name}: call {i} ({}) differs", calls[i].function);
    }
    local
}

fn payload(outcome: &Outcome) -> String {
    match outcome {
        Ok((Ok(p), _)) => String::from_utf8_lossy(p).into_owned(),
        other => panic!("expected a payload, got {other:?}"),
    }
}

fn chaincode_error(outcome: &Outcome) -> &ChaincodeError {
    match outcome {
        Ok((Err(e), _)) => e,
        other => panic!("expected a chaincode error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_runs_the_same_in_process_and_external() {
    let calls = [
        call(0, "create", &["GOLD", "1000"]),
        // Org1's client holds the token account `Org1MSP:user1@org1`.
        call(0, "issue", &["GOLD", "Org1MSP:user1@org1", "100", "first"]),
        call(
            0,
            "transfer",
            &["GOLD", "Org1MSP:user1@org1", "bob", "30", "rent"],
        ),
        call(1, "balance", &["GOLD", "bob"]),
        call(2, "info", &["GOLD"]),
        call(1, "issue", &["GOLD", "mallory", "5", ""]),
        call(
            0,
            "transfer",
            &["GOLD", "Org1MSP:user1@org1", "bob", "1000", ""],
        ),
        call(0, "create", &["bad symbol", "1"]),
        call(0, "melt", &[]),
    ];
    let out = same_both_ways("token", Token, &calls).await;
    assert_eq!(payload(&out[3]), "30");
    assert!(matches!(
        chaincode_error(&out[5]),
        ChaincodeError::Business(_)
    ));
    assert!(matches!(
        chaincode_error(&out[7]),
        ChaincodeError::InvalidArgs { .. }
    ));
    assert_eq!(
        chaincode_error(&out[8]),
        &ChaincodeError::UnknownFunction("melt".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn asset_transfer_runs_the_same_in_process_and_external() {
    let second_page = hex::encode("asset/a3");
    let calls = [
        call(0, "create", &["a1", "blue", "5", "tom", "300"]),
        call(0, "create", &["a2", "red", "5", "ann", "400"]),
        call(0, "create", &["a3", "green", "10", "jo", "500"]),
        call(0, "create", &["a1", "blue", "5", "tom", "300"]),
        call(1, "read", &["a1"]),
        call(1, "update", &["a2", "red", "6", "ann", "450"]),
        call(2, "transfer", &["a1", "max"]),
        call(0, "list", &["2", ""]),
        call(0, "list", &["2", &second_page]),
        call(0, "history", &["a1"]),
        call(0, "delete", &["a3"]),
        call(0, "exists", &["a3"]),
        call(0, "read", &["nope"]),
        call(0, "create", &["", "blue", "5", "tom", "300"]),
    ];
    let out = same_both_ways("asset-transfer", AssetTransfer, &calls).await;
    assert!(payload(&out[8]).contains("\"a3\""), "{}", payload(&out[8]));
    assert!(payload(&out[9]).contains("max"), "{}", payload(&out[9]));
    assert_eq!(payload(&out[11]), "false");
    assert!(matches!(
        chaincode_error(&out[12]),
        ChaincodeError::Business(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supply_chain_runs_the_same_in_process_and_external() {
    let calls = [
        call(0, "harvest", &["lot1", "coffee"]),
        call(0, "handover", &["lot1", "processed", "Org2MSP"]),
        call(1, "handover", &["lot1", "shipped", "Org3MSP"]),
        call(0, "handover", &["lot1", "received", "Org1MSP"]),
        call(2, "trace", &["lot1"]),
        call(2, "lots_of", &["Org3MSP"]),
        call(2, "handover", &["lot1", "harvested", "Org1MSP"]),
    ];
    let out = same_both_ways("supply-chain", SupplyChain, &calls).await;
    assert!(payload(&out[5]).contains("lot1"), "{}", payload(&out[5]));
    assert!(matches!(
        chaincode_error(&out[3]),
        ChaincodeError::Business(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stub_call_errors_and_panics_are_the_same() {
    let calls = [
        call(0, "context", &[]),
        Call {
            org: 1,
            function: "raw_args",
            args: vec![vec![0xff, 0], Vec::new(), b"z".to_vec()],
        },
        call(0, "write", &["a", "1"]),
        call(0, "write", &["b", "2"]),
        call(0, "write", &["c", "3"]),
        call(0, "read", &["a"]),
        call(0, "read", &["missing"]),
        call(0, "delete", &["c"]),
        call(0, "event", &["done", "payload"]),
        call(0, "scan", &["", "", "2", ""]),
        call(0, "scan", &["a", "z", "1", &hex::encode("b")]),
        call(0, "scan", &["a", "z", "0", ""]),
        call(0, "scan", &["a", "z", "1", "nonsense"]),
        call(0, "composite", &["color", "red"]),
        call(0, "history", &["c"]),
        call(0, "call", &["token"]),
        call(0, "fail_after_write", &["k"]),
        call(0, "bad_key", &[]),
        call(0, "panic", &[]),
        call(0, "nothing", &[]),
        Call {
            org: 0,
            function: "read",
            args: vec![vec![0xc3]],
        },
    ];
    let out = same_both_ways("probe", Probe, &calls).await;
    let context = payload(&out[0]);
    assert!(
        context.starts_with("tx0|testchannel|Org1MSP|client|user1@org1|"),
        "{context}"
    );
    assert!(context.ends_with("|1700000000000|s0"), "{context}");
    assert_eq!(
        out[1].as_ref().unwrap().0.as_ref().unwrap(),
        &[0xff, 0, b'z']
    );
    assert_eq!(payload(&out[5]), "1");
    assert_eq!(payload(&out[6]), "<none>");
    let Ok((Ok(_), results)) = &out[8] else {
        panic!("event call failed: {:?}", out[8]);
    };
    let event = results.event.as_ref().unwrap();
    assert_eq!(
        (event.name.as_str(), event.payload.as_slice()),
        ("done", &b"payload"[..])
    );
    assert_eq!(payload(&out[9]), "a,b|2|");
    assert_eq!(payload(&out[10]), "b|1|");
    assert!(matches!(
        chaincode_error(&out[11]),
        ChaincodeError::BadRequest(_)
    ));
    assert!(matches!(
        chaincode_error(&out[12]),
        ChaincodeError::BadRequest(_)
    ));
    assert_eq!(payload(&out[14]), "tx4:3:false,tx7::true");
    assert!(matches!(
        chaincode_error(&out[15]),
        ChaincodeError::Call { chaincode, .. } if chaincode == "token"
    ));
    assert_eq!(
        chaincode_error(&out[16]),
        &ChaincodeError::business("refused after writing")
    );
    assert!(matches!(
        chaincode_error(&out[17]),
        ChaincodeError::BadRequest(_)
    ));
    assert_eq!(
        out[18].as_ref().unwrap_err(),
        &HostError::Panicked("probe exploded".into())
    );
    assert!(matches!(
        chaincode_error(&out[20]),
        ChaincodeError::InvalidArgs { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_pass_the_conformance_table_externally() {
    let out = same_both_ways(
        "probe",
        Probe,
        &[
            call(0, "seed_conformance", &[]),
            call(0, "conformance", &[]),
        ],
    )
    .await;
    assert_eq!(payload(&out[1]), "conformant");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_unreachable_and_used_again_once_back() {
    let f = Fixture::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = Server::start(Probe, &f.server_tls, listener).await;
    let definition = f.external("probe", &server.address);
    let (_dir, ledger) = testkit::temp_ledger();
    let read = call(0, "read", &["a"]);
    let first = run_one(&f, &definition, &ledger, 0, &read).await;
    assert_eq!(payload(&first), "<none>");

    server.shutdown().await;
    let down = run_one(&f, &definition, &ledger, 1, &read)
        .await
        .unwrap_err();
    match &down {
        HostError::Unreachable {
            chaincode, address, ..
        } => {
            assert_eq!(
                (chaincode.as_str(), address.as_str()),
                ("probe", definition_address(&definition))
            );
        }
        other => panic!("expected unreachable, got {other:?}"),
    }
    let text = down.to_string();
    assert!(
        text.contains("'probe'") && text.contains(&format!("localhost:{port}")),
        "{text}"
    );

    // Back on the same port: the same host (and channel) works again.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let server = Server::start(Probe, &f.server_tls, listener).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match run_one(&f, &definition, &ledger, 2, &read).await {
            Ok(_) => break,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(error = %e, "not yet");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("never reconnected: {e}"),
        }
    }
    server.shutdown().await;
}

/// The error of a result whose success is not printable.
fn host_error<T>(result: Result<T, HostError>) -> HostError {
    match result {
        Ok(_) => panic!("expected a host error"),
        Err(e) => e,
    }
}

fn definition_address(definition: &ChaincodeDefinition) -> &str {
    definition
        .external
        .as_ref()
        .map(|e| e.address.as_str())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_chaincode_past_the_timeout_is_an_error_naming_it() {
    let f = Fixture::new();
    let server = f.serve(Probe).await;
    let definition = f.external("probe", &server.address);
    let (_dir, ledger) = testkit::temp_ledger();
    let sim = Simulator::new(
        PeerState::new(ledger.clone()),
        "probe",
        Invocation {
            function: "sleep".into(),
            args: vec![b"2000".to_vec()],
            tx_id: "tx".into(),
            channel_id: "testchannel".into(),
            creator: f.creator(0),
            timestamp_ms: 0,
            transient: Default::default(),
        },
    );
    let runtime = f.host.runtime_for(&definition).unwrap();
    let err = host_error(runtime.execute(sim, Duration::from_millis(300)).await);
    assert_eq!(
        err,
        HostError::ExternalTimeout {
            chaincode: "probe".into(),
            address: server.address.clone(),
            timeout: Duration::from_millis(300),
        }
    );
    assert!(err.to_string().contains("timeout"), "{err}");
    // The server keeps serving.
    let after = run_one(&f, &definition, &ledger, 1, &call(0, "read", &["a"])).await;
    assert_eq!(payload(&after), "<none>");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_a_peer_from_an_unknown_ca() {
    let f = Fixture::new();
    let server = f.serve(Probe).await;
    let definition = f.external("probe", &server.address);
    let stranger_ca = CertAuthority::generate("StrangerMSP", KeyKind::Ed25519).unwrap();
    let stranger = testkit::identity(&stranger_ca, "peer0.stranger", Role::Peer, KeyKind::Ed25519);
    let host = ChaincodeHost::new(registry(), Arc::new(ExternalConnector::new(&stranger)));
    let (_dir, ledger) = testkit::temp_ledger();
    let sim = Simulator::new(
        PeerState::new(ledger.clone()),
        "probe",
        Invocation {
            function: "read".into(),
            args: vec![b"a".to_vec()],
            tx_id: "tx".into(),
            channel_id: "testchannel".into(),
            creator: f.creator(0),
            timestamp_ms: 0,
            transient: Default::default(),
        },
    );
    let runtime = host.runtime_for(&definition).unwrap();
    let err = host_error(runtime.execute(sim, TIMEOUT).await);
    assert!(
        matches!(
            err,
            HostError::Unreachable { .. } | HostError::Stream { .. }
        ),
        "{err:?}"
    );
    // A trusted peer is still served.
    let ok = run_one(&f, &definition, &ledger, 0, &call(0, "read", &["a"])).await;
    assert_eq!(payload(&ok), "<none>");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_refuses_a_server_its_root_does_not_vouch_for() {
    let f = Fixture::new();
    let server = f.serve(Probe).await;
    let mut definition = f.external("probe", &server.address);
    if let Some(external) = definition.external.as_mut() {
        external.tls_root_pem = f.c.orgs[2].ca.cert().cert_pem.clone();
    }
    let (_dir, ledger) = testkit::temp_ledger();
    let err = run_one(&f, &definition, &ledger, 0, &call(0, "read", &["a"]))
        .await
        .unwrap_err();
    assert!(matches!(err, HostError::Unreachable { .. }), "{err:?}");
    server.shutdown().await;
}

#[test]
fn runtime_selection_follows_the_definition() {
    let f = Fixture::new();
    let in_process = |name: &str| ChaincodeDefinition {
        name: name.into(),
        ..Default::default()
    };
    assert!(matches!(
        f.host.runtime_for(&in_process("token")),
        Ok(Runtime::InProcess(_))
    ));
    assert_eq!(
        f.host.runtime_for(&in_process("ghost")).unwrap_err(),
        HostError::NotInstalled("ghost".into())
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _guard = rt.enter();
    assert!(matches!(
        f.host.runtime_for(&f.external("token", "localhost:1")),
        Ok(Runtime::External(_))
    ));
    for (address, root, expect) in [
        ("no-port", f.tls_root_pem.clone(), "host:port"),
        ("localhost:1", "not a pem".to_owned(), "tls_root_pem"),
        ("localhost:1", String::new(), "tls_root_pem"),
    ] {
        let mut definition = f.external("token", address);
        if let Some(external) = definition.external.as_mut() {
            external.tls_root_pem = root;
        }
        let err = f.host.runtime_for(&definition).unwrap_err();
        assert!(matches!(err, HostError::BadExternal { .. }), "{err:?}");
        assert!(err.to_string().contains(expect), "{err}");
    }
    let without_identity = ChaincodeHost::from(registry());
    let err = without_identity
        .runtime_for(&f.external("token", "localhost:1"))
        .unwrap_err();
    assert!(err.to_string().contains("no TLS identity"), "{err}");
}

/// A chaincode server that breaks the protocol in one way.
#[derive(Clone, Copy, Debug)]
enum Misbehaviour {
    /// Sends a message with nothing in it.
    EmptyMessage,
    /// Sends a state request with nothing in it.
    EmptyRequest,
    /// Ends the stream without completing.
    EndsEarly,
    /// Completes with no result.
    EmptyCompletion,
}

struct Fake(Misbehaviour);

#[tonic::async_trait]
impl consort_proto::chaincode_service_server::ChaincodeService for Fake {
    type ExecuteStream = tokio_stream::wrappers::ReceiverStream<
        Result<consort_proto::ChaincodeToPeer, tonic::Status>,
    >;

    async fn execute(
        &self,
        request: tonic::Request<tonic::Streaming<consort_proto::PeerToChaincode>>,
    ) -> Result<tonic::Response<Self::ExecuteStream>, tonic::Status> {
        use consort_proto::chaincode_to_peer::Message;
        use consort_proto::{ChaincodeToPeer, Completed, StateRequest};
        let mut inbound = request.into_inner();
        let _invoke = inbound.message().await?;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let message = match self.0 {
            Misbehaviour::EmptyMessage => Some(ChaincodeToPeer { message: None }),
            Misbehaviour::EmptyRequest => Some(ChaincodeToPeer {
                message: Some(Message::Request(StateRequest { request: None })),
            }),
            Misbehaviour::EndsEarly => None,
            Misbehaviour::EmptyCompletion => Some(ChaincodeToPeer {
                message: Some(Message::Completed(Completed { result: None })),
            }),
        };
        if let Some(message) = message {
            let _ = tx.send(Ok(message)).await;
        }
        Ok(tonic::Response::new(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        ))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_breaking_the_protocol_is_an_error_naming_it() {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let f = Fixture::new();
    for misbehaviour in [
        Misbehaviour::EmptyMessage,
        Misbehaviour::EmptyRequest,
        Misbehaviour::EndsEarly,
        Misbehaviour::EmptyCompletion,
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("localhost:{}", listener.local_addr().unwrap().port());
        let tls = ServerTlsConfig::new()
            .identity(Identity::from_pem(
                &f.server_tls.tls_cert_pem,
                &f.server_tls.tls_key_pem,
            ))
            .client_ca_root(Certificate::from_pem(&f.server_tls.client_ca_pem));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .tls_config(tls)
                .unwrap()
                .add_service(
                    consort_proto::chaincode_service_server::ChaincodeServiceServer::new(Fake(
                        misbehaviour,
                    )),
                )
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stopped.await;
                    },
                ),
        );
        let definition = f.external("probe", &address);
        let (_dir, ledger) = testkit::temp_ledger();
        let err = run_one(&f, &definition, &ledger, 0, &call(0, "read", &["a"]))
            .await
            .unwrap_err();
        match (misbehaviour, &err) {
            (Misbehaviour::EndsEarly, HostError::Stream { .. }) => {}
            (Misbehaviour::EndsEarly, _) => panic!("{misbehaviour:?}: {err:?}"),
            (
                _,
                HostError::Protocol {
                    chaincode,
                    address: at,
                    ..
                },
            ) => {
                assert_eq!(
                    (chaincode.as_str(), at.as_str()),
                    ("probe", address.as_str())
                );
            }
            _ => panic!("{misbehaviour:?}: {err:?}"),
        }
        let _ = stop.send(());
        let _ = server.await;
    }
}
