//! The endorser: checks a signed proposal, simulates it, signs the result.

use super::callees::Callees;
use super::simulator::{Invocation, PeerState, SimulationResults, Simulator};
use crate::chaincode_host::{ChaincodeHost, HostError};
use crate::identity::{now_unix, MspError, SigningIdentity};
use crate::ledger::{Ledger, LedgerError};
use crate::lifecycle::{DefinitionSet, Definitions};
use crate::validation::{self, ChannelRules};
use chaincode_sdk::Creator;
use consort_proto::{
    ChaincodeDefinition, ChaincodeInput, Endorsement, Proposal, ProposalHeader, ProposalResponse,
    ProposalResponsePayload, Response, SignedProposal,
};
use prost::Message;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Why a proposal was refused before or instead of running the chaincode.
#[derive(Debug, thiserror::Error)]
pub enum EndorseError {
    /// A message does not decode or misses a field.
    #[error("malformed proposal: {0}")]
    Malformed(String),
    /// The proposal names another channel.
    #[error("unknown channel '{0}'")]
    UnknownChannel(String),
    /// The chaincode is not defined on the channel (no definition in
    /// `_lifecycle` or the genesis block).
    #[error("chaincode '{0}' is not defined on the channel")]
    NotDefined(String),
    /// The chaincode is defined but not installed on this peer.
    #[error("unknown chaincode '{0}'")]
    UnknownChaincode(String),
    /// The creator is not a valid member.
    #[error("creator refused: {0}")]
    Creator(#[from] MspError),
    /// The creator's signature does not verify.
    #[error("proposal signature does not verify for creator '{0}'")]
    BadSignature(String),
    /// The transaction ID is not derived from nonce and creator.
    #[error("transaction ID is not SHA-256(nonce || creator)")]
    BadTxId,
    /// A transaction with this ID is already on the ledger.
    #[error("transaction {0} is already committed")]
    DuplicateTxId(String),
    /// Reading the ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// Signing the endorsement failed.
    #[error("cannot sign endorsement: {0}")]
    Sign(String),
}

/// A proposal whose checks passed, ready to simulate.
#[derive(Debug, Clone)]
pub struct CheckedProposal {
    /// Encoded header.
    pub header_bytes: Vec<u8>,
    /// Encoded input.
    pub input_bytes: Vec<u8>,
    /// Decoded header.
    pub header: ProposalHeader,
    /// Decoded input.
    pub input: ChaincodeInput,
    /// The creator as the chaincode sees it.
    pub creator: Creator,
    /// Private inputs for the chaincode, never written to the ledger.
    pub transient: BTreeMap<String, Vec<u8>>,
}

/// Endorses proposals for one channel on one peer.
pub struct Endorser {
    definitions: Definitions,
    ledger: Arc<Ledger>,
    chaincodes: ChaincodeHost,
    identity: Arc<SigningIdentity>,
    timeout: Duration,
}

impl std::fmt::Debug for Endorser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endorser")
            .field("channel", &self.definitions.current().rules().channel_id)
            .finish()
    }
}

/// Decodes and checks a signed proposal: structure, channel, creator,
/// signature, transaction ID, chaincode definition.
pub fn check_proposal(
    rules: &ChannelRules,
    signed: &SignedProposal,
) -> Result<CheckedProposal, EndorseError> {
    let proposal = Proposal::decode(signed.proposal_bytes.as_slice())
        .map_err(|e| EndorseError::Malformed(format!("proposal: {e}")))?;
    let header = ProposalHeader::decode(proposal.header.as_slice())
        .map_err(|e| EndorseError::Malformed(format!("header: {e}")))?;
    let input = ChaincodeInput::decode(proposal.input.as_slice())
        .map_err(|e| EndorseError::Malformed(format!("input: {e}")))?;
    if header.channel_id != rules.channel_id {
        return Err(EndorseError::UnknownChannel(header.channel_id));
    }
    if header.chaincode.is_empty() || input.function.is_empty() {
        return Err(EndorseError::Malformed(
            "chaincode and function are required".into(),
        ));
    }
    let creator = rules.msp.validate(&header.creator)?;
    creator.check_valid_at(now_unix())?;
    creator
        .verify(&signed.proposal_bytes, &signed.signature)
        .map_err(|_| EndorseError::BadSignature(creator.subject.clone()))?;
    if header.nonce.is_empty()
        || validation::compute_tx_id(&header.nonce, &header.creator) != header.tx_id
    {
        return Err(EndorseError::BadTxId);
    }
    if !rules.policies.contains_key(&header.chaincode) {
        return Err(EndorseError::NotDefined(header.chaincode));
    }
    Ok(CheckedProposal {
        header_bytes: proposal.header,
        input_bytes: proposal.input,
        creator: Creator {
            msp_id: creator.msp_id.clone(),
            role: creator.role.to_string(),
            subject: creator.subject.clone(),
            cert_der: creator.cert_der.clone(),
            attributes: creator.attributes.clone(),
        },
        header,
        input,
        transient: proposal.transient.into_iter().collect(),
    })
}

