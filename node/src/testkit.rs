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
    /// The key kind of its CA and identities.
    pub kind: KeyKind,
    pub peer: Arc<SigningIdentity>,
    pub client: Arc<SigningIdentity>,
    pub orderer: Arc<SigningIdentity>,
}

impl TestOrg {
    /// Another identity of this org, with a certificate and key of its own.
    pub fn another(&self, name: &str, role: Role) -> Arc<SigningIdentity> {
        identity(&self.ca, name, role, self.kind)
    }
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
                    kind,
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
    header_naming(creator.serialized(), channel, cc)
}

/// A header whose creator is `creator_bytes` (any encoding), with a fresh
/// nonce and the tx ID derived from it.
fn header_naming(creator_bytes: &[u8], channel: &str, cc: &str) -> ProposalHeader {
    let nonce: [u8; 24] = rand::random();
    let creator_bytes = creator_bytes.to_vec();
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
    let endorsers: Vec<Named<'_>> = endorsers.iter().map(|e| Named::canonical(e)).collect();
    endorsed_call_named(
        Named::canonical(creator),
        channel,
        chaincode,
        rwset,
        &endorsers,
    )
}

/// A signing identity and the bytes a transaction names it by: its
/// canonical `SerializedIdentity`, or another encoding of it.
#[derive(Clone)]
pub struct Named<'a> {
    /// Who signs.
    pub signer: &'a SigningIdentity,
    /// The bytes in the creator or endorser field.
    pub bytes: Vec<u8>,
}

impl<'a> Named<'a> {
    /// `signer` named by its canonical encoding.
    pub fn canonical(signer: &'a SigningIdentity) -> Self {
        Named {
            signer,
            bytes: signer.serialized().to_vec(),
        }
    }

    /// `signer` named by `bytes`.
    pub fn as_bytes(signer: &'a SigningIdentity, bytes: Vec<u8>) -> Self {
        Named { signer, bytes }
    }
}

/// [`endorsed_call`] with the creator and endorsers named by the bytes
/// given; each endorser signs the payload followed by its own bytes, as
/// validation expects.
pub fn endorsed_call_named(
    creator: Named<'_>,
    channel: &str,
    chaincode: &str,
    rwset: TxReadWriteSet,
    endorsers: &[Named<'_>],
) -> (Vec<u8>, String) {
    let header = header_naming(&creator.bytes, channel, chaincode);
    let tx_id = header.tx_id.clone();
    let header = header.encode_to_vec();
    let input = ChaincodeInput {
        function: "f".into(),
        args: vec![],
    }
    .encode_to_vec();
    let prp = ProposalResponsePayload {
        proposal_hash: validation::proposal_hash(&header, &input),
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
            endorser: e.bytes.clone(),
            signature: e
                .signer
                .sign(&validation::endorsement_message(&prp, &e.bytes))
                .unwrap(),
        })
        .collect();
    let tx = Transaction {
        header,
        input,
        response_payload: prp,
        endorsements,
    }
    .encode_to_vec();
    let env = Envelope {
        signature: creator.signer.sign(&tx).unwrap(),
        payload: tx,
    };
    (env.encode_to_vec(), tx_id)
}

/// The canonical `SerializedIdentity` of `cert_der` as a member of `msp_id`.
pub fn serialized(msp_id: &str, cert_der: &[u8]) -> Vec<u8> {
    SerializedIdentity {
        msp_id: msp_id.into(),
        cert_der: cert_der.to_vec(),
    }
    .encode_to_vec()
}

/// `serialized` followed by an unknown field (number 15, varint 1): it
/// decodes to the same identity but is not its canonical encoding.
pub fn with_unknown_field(serialized: &[u8]) -> Vec<u8> {
    let mut bytes = serialized.to_vec();
    bytes.extend_from_slice(&[0x78, 0x01]);
    bytes
}

/// One DER element at the start of `der`: (the whole element, its
/// contents, what follows). Test input only: panics on malformed DER.
fn der_element(der: &[u8]) -> (&[u8], &[u8], &[u8]) {
    let first = usize::from(der[1]);
    let (len, header) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let len = der[2..2 + n]
            .iter()
            .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        (len, 2 + n)
    };
    (
        &der[..header + len],
        &der[header..header + len],
        &der[header + len..],
    )
}

/// A DER element with `tag` and `contents`.
fn der_encode(tag: u8, contents: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = contents.len().to_be_bytes();
    let skip = len.iter().take_while(|b| **b == 0).count();
    match contents.len() {
        n if n < 0x80 => out.push(n as u8),
        _ => {
            out.push(0x80 | (len.len() - skip) as u8);
            out.extend_from_slice(&len[skip..]);
        }
    }
    out.extend_from_slice(contents);
    out
}

/// The certificate `cert_der` with its CA's ECDSA P-256 signature `(r, s)`
/// replaced by `(r, n - s)`: the same signed `TBSCertificate`, a signature
/// as valid, different DER. Only for certificates issued by a P-256 CA.
pub fn ecdsa_twin(cert_der: &[u8]) -> Vec<u8> {
    // The order of the P-256 group.
    const N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    let (_, body, _) = der_element(cert_der);
    let (tbs, _, rest) = der_element(body);
    let (algorithm, _, rest) = der_element(rest);
    let (_, bits, _) = der_element(rest);
    assert_eq!(bits[0], 0, "a signature BIT STRING has no unused bits");
    let (_, sig, _) = der_element(&bits[1..]);
    let (r, _, rest) = der_element(sig);
    let (_, s, _) = der_element(rest);
    let s: Vec<u8> = s.iter().copied().skip_while(|b| *b == 0).collect();
    let mut s32 = [0u8; 32];
    s32[32 - s.len()..].copy_from_slice(&s);
    let mut other = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(N[i]) - i16::from(s32[i]) - borrow;
        borrow = i16::from(d < 0);
        other[i] = (d + 256 * borrow) as u8;
    }
    let mut int: Vec<u8> = other.iter().copied().skip_while(|b| *b == 0).collect();
    if int[0] & 0x80 != 0 {
        int.insert(0, 0);
    }
    let sig = der_encode(0x30, &[r, &der_encode(0x02, &int)].concat());
    let bits = der_encode(0x03, &[&[0u8][..], &sig].concat());
    let twin = der_encode(0x30, &[tbs, algorithm, &bits].concat());
    assert_ne!(twin, cert_der);
    twin
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
