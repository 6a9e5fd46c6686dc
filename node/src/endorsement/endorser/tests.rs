//! The endorser on proposals: endorsed, refused, failing chaincode.

use super::*;
use crate::chaincode_host::ChaincodeRegistry;
use crate::identity::ca::{CertAuthority, IssueRequest, KeyKind};
use crate::identity::MspError;
use crate::identity::Role;
use crate::ledger::BlockUpdate;
use crate::policy::Policy;
use crate::testkit::{self, proposal, proposal_header, sign_proposal, Consortium};
use crate::validation::ChannelRules;
use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub};
use consort_proto::{ChaincodeInput, Proposal};
use consort_proto::{CommittedBlock, Envelope, Transaction, TxReadWriteSet, TxValidationCode};
use std::sync::mpsc;
use std::sync::Mutex;

const CH: &str = "testchannel";

struct Panics;
impl Chaincode for Panics {
    fn invoke(&self, _: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        panic!("chaincode exploded")
    }
}

/// Blocks until released (or ten seconds pass).
struct Blocks(Mutex<mpsc::Receiver<()>>);
impl Chaincode for Blocks {
    fn invoke(&self, _: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let rx = self.0.lock().unwrap();
        let _ = rx.recv_timeout(Duration::from_secs(10));
        Ok(b"late".to_vec())
    }
}

struct FailsAfterWriting;
impl Chaincode for FailsAfterWriting {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        stub.put_state("k", b"v")?;
        Err(ChaincodeError::business("refused after writing"))
    }
}

struct WritesEmptyKey;
impl Chaincode for WritesEmptyKey {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        stub.put_state("", b"v")?;
        Ok(vec![])
    }
}

/// Reports the timestamp and transient secret, sets an event and scans a range.
struct Context;
impl Chaincode for Context {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let secret = stub.transient().get("secret").cloned().unwrap_or_default();
        let seen = format!(
            "{}|{}",
            stub.tx_timestamp_ms(),
            String::from_utf8_lossy(&secret)
        );
        stub.set_event("replaced", b"")?;
        stub.set_event("seen", seen.as_bytes())?;
        stub.get_state_by_range("", "")?;
        Ok(seen.into_bytes())
    }
}

/// Pays with the token chaincode: `pay(symbol, from, to, amount)` records
/// the payment and calls `token.transfer`, failing with it;
/// `try_pay(...)` records a failed transfer instead; `recurse()` calls
/// itself; `call(chaincode)` calls `chaincode.f`.
struct Market;
impl Chaincode for Market {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function().to_owned();
        let args = stub.args().to_vec();
        match function.as_str() {
            "pay" | "try_pay" => {
                let mut transfer = args.clone();
                transfer.push(b"market".to_vec());
                stub.set_event("paid", &args[1])?;
                match stub.invoke_chaincode("token", "transfer", &transfer) {
                    Ok(balances) => {
                        stub.put_state("payment/last", &balances)?;
                        Ok(balances)
                    }
                    Err(e) if function == "try_pay" => {
                        stub.put_state("payment/failed", e.to_string().as_bytes())?;
                        Ok(b"recovered".to_vec())
                    }
                    Err(e) => Err(e),
                }
            }
            "recurse" => {
                let depth = stub.get_state("depth")?.map_or(0, |d| d.len()) + 1;
                stub.put_state("depth", &vec![b'x'; depth])?;
                stub.invoke_chaincode("market", "recurse", &[])
            }
            "call" => {
                let callee = String::from_utf8_lossy(&args[0]).into_owned();
                stub.invoke_chaincode(&callee, "f", &[])
            }
            _ => Err(ChaincodeError::UnknownFunction(function)),
        }
    }
}

