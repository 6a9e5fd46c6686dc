//! Signed blocks of token transfers made offline, for `consort bench
//! validate` and the criterion benchmarks: a three-org channel with its own
//! CAs, real Ed25519 keys and certificates, 2-of-3 endorsement, one orderer
//! signing the blocks.
//!
//! Block 1 opens two accounts per transaction slot; every later block moves
//! tokens between each slot's two accounts, reading both (and the token's
//! definition) at the versions the previous block wrote, so every
//! transaction is valid.

use crate::block;
use crate::identity::ca::{CertAuthority, IssueRequest, KeyKind};
use crate::identity::{Msp, Role, SigningIdentity};
use crate::validation::{compute_tx_id, endorsement_message, proposal_hash, ChannelRules};
use consort_proto::{
    Block, ChaincodeDefinition, ChaincodeInput, ChannelConfig, Endorsement, Envelope, KvRead,
    KvWrite, OrdererNode, OrgConfig, ProposalHeader, ProposalResponsePayload, Response,
    Transaction, TxReadWriteSet, TxRwSet, Version,
};
use prost::Message;
use rayon::prelude::*;
use std::sync::Arc;

/// The chaincode (namespace) the transfers run.
pub const CHAINCODE: &str = "token";
/// The channel.
pub const CHANNEL: &str = "benchchannel";
/// The endorsement policy of [`CHAINCODE`].
pub const POLICY: &str = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";

/// Why the workload could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    /// Making a CA, certificate or key failed.
    #[error("making the benchmark's identities: {0}")]
    Identity(String),
    /// Signing failed.
    #[error("signing: {0}")]
    Sign(String),
}

fn identity_err(e: impl std::fmt::Display) -> WorkloadError {
    WorkloadError::Identity(e.to_string())
}

/// One org's identities.
struct Org {
    peer: Arc<SigningIdentity>,
    client: Arc<SigningIdentity>,
}

/// A channel, its members' identities and the blocks' shape.
pub struct Workload {
    orgs: Vec<Org>,
    orderer: Arc<SigningIdentity>,
    config: ChannelConfig,
    genesis: Block,
    /// Bytes of payload in each account's value.
    payload_bytes: usize,
}

impl std::fmt::Debug for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workload")
            .field("orgs", &self.orgs.len())
            .field("payload_bytes", &self.payload_bytes)
            .finish()
    }
}

fn issue(
    ca: &CertAuthority,
    name: &str,
    role: Role,
) -> Result<Arc<SigningIdentity>, WorkloadError> {
    let mut req = IssueRequest::new(name, role, vec![]);
    req.kind = KeyKind::Ed25519;
    let issued = ca.issue(&req).map_err(identity_err)?;
    SigningIdentity::from_der(ca.msp_id(), issued.cert_der, issued.key_der)
        .map(Arc::new)
        .map_err(identity_err)
}

impl Workload {
    /// Three orgs with fresh CAs; each account value carries
    /// `payload_bytes` of payload.
    pub fn new(payload_bytes: usize) -> Result<Self, WorkloadError> {
        let mut orgs = Vec::new();
        let mut org_configs = Vec::new();
        let mut orderer = None;
        for i in 1..=3 {
            let msp_id = format!("Org{i}MSP");
            let ca = CertAuthority::generate(&msp_id, KeyKind::Ed25519).map_err(identity_err)?;
            if i == 1 {
                orderer = Some(issue(&ca, "orderer0.org1", Role::Orderer)?);
            }
            orgs.push(Org {
                peer: issue(&ca, &format!("peer0.org{i}"), Role::Peer)?,
                client: issue(&ca, &format!("user1@org{i}"), Role::Client)?,
            });
            org_configs.push(OrgConfig {
                msp_id,
                ca_certs: vec![ca.cert().cert_der.clone()],
                revoked_serials: vec![],
                tls_ca_certs: vec![],
            });
        }
        let orderer = orderer.ok_or_else(|| identity_err("no orderer"))?;
        let orderer_hash = crate::identity::cert_hash(orderer.cert_der()).to_vec();
        let config = ChannelConfig {
            channel_id: CHANNEL.into(),
            orgs: org_configs,
            chaincodes: vec![ChaincodeDefinition {
                name: CHAINCODE.into(),
                version: "1".into(),
                endorsement_policy: POLICY.into(),
                sequence: 1,
                external: None,
            }],
            orderers: vec![OrdererNode {
                id: 1,
                msp_id: "Org1MSP".into(),
                endpoint: "orderer0.org1:7050".into(),
                tls_cert_sha256: orderer_hash.clone(),
                signing_cert_sha256: orderer_hash,
            }],
            max_message_bytes: 1 << 20,
            ..Default::default()
        };
        let genesis = block::genesis(&config);
        Ok(Workload {
            orgs,
            orderer,
            config,
            genesis,
            payload_bytes,
        })
    }

    /// The channel's configuration.
    pub fn config(&self) -> &ChannelConfig {
        &self.config
    }

    /// The genesis block.
    pub fn genesis(&self) -> &Block {
        &self.genesis
    }

    /// The validation rules a peer of the channel uses.
    pub fn rules(&self) -> Result<ChannelRules, WorkloadError> {
        let msp = Arc::new(Msp::from_config(&self.config));
        crate::node::channel_rules(&self.config, msp).map_err(identity_err)
    }