fn failure(status: i32, message: String) -> ProposalResponse {
    ProposalResponse {
        response: Some(Response {
            status,
            message,
            payload: vec![],
        }),
        payload: vec![],
        endorsement: None,
    }
}

impl Endorser {
    /// An endorser signing as `identity`, checking proposals against the
    /// chaincode definitions in force.
    pub fn new(
        definitions: impl Into<Definitions>,
        ledger: Arc<Ledger>,
        chaincodes: impl Into<ChaincodeHost>,
        identity: Arc<SigningIdentity>,
        timeout: Duration,
    ) -> Self {
        Endorser {
            definitions: definitions.into(),
            ledger,
            chaincodes: chaincodes.into(),
            identity,
            timeout,
        }
    }

    /// The chaincode definitions in force now, with their rules.
    pub fn definitions(&self) -> Arc<DefinitionSet> {
        self.definitions.current()
    }

    /// The definition of chaincode `name` in `in_force`; a name with a
    /// policy but no definition (the `_lifecycle` system chaincode) runs in
    /// process.
    fn definition(in_force: &DefinitionSet, name: &str) -> ChaincodeDefinition {
        in_force
            .definition(name)
            .cloned()
            .unwrap_or_else(|| ChaincodeDefinition {
                name: name.to_owned(),
                ..Default::default()
            })
    }

