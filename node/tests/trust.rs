//! Trust between organisations, on real processes: a member org's admin
//! can issue any certificate its CA signs, and its clients can send
//! anything. None of that may take over ordering, forge blocks or exhaust
//! another org's node.

mod common;

use common::{serial, TestNet};
use consort::client::args;
use consort::identity::ca::{CertAuthority, IssueRequest, KeyKind};
use consort::identity::{Role, SigningIdentity};
use consort::ordering::types::TypeConfig;
use consort::transport::Dialer;
use consort_proto::raft_client::RaftClient;
use consort_proto::{RaftPayload, TxValidationCode as Code};
use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use openraft::{SnapshotMeta, Vote};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Org `msp`'s TLS CA, loaded from the generated network (what its admin
/// holds): it issues the certificates a node admits at the handshake.
fn org_ca(t: &TestNet, msp: &str) -> CertAuthority {
    let dir = t.net.net.dir.join("orgs").join(msp).join("tlsca");
    CertAuthority::load(
        msp,
        &std::fs::read_to_string(dir.join("ca.crt")).unwrap(),
        &std::fs::read_to_string(dir.join("ca.key")).unwrap(),
    )
    .unwrap()
}

fn issue(ca: &CertAuthority, name: &str, role: Role) -> Arc<SigningIdentity> {
    let mut req = IssueRequest::new(name, role, vec!["127.0.0.1".into(), "localhost".into()]);
    req.kind = KeyKind::EcdsaP256;
    let c = ca.issue(&req).unwrap();
    Arc::new(SigningIdentity::from_der(ca.msp_id(), c.cert_der, c.key_der).unwrap())
}

/// A node's own TLS identity, read from its directory.
fn node_identity(t: &TestNet, name: &str, msp: &str) -> Arc<SigningIdentity> {
    let node = t.net.nodes().iter().find(|n| n.name == name).unwrap();
    let tls = node.dir.join("tls");
    Arc::new(SigningIdentity::load(msp, &tls.join("cert.pem"), &tls.join("key.pem")).unwrap())
}

/// The network's TLS roots.
fn ca_certs(t: &TestNet) -> Vec<Vec<u8>> {
    let (_, config) = consort::node::load_genesis(&t.net.net.genesis).unwrap();
    consort::identity::tls_roots(&config)
}

fn payload<T: consort::ordering::codec::Codec>(v: &T) -> RaftPayload {
    consort::ordering::codec::to_payload(v)
}

