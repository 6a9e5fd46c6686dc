//! The listener on loopback: real TLS clients, real gRPC clients, and
//! clients that misbehave on purpose.

use super::*;
use crate::identity::ca::{CertAuthority, KeyKind};
use crate::identity::{tls, SigningIdentity};
use crate::identity::{Msp, Role};
use crate::testkit::{self, Consortium};
use consort_proto::endorser_client::EndorserClient;
use consort_proto::endorser_server::{Endorser as EndorserRpc, EndorserServer};
use consort_proto::{ProposalResponse, SignedProposal};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::sync::Mutex;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tonic::transport::Channel;
use tonic::Request;
use tonic::Status;

/// Answers every proposal with what the transport told it about the caller:
/// the MSP's subject in `message`, the leaf certificate in `payload`.
struct CallerEcho {
    msp: Arc<Msp>,
}

#[tonic::async_trait]
impl EndorserRpc for CallerEcho {
    async fn process_proposal(
        &self,
        req: Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, Status> {
        let leaf = req
            .peer_certs()
            .and_then(|certs| certs.first().map(|c| c.to_vec()))
            .ok_or_else(|| Status::unauthenticated("no peer certificate"))?;
        let id = self
            .msp
            .identify_cert(&leaf)
            .map_err(|e| Status::permission_denied(e.to_string()))?;
        Ok(tonic::Response::new(ProposalResponse {
            response: Some(consort_proto::Response {
                status: 200,
                message: id.subject.clone(),
                payload: leaf,
            }),
            ..Default::default()
        }))
    }
}

/// A listener serving [`CallerEcho`] as Org1's peer, on a free loopback port.
struct TestServer {
    addr: SocketAddr,
    stats: Arc<TransportStats>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    async fn start(c: &Consortium, limits: ServeLimits) -> TestServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let tls = tls::server_config(&c.orgs[0].peer, c.msp.clone()).unwrap();
        let router = tonic::transport::Server::builder()
            .add_service(EndorserServer::new(CallerEcho { msp: c.msp.clone() }));
        let stats = Arc::new(TransportStats::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_with_limits(
            listener,
            tls,
            router,
            async {
                let _ = stopped.await;
            },
            limits,
            stats.clone(),
        ));
        TestServer {
            addr,
            stats,
            stop,
            task,
        }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the server stops")
            .unwrap()
            .unwrap();
    }
}

/// A gRPC client presenting `id`, connected (TLS done) or refused.
async fn grpc_client(
    c: &Consortium,
    id: &Arc<SigningIdentity>,
    addr: SocketAddr,
) -> Result<EndorserClient<Channel>, TransportError> {
    let ch = Dialer::new(id.clone(), c.msp.all_ca_certs())
        .connect(&addr.to_string(), Some("localhost"))
        .await?;
    Ok(EndorserClient::new(ch))
}

async fn ask(client: &mut EndorserClient<Channel>) -> Result<consort_proto::Response, Status> {
    let mut req = Request::new(SignedProposal::default());
    req.set_timeout(Duration::from_secs(10));
    let answer = client.process_proposal(req).await?.into_inner();
    Ok(answer.response.unwrap_or_default())
}

