//! A real server on loopback, driven by a minimal peer: a chaincode run
//! inside `MockStub` that relays the invocation to the server and answers
//! its state requests from the mock with [`wire::answer`].

use super::*;
use crate::{ChaincodeError, ChaincodeStub, MockStub};
use consort_proto::chaincode_service_client::ChaincodeServiceClient;
use consort_proto::chaincode_to_peer::Message as FromChaincode;
use consort_proto::peer_to_chaincode::Message as ToChaincode;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca() -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    Ca {
        pem: cert.pem(),
        issuer: Issuer::new(params, key),
    }
}

/// A leaf certificate and key from `ca`, PEM.
fn leaf(ca: &Ca, host: &str, usage: ExtendedKeyUsagePurpose) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![host.to_owned()]).unwrap();
    params.extended_key_usages = vec![usage];
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Writes, reads and panics on request.
struct Notes;

impl Chaincode for Notes {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function().to_owned();
        let args = stub.string_args()?;
        match (function.as_str(), args.as_slice()) {
            ("write", [key, value]) => {
                stub.put_state(key, value.as_bytes())?;
                stub.set_event("written", key.as_bytes())?;
                Ok(Vec::new())
            }
            ("read", [key]) => Ok(stub.get_state(key)?.unwrap_or_default()),
            ("list", []) => {
                let entries = stub.get_state_by_range("", "")?;
                let keys: Vec<&str> = entries.iter().map(|e| e.key.as_str()).collect();
                Ok(keys.join(",").into_bytes())
            }
            ("whoami", []) => Ok(format!(
                "{}|{}|{}",
                stub.creator().msp_id,
                stub.tx_id(),
                stub.tx_timestamp_ms()
            )
            .into_bytes()),
            ("panic", []) => panic!("notes exploded"),
            _ => Err(ChaincodeError::UnknownFunction(function)),
        }
    }
}

/// Relays each invocation to the server over `channel`, answering its
/// requests from the mock's stub.
struct Relay {
    channel: Channel,
    runtime: tokio::runtime::Handle,
}

/// What the relay saw besides the chaincode's own result.
#[derive(Debug)]
enum Failure {
    Panicked(String),
    Rpc(String),
}

impl Relay {
    async fn session(
        &self,
        stub: &mut dyn ChaincodeStub,
    ) -> Result<Result<Vec<u8>, ChaincodeError>, Failure> {
        let (tx, rx) = mpsc::channel(4);
        let invoke = Invocation::of_stub(stub).to_proto();
        tx.send(PeerToChaincode {
            message: Some(ToChaincode::Invoke(invoke)),
        })
        .await
        .unwrap();
        let mut client = ChaincodeServiceClient::new(self.channel.clone());
        let mut inbound = client
            .execute(ReceiverStream::new(rx))
            .await
            .map_err(|s| Failure::Rpc(s.to_string()))?
            .into_inner();
        loop {
            let message = inbound
                .message()
                .await
                .map_err(|s| Failure::Rpc(s.to_string()))?
                .ok_or_else(|| Failure::Rpc("ended early".into()))?;
            match message.message {
                Some(FromChaincode::Request(request)) => {
                    let response = wire::answer(stub, request).unwrap();
                    tx.send(PeerToChaincode {
                        message: Some(ToChaincode::Response(response)),
                    })
                    .await
                    .unwrap();
                }
                Some(FromChaincode::Completed(done)) => {
                    return match done.result {
                        Some(Outcome::Payload(p)) => Ok(Ok(p)),
                        Some(Outcome::Error(e)) => Ok(Err(wire::error_from_proto(e))),
                        Some(Outcome::Panicked(m)) => Err(Failure::Panicked(m)),
                        None => Err(Failure::Rpc("empty completion".into())),
                    }
                }
                None => return Err(Failure::Rpc("empty message".into())),
            }
        }
    }
}

impl Chaincode for Relay {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        match self.runtime.block_on(self.session(stub)) {
            Ok(result) => result,
            Err(Failure::Panicked(m)) => Err(ChaincodeError::business(format!("PANIC {m}"))),
            Err(Failure::Rpc(m)) => Err(ChaincodeError::business(format!("RPC {m}"))),
        }
    }
}