/// The three Raft calls a node claiming to be `node_id` at `term` would send.
fn forged_raft_calls(node_id: u64, term: u64) -> [(&'static str, RaftPayload); 3] {
    let heartbeat: AppendEntriesRequest<TypeConfig> = AppendEntriesRequest {
        vote: Vote::new_committed(term, node_id),
        prev_log_id: None,
        entries: vec![],
        leader_commit: None,
    };
    let vote: VoteRequest<u64> = VoteRequest {
        vote: Vote::new(term, node_id),
        last_log_id: None,
    };
    let snapshot: InstallSnapshotRequest<TypeConfig> = InstallSnapshotRequest {
        vote: Vote::new_committed(term, node_id),
        meta: SnapshotMeta::default(),
        offset: 0,
        data: vec![],
        done: true,
    };
    [
        ("AppendEntries", payload(&heartbeat)),
        ("Vote", payload(&vote)),
        ("InstallSnapshot", payload(&snapshot)),
    ]
}

async fn raft_call(
    client: &mut RaftClient<tonic::transport::Channel>,
    method: &str,
    p: RaftPayload,
) -> Result<(), tonic::Status> {
    match method {
        "AppendEntries" => client.append_entries(p).await.map(|_| ()),
        "Vote" => client.vote(p).await.map(|_| ()),
        _ => client.install_snapshot(p).await.map(|_| ()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_orgs_rogue_orderer_cannot_take_over_ordering() {
    let _serial = serial().await;
    let t = TestNet::start().await;
    let cas = ca_certs(&t);
    // Org1's admin issues itself an orderer certificate: valid, member CA,
    // orderer role, but not one of the channel's configured orderers.
    let rogue = issue(&org_ca(&t, "Org1MSP"), "orderer9.org1", Role::Orderer);
    let orderers: Vec<String> = t
        .net
        .nodes_of(consort::config::NodeRole::Orderer)
        .into_iter()
        .map(|n| n.endpoint)
        .collect();

    let dialer = Dialer::new(rogue.clone(), cas.clone());
    let mut rogue_clients = Vec::new();
    for ep in &orderers {
        let mut client = RaftClient::new(dialer.connect(ep, None).await.unwrap());
        for (method, p) in forged_raft_calls(99, 1_000) {
            let err = raft_call(&mut client, method, p).await.unwrap_err();
            assert_eq!(
                err.code(),
                tonic::Code::PermissionDenied,
                "{method} at {ep}"
            );
            assert!(
                err.message().contains("not one of the channel's orderers"),
                "{}",
                err.message()
            );
        }
        rogue_clients.push(client);
    }

    // A configured orderer (org1's, Raft node 1) claiming node 2's ID.
    let orderer1 = node_identity(&t, "orderer0.org1", "Org1MSP");
    let mut as_one = RaftClient::new(
        Dialer::new(orderer1, cas.clone())
            .connect(&orderers[1], None)
            .await
            .unwrap(),
    );
    for (method, p) in forged_raft_calls(2, 1_000) {
        let err = raft_call(&mut as_one, method, p).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::PermissionDenied, "{method}");
        assert!(
            err.message().contains("only as itself"),
            "{}",
            err.message()
        );
    }

    // The network keeps ordering while the rogue floods forged heartbeats
    // with ever higher terms at every orderer.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut sent = 0u64;
            let mut term = 2_000;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for client in rogue_clients.iter_mut() {
                    for (method, p) in forged_raft_calls(99, term) {
                        let r = raft_call(client, method, p).await;
                        assert!(r.is_err(), "a forged {method} was accepted");
                        sent += 1;
                    }
                }
                term += 1;
            }
            sent
        })
    };
    let c = t.client(2).await;
    let r = c
        .invoke("token", "create", &args(&["TRU", "1000"]))
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    for i in 0..10 {
        let r = c
            .invoke(
                "token",
                "issue",
                &args(&["TRU", &format!("a{i}"), "1", "m"]),
            )
            .await
            .unwrap();
        assert_eq!(r.code, Code::Valid, "issue {i} during the flood");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = flood.await.unwrap();
    assert!(sent > 30, "the flood sent only {sent} forged calls");
    let s = consort::client::orderer_status(
        &t.net.profile("Org1MSP", Role::Client, None).unwrap(),
        &orderers[0],
        None,
    )
    .await
    .unwrap();
    assert!(
        (1..=3).contains(&s.leader),
        "leader {} is not a consenter",
        s.leader
    );
    assert!(
        s.term < 1_000,
        "term {} was pushed up by forged calls",
        s.term
    );
}

/// Resident set size of a process, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    kb * 1024
}

