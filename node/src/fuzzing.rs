//! The fuzz targets' bodies: each takes arbitrary bytes, runs them through
//! the code a node runs on untrusted input, and panics only when a property
//! that must hold for every input is broken. `fuzz/` wraps each in a
//! libFuzzer target; the unit tests below run them over the seed corpus and
//! a few thousand mutations of it, so a regression shows up in the fast lane.
//!
//! The targets check against a fixed consortium ([`Fixture`], three orgs,
//! loaded from `fuzz/fixture/consortium.json`) so that a corpus entry signed
//! in one run is still signed by a member in the next.

use crate::block;
use crate::endorsement::endorser::check_proposal;
use crate::identity::ca::CaError;
use crate::identity::{cert_hash, Msp, SigningIdentity};
use crate::policy::Policy;
use crate::validation::{self, ChannelRules, StateView};
use consort_proto::{
    Block, ChaincodeDefinition, ChannelConfig, Envelope, OrdererNode, OrgConfig, ProposalHeader,
    SignedProposal, Transaction, TxValidationCode as Code, Version,
};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::sync::Arc;

/// The channel every fixture transaction is for.
pub const CHANNEL: &str = "fuzzchannel";

/// A fixture could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    /// The JSON is not a fixture.
    #[error("fixture JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A PEM block is not what it should be.
    #[error("fixture PEM of {0}: not one PEM block")]
    Pem(String),
    /// A key does not belong to its certificate or cannot sign.
    #[error("fixture identity {0}: {1}")]
    Identity(String, String),
}

/// One identity of the fixture file: a certificate and its key, PEM.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct IdentityFile {
    cert_pem: String,
    key_pem: String,
}

/// One org of the fixture file.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct OrgFile {
    msp_id: String,
    ca_cert_pem: String,
    peer: IdentityFile,
    client: IdentityFile,
    orderer: IdentityFile,
}

/// The fixture file: three orgs.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct FixtureFile {
    orgs: Vec<OrgFile>,
}

/// One org's identities.
pub struct FixtureOrg {
    /// Its peer.
    pub peer: Arc<SigningIdentity>,
    /// One of its clients.
    pub client: Arc<SigningIdentity>,
    /// Its orderer, a configured consenter.
    pub orderer: Arc<SigningIdentity>,
}

/// A consortium with fixed keys: its orgs, channel config and the rules
/// validation runs against.
pub struct Fixture {
    /// The orgs, `Org1MSP`, `Org2MSP`, `Org3MSP`.
    pub orgs: Vec<FixtureOrg>,
    /// The channel config (chaincode `token`, 2 of 3 peers).
    pub config: ChannelConfig,
    /// The rules validation checks against.
    pub rules: ChannelRules,
    /// The genesis block of the channel.
    pub genesis: Block,
}

fn der_of(what: &str, pem_text: &str) -> Result<Vec<u8>, FixtureError> {
    pem::parse(pem_text)
        .map(|p| p.into_contents())
        .map_err(|_| FixtureError::Pem(what.to_string()))
}

fn load_identity(
    msp_id: &str,
    name: &str,
    f: &IdentityFile,
) -> Result<Arc<SigningIdentity>, FixtureError> {
    let cert = der_of(name, &f.cert_pem)?;
    let key = der_of(name, &f.key_pem)?;
    SigningIdentity::from_der(msp_id, cert, key)
        .map(Arc::new)
        .map_err(|e| FixtureError::Identity(name.to_string(), e.to_string()))
}

