//! Test fixtures: an in-memory consortium of orgs with CAs and identities,
//! helpers that build signed proposals, endorsed transactions and signed
//! blocks, and a ledger in a temporary directory.

use crate::block;
use crate::identity::ca::{CertAuthority, IssueRequest, KeyKind};
use crate::identity::{Msp, Role, SigningIdentity};
use crate::ledger::Ledger;
use crate::policy::Policy;
use crate::validation::{self, ChannelRules};
use consort_proto::*;
use prost::Message;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// One org: its CA and some identities.
pub struct TestOrg {
    pub ca: CertAuthority,
    pub peer: Arc<SigningIdentity>,
    pub client: Arc<SigningIdentity>,
    pub orderer: Arc<SigningIdentity>,
}

/// A consortium of `n` orgs named Org1MSP..OrgnMSP.
pub struct Consortium {
    pub orgs: Vec<TestOrg>,
    pub config: ChannelConfig,
    pub msp: Arc<Msp>,
}

pub fn identity(ca: &CertAuthority, name: &str, role: Role, kind: KeyKind) -> Arc<SigningIdentity> {
    let mut req = IssueRequest::new(name, role, vec!["localhost".into(), "127.0.0.1".into()]);
    req.kind = kind;
    let issued = ca.issue(&req).unwrap();
    Arc::new(SigningIdentity::from_der(ca.msp_id(), issued.cert_der, issued.key_der).unwrap())
}

impl Consortium {
    pub fn new(n: usize) -> Self {
        let orgs: Vec<TestOrg> = (1..=n)
            .map(|i| {
                let kind = if i == 3 {
                    KeyKind::EcdsaP256
                } else {
                    KeyKind::Ed25519
                };
                let ca = CertAuthority::generate(&format!("Org{i}MSP"), kind).unwrap();
                TestOrg {
                    peer: identity(&ca, &format!("peer0.org{i}"), Role::Peer, kind),
                    client: identity(&ca, &format!("user1@org{i}"), Role::Client, kind),
                    orderer: identity(&ca, &format!("orderer0.org{i}"), Role::Orderer, kind),
                    ca,
                }
            })
            .collect();
        let config = ChannelConfig {
            channel_id: "testchannel".into(),
            orgs: orgs
                .iter()
                .map(|o| OrgConfig {
                    msp_id: o.ca.msp_id().to_string(),
                    ca_certs: vec![o.ca.cert().cert_der.clone()],
                    revoked_serials: vec![],
                    tls_ca_certs: vec![],
                })
                .collect(),
            chaincodes: vec![ChaincodeDefinition {
                name: "token".into(),
                version: "1".into(),
                endorsement_policy: "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
                    .into(),
                sequence: 1,
                external: None,
            }],
            // Each org's orderer identity is a configured orderer.
            orderers: orgs
                .iter()
                .enumerate()
                .map(|(i, o)| OrdererNode {
                    id: i as u64 + 1,
                    msp_id: o.ca.msp_id().to_string(),
                    endpoint: format!("orderer0.org{}:7050", i + 1),
                    tls_cert_sha256: crate::identity::cert_hash(o.orderer.cert_der()).to_vec(),
                    signing_cert_sha256: crate::identity::cert_hash(o.orderer.cert_der()).to_vec(),
                })
                .collect(),
            max_message_bytes: 1 << 20,
            ..Default::default()
        };
        let msp = Arc::new(Msp::from_config(&config));
        Consortium { orgs, config, msp }
    }

    pub fn rules(&self) -> ChannelRules {
        let mut policies = HashMap::new();
        for cc in &self.config.chaincodes {
            let p: Policy = cc.endorsement_policy.parse().unwrap();
            policies.insert(cc.name.clone(), Arc::new(p));
        }
        ChannelRules {
            channel_id: self.config.channel_id.clone(),
            msp: self.msp.clone(),
            policies,
        }
    }
}

/// Signs a proposal made of `header` and `input` as `creator`, whatever the
/// header says (for building deliberately inconsistent proposals).
pub fn sign_proposal(
    creator: &SigningIdentity,
    header: &ProposalHeader,
    input: &ChaincodeInput,
) -> SignedProposal {
    let proposal_bytes = Proposal {
        header: header.encode_to_vec(),
        input: input.encode_to_vec(),
        transient: Default::default(),
    }
    .encode_to_vec();
    let signature = creator.sign(&proposal_bytes).unwrap();
    SignedProposal {
        proposal_bytes,
        signature,
    }
}

/// A header for a proposal by `creator` with a fresh nonce and the tx ID derived from it.
pub fn proposal_header(creator: &SigningIdentity, channel: &str, cc: &str) -> ProposalHeader {
    let nonce: [u8; 24] = rand::random();
    let creator_bytes = creator.serialized().to_vec();
    ProposalHeader {
        channel_id: channel.into(),
        tx_id: validation::compute_tx_id(&nonce, &creator_bytes),
        chaincode: cc.into(),
        creator: creator_bytes,
        nonce: nonce.to_vec(),
        timestamp_ms: 0,
    }
}