const MIB: u64 = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_messages_are_refused_without_growing_the_node() {
    use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
    use consort_proto::gateway_client::GatewayClient;
    use consort_proto::{DeliverRequest, Envelope, EvaluateRequest, SignedProposal};

    let _serial = serial().await;
    let mut t = TestNet::start().await;
    let cas = ca_certs(&t);
    let orderer = t.net.nodes_of(consort::config::NodeRole::Orderer)[0].clone();
    let peer = t.net.nodes_of(consort::config::NodeRole::Peer)[0].clone();
    let client_id = issue(&org_ca(&t, "Org1MSP"), "mallory@org1", Role::Client);
    let peer_id = node_identity(&t, &peer.name, "Org1MSP");
    let big = vec![0x5a; 256 * MIB as usize];

    let orderer_pid = t.net.pid(&orderer.name).unwrap();
    let peer_pid = t.net.pid(&peer.name).unwrap();
    let (orderer_before, peer_before) = (rss(orderer_pid), rss(peer_pid));

    // Raft from a member client: refused before the body is read.
    let ch = Dialer::new(client_id.clone(), cas.clone())
        .connect(&orderer.endpoint, None)
        .await
        .unwrap();
    let started = Instant::now();
    let err = RaftClient::new(ch.clone())
        .max_encoding_message_size(usize::MAX)
        .append_entries(RaftPayload {
            data: big.clone(),
            format: consort::ordering::codec::RAFT_WIRE_FORMAT,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::PermissionDenied, "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // Broadcast from a member client: over the message limit.
    let err = AtomicBroadcastClient::new(ch)
        .max_encoding_message_size(usize::MAX)
        .broadcast(Envelope {
            payload: big.clone(),
            signature: vec![],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "{err}"
    );
    // Deliver from a member peer with a padded request (unknown field 15).
    let peer_ch = Dialer::new(peer_id, cas.clone())
        .connect(&orderer.endpoint, None)
        .await
        .unwrap();
    let mut padded = prost::Message::encode_to_vec(&DeliverRequest { start: 0 });
    padded.extend_from_slice(&[0x7a]); // field 15, length-delimited
    prost::encoding::encode_varint(big.len() as u64, &mut padded);
    padded.extend_from_slice(&big);
    let mut grpc = tonic::client::Grpc::new(peer_ch).max_encoding_message_size(usize::MAX);
    grpc.ready().await.unwrap();
    let err = grpc
        .server_streaming::<_, consort_proto::Block, _>(
            tonic::Request::new(RawBytes(padded)),
            http::uri::PathAndQuery::from_static("/consort.AtomicBroadcast/Deliver"),
            RawCodec,
        )
        .await;
    let err = match err {
        Err(e) => e,
        Ok(resp) => match resp.into_inner().message().await {
            Err(e) => e,
            Ok(_) => panic!("an oversized Deliver request was served"),
        },
    };
    assert!(
        matches!(
            err.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "{err}"
    );
    // Gateway Evaluate from a member client.
    let gw = Dialer::new(client_id, cas)
        .connect(&peer.endpoint, None)
        .await
        .unwrap();
    let err = GatewayClient::new(gw)
        .max_encoding_message_size(usize::MAX)
        .evaluate(EvaluateRequest {
            proposal: Some(SignedProposal {
                proposal_bytes: big,
                signature: vec![],
            }),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err.code(),
            tonic::Code::OutOfRange | tonic::Code::ResourceExhausted
        ),
        "{err}"
    );

    let orderer_growth = rss(orderer_pid).saturating_sub(orderer_before);
    let peer_growth = rss(peer_pid).saturating_sub(peer_before);
    eprintln!(
        "RSS growth after 256 MiB messages: orderer {} KiB, peer {} KiB",
        orderer_growth / 1024,
        peer_growth / 1024
    );
    assert!(
        orderer_growth < 32 * MIB,
        "orderer grew {orderer_growth} bytes"
    );
    assert!(peer_growth < 32 * MIB, "peer grew {peer_growth} bytes");
    // Both still serve.
    let c = t.client(1).await;
    assert!(c.status().await.is_ok());
}

/// Sends pre-encoded bytes as a gRPC message.
struct RawBytes(Vec<u8>);

#[derive(Clone, Copy, Default)]
struct RawCodec;

struct RawEncoder;
struct BlockDecoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = RawBytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: RawBytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item.0);
        Ok(())
    }
}

impl tonic::codec::Decoder for BlockDecoder {
    type Item = consort_proto::Block;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<consort_proto::Block>, tonic::Status> {
        use bytes::Buf;
        let bytes = src.copy_to_bytes(src.remaining());
        prost::Message::decode(bytes)
            .map(Some)
            .map_err(|e| tonic::Status::internal(e.to_string()))
    }
}

impl tonic::codec::Codec for RawCodec {
    type Encode = RawBytes;
    type Decode = consort_proto::Block;
    type Encoder = RawEncoder;
    type Decoder = BlockDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> BlockDecoder {
        BlockDecoder
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_caps_hold_and_the_peer_stays_responsive() {
    use consort_proto::gateway_client::GatewayClient;
    use consort_proto::{BlockEventsRequest, PeerStatusRequest};

    let _serial = serial().await;
    let mut t = TestNet::start().await;
    let cas = ca_certs(&t);
    let peer = t.net.nodes_of(consort::config::NodeRole::Peer)[0].clone();
    let peer_pid = t.net.pid(&peer.name).unwrap();
    let before = rss(peer_pid);
    let greedy = issue(&org_ca(&t, "Org1MSP"), "greedy@org1", Role::Client);
    let ch = Dialer::new(greedy, cas.clone())
        .connect(&peer.endpoint, None)
        .await
        .unwrap();

    // 1,000 block-event streams on one connection from one identity. At
    // most 48 opening at once: with the 64 held streams that stays under the
    // connection's HTTP/2 stream limit (128), whose refusals (REFUSED_STREAM,
    // seen as UNAVAILABLE) would otherwise race the per-identity cap this
    // test is about.
    let opening = Arc::new(tokio::sync::Semaphore::new(48));
    let mut opens = Vec::new();
    for _ in 0..1_000 {
        let mut gw = GatewayClient::new(ch.clone());
        let opening = opening.clone();
        opens.push(tokio::spawn(async move {
            let _turn = opening.acquire_owned().await;
            gw.block_events(BlockEventsRequest { start_block: 0 })
                .await
                .map(|r| r.into_inner())
        }));
    }
    // Meanwhile another client's status calls stay fast.
    let c = t.client(2).await;
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        c.status().await.unwrap();
        worst = worst.max(started.elapsed());
    }
    let mut open = Vec::new();
    let mut refused = 0;
    for h in opens {
        match h.await.unwrap() {
            Ok(stream) => open.push(stream),
            Err(s) => {
                assert_eq!(s.code(), tonic::Code::ResourceExhausted, "{s}");
                refused += 1;
            }
        }
    }
    let growth = rss(peer_pid).saturating_sub(before);
    eprintln!(
        "streams open {}, refused {refused}; worst PeerStatus {worst:?}; peer RSS growth {} KiB",
        open.len(),
        growth / 1024
    );
    assert_eq!(open.len(), 64, "streams admitted for one identity");
    assert_eq!(refused, 1_000 - 64);
    assert!(worst < Duration::from_secs(2), "PeerStatus took {worst:?}");
    assert!(growth < 64 * MIB, "peer grew {growth} bytes");

    // Closing streams gives their places back.
    drop(open);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let r = GatewayClient::new(ch.clone())
            .block_events(BlockEventsRequest { start_block: 0 })
            .await;
        if r.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "places were not given back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut gw = GatewayClient::new(ch);
    assert!(gw.peer_status(PeerStatusRequest {}).await.is_ok());
}

/// Runs `openssl s_client` against `endpoint` over TLS 1.2 (where the server
/// judges the client certificate inside the handshake); true when the
/// handshake completes and the server's chain verifies.
fn openssl_handshake(
    endpoint: &str,
    cert: &std::path::Path,
    key: &std::path::Path,
    ca: &std::path::Path,
) -> bool {
    let out = std::process::Command::new("openssl")
        .args([
            "s_client",
            "-tls1_2",
            "-alpn",
            "h2",
            "-verify_return_error",
            "-connect",
            endpoint,
        ])
        .arg("-cert")
        .arg(cert)
        .arg("-key")
        .arg(key)
        .arg("-CAfile")
        .arg(ca)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout);
    out.status.success() && text.contains("Verify return code: 0 (ok)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_reaches_a_peer_with_a_member_tls_certificate_and_nothing_else() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        eprintln!("openssl not installed; skipped");
        return;
    }
    let _serial = serial().await;
    let t = TestNet::start().await;
    let dir = t.dir.path();
    let roots: String = ca_certs(&t)
        .iter()
        .map(|d| consort::identity::cert::der_to_pem(d))
        .collect();
    let ca = dir.join("tls-roots.pem");
    std::fs::write(&ca, roots).unwrap();
    let peer = t.net.nodes_of(consort::config::NodeRole::Peer)[0].clone();
    let user = t.net.net.dir.join("orgs/Org1MSP/users/user1");

    // Every private key the network has is readable by OpenSSL.
    let mut keys = 0;
    let mut stack = vec![t.net.net.dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n == "key.pem" || n == "ca.key")
            {
                let out = std::process::Command::new("openssl")
                    .args(["pkey", "-noout", "-in"])
                    .arg(&p)
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}: {}",
                    p.display(),
                    String::from_utf8_lossy(&out.stderr)
                );
                keys += 1;
            }
        }
    }
    assert!(keys >= 24, "only {keys} keys found");

    // A member client's TLS certificate gets through.
    assert!(openssl_handshake(
        &peer.endpoint,
        &user.join("tls/cert.pem"),
        &user.join("tls/key.pem"),
        &ca
    ));
    // Its signing certificate (another CA, Ed25519) does not, nor does a
    // certificate from a CA outside the consortium.
    assert!(!openssl_handshake(
        &peer.endpoint,
        &user.join("cert.pem"),
        &user.join("key.pem"),
        &ca
    ));
    let outside = CertAuthority::generate("Org1MSP", KeyKind::EcdsaP256).unwrap();
    let mallory = issue(&outside, "mallory@org1", Role::Client);
    std::fs::write(dir.join("mallory.crt"), mallory.cert_pem()).unwrap();
    std::fs::write(dir.join("mallory.key"), mallory.key_pem()).unwrap();
    assert!(!openssl_handshake(
        &peer.endpoint,
        &dir.join("mallory.crt"),
        &dir.join("mallory.key"),
        &ca
    ));
}