struct Fixture {
    c: Consortium,
    ledger: Arc<Ledger>,
    rules: ChannelRules,
    registry: ChaincodeRegistry,
    release: mpsc::Sender<()>,
    /// Last, so the ledger closes before its directory goes.
    _dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let c = Consortium::new(3);
        let (dir, ledger) = testkit::temp_ledger();
        let mut rules = c.rules();
        let any_peer: Arc<Policy> = Arc::new("OR('Org1MSP.peer')".parse().unwrap());
        for name in [
            "panics",
            "blocks",
            "fails",
            "badkey",
            "ghost",
            "context",
            "market",
            "asset-transfer",
        ] {
            rules.policies.insert(name.into(), any_peer.clone());
        }
        let (release, wait) = mpsc::channel();
        let mut registry = ChaincodeRegistry::builtin();
        registry.register("panics", Arc::new(Panics));
        registry.register("blocks", Arc::new(Blocks(Mutex::new(wait))));
        registry.register("fails", Arc::new(FailsAfterWriting));
        registry.register("badkey", Arc::new(WritesEmptyKey));
        registry.register("context", Arc::new(Context));
        registry.register("market", Arc::new(Market));
        Fixture {
            c,
            ledger,
            rules,
            registry,
            release,
            _dir: dir,
        }
    }

    /// An endorser signing as `org`'s peer.
    fn endorser(&self, org: usize, timeout: Duration) -> Endorser {
        Endorser::new(
            self.rules.clone(),
            self.ledger.clone(),
            self.registry.clone(),
            self.c.orgs[org].peer.clone(),
            timeout,
        )
    }
}

const LONG: Duration = Duration::from_secs(30);

fn status(r: &ProposalResponse) -> (i32, &str) {
    let resp = r.response.as_ref().unwrap();
    (resp.status, resp.message.as_str())
}

#[tokio::test]
async fn a_good_proposal_is_endorsed_with_a_verifiable_signature() {
    let f = Fixture::new();
    let e1 = f.endorser(0, LONG);
    let (signed, tx_id) = proposal(
        &f.c.orgs[0].client,
        CH,
        "token",
        "create",
        &["GOLD", "1000"],
    );
    let r = e1.process(&signed).await.unwrap();
    assert_eq!(status(&r), (200, ""));
    let payload = &r.response.as_ref().unwrap().payload;
    assert!(String::from_utf8_lossy(payload).contains("GOLD"));

    let e = r.endorsement.clone().unwrap();
    assert_eq!(e.endorser, f.c.orgs[0].peer.serialized());
    let signer = f.c.msp.validate(&e.endorser).unwrap();
    let msg = validation::endorsement_message(&r.payload, &e.endorser);
    signer.verify(&msg, &e.signature).unwrap();
    let mut forged = msg.clone();
    forged[0] ^= 1;
    assert!(signer.verify(&forged, &e.signature).is_err());

    let p = Proposal::decode(signed.proposal_bytes.as_slice()).unwrap();
    let prp = ProposalResponsePayload::decode(r.payload.as_slice()).unwrap();
    assert_eq!(
        prp.proposal_hash,
        validation::proposal_hash(&p.header, &p.input)
    );
    assert_eq!(prp.chaincode, "token");
    assert_eq!(prp.response.as_ref(), r.response.as_ref());
    let rw = TxReadWriteSet::decode(prp.results.as_slice()).unwrap();
    assert_eq!(rw.ns_rwsets.len(), 1);
    let rw = &rw.ns_rwsets[0];
    assert_eq!(rw.namespace, "token");
    assert_eq!(rw.writes.len(), 1);
    assert_eq!(rw.writes[0].key, "token/GOLD");
    assert_eq!(rw.reads.len(), 1);
    assert_eq!(rw.reads[0].version, None);
    // Nothing was written to the ledger.
    assert!(f.ledger.get_state("token", "token/GOLD").unwrap().is_none());

    // A second org's endorsement of the same proposal matches, and the
    // assembled transaction passes validation.
    let r2 = f.endorser(1, LONG).process(&signed).await.unwrap();
    assert_eq!(r2.payload, r.payload);
    let tx = Transaction {
        header: p.header,
        input: p.input,
        response_payload: r.payload.clone(),
        endorsements: vec![e, r2.endorsement.unwrap()],
    }
    .encode_to_vec();
    let env = Envelope {
        signature: f.c.orgs[0].client.sign(&tx).unwrap(),
        payload: tx,
    };
    let checked = validation::check_tx(&f.c.rules(), &env.encode_to_vec()).unwrap();
    assert_eq!(checked.tx_id, tx_id);
}

