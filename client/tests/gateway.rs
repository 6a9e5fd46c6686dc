//! The client against a scripted gateway on loopback, over mutual TLS:
//! fallback gateways, each step of a transaction with signatures made
//! apart from the client, resending the same envelope when the outcome is
//! unknown and never otherwise, invalid commits, chaincode errors, and
//! block and chaincode event streams resumed from a checkpoint.

#[path = "../src/testutil.rs"]
mod testutil;

use consort_client::identity::cert;
use consort_client::{args, Client, ClientError, ClientProfile, Operation, Retry, SigningIdentity};
use consort_proto::gateway_server::{Gateway, GatewayServer};
use consort_proto::*;
use prost::Message;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testutil::{genesis, Kind, TestCa};
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};

type Answer<T> = Result<Response<T>, Status>;
type Streamed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// What the scripted gateway does and what it saw.
#[derive(Default)]
struct Script {
    /// Submissions to fail before one succeeds.
    submit_failures: AtomicU32,
    /// The code those failures carry.
    submit_failure_code: Mutex<Option<Code>>,
    /// The validation code commit status reports.
    commit_code: Mutex<TxValidationCode>,
    /// Every envelope submitted, in order.
    envelopes: Mutex<Vec<Envelope>>,
}

struct FakeGateway {
    name: String,
    script: Arc<Script>,
}

/// Checks the creator's signature over `bytes`, as a real gateway would.
fn check_signature(creator: &[u8], bytes: &[u8], signature: &[u8]) -> Result<(), Status> {
    let id = SerializedIdentity::decode(creator)
        .map_err(|_| Status::invalid_argument("creator does not decode"))?;
    let info = cert::parse(&id.cert_der).map_err(|e| Status::invalid_argument(e.to_string()))?;
    info.public_key
        .verify(bytes, signature)
        .map_err(|_| Status::permission_denied("bad signature"))
}

fn open_proposal(
    p: Option<SignedProposal>,
) -> Result<(Proposal, ProposalHeader, ChaincodeInput), Status> {
    let p = p.ok_or_else(|| Status::invalid_argument("no proposal"))?;
    let proposal = Proposal::decode(p.proposal_bytes.as_slice())
        .map_err(|_| Status::invalid_argument("proposal does not decode"))?;
    let header = ProposalHeader::decode(proposal.header.as_slice())
        .map_err(|_| Status::invalid_argument("header does not decode"))?;
    check_signature(&header.creator, &p.proposal_bytes, &p.signature)?;
    let input = ChaincodeInput::decode(proposal.input.as_slice())
        .map_err(|_| Status::invalid_argument("input does not decode"))?;
    if input.function == "fail" {
        return Err(consort_client::reason::status_with(
            consort_proto::ErrorReason::ChaincodeError,
            "chaincode error (status 400, from Org1MSP): asked to fail",
            [("org", "Org1MSP".into()), ("status", "400".into())],
        ));
    }
    Ok((proposal, header, input))
}

/// The chaincode's answer: the function and arguments, and the transient keys.
fn echo(input: &ChaincodeInput, proposal: &Proposal) -> Vec<u8> {
    let mut keys: Vec<&String> = proposal.transient.keys().collect();
    keys.sort();
    let mut out = input.function.clone();
    for a in &input.args {
        out.push(' ');
        out.push_str(&String::from_utf8_lossy(a));
    }
    for k in keys {
        out.push_str(&format!(" [{k}]"));
    }
    out.into_bytes()
}

#[tonic::async_trait]
impl Gateway for FakeGateway {
    async fn evaluate(&self, r: Request<EvaluateRequest>) -> Answer<EvaluateResponse> {
        let (proposal, _, input) = open_proposal(r.into_inner().proposal)?;
        Ok(Response::new(EvaluateResponse {
            result: Some(consort_proto::Response {
                status: 200,
                message: String::new(),
                payload: echo(&input, &proposal),
            }),
        }))
    }