/// Builds a signed proposal from `creator`.
pub fn proposal(
    creator: &SigningIdentity,
    channel: &str,
    cc: &str,
    function: &str,
    args: &[&str],
) -> (SignedProposal, String) {
    let header = proposal_header(creator, channel, cc);
    let input = ChaincodeInput {
        function: function.into(),
        args: args.iter().map(|a| a.as_bytes().to_vec()).collect(),
    };
    (sign_proposal(creator, &header, &input), header.tx_id)
}

/// An envelope for a transaction invoking `rwset`'s namespace and touching
/// it alone, endorsed by `endorsers`, signed by `creator`.
pub fn endorsed_envelope(
    creator: &SigningIdentity,
    channel: &str,
    rwset: TxRwSet,
    endorsers: &[&SigningIdentity],
) -> (Vec<u8>, String) {
    let chaincode = rwset.namespace.clone();
    let rwset = TxReadWriteSet {
        ns_rwsets: vec![rwset],
    };
    endorsed_call(creator, channel, &chaincode, rwset, endorsers)
}

/// An envelope for a transaction invoking `chaincode` with the read/write
/// set `rwset` (any namespaces), endorsed by `endorsers`, signed by `creator`.
pub fn endorsed_call(
    creator: &SigningIdentity,
    channel: &str,
    chaincode: &str,
    rwset: TxReadWriteSet,
    endorsers: &[&SigningIdentity],
) -> (Vec<u8>, String) {
    let (signed, tx_id) = proposal(creator, channel, chaincode, "f", &[]);
    let p = Proposal::decode(signed.proposal_bytes.as_slice()).unwrap();
    let prp = ProposalResponsePayload {
        proposal_hash: validation::proposal_hash(&p.header, &p.input),
        chaincode: chaincode.into(),
        results: rwset.encode_to_vec(),
        response: Some(Response {
            status: 200,
            message: String::new(),
            payload: vec![],
        }),
        event: None,
    }
    .encode_to_vec();
    let endorsements = endorsers
        .iter()
        .map(|e| Endorsement {
            endorser: e.serialized().to_vec(),
            signature: e
                .sign(&validation::endorsement_message(&prp, e.serialized()))
                .unwrap(),
        })
        .collect();
    let tx = Transaction {
        header: p.header,
        input: p.input,
        response_payload: prp,
        endorsements,
    }
    .encode_to_vec();
    let env = Envelope {
        signature: creator.sign(&tx).unwrap(),
        payload: tx,
    };
    (env.encode_to_vec(), tx_id)
}

/// A read/write set of namespace `ns`: reads with the versions seen, writes
/// where `None` deletes.
pub fn rwset(
    ns: &str,
    reads: &[(&str, Option<Version>)],
    writes: &[(&str, Option<&str>)],
) -> TxRwSet {
    TxRwSet {
        namespace: ns.into(),
        reads: reads
            .iter()
            .map(|(k, version)| KvRead {
                key: k.to_string(),
                version: *version,
            })
            .collect(),
        writes: writes
            .iter()
            .map(|(k, v)| KvWrite {
                key: k.to_string(),
                is_delete: v.is_none(),
                value: v.map(|v| v.as_bytes().to_vec()).unwrap_or_default(),
            })
            .collect(),
        range_queries: vec![],
    }
}

/// A version.
pub fn version(block_num: u64, tx_num: u64) -> Version {
    Version { block_num, tx_num }
}

/// An empty ledger in a fresh temporary directory (kept alive by the returned guard).
pub fn temp_ledger() -> (tempfile::TempDir, Arc<Ledger>) {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Arc::new(Ledger::open(&dir.path().join("ledger")).unwrap());
    (dir, ledger)
}

/// Block `number` of `channel` after `prev`, carrying `data`, signed by `signer` if given.
pub fn block_after(
    channel: &str,
    number: u64,
    prev: &Block,
    data: Vec<Vec<u8>>,
    signer: Option<&SigningIdentity>,
) -> Block {
    let mut b = block::build(
        channel,
        number,
        &block::block_hash(prev),
        1_000 + number as i64,
        data,
    );
    if let Some(s) = signer {
        block::sign(&mut b, s).unwrap();
    }
    b
}

/// Serialises tests that read or set `CONSORT_*` environment variables,
/// which config loading picks up process-wide.
static ENV_LOCK: Mutex<()> = Mutex::new(());

/// Takes [`ENV_LOCK`], surviving a panic of an earlier holder.
pub fn env_lock() -> MutexGuard<'static, ()> {
    ENV_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}