/// A TLS client trusting the consortium's CAs and presenting `id`, if any,
/// that speaks whatever the test writes.
fn raw_tls(c: &Consortium, id: Option<&SigningIdentity>) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    for ca in c.msp.all_ca_certs() {
        roots.add(CertificateDer::from(ca)).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match id {
        Some(id) => builder
            .with_client_auth_cert(
                vec![CertificateDer::from(id.cert_der().to_vec())],
                PrivateKeyDer::Pkcs8(id.key_der().to_vec().into()),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    TlsConnector::from(Arc::new(config))
}

async fn tls_connect(
    connector: &TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").unwrap();
    connector.connect(name, tcp).await
}

/// Waits until the server closes `stream` (end of stream or an error),
/// failing after `within`; returns how long that took.
async fn closed_by_server(stream: &mut (impl AsyncRead + Unpin), within: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 256];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .expect("the server kept the connection open");
    start.elapsed()
}

/// Waits until `cond` holds, failing after 10 s.
async fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grpc_client_is_served_and_its_handler_sees_its_certificate() {
    let c = Consortium::new(2);
    let server = TestServer::start(&c, ServeLimits::default()).await;
    for id in [&c.orgs[0].client, &c.orgs[1].peer] {
        let mut client = grpc_client(&c, id, server.addr).await.unwrap();
        let seen = ask(&mut client).await.unwrap();
        assert_eq!(
            seen.payload,
            id.cert_der(),
            "the handler's peer certificate"
        );
        let expected = c.msp.identify_cert(id.cert_der()).unwrap().subject.clone();
        assert_eq!(seen.message, expected);
        // The connection carries more than one call.
        assert_eq!(ask(&mut client).await.unwrap().payload, id.cert_der());
    }
    assert_eq!(server.stats.connections_served(), 2);
    assert_eq!(server.stats.refusals(), RefusalCounts::default());
    assert_eq!(server.stats.pending_handshakes(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_that_never_sends_the_preface_is_disconnected_after_the_preface_timeout() {
    let c = Consortium::new(1);
    let preface_timeout = Duration::from_millis(300);
    let server = TestServer::start(
        &c,
        ServeLimits {
            preface_timeout,
            ..Default::default()
        },
    )
    .await;
    let connector = raw_tls(&c, Some(&c.orgs[0].client));
    let mut silent = tls_connect(&connector, server.addr).await.unwrap();
    let waited = closed_by_server(&mut silent, Duration::from_secs(10)).await;
    // Not at once: the server waited (its clock starts when its side of the
    // handshake ends, about when ours did).
    assert!(waited >= preface_timeout / 2, "closed after {waited:?}");
    let refused = server.stats.refusals();
    assert_eq!(refused.preface_timeouts, 1, "{refused:?}");
    assert_eq!(refused.total(), 1, "{refused:?}");
    assert_eq!(server.stats.connections_served(), 0);
    eventually("the connection's place is given back", || {
        server.stats.open_connections() == 0 && server.stats.pending_handshakes() == 0
    })
    .await;
    // A client that speaks is still served.
    let mut client = grpc_client(&c, &c.orgs[0].client, server.addr)
        .await
        .unwrap();
    ask(&mut client).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sending_garbage_instead_of_the_preface_is_disconnected_at_once() {
    let c = Consortium::new(1);
    // Long enough that only the garbage can explain a prompt close.
    let server = TestServer::start(
        &c,
        ServeLimits {
            preface_timeout: Duration::from_secs(60),
            ..Default::default()
        },
    )
    .await;
    let connector = raw_tls(&c, Some(&c.orgs[0].peer));
    for garbage in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
        b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    ] {
        let mut stream = tls_connect(&connector, server.addr).await.unwrap();
        stream.write_all(garbage).await.unwrap();
        stream.flush().await.unwrap();
        closed_by_server(&mut stream, Duration::from_secs(10)).await;
    }
    let refused = server.stats.refusals();
    assert_eq!(refused.prefaces_invalid, 3, "{refused:?}");
    assert_eq!(refused.total(), 3, "{refused:?}");
    assert_eq!(server.stats.connections_served(), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_connections_are_refused_while_open_ones_keep_working() {
    let c = Consortium::new(2);
    let server = TestServer::start(
        &c,
        ServeLimits {
            max_connections: 2,
            ..Default::default()
        },
    )
    .await;
    let mut first = grpc_client(&c, &c.orgs[0].client, server.addr)
        .await
        .unwrap();
    let mut second = grpc_client(&c, &c.orgs[1].client, server.addr)
        .await
        .unwrap();
    ask(&mut first).await.unwrap();
    ask(&mut second).await.unwrap();
    assert_eq!(server.stats.open_connections(), 2);

    // A third is closed as soon as it is accepted: its handshake fails.
    let third = grpc_client(&c, &c.orgs[0].peer, server.addr).await;
    assert!(third.is_err(), "a third connection was accepted");
    let mut raw = TcpStream::connect(server.addr).await.unwrap();
    closed_by_server(&mut raw, Duration::from_secs(10)).await;
    let refused = server.stats.refusals();
    assert_eq!(refused.over_connection_cap, 2, "{refused:?}");
    assert_eq!(refused.total(), 2, "{refused:?}");

    // The open ones are not disturbed.
    let seen = ask(&mut first).await.unwrap();
    assert_eq!(seen.payload, c.orgs[0].client.cert_der());
    let seen = ask(&mut second).await.unwrap();
    assert_eq!(seen.payload, c.orgs[1].client.cert_der());

    // Closing one gives its place to the next.
    drop(first);
    eventually("the closed connection's place is given back", || {
        server.stats.open_connections() == 1
    })
    .await;
    let mut third = grpc_client(&c, &c.orgs[0].peer, server.addr).await.unwrap();
    assert_eq!(
        ask(&mut third).await.unwrap().payload,
        c.orgs[0].peer.cert_der()
    );
    ask(&mut second).await.unwrap();
    assert_eq!(server.stats.connections_served(), 3);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_max_pending_handshakes_are_refused_at_once() {
    let c = Consortium::new(1);
    let server = TestServer::start(
        &c,
        ServeLimits {
            max_pending_handshakes: 1,
            handshake_timeout: Duration::from_secs(60),
            ..Default::default()
        },
    )
    .await;
    // Holds the only handshake place by saying nothing.
    let silent = TcpStream::connect(server.addr).await.unwrap();
    eventually("the silent connection is pending", || {
        server.stats.pending_handshakes() == 1
    })
    .await;
    let mut next = TcpStream::connect(server.addr).await.unwrap();
    closed_by_server(&mut next, Duration::from_secs(10)).await;
    assert!(grpc_client(&c, &c.orgs[0].client, server.addr)
        .await
        .is_err());
    let refused = server.stats.refusals();
    assert_eq!(refused.over_handshake_cap, 2, "{refused:?}");
    assert_eq!(refused.total(), 2, "{refused:?}");
    assert_eq!(server.stats.pending_handshakes(), 1);

    // Once the silent one leaves, members get through again.
    drop(silent);
    eventually("the silent connection's place is given back", || {
        server.stats.pending_handshakes() == 0
    })
    .await;
    let mut client = grpc_client(&c, &c.orgs[0].client, server.addr)
        .await
        .unwrap();
    ask(&mut client).await.unwrap();
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_silent_from_the_start_is_dropped_after_the_handshake_timeout() {
    let c = Consortium::new(1);
    let handshake_timeout = Duration::from_millis(300);
    let server = TestServer::start(
        &c,
        ServeLimits {
            handshake_timeout,
            ..Default::default()
        },
    )
    .await;
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let waited = closed_by_server(&mut silent, Duration::from_secs(10)).await;
    assert!(waited >= handshake_timeout / 2, "closed after {waited:?}");
    // The handshake future closes the socket as it is dropped, which may be
    // a moment before the refusal is counted.
    eventually("the timeout is counted", || {
        server.stats.refusals().total() == 1
    })
    .await;
    let refused = server.stats.refusals();
    assert_eq!(refused.handshake_timeouts, 1, "{refused:?}");
    assert_eq!(refused.total(), 1, "{refused:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outsiders_and_clients_without_a_certificate_are_counted_as_certificate_refusals() {
    let c = Consortium::new(1);
    let server = TestServer::start(&c, ServeLimits::default()).await;
    let outsider_ca = CertAuthority::generate("OutsiderMSP", KeyKind::Ed25519).unwrap();
    let outsider = testkit::identity(&outsider_ca, "mallory", Role::Client, KeyKind::Ed25519);
    for connector in [raw_tls(&c, Some(&outsider)), raw_tls(&c, None)] {
        // With TLS 1.3 the client may finish its side before the server
        // refuses; then the refusal shows as the connection closing.
        if let Ok(mut stream) = tls_connect(&connector, server.addr).await {
            let _ = stream.write_all(preface::PREFACE).await;
            closed_by_server(&mut stream, Duration::from_secs(10)).await;
        }
    }
    eventually("both refusals are counted", || {
        server.stats.refusals().total() == 2
    })
    .await;
    let refused = server.stats.refusals();
    assert_eq!(refused.certificates_refused, 2, "{refused:?}");
    assert_eq!(server.stats.connections_served(), 0);
    server.stop().await;
}

/// Collects what a `fmt` subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// The lines logged, as (level, line).
    fn lines(&self) -> Vec<(String, String)> {
        let text = self
            .0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default();
        text.lines()
            .map(|l| {
                let level = l.split_whitespace().nth(1).unwrap_or_default().to_string();
                (level, l.to_string())
            })
            .collect()
    }
}

// One thread, so that the subscriber set for this thread sees every task.
#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_refused_handshakes_logs_one_summary_line_and_nothing_per_connection_above_debug(
) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("consort=debug"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let c = Consortium::new(1);
    let server = TestServer::start(&c, ServeLimits::default()).await;
    let n = 200;
    for _ in 0..n {
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        closed_by_server(&mut tcp, Duration::from_secs(10)).await;
    }
    eventually("every refusal is counted", || {
        server.stats.refusals().handshakes_refused == n
    })
    .await;
    server.stop().await;

    let lines = captured.lines();
    let per_connection = lines
        .iter()
        .filter(|(_, l)| l.contains("TLS handshake refused"))
        .collect::<Vec<_>>();
    assert_eq!(per_connection.len(), n as usize);
    assert!(per_connection.iter().all(|(level, _)| level == "DEBUG"));
    let above_debug = lines
        .iter()
        .filter(|(level, _)| level != "DEBUG" && level != "TRACE")
        .collect::<Vec<_>>();
    assert_eq!(above_debug.len(), 1, "{above_debug:#?}");
    let (level, summary) = &above_debug[0];
    assert_eq!(level, "INFO");
    assert!(
        summary.contains("connections refused since the last summary")
            && summary.contains(&format!("handshakes_refused={n}"))
            && summary.contains("certificates_refused=0"),
        "{summary}"
    );
}

#[tokio::test]
async fn unusable_limits_are_refused_before_serving() {
    let c = Consortium::new(1);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = tls::server_config(&c.orgs[0].peer, c.msp.clone()).unwrap();
    let router = tonic::transport::Server::builder()
        .add_service(EndorserServer::new(CallerEcho { msp: c.msp.clone() }));
    let limits = ServeLimits {
        max_connections: 0,
        ..Default::default()
    };
    let stats = Arc::new(TransportStats::default());
    let err = serve_with_limits(listener, tls, router, std::future::pending(), limits, stats)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ServeError::Limits(LimitsError::ZeroCap {
                field: "max_connections"
            })
        ),
        "{err}"
    );
}

#[test]
fn a_failed_handshake_is_told_apart_by_its_rustls_error() {
    use std::io::{Error, ErrorKind};
    let certificate = [
        rustls::Error::NoCertificatesPresented,
        rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure),
    ];
    for e in certificate {
        let io = Error::new(ErrorKind::InvalidData, e);
        assert_eq!(handshake_refusal(&io), Refusal::Certificate, "{io}");
    }
    let other = [
        Error::new(
            ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::BadCertificate),
        ),
        Error::new(ErrorKind::UnexpectedEof, "tls handshake eof"),
        Error::from(ErrorKind::ConnectionReset),
    ];
    for io in other {
        assert_eq!(handshake_refusal(&io), Refusal::Handshake, "{io}");
    }
}

/// A measurement more than a test (25 s, so not run by default): four tasks
/// send plain garbage and two complete TLS handshakes with an outsider's
/// certificate, as fast as the node refuses them, while a member makes a
/// call every 20 ms. Prints the counts, the member's latencies and the log.
/// `cargo test -p consort --lib flood_of_refusals -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a 25 s measurement"]
async fn a_25_s_flood_of_refusals_logs_three_lines_while_a_member_is_served() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("consort=info"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // Global: the server's tasks run on the runtime's worker threads.
    tracing::subscriber::set_global_default(subscriber).unwrap();
    let c = Consortium::new(2);
    let server = TestServer::start(&c, ServeLimits::default()).await;
    let addr = server.addr;
    let run = Duration::from_secs(25);
    let start = Instant::now();
    let outsider_ca = CertAuthority::generate("OutsiderMSP", KeyKind::Ed25519).unwrap();
    let outsider = testkit::identity(&outsider_ca, "mallory", Role::Client, KeyKind::Ed25519);
    let mut floods = Vec::new();
    for k in 0..6 {
        let connector = raw_tls(&c, Some(&outsider));
        floods.push(tokio::spawn(async move {
            let mut sent = 0u64;
            let mut buf = [0u8; 64];
            while start.elapsed() < run {
                if k < 2 {
                    if let Ok(mut s) = tls_connect(&connector, addr).await {
                        let _ = s.write_all(preface::PREFACE).await;
                        let _ = s.read(&mut buf).await;
                    }
                } else if let Ok(mut tcp) = TcpStream::connect(addr).await {
                    let _ = tcp.write_all(b"GET / HTTP/1.1\r\n\r\n").await;
                    let _ = tcp.read(&mut buf).await;
                }
                sent += 1;
            }
            sent
        }));
    }
    let mut member = grpc_client(&c, &c.orgs[1].client, addr).await.unwrap();
    let mut latencies = Vec::new();
    while start.elapsed() < run {
        let t = Instant::now();
        ask(&mut member).await.unwrap();
        latencies.push(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut sent = 0;
    for f in floods {
        sent += f.await.unwrap();
    }
    drop(member);
    eventually("every refusal is counted", || {
        server.stats.refusals().total() == sent
    })
    .await;
    let refused = server.stats.refusals();
    server.stop().await;
    latencies.sort();
    let lines = captured.lines();
    println!("{sent} refused connections in {run:?}: {refused:?}");
    println!(
        "member calls during the flood: {}, p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100],
        latencies[latencies.len() - 1]
    );
    println!("{} log lines:", lines.len());
    for (_, line) in &lines {
        println!("{line}");
    }
    assert!(lines.len() <= 3, "{lines:#?}");
}