    async fn endorse(&self, r: Request<EndorseRequest>) -> Answer<EndorseResponse> {
        let (proposal, _, input) = open_proposal(r.into_inner().proposal)?;
        let tx = Transaction {
            header: proposal.header.clone(),
            input: proposal.input.clone(),
            response_payload: b"endorsed".to_vec(),
            endorsements: vec![],
        };
        Ok(Response::new(EndorseResponse {
            prepared_transaction: tx.encode_to_vec(),
            result: Some(consort_proto::Response {
                status: 200,
                message: String::new(),
                payload: echo(&input, &proposal),
            }),
            endorsing_orgs: vec!["Org1MSP".into()],
        }))
    }

    async fn submit(&self, r: Request<SubmitRequest>) -> Answer<SubmitResponse> {
        let env = r
            .into_inner()
            .envelope
            .ok_or_else(|| Status::invalid_argument("no envelope"))?;
        let tx = Transaction::decode(env.payload.as_slice())
            .map_err(|_| Status::invalid_argument("payload does not decode"))?;
        let header = ProposalHeader::decode(tx.header.as_slice())
            .map_err(|_| Status::invalid_argument("header does not decode"))?;
        check_signature(&header.creator, &env.payload, &env.signature)?;
        self.script.envelopes.lock().unwrap().push(env);
        let failing = self
            .script
            .submit_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            let code = self
                .script
                .submit_failure_code
                .lock()
                .unwrap()
                .unwrap_or(Code::Unavailable);
            return Err(Status::new(code, "ordering outcome unknown: scripted"));
        }
        Ok(Response::new(SubmitResponse { block_number: 5 }))
    }

    async fn commit_status(&self, r: Request<CommitStatusRequest>) -> Answer<CommitStatusResponse> {
        let tx_id = r.into_inner().tx_id;
        let seen = self.script.envelopes.lock().unwrap().iter().any(|e| {
            Transaction::decode(e.payload.as_slice())
                .ok()
                .and_then(|t| ProposalHeader::decode(t.header.as_slice()).ok())
                .is_some_and(|h| h.tx_id == tx_id)
        });
        if !seen {
            return Err(Status::deadline_exceeded("not committed"));
        }
        Ok(Response::new(CommitStatusResponse {
            code: *self.script.commit_code.lock().unwrap() as i32,
            block_number: 5,
        }))
    }

    type BlockEventsStream = Streamed<CommittedBlock>;

    async fn block_events(
        &self,
        r: Request<BlockEventsRequest>,
    ) -> Answer<Self::BlockEventsStream> {
        let start = r.into_inner().start_block;
        let blocks = (start..start + 3).map(|n| {
            Ok(CommittedBlock {
                block: Some(Block {
                    header: BlockHeader {
                        number: n,
                        channel_id: "ch".into(),
                        ..Default::default()
                    }
                    .encode_to_vec(),
                    data: vec![vec![0; 4]],
                    signature: None,
                }),
                validation_codes: vec![0],
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(
            blocks.collect::<Vec<_>>(),
        ))))
    }

    type ChaincodeEventsStream = Streamed<ChaincodeEventsResponse>;

    async fn chaincode_events(
        &self,
        r: Request<ChaincodeEventsRequest>,
    ) -> Answer<Self::ChaincodeEventsStream> {
        let r = r.into_inner();
        // Blocks 2, 3 and 4 each hold events of transactions 0 and 1.
        let blocks = (r.start_block.max(2)..=4).map(|b| {
            Ok(ChaincodeEventsResponse {
                block_number: b,
                events: (0..2)
                    .map(|n| ChaincodeEventRecord {
                        tx_id: format!("tx{b}.{n}"),
                        tx_number: n,
                        event: Some(ChaincodeEvent {
                            chaincode: r.chaincode.clone(),
                            name: "Moved".into(),
                            payload: vec![b as u8, n as u8],
                        }),
                    })
                    .collect(),
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(
            blocks.collect::<Vec<_>>(),
        ))))
    }

    async fn get_block(&self, _: Request<GetBlockRequest>) -> Answer<CommittedBlock> {
        Err(Status::not_found("block not committed"))
    }

    async fn get_transaction(&self, _: Request<GetTransactionRequest>) -> Answer<TransactionInfo> {
        Err(Status::not_found("tx not found"))
    }

    async fn peer_status(&self, _: Request<PeerStatusRequest>) -> Answer<PeerStatusResponse> {
        Ok(Response::new(PeerStatusResponse {
            msp_id: "Org1MSP".into(),
            name: self.name.clone(),
            height: 5,
            ..Default::default()
        }))
    }

    async fn peers(
        &self,
        _: Request<consort_proto::PeersRequest>,
    ) -> Answer<consort_proto::PeersResponse> {
        Ok(Response::new(consort_proto::PeersResponse::default()))
    }
}

/// A client identity, its org's CAs, the genesis block naming them, and
/// scripted gateways that trust them.
struct World {
    dir: tempfile::TempDir,
    tls_ca: TestCa,
    profile: ClientProfile,
}

/// A running scripted gateway; stops when dropped.
struct Served {
    addr: SocketAddr,
    script: Arc<Script>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl World {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Org1MSP", Kind::Ed25519);
        let tls_ca = TestCa::new("Org1MSP", Kind::P256);
        let (cert, key) = ca
            .issue("user1@org1", "client", &[], Kind::Ed25519)
            .write(dir.path(), "user1");
        let (tls_cert, tls_key) = tls_ca
            .issue("user1@org1", "client", &[], Kind::P256)
            .write(dir.path(), "user1-tls");
        let genesis_path = dir.path().join("genesis.block");
        std::fs::write(&genesis_path, genesis("ch", &ca, &tls_ca)).unwrap();
        let profile = ClientProfile {
            msp_id: "Org1MSP".into(),
            cert,
            key,
            tls_cert: Some(tls_cert),
            tls_key: Some(tls_key),
            genesis: genesis_path,
            gateway: String::new(),
            fallback_gateways: vec![],
            tls_name: None,
        };
        World {
            dir,
            tls_ca,
            profile,
        }
    }

    async fn serve(&self, name: &str) -> Served {
        let issued = self
            .tls_ca
            .issue(name, "peer", &["127.0.0.1", "localhost"], Kind::P256);
        let (cert, key) = issued.write(self.dir.path(), name);
        let tls = tonic::transport::ServerTlsConfig::new()
            .identity(tonic::transport::Identity::from_pem(
                std::fs::read(cert).unwrap(),
                std::fs::read(key).unwrap(),
            ))
            .client_ca_root(tonic::transport::Certificate::from_pem(cert::der_to_pem(
                &self.tls_ca.cert_der,
            )));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script = Arc::new(Script::default());
        let gateway = FakeGateway {
            name: name.to_string(),
            script: script.clone(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tonic::transport::Server::builder()
            .tls_config(tls)
            .unwrap()
            .add_service(GatewayServer::new(gateway));
        tokio::spawn(server.serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async {
                let _ = stopped.await;
            },
        ));
        Served {
            addr,
            script,
            _stop: stop,
        }
    }

    fn profile(&self, gateway: &str, fallbacks: &[&str]) -> ClientProfile {
        ClientProfile {
            gateway: gateway.to_string(),
            fallback_gateways: fallbacks.iter().map(|s| s.to_string()).collect(),
            ..self.profile.clone()
        }
    }
}

/// A loopback address nothing listens on.
async fn closed_port() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr.to_string()
}

#[tokio::test]
async fn connect_moves_on_to_a_fallback_gateway_when_the_first_is_unreachable() {
    let w = World::new();
    let g = w.serve("peer1").await;
    let down = closed_port().await;
    let client = Client::connect(&w.profile(&down, &[&g.addr.to_string()]))
        .await
        .unwrap();
    assert_eq!(client.endpoint(), g.addr.to_string());
    assert_eq!(client.channel_id(), "ch");
    assert_eq!(client.status().await.unwrap().name, "peer1");
    let out = client
        .contract("token")
        .evaluate("balance", &args(&["GOLD", "alice"]))
        .await
        .unwrap();
    assert_eq!(out, b"balance GOLD alice");
}

#[tokio::test]
async fn with_no_gateway_reachable_every_failure_is_listed_and_may_be_retried() {
    let w = World::new();
    let (a, b) = (closed_port().await, closed_port().await);
    let err = Client::connect(&w.profile(&a, &[&b])).await.unwrap_err();
    let ClientError::NoGateway(failures) = &err else {
        panic!("expected NoGateway, got {err}");
    };
    assert_eq!(failures.len(), 2);
    assert!(failures
        .iter()
        .all(|f| matches!(f, ClientError::Connect(_))));
    let message = err.to_string();
    assert!(message.contains(&a) && message.contains(&b), "{message}");
    assert_eq!(err.retry(), Retry::Resend);

    // With one gateway the error is that gateway's, as before.
    let err = Client::connect(&w.profile(&a, &[])).await.unwrap_err();
    assert!(matches!(err, ClientError::Connect(_)), "{err}");
}

#[tokio::test]
async fn a_transaction_runs_step_by_step_with_signatures_made_elsewhere() {
    let w = World::new();
    let g = w.serve("peer0").await;
    let client = Client::connect(&w.profile(&g.addr.to_string(), &[]))
        .await
        .unwrap();
    // The signer: the same identity, loaded apart from the client (as a
    // signing device or service would hold it).
    let signer = SigningIdentity::load("Org1MSP", &w.profile.cert, &w.profile.key).unwrap();

    let transient = HashMap::from([("price".to_string(), b"42".to_vec())]);
    let unsigned = client.proposal("token", "transfer", &args(&["a", "b", "1"]), transient);
    let signature = signer.sign(&unsigned.bytes).unwrap();
    let call = unsigned.clone().with_signature(signature);
    assert_eq!(call.tx_id, unsigned.tx_id);
    let endorsed = client.endorse_call(call).await.unwrap();
    assert_eq!(endorsed.result, b"transfer a b 1 [price]");
    assert_eq!(endorsed.endorsing_orgs, ["Org1MSP"]);

    let envelope = endorsed.with_signature(signer.sign(&endorsed.prepared).unwrap());
    assert_eq!(client.submit_envelope(envelope).await.unwrap(), 5);
    let (code, block) = client
        .commit_status(&endorsed.tx_id, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!((code, block), (TxValidationCode::Valid, 5));

    // A signature over other bytes is refused, and not worth resending.
    let wrong = endorsed.with_signature(signer.sign(b"something else").unwrap());
    let err = client.submit_envelope(wrong).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::PermissionDenied), "{err}");
    assert_eq!(err.retry(), Retry::No);
}