struct Setup {
    runtime: tokio::runtime::Runtime,
    config: ServeConfig,
    peer_ca: Ca,
    server_ca: Ca,
    address: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Setup {
    fn start() -> Self {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let peer_ca = ca();
        let server_ca = ca();
        let (cert, key) = leaf(&server_ca, "localhost", ExtendedKeyUsagePurpose::ServerAuth);
        let config = ServeConfig {
            name: "notes".into(),
            listen: "127.0.0.1:0".into(),
            tls_cert_pem: cert,
            tls_key_pem: key,
            client_ca_pem: peer_ca.pem.clone(),
        }
        .validate()
        .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = format!("localhost:{}", listener.local_addr().unwrap().port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let served = config.clone();
        runtime.spawn(async move {
            serve_on(Notes, listener, &served, async {
                let _ = stopped.await;
            })
            .await
        });
        Setup {
            runtime,
            config,
            peer_ca,
            server_ca,
            address,
            stop: Some(stop),
        }
    }

    fn relay(&self, client_ca: &Ca) -> Relay {
        let (cert, key) = leaf(client_ca, "peer0", ExtendedKeyUsagePurpose::ClientAuth);
        let tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.server_ca.pem))
            .identity(Identity::from_pem(cert, key))
            .domain_name("localhost");
        let _guard = self.runtime.enter();
        let channel = Endpoint::from_shared(format!("https://{}", self.address))
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect_lazy();
        Relay {
            channel,
            runtime: self.runtime.handle().clone(),
        }
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[test]
fn a_served_chaincode_behaves_as_in_the_mock() {
    let setup = Setup::start();
    let relay = setup.relay(&setup.peer_ca);
    let mut remote = MockStub::new("ch");
    let mut local = MockStub::new("ch");
    remote.set_timestamp(77);
    local.set_timestamp(77);
    let calls: [(&str, &[&str]); 6] = [
        ("write", &["b", "2"]),
        ("write", &["a", "1"]),
        ("read", &["a"]),
        ("list", &[]),
        ("whoami", &[]),
        ("fly", &[]),
    ];
    for (function, args) in calls {
        let r = remote.invoke(&relay, function, args);
        let l = local.invoke(&Notes, function, args);
        assert_eq!(r, l, "{function}");
    }
    assert_eq!(remote.keys(), local.keys());
    assert_eq!(remote.events(), local.events());
    assert_eq!(
        remote.invoke(&relay, "read", &["b"]).unwrap(),
        b"2".to_vec()
    );
    assert_eq!(
        remote.invoke(&relay, "write", &["", "x"]).unwrap_err(),
        local.invoke(&Notes, "write", &["", "x"]).unwrap_err()
    );
}

#[test]
fn a_panic_is_reported_and_the_server_keeps_serving() {
    let setup = Setup::start();
    let relay = setup.relay(&setup.peer_ca);
    let mut stub = MockStub::new("ch");
    let err = stub.invoke(&relay, "panic", &[]).unwrap_err();
    assert_eq!(err, ChaincodeError::business("PANIC notes exploded"));
    stub.invoke(&relay, "write", &["k", "v"]).unwrap();
    assert_eq!(stub.state("k"), Some(&b"v"[..]));
}

#[test]
fn a_client_from_an_unknown_ca_is_refused() {
    let setup = Setup::start();
    let stranger = ca();
    let relay = setup.relay(&stranger);
    let mut stub = MockStub::new("ch");
    let err = stub.invoke(&relay, "write", &["k", "v"]).unwrap_err();
    assert!(err.to_string().starts_with("RPC "), "{err}");
    assert!(stub.keys().is_empty());
    // The server is still up for trusted peers.
    let trusted = setup.relay(&setup.peer_ca);
    stub.invoke(&trusted, "write", &["k", "v"]).unwrap();
    let _ = &setup.config;
}

#[test]
fn serve_refuses_a_bad_config_before_listening() {
    let setup = Setup::start();
    let bad = ServeConfig {
        listen: "nowhere".into(),
        ..setup.config.clone()
    };
    let err = setup
        .runtime
        .block_on(serve_with_shutdown(Notes, bad, async {}))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServeError::Invalid {
                field: "listen",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn start_up_errors_read_as_one_line_with_their_causes() {
    let missing = ServeConfig::from_files(
        "127.0.0.1:0",
        std::path::Path::new("/nonexistent/tls.crt"),
        std::path::Path::new("/nonexistent/tls.key"),
        &[std::path::PathBuf::from("/nonexistent/ca.crt")],
    )
    .unwrap_err();
    let debug = format!("{missing:?}");
    assert!(
        debug.starts_with("cannot read the client CA certificate file /nonexistent/ca.crt: "),
        "{debug}"
    );
    assert!(
        !debug.contains("Read {") && !debug.contains('\n'),
        "{debug}"
    );
    assert_eq!(debug.matches("No such file").count(), 1, "{debug}");

    /// An error whose message does not hold its cause.
    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);
    let outer = Outer(std::io::Error::other("inner"));
    assert_eq!(crate::server::with_causes(&outer), "outer: inner");
}

#[test]
fn the_ready_line_names_the_chaincode_and_its_address() {
    assert_eq!(
        crate::server::ready_line("notes", "127.0.0.1:9999"),
        "chaincode notes listening on 127.0.0.1:9999"
    );
}