#[tokio::test]
async fn timestamp_and_transient_reach_the_chaincode_and_its_event_is_endorsed() {
    let f = Fixture::new();
    let creator = &f.c.orgs[0].client;
    let mut header = proposal_header(creator, CH, "context");
    header.timestamp_ms = 1_700_000_000_123;
    let input = ChaincodeInput {
        function: "f".into(),
        args: vec![],
    };
    let proposal_bytes = Proposal {
        header: header.encode_to_vec(),
        input: input.encode_to_vec(),
        transient: [("secret".to_string(), b"s3cret-value".to_vec())].into(),
    }
    .encode_to_vec();
    let signed = SignedProposal {
        signature: creator.sign(&proposal_bytes).unwrap(),
        proposal_bytes,
    };
    let r = f.endorser(0, LONG).process(&signed).await.unwrap();
    assert_eq!(status(&r), (200, ""));
    let seen = b"1700000000123|s3cret-value".to_vec();
    assert_eq!(r.response.as_ref().unwrap().payload, seen);
    let prp = ProposalResponsePayload::decode(r.payload.as_slice()).unwrap();
    assert_eq!(
        prp.event,
        Some(consort_proto::ChaincodeEvent {
            chaincode: "context".into(),
            name: "seen".into(),
            payload: seen,
        })
    );
    let rw = TxReadWriteSet::decode(prp.results.as_slice()).unwrap();
    assert_eq!(rw.ns_rwsets[0].range_queries.len(), 1);
    // The transient data itself is in nothing the endorser signs.
    let without_payload = ProposalResponsePayload {
        response: None,
        event: None,
        ..prp
    }
    .encode_to_vec();
    assert!(!without_payload
        .windows(b"s3cret-value".len())
        .any(|w| w == b"s3cret-value"));
}

#[tokio::test]
async fn an_external_chaincode_that_is_down_is_a_500_naming_it() {
    let f = Fixture::new();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("localhost:{}", free.local_addr().unwrap().port());
    drop(free);
    let external = ChaincodeDefinition {
        name: "token".into(),
        endorsement_policy: "OR('Org1MSP.peer')".into(),
        external: Some(consort_proto::ExternalChaincode {
            address: address.clone(),
            tls_root_pem: f.c.orgs[0].ca.cert().cert_pem.clone(),
        }),
        ..Default::default()
    };
    let in_force = || {
        crate::lifecycle::Definitions::new(crate::lifecycle::DefinitionSet::new(
            f.rules.clone(),
            std::slice::from_ref(&external),
        ))
    };
    let endorser = Endorser::new(
        in_force(),
        f.ledger.clone(),
        crate::chaincode_host::ChaincodeHost::new(
            f.registry.clone(),
            Arc::new(crate::chaincode_host::ExternalConnector::new(
                &f.c.orgs[0].peer,
            )),
        ),
        f.c.orgs[0].peer.clone(),
        LONG,
    );
    let (signed, _) = proposal(&f.c.orgs[0].client, CH, "token", "create", &["GOLD", "1"]);
    let r = endorser.process(&signed).await.unwrap();
    let (code, message) = status(&r);
    assert_eq!(code, 500);
    assert!(
        message.contains("'token'") && message.contains(&address),
        "{message}"
    );
    assert!(r.endorsement.is_none());
    // Without a TLS identity the peer cannot dial it either.
    let plain = Endorser::new(
        in_force(),
        f.ledger.clone(),
        f.registry.clone(),
        f.c.orgs[0].peer.clone(),
        LONG,
    );
    let r = plain.process(&signed).await.unwrap();
    assert_eq!(status(&r).0, 500);
    assert!(status(&r).1.contains("no TLS identity"), "{}", status(&r).1);
}