impl Fixture {
    /// A fresh fixture (new keys) as the JSON [`Fixture::from_json`] reads.
    pub fn generate() -> Result<String, CaError> {
        use crate::identity::ca::{CertAuthority, IssueRequest, KeyKind};
        use crate::identity::Role;
        let mut orgs = Vec::new();
        for i in 1..=3 {
            // Org3 uses ECDSA so that both signature schemes are reachable.
            let kind = if i == 3 {
                KeyKind::EcdsaP256
            } else {
                KeyKind::Ed25519
            };
            let msp_id = format!("Org{i}MSP");
            let ca = CertAuthority::generate(&msp_id, kind)?;
            let issue = |name: String, role: Role| -> Result<IdentityFile, CaError> {
                let mut req = IssueRequest::new(&name, role, vec!["localhost".into()]);
                req.kind = kind;
                // Valid for as long as the CA: the fixture is committed.
                req.not_after =
                    req.not_before + std::time::Duration::from_secs(19 * 365 * 24 * 3600);
                let issued = ca.issue(&req)?;
                Ok(IdentityFile {
                    cert_pem: issued.cert_pem,
                    key_pem: issued.key_pem,
                })
            };
            orgs.push(OrgFile {
                peer: issue(format!("peer0.org{i}"), Role::Peer)?,
                client: issue(format!("user1@org{i}"), Role::Client)?,
                orderer: issue(format!("orderer0.org{i}"), Role::Orderer)?,
                ca_cert_pem: ca.cert().cert_pem.clone(),
                msp_id,
            });
        }
        serde_json::to_string_pretty(&FixtureFile { orgs })
            .map_err(|e| CaError::Attributes(e.to_string()))
    }

    /// Reads a fixture written by [`Fixture::generate`].
    pub fn from_json(json: &str) -> Result<Fixture, FixtureError> {
        let file: FixtureFile = serde_json::from_str(json)?;
        let mut orgs = Vec::new();
        let mut org_configs = Vec::new();
        let mut orderers = Vec::new();
        for (i, o) in file.orgs.iter().enumerate() {
            let org = FixtureOrg {
                peer: load_identity(&o.msp_id, "peer", &o.peer)?,
                client: load_identity(&o.msp_id, "client", &o.client)?,
                orderer: load_identity(&o.msp_id, "orderer", &o.orderer)?,
            };
            org_configs.push(OrgConfig {
                msp_id: o.msp_id.clone(),
                ca_certs: vec![der_of("ca", &o.ca_cert_pem)?],
                revoked_serials: vec![],
                tls_ca_certs: vec![],
            });
            let orderer_hash = cert_hash(org.orderer.cert_der()).to_vec();
            orderers.push(OrdererNode {
                id: i as u64 + 1,
                msp_id: o.msp_id.clone(),
                endpoint: format!("orderer0.org{}:7050", i + 1),
                tls_cert_sha256: orderer_hash.clone(),
                signing_cert_sha256: orderer_hash,
            });
            orgs.push(org);
        }
        let config = ChannelConfig {
            channel_id: CHANNEL.into(),
            orgs: org_configs,
            chaincodes: vec![ChaincodeDefinition {
                name: "token".into(),
                version: "1".into(),
                endorsement_policy: "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
                    .into(),
                sequence: 1,
                external: None,
            }],
            orderers,
            max_message_bytes: 1 << 20,
            ..Default::default()
        };
        let mut policies = HashMap::new();
        for cc in &config.chaincodes {
            if let Ok(p) = cc.endorsement_policy.parse::<Policy>() {
                policies.insert(cc.name.clone(), Arc::new(p));
            }
        }
        let rules = ChannelRules {
            channel_id: config.channel_id.clone(),
            msp: Arc::new(Msp::from_config(&config)),
            policies,
        };
        Ok(Fixture {
            orgs,
            genesis: block::genesis(&config),
            config,
            rules,
        })
    }
}

/// Committed state for the validation target: a few keys of `token` at
/// fixed versions.
struct FixedState(BTreeMap<(String, String), Version>);

impl FixedState {
    fn new() -> Self {
        let mut keys = BTreeMap::new();
        for (i, key) in ["a", "b", "balance~alice", "balance~bob"]
            .iter()
            .enumerate()
        {
            keys.insert(
                ("token".to_string(), key.to_string()),
                Version {
                    block_num: 1,
                    tx_num: i as u64,
                },
            );
        }
        FixedState(keys)
    }
}