#[tokio::test]
async fn submit_resends_the_same_envelope_while_the_outcome_is_unknown() {
    let w = World::new();
    let g = w.serve("peer0").await;
    g.script.submit_failures.store(2, Ordering::SeqCst);
    let client = Client::connect(&w.profile(&g.addr.to_string(), &[]))
        .await
        .unwrap();
    let committed = client
        .contract("token")
        .submit("transfer", &args(&["a", "b", "1"]))
        .await
        .unwrap();
    assert!(committed.is_valid());
    assert_eq!(committed.block, 5);
    assert_eq!(committed.result, b"transfer a b 1");
    let envelopes = g.script.envelopes.lock().unwrap().clone();
    assert_eq!(envelopes.len(), 3, "two unknown outcomes, then success");
    assert!(
        envelopes.iter().all(|e| *e == envelopes[0]),
        "the same signed envelope each time"
    );
}

#[tokio::test]
async fn a_refused_submission_is_not_resent_and_says_what_failed_where() {
    let w = World::new();
    let g = w.serve("peer0").await;
    g.script.submit_failures.store(1, Ordering::SeqCst);
    *g.script.submit_failure_code.lock().unwrap() = Some(Code::InvalidArgument);
    let client = Client::connect(&w.profile(&g.addr.to_string(), &[]))
        .await
        .unwrap();
    let err = client
        .submit("token", "transfer", &args(&["a", "b", "1"]))
        .await
        .unwrap_err();
    match &err {
        ClientError::Rpc {
            operation,
            endpoint,
            code,
            ..
        } => {
            assert_eq!(*operation, Operation::Submit);
            assert_eq!(*endpoint, g.addr.to_string());
            assert_eq!(*code, Code::InvalidArgument);
        }
        other => panic!("expected an RPC error, got {other}"),
    }
    assert_eq!(err.retry(), Retry::No);
    assert_eq!(g.script.envelopes.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn an_invalid_commit_is_an_error_for_submit_and_an_outcome_for_invoke() {
    let w = World::new();
    let g = w.serve("peer0").await;
    *g.script.commit_code.lock().unwrap() = TxValidationCode::MvccReadConflict;
    let client = Client::connect(&w.profile(&g.addr.to_string(), &[]))
        .await
        .unwrap();
    let err = client
        .contract("token")
        .submit("transfer", &args(&["a", "b", "1"]))
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            ClientError::Invalid {
                code: TxValidationCode::MvccReadConflict,
                block: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(err.retry(), Retry::NewProposal);

    let outcome = client
        .invoke("token", "transfer", &args(&["a", "b", "1"]))
        .await
        .unwrap();
    assert_eq!(outcome.code, TxValidationCode::MvccReadConflict);
    assert!(!outcome.is_valid());
}

#[tokio::test]
async fn a_chaincode_error_is_its_own_kind_and_not_retried() {
    let w = World::new();
    let g = w.serve("peer0").await;
    let client = Client::connect(&w.profile(&g.addr.to_string(), &[]))
        .await
        .unwrap();
    for err in [
        client.evaluate("token", "fail", &[]).await.unwrap_err(),
        client.submit("token", "fail", &[]).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, ClientError::Chaincode(m) if m.contains("asked to fail")),
            "{err}"
        );
        assert_eq!(err.retry(), Retry::No);
    }
    assert!(g.script.envelopes.lock().unwrap().is_empty());
    let err = client.block(99).await.unwrap_err();
    assert_eq!(err.code(), Some(Code::NotFound));
}

#[tokio::test]
async fn event_streams_resume_after_a_checkpoint_and_blocks_come_in_order() {
    let w = World::new();
    let g = w.serve("peer0").await;
    let client = Client::connect(&w.profile(&g.addr.to_string(), &[]))
        .await
        .unwrap();
    let token = client.contract("token");

    let mut events = token.events(0, None).await.unwrap();
    let mut all = Vec::new();
    while let Some(e) = events.next().await.unwrap() {
        all.push(e);
    }
    assert_eq!(
        all.iter().map(|e| e.tx_id.as_str()).collect::<Vec<_>>(),
        ["tx2.0", "tx2.1", "tx3.0", "tx3.1", "tx4.0", "tx4.1"]
    );

    // Handled up to tx3.0: the resumed stream starts right after it.
    let checkpoint = consort_client::Checkpoint::after(&all[2]);
    let mut resumed = token.events(0, Some(checkpoint)).await.unwrap();
    let mut rest = Vec::new();
    while let Some(e) = resumed.next().await.unwrap() {
        rest.push(e.tx_id);
    }
    assert_eq!(rest, ["tx3.1", "tx4.0", "tx4.1"]);

    let mut blocks = client.block_events(7).await.unwrap();
    let mut numbers = Vec::new();
    while let Some(b) = blocks.next().await.unwrap() {
        assert_eq!(b.codes, [TxValidationCode::Valid]);
        numbers.push(b.number);
    }
    assert_eq!(numbers, [7, 8, 9]);
}