#[tokio::test]
async fn a_chaincode_error_is_a_400_without_endorsement() {
    let f = Fixture::new();
    let (signed, _) = proposal(&f.c.orgs[0].client, CH, "fails", "f", &[]);
    let r = f.endorser(0, LONG).process(&signed).await.unwrap();
    assert_eq!(status(&r), (400, "refused after writing"));
    assert!(r.endorsement.is_none());
    assert!(r.payload.is_empty());
    assert!(r.response.unwrap().payload.is_empty());

    // A business error of the sample chaincode too.
    let (signed, _) = proposal(&f.c.orgs[0].client, CH, "token", "nosuch", &[]);
    let r = f.endorser(0, LONG).process(&signed).await.unwrap();
    assert_eq!(status(&r).0, 400);
    assert!(status(&r).1.contains("nosuch"));

    // A key no stub can store is the chaincode's mistake: 400.
    let (signed, _) = proposal(&f.c.orgs[0].client, CH, "badkey", "f", &[]);
    let r = f.endorser(0, LONG).process(&signed).await.unwrap();
    assert_eq!(status(&r).0, 400);
    assert!(
        status(&r).1.contains("must not be empty"),
        "{}",
        status(&r).1
    );
    assert!(r.endorsement.is_none());

    // So is a malformed bookmark from the client.
    let (signed, _) = proposal(
        &f.c.orgs[0].client,
        CH,
        "asset-transfer",
        "list",
        &["10", "not-a-bookmark"],
    );
    let r = f.endorser(0, LONG).process(&signed).await.unwrap();
    assert_eq!(status(&r).0, 400, "{}", status(&r).1);
    assert!(
        status(&r).1.contains("invalid bookmark"),
        "{}",
        status(&r).1
    );
    assert!(r.endorsement.is_none());
}

#[tokio::test]
async fn a_panic_is_a_500_and_the_endorser_keeps_working() {
    let f = Fixture::new();
    let e = f.endorser(0, LONG);
    let (signed, _) = proposal(&f.c.orgs[0].client, CH, "panics", "f", &[]);
    let r = e.process(&signed).await.unwrap();
    let (code, message) = status(&r);
    assert_eq!(code, 500);
    assert!(
        message.contains("panicked") && message.contains("chaincode exploded"),
        "{message}"
    );
    assert!(r.endorsement.is_none());

    let (signed, _) = proposal(&f.c.orgs[1].client, CH, "token", "create", &["SILVER", "5"]);
    let r = e.process(&signed).await.unwrap();
    assert_eq!(status(&r).0, 200);
    assert!(r.endorsement.is_some());
}

#[tokio::test]
async fn a_chaincode_past_the_timeout_is_a_500() {
    let f = Fixture::new();
    let e = f.endorser(0, Duration::from_millis(50));
    let (signed, _) = proposal(&f.c.orgs[0].client, CH, "blocks", "f", &[]);
    let r = e.process(&signed).await;
    // Let the blocked invocation finish before judging the result.
    f.release.send(()).unwrap();
    let r = r.unwrap();
    let (code, message) = status(&r);
    assert_eq!(code, 500);
    assert!(message.contains("timeout"), "{message}");
    assert!(r.endorsement.is_none());
}

#[tokio::test]
async fn malformed_and_unauthentic_proposals_are_refused() {
    let f = Fixture::new();
    let e = f.endorser(0, LONG);
    let client = &*f.c.orgs[0].client;

    let garbage = SignedProposal {
        proposal_bytes: vec![0xff, 0xff, 0xff],
        signature: vec![],
    };
    assert!(matches!(
        e.process(&garbage).await,
        Err(EndorseError::Malformed(_))
    ));
    let (no_function, _) = proposal(client, CH, "token", "", &[]);
    assert!(matches!(
        e.process(&no_function).await,
        Err(EndorseError::Malformed(_))
    ));

    let (mut tampered, _) = proposal(client, CH, "token", "create", &["A", "1"]);
    tampered.signature[5] ^= 1;
    assert!(
        matches!(e.process(&tampered).await, Err(EndorseError::BadSignature(s)) if s == "user1@org1")
    );
    let (mut tampered_p256, _) = proposal(&f.c.orgs[2].client, CH, "token", "create", &["A", "1"]);
    let mid = tampered_p256.signature.len() / 2;
    tampered_p256.signature[mid] ^= 1;
    assert!(
        matches!(e.process(&tampered_p256).await, Err(EndorseError::BadSignature(s)) if s == "user1@org3")
    );

    let (wrong_channel, _) = proposal(client, "otherchannel", "token", "create", &["A", "1"]);
    assert!(matches!(
        e.process(&wrong_channel).await,
        Err(EndorseError::UnknownChannel(ch)) if ch == "otherchannel"
    ));

    let (undefined, _) = proposal(client, CH, "nope", "f", &[]);
    assert!(matches!(
        e.process(&undefined).await,
        Err(EndorseError::NotDefined(cc)) if cc == "nope"
    ));
    // Defined on the channel but not installed on this peer.
    let (not_installed, _) = proposal(client, CH, "ghost", "f", &[]);
    assert!(matches!(
        e.process(&not_installed).await,
        Err(EndorseError::UnknownChaincode(cc)) if cc == "ghost"
    ));

    let input = ChaincodeInput {
        function: "f".into(),
        args: vec![],
    };
    let mut header = proposal_header(client, CH, "token");
    header.tx_id = validation::compute_tx_id(b"another nonce", &header.creator);
    assert!(matches!(
        e.process(&sign_proposal(client, &header, &input)).await,
        Err(EndorseError::BadTxId)
    ));
    let mut header = proposal_header(client, CH, "token");
    header.nonce.clear();
    header.tx_id = validation::compute_tx_id(&[], &header.creator);
    assert!(matches!(
        e.process(&sign_proposal(client, &header, &input)).await,
        Err(EndorseError::BadTxId)
    ));
}