impl StateView for FixedState {
    type Error = Infallible;
    fn version(&self, namespace: &str, key: &str) -> Result<Option<Version>, Infallible> {
        Ok(self
            .0
            .get(&(namespace.to_string(), key.to_string()))
            .copied())
    }
    fn tx_committed(&self, tx_id: &str) -> Result<bool, Infallible> {
        Ok(tx_id == "committed")
    }
    fn range_versions(
        &self,
        namespace: &str,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<(String, Version)>, Infallible> {
        Ok(self
            .0
            .iter()
            .filter(|((ns, k), _)| {
                ns == namespace && k.as_str() >= start && (end.is_empty() || k.as_str() < end)
            })
            .take(limit)
            .map(|((_, k), v)| (k.clone(), *v))
            .collect())
    }
}

/// Decoding a message and encoding it again gives bytes that decode to the
/// same message.
fn round_trips<M: Message + Default + PartialEq + std::fmt::Debug>(m: &M) {
    let again = M::decode(m.encode_to_vec().as_slice());
    assert_eq!(again.as_ref(), Ok(m), "re-encoding changed the message");
}

/// `Envelope` and the messages nested in it, decoded as phase 1 does.
pub fn envelope(data: &[u8]) {
    let Ok(env) = Envelope::decode(data) else {
        return;
    };
    round_trips(&env);
    let Ok(tx) = Transaction::decode(env.payload.as_slice()) else {
        return;
    };
    round_trips(&tx);
    if let Ok(header) = ProposalHeader::decode(tx.header.as_slice()) {
        round_trips(&header);
    }
}

/// `Block`, then what a peer checks of a block from the ordering service:
/// its link to the genesis block, its orderer signature, and each
/// transaction's phase 1.
pub fn block(fx: &Fixture, data: &[u8]) {
    let Ok(b) = Block::decode(data) else {
        return;
    };
    round_trips(&b);
    let prev = block::block_hash(&fx.genesis);
    let linked = block::check_link(&b, CHANNEL, 1, &prev).is_ok();
    let signed = block::check_signature(&b, 1, &fx.rules.msp).is_ok();
    if linked && signed {
        for tx in b.data.iter().take(64) {
            let _ = validation::check_tx(&fx.rules, tx);
        }
    }
}

/// `SignedProposal`, then the endorser's checks of it.
pub fn signed_proposal(fx: &Fixture, data: &[u8]) {
    let Ok(sp) = SignedProposal::decode(data) else {
        return;
    };
    round_trips(&sp);
    if let Ok(checked) = check_proposal(&fx.rules, &sp) {
        // Only a member's correctly signed proposal for a defined chaincode
        // gets through, and its transaction ID is the one it claims.
        assert_eq!(checked.header.channel_id, CHANNEL);
        assert_eq!(
            validation::compute_tx_id(&checked.header.nonce, &checked.header.creator),
            checked.header.tx_id
        );
    }
}

/// The endorsement policy parser: whatever it accepts prints to a text that
/// parses to the same policy, and evaluating it terminates.
pub fn policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(policy) = text.parse::<Policy>() else {
        return;
    };
    let printed = policy.to_string();
    let again: Policy = match printed.parse() {
        Ok(p) => p,
        Err(e) => panic!("{text:?} printed as {printed:?}, which does not parse: {e}"),
    };
    assert_eq!(again, policy, "{text:?} printed as {printed:?}");
    let orgs = ["Org1MSP", "Org2MSP", "Org3MSP"].map(String::from);
    let _ = policy.evaluate_org_peers(&orgs);
    let _ = policy.pick_orgs(&orgs[..1], &orgs);
}

/// One transaction through both validation phases against [`FixedState`].
/// The first byte chooses how the rest is read: even, as an envelope; odd,
/// as a transaction payload that the fixture client of org `data[1] % 3`
/// signs, so that mutations get past the creator's signature.
pub fn transaction(fx: &Fixture, data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let envelope = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let Some((&org, payload)) = rest.split_first() else {
            return;
        };
        let signer = &fx.orgs[usize::from(org) % fx.orgs.len()].client;
        let Ok(signature) = signer.sign(payload) else {
            return;
        };
        Envelope {
            payload: payload.to_vec(),
            signature,
        }
        .encode_to_vec()
    };
    let checked = validation::check_tx(&fx.rules, &envelope);
    let passed = checked.is_ok();
    let result = validation::validate_block(&FixedState::new(), vec![checked]);
    let Ok(out) = result;
    assert_eq!(out.codes.len(), 1);
    if !passed {
        assert_ne!(out.codes[0], Code::Valid, "phase 1 refused it");
        assert!(out.writes.is_empty());
    }
    if out.codes[0] != Code::Valid {
        assert!(out.writes.is_empty(), "an invalid transaction wrote");
    }
}

#[cfg(test)]
mod tests;