    /// Checks, simulates and (if the chaincode succeeded) endorses a proposal.
    /// A chaincode error is an `Ok` response with status 400 (500 for a
    /// state error, a panic, a timeout or an external chaincode that cannot
    /// be used) and no endorsement.
    #[tracing::instrument(skip_all, fields(tx_id))]
    pub async fn process(&self, signed: &SignedProposal) -> Result<ProposalResponse, EndorseError> {
        let in_force = self.definitions.current();
        let checked = check_proposal(in_force.rules(), signed)?;
        tracing::Span::current().record("tx_id", checked.header.tx_id.as_str());
        if self.ledger.tx(&checked.header.tx_id)?.is_some() {
            return Err(EndorseError::DuplicateTxId(checked.header.tx_id));
        }
        let runtime = match self
            .chaincodes
            .runtime_for(&Self::definition(&in_force, &checked.header.chaincode))
        {
            Ok(runtime) => runtime,
            Err(HostError::NotInstalled(name)) => return Err(EndorseError::UnknownChaincode(name)),
            Err(e) => {
                tracing::warn!(error = %e, "chaincode unavailable");
                return Ok(failure(500, e.to_string()));
            }
        };
        // Callable: the chaincodes defined now and installed here in process.
        let callees = Arc::new(Callees::new(
            in_force.rules().policies.keys().cloned(),
            self.chaincodes.registry().clone(),
        ));
        let sim = Simulator::new(
            PeerState::new(self.ledger.clone()).with_callees(callees),
            &checked.header.chaincode,
            Invocation {
                function: checked.input.function.clone(),
                args: checked.input.args.clone(),
                tx_id: checked.header.tx_id.clone(),
                channel_id: checked.header.channel_id.clone(),
                creator: checked.creator.clone(),
                timestamp_ms: checked.header.timestamp_ms,
                transient: checked.transient.clone(),
            },
        );
        let (sim, result) = match runtime.execute(sim, self.timeout).await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, "chaincode failed");
                return Ok(failure(500, e.to_string()));
            }
        };
        let payload = match result {
            Ok(p) => p,
            Err(e) => {
                return Ok(failure(e.status(), e.to_string()));
            }
        };
        let response = Response {
            status: 200,
            message: String::new(),
            payload,
        };
        let results = SimulationResults::from(sim);
        let prp = ProposalResponsePayload {
            proposal_hash: validation::proposal_hash(&checked.header_bytes, &checked.input_bytes),
            chaincode: checked.header.chaincode.clone(),
            results: results.rwset.encode_to_vec(),
            response: Some(response.clone()),
            event: results.event,
        }
        .encode_to_vec();
        let endorser = self.identity.serialized().to_vec();
        let signature = self
            .identity
            .sign(&validation::endorsement_message(&prp, &endorser))
            .map_err(|e| EndorseError::Sign(e.to_string()))?;
        Ok(ProposalResponse {
            response: Some(response),
            payload: prp,
            endorsement: Some(Endorsement {
                endorser,
                signature,
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chaincode_host::ChaincodeRegistry;
    use crate::identity::ca::{CertAuthority, IssueRequest, KeyKind};
    use crate::identity::Role;
    use crate::ledger::BlockUpdate;
    use crate::policy::Policy;
    use crate::testkit::{self, proposal, proposal_header, sign_proposal, Consortium};
    use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub};
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
        let (mut tampered_p256, _) =
            proposal(&f.c.orgs[2].client, CH, "token", "create", &["A", "1"]);
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
        let impostor =
            testkit::identity(&impostor_ca, "user1@org1", Role::Client, KeyKind::Ed25519);
        let (signed, _) = proposal(&impostor, CH, "token", "create", &["A", "1"]);
        assert!(matches!(
            e.process(&signed).await,
            Err(EndorseError::Creator(MspError::NotIssuedByOrg { msp_id, .. })) if msp_id == "Org1MSP"
        ));
        // An org that is not a member.
        let outside_ca = CertAuthority::generate("Org9MSP", KeyKind::EcdsaP256).unwrap();
        let outsider =
            testkit::identity(&outside_ca, "user1@org9", Role::Client, KeyKind::EcdsaP256);
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
        let expired =
            SigningIdentity::from_der("Org1MSP", issued.cert_der, issued.key_der).unwrap();
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
    fn seed_with(ledger: &Ledger, ns: &str, cc: &dyn Chaincode, calls: &[(&str, &[&str])]) {
        let mut mock = chaincode_sdk::MockStub::new(CH);
        for (function, args) in calls {
            mock.invoke(cc, function, args).unwrap();
        }
        let number = ledger.height();
        let writes = mock
            .keys()
            .into_iter()
            .map(|key| crate::ledger::StateWrite {
                namespace: ns.into(),
                value: mock.state(&key).map(<[u8]>::to_vec),
                key,
                tx_num: 0,
                tx_id: "seed".into(),
            })
            .collect();
        ledger
            .commit(&BlockUpdate {
                block: CommittedBlock::default(),
                number,
                hash: [number as u8; 32],
                timestamp_ms: 0,
                writes,
                txs: vec![],
            })
            .unwrap();
    }

    /// GOLD with alice holding 100.
    /// GOLD with 100 in the token account of Org1's client (`user1@org1`).
    fn seed_gold(ledger: &Ledger) {
        seed_with(
            ledger,
            "token",
            &chaincode_sdk::samples::token::Token,
            &[
                ("create", &["GOLD", "1000"]),
                ("issue", &["GOLD", "Org1MSP:user1@org1", "100", ""]),
            ],
        );
    }

    fn namespaces(prp: &ProposalResponsePayload) -> TxReadWriteSet {
        TxReadWriteSet::decode(prp.results.as_slice()).unwrap()
    }

    fn writes_of(rw: &TxReadWriteSet, ns: &str) -> Vec<(String, Vec<u8>)> {
        rw.ns_rwsets
            .iter()
            .find(|n| n.namespace == ns)
            .map(|n| {
                n.writes
                    .iter()
                    .map(|w| (w.key.clone(), w.value.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The envelope of a proposal endorsed by `responses`.
    fn envelope(
        creator: &SigningIdentity,
        signed: &SignedProposal,
        responses: &[&ProposalResponse],
    ) -> Vec<u8> {
        let p = Proposal::decode(signed.proposal_bytes.as_slice()).unwrap();
        let tx = Transaction {
            header: p.header,
            input: p.input,
            response_payload: responses[0].payload.clone(),
            endorsements: responses
                .iter()
                .map(|r| r.endorsement.clone().unwrap())
                .collect(),
        }
        .encode_to_vec();
        Envelope {
            signature: creator.sign(&tx).unwrap(),
            payload: tx,
        }
        .encode_to_vec()
    }

    #[tokio::test]
    async fn a_called_chaincode_writes_its_own_namespace_and_needs_its_own_policy() {
        let f = Fixture::new();
        seed_gold(&f.ledger);
        let client = &f.c.orgs[0].client;
        let (signed, _) = proposal(
            client,
            CH,
            "market",
            "pay",
            &["GOLD", "Org1MSP:user1@org1", "bob", "30"],
        );
        let r1 = f.endorser(0, LONG).process(&signed).await.unwrap();
        assert_eq!(status(&r1), (200, ""));
        assert_eq!(
            r1.response.as_ref().unwrap().payload,
            br#"{"from":70,"to":30}"#
        );
        let prp = ProposalResponsePayload::decode(r1.payload.as_slice()).unwrap();
        let rw = namespaces(&prp);
        let names: Vec<&str> = rw.ns_rwsets.iter().map(|n| n.namespace.as_str()).collect();
        assert_eq!(names, ["market", "token"]);
        assert_eq!(
            writes_of(&rw, "token"),
            vec![
                ("balance/GOLD/Org1MSP:user1@org1".into(), b"70".to_vec()),
                ("balance/GOLD/bob".into(), b"30".to_vec()),
            ]
        );
        assert_eq!(writes_of(&rw, "market")[0].0, "payment/last");
        assert_eq!(
            rw.ns_rwsets[1].reads.len(),
            3,
            "token info and both balances"
        );
        // Only the invoked chaincode's event.
        assert_eq!(
            prp.event.as_ref().map(|e| e.chaincode.as_str()),
            Some("market")
        );

        // market's policy (Org1's peer) alone does not satisfy token's (two orgs).
        let rules = &f.rules;
        let alone = envelope(client, &signed, &[&r1]);
        assert_eq!(
            validation::check_tx(rules, &alone).unwrap_err().code,
            TxValidationCode::EndorsementPolicyFailure
        );
        let r2 = f.endorser(1, LONG).process(&signed).await.unwrap();
        assert_eq!(r2.payload, r1.payload);
        let both = envelope(client, &signed, &[&r1, &r2]);
        let checked = validation::check_tx(rules, &both).unwrap();
        let outcome = validation::validate_block(&*f.ledger, vec![Ok(checked)]).unwrap();
        assert_eq!(outcome.codes, vec![TxValidationCode::Valid]);
        let number = f.ledger.height();
        f.ledger
            .commit(&BlockUpdate {
                block: CommittedBlock::default(),
                number,
                hash: [9; 32],
                timestamp_ms: 0,
                writes: outcome.writes,
                txs: outcome.txs,
            })
            .unwrap();
        let value = |ns: &str, key: &str| f.ledger.get_state(ns, key).unwrap().map(|v| v.value);
        assert_eq!(value("token", "balance/GOLD/bob"), Some(b"30".to_vec()));
        assert_eq!(
            value("market", "payment/last"),
            Some(br#"{"from":70,"to":30}"#.to_vec())
        );
        assert_eq!(value("market", "balance/GOLD/bob"), None);
    }

    #[tokio::test]
    async fn a_callee_error_fails_the_call_or_is_recovered_without_its_writes() {
        let f = Fixture::new();
        seed_gold(&f.ledger);
        let client = &f.c.orgs[0].client;
        let e = f.endorser(0, LONG);
        let (signed, _) = proposal(
            client,
            CH,
            "market",
            "pay",
            &["GOLD", "Org1MSP:user1@org1", "bob", "500"],
        );
        let r = e.process(&signed).await.unwrap();
        assert_eq!(status(&r).0, 400);
        assert!(
            status(&r).1.contains("insufficient balance"),
            "{}",
            status(&r).1
        );
        assert!(r.endorsement.is_none());

        let (signed, _) = proposal(
            client,
            CH,
            "market",
            "try_pay",
            &["GOLD", "Org1MSP:user1@org1", "bob", "500"],
        );
        let r = e.process(&signed).await.unwrap();
        assert_eq!(status(&r), (200, ""));
        let rw = namespaces(&ProposalResponsePayload::decode(r.payload.as_slice()).unwrap());
        assert!(writes_of(&rw, "token").is_empty());
        assert!(
            !rw.ns_rwsets[1].reads.is_empty(),
            "the callee's reads still count"
        );
        assert_eq!(writes_of(&rw, "market")[0].0, "payment/failed");
    }

    #[tokio::test]
    async fn calls_to_undefined_chaincodes_and_too_deep_calls_are_refused() {
        let f = Fixture::new();
        let client = &f.c.orgs[0].client;
        let e = f.endorser(0, LONG);
        for (callee, reason) in [
            ("nope", "not defined on the channel"),
            ("ghost", "not installed on this peer"),
            ("_lifecycle", "system namespaces cannot be called"),
        ] {
            let (signed, _) = proposal(client, CH, "market", "call", &[callee]);
            let r = e.process(&signed).await.unwrap();
            assert_eq!(
                status(&r),
                (
                    400,
                    format!("cannot call chaincode '{callee}': {reason}").as_str()
                )
            );
        }
        // A callee's event is dropped; its range scan is recorded under its namespace.
        let (signed, _) = proposal(client, CH, "market", "call", &["context"]);
        let r = e.process(&signed).await.unwrap();
        assert_eq!(status(&r), (200, ""));
        let prp = ProposalResponsePayload::decode(r.payload.as_slice()).unwrap();
        assert_eq!(prp.event, None);
        let rw = namespaces(&prp);
        assert_eq!(rw.ns_rwsets[0].namespace, "context");
        assert_eq!(rw.ns_rwsets[0].range_queries.len(), 1);

        let (signed, _) = proposal(client, CH, "market", "recurse", &[]);
        let r = e.process(&signed).await.unwrap();
        assert_eq!(
            status(&r),
            (
                400,
                "cannot call chaincode 'market': chaincode calls nest deeper than 8"
            )
        );
    }
}