#[tokio::test]
async fn creators_outside_the_channel_or_expired_are_refused() {
    let f = Fixture::new();
    let e = f.endorser(0, LONG);

    // Another CA calling itself Org1MSP.
    let impostor_ca = CertAuthority::generate("Org1MSP", KeyKind::Ed25519).unwrap();
    let impostor = testkit::identity(&impostor_ca, "user1@org1", Role::Client, KeyKind::Ed25519);
    let (signed, _) = proposal(&impostor, CH, "token", "create", &["A", "1"]);
    assert!(matches!(
        e.process(&signed).await,
        Err(EndorseError::Creator(MspError::NotIssuedByOrg { msp_id, .. })) if msp_id == "Org1MSP"
    ));
    // An org that is not a member.
    let outside_ca = CertAuthority::generate("Org9MSP", KeyKind::EcdsaP256).unwrap();
    let outsider = testkit::identity(&outside_ca, "user1@org9", Role::Client, KeyKind::EcdsaP256);
    let (signed, _) = proposal(&outsider, CH, "token", "create", &["A", "1"]);
    assert!(matches!(
        e.process(&signed).await,
        Err(EndorseError::Creator(MspError::UnknownOrg(id))) if id == "Org9MSP"
    ));

    // A member certificate that expired yesterday.
    let day = Duration::from_secs(24 * 3600);
    let mut req = IssueRequest::new("old@org1", Role::Client, vec![]);
    req.not_before = time::OffsetDateTime::now_utc() - 2 * day;
    req.not_after = time::OffsetDateTime::now_utc() - day;
    let issued = f.c.orgs[0].ca.issue(&req).unwrap();
    let expired = SigningIdentity::from_der("Org1MSP", issued.cert_der, issued.key_der).unwrap();
    let (signed, _) = proposal(&expired, CH, "token", "create", &["A", "1"]);
    assert!(matches!(
        e.process(&signed).await,
        Err(EndorseError::Creator(MspError::Expired { subject, .. })) if subject == "old@org1"
    ));
}

#[tokio::test]
async fn a_committed_tx_id_is_refused() {
    let f = Fixture::new();
    let (signed, tx_id) = proposal(&f.c.orgs[0].client, CH, "token", "create", &["A", "1"]);
    f.ledger
        .commit(&BlockUpdate {
            block: CommittedBlock::default(),
            number: 0,
            hash: [0; 32],
            timestamp_ms: 0,
            writes: vec![],
            txs: vec![(tx_id.clone(), 0, TxValidationCode::MvccReadConflict)],
        })
        .unwrap();
    assert!(matches!(
        f.endorser(0, LONG).process(&signed).await,
        Err(EndorseError::DuplicateTxId(id)) if id == tx_id
    ));
}

/// Commits, as block `ledger.height()`, the state `cc` leaves in
/// namespace `ns` after the `calls` on a mock stub.
mod calls;