    /// Blocks 1..=`count` after the genesis block, `txs` transactions each.
    pub fn blocks(&self, count: u64, txs: usize) -> Result<Vec<Block>, WorkloadError> {
        let mut maker = self.block_maker();
        (0..count).map(|_| maker.make(self, txs)).collect()
    }

    /// Makes the blocks after the genesis block one at a time.
    pub fn block_maker(&self) -> BlockMaker {
        BlockMaker {
            number: 1,
            prev: block::block_hash(&self.genesis),
        }
    }

    /// Transaction `slot` of block `number`: opens the slot's two accounts
    /// (block 1) or moves one token between them.
    fn transfer(&self, number: u64, slot: usize) -> Result<Vec<u8>, WorkloadError> {
        let accounts = [
            format!("acct~{:06}", 2 * slot),
            format!("acct~{:06}", 2 * slot + 1),
        ];
        let seen = (number > 1).then(|| Version {
            block_num: number - 1,
            tx_num: slot as u64,
        });
        let balance = |a: usize| 1_000_000u64.saturating_sub(number) + a as u64 * 2 * number;
        let payload = "x".repeat(self.payload_bytes);
        let mut reads = vec![KvRead {
            key: "token~GOLD".into(),
            version: None,
        }];
        reads.extend(accounts.iter().map(|k| KvRead {
            key: k.clone(),
            version: seen,
        }));
        let writes = accounts
            .iter()
            .enumerate()
            .map(|(a, k)| KvWrite {
                key: k.clone(),
                is_delete: false,
                value: format!("{{\"balance\":{},\"memo\":\"{payload}\"}}", balance(a))
                    .into_bytes(),
            })
            .collect();
        let rwset = TxReadWriteSet {
            ns_rwsets: vec![TxRwSet {
                namespace: CHAINCODE.into(),
                reads,
                writes,
                range_queries: vec![],
            }],
        };
        let n = self.orgs.len();
        let creator = &self.orgs[slot % n].client;
        let endorsers = [&self.orgs[slot % n].peer, &self.orgs[(slot + 1) % n].peer];
        let args = vec![
            b"GOLD".to_vec(),
            accounts[0].clone().into_bytes(),
            accounts[1].clone().into_bytes(),
            b"1".to_vec(),
        ];
        envelope(creator, &endorsers, "transfer", args, rwset)
    }
}

/// The next block's number and the hash it links to.
#[derive(Debug, Clone)]
pub struct BlockMaker {
    number: u64,
    prev: block::Hash,
}

impl BlockMaker {
    /// The next block, `txs` transactions made on all cores and signed by
    /// the orderer.
    pub fn make(&mut self, w: &Workload, txs: usize) -> Result<Block, WorkloadError> {
        let number = self.number;
        let data = (0..txs)
            .into_par_iter()
            .map(|slot| w.transfer(number, slot))
            .collect::<Result<Vec<_>, _>>()?;
        let mut b = block::build(CHANNEL, number, &self.prev, 1_000 + number as i64, data);
        block::sign(&mut b, &w.orderer).map_err(|e| WorkloadError::Sign(e.to_string()))?;
        self.prev = block::block_hash(&b);
        self.number += 1;
        Ok(b)
    }
}

/// A transaction invoking [`CHAINCODE`] with `rwset` as its result, endorsed
/// by `endorsers` and signed by `creator`, as a client and the endorsing
/// peers make it.
fn envelope(
    creator: &SigningIdentity,
    endorsers: &[&Arc<SigningIdentity>],
    function: &str,
    args: Vec<Vec<u8>>,
    rwset: TxReadWriteSet,
) -> Result<Vec<u8>, WorkloadError> {
    let sign =
        |s: &SigningIdentity, m: &[u8]| s.sign(m).map_err(|e| WorkloadError::Sign(e.to_string()));
    let nonce: [u8; 24] = rand::random();
    let creator_bytes = creator.serialized().to_vec();
    let header = ProposalHeader {
        channel_id: CHANNEL.into(),
        tx_id: compute_tx_id(&nonce, &creator_bytes),
        chaincode: CHAINCODE.into(),
        creator: creator_bytes,
        nonce: nonce.to_vec(),
        timestamp_ms: 0,
    }
    .encode_to_vec();
    let input = ChaincodeInput {
        function: function.into(),
        args,
    }
    .encode_to_vec();
    let response_payload = ProposalResponsePayload {
        proposal_hash: proposal_hash(&header, &input),
        chaincode: CHAINCODE.into(),
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
        .map(|e| {
            let endorser = e.serialized().to_vec();
            let signature = sign(e, &endorsement_message(&response_payload, &endorser))?;
            Ok(Endorsement {
                endorser,
                signature,
            })
        })
        .collect::<Result<Vec<_>, WorkloadError>>()?;
    let payload = Transaction {
        header,
        input,
        response_payload,
        endorsements,
    }
    .encode_to_vec();
    Ok(Envelope {
        signature: sign(creator, &payload)?,
        payload,
    }
    .encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::check_tx;

    #[test]
    fn every_transaction_passes_phase_one() {
        let w = Workload::new(16).unwrap();
        let rules = w.rules().unwrap();
        let blocks = w.blocks(2, 5).unwrap();
        assert_eq!(blocks.len(), 2);
        for b in &blocks {
            assert_eq!(b.data.len(), 5);
            for tx in &b.data {
                check_tx(&rules, tx).unwrap();
            }
            block::check_signature(b, 1, &rules.msp).unwrap();
        }
    }
}
