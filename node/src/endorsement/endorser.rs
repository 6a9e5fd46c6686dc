//! The endorser: checks a signed proposal, simulates it, signs the result.

use super::simulator::{SimulationInput, Simulator};
use crate::chaincode_host::{self, ChaincodeRegistry};
use crate::identity::{now_unix, MspError, SigningIdentity};
use crate::ledger::{Ledger, LedgerError};
use crate::validation::{self, ChannelRules};
use chaincode_sdk::{ChaincodeError, Creator};
use consort_proto::{
    ChaincodeInput, Endorsement, Proposal, ProposalHeader, ProposalResponse,
    ProposalResponsePayload, Response, SignedProposal,
};
use prost::Message;
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
    /// The chaincode is not defined on the channel or not installed here.
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
}

/// Endorses proposals for one channel on one peer.
pub struct Endorser {
    rules: ChannelRules,
    ledger: Arc<Ledger>,
    chaincodes: ChaincodeRegistry,
    identity: Arc<SigningIdentity>,
    timeout: Duration,
}

impl std::fmt::Debug for Endorser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endorser")
            .field("channel", &self.rules.channel_id)
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
        return Err(EndorseError::UnknownChaincode(header.chaincode));
    }
    Ok(CheckedProposal {
        header_bytes: proposal.header,
        input_bytes: proposal.input,
        creator: Creator {
            msp_id: creator.msp_id.clone(),
            role: creator.role.to_string(),
            subject: creator.subject.clone(),
            cert_der: creator.cert_der.clone(),
        },
        header,
        input,
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
    /// An endorser signing as `identity`.
    pub fn new(
        rules: ChannelRules,
        ledger: Arc<Ledger>,
        chaincodes: ChaincodeRegistry,
        identity: Arc<SigningIdentity>,
        timeout: Duration,
    ) -> Self {
        Endorser {
            rules,
            ledger,
            chaincodes,
            identity,
            timeout,
        }
    }

    /// The channel rules this endorser checks against.
    pub fn rules(&self) -> &ChannelRules {
        &self.rules
    }

    /// Checks, simulates and (if the chaincode succeeded) endorses a proposal.
    /// A chaincode error is an `Ok` response with status 400 (500 for a
    /// panic or timeout) and no endorsement.
    #[tracing::instrument(skip_all, fields(tx_id))]
    pub async fn process(&self, signed: &SignedProposal) -> Result<ProposalResponse, EndorseError> {
        let checked = check_proposal(&self.rules, signed)?;
        tracing::Span::current().record("tx_id", checked.header.tx_id.as_str());
        if self.ledger.tx(&checked.header.tx_id)?.is_some() {
            return Err(EndorseError::DuplicateTxId(checked.header.tx_id));
        }
        let cc = self
            .chaincodes
            .get(&checked.header.chaincode)
            .ok_or_else(|| EndorseError::UnknownChaincode(checked.header.chaincode.clone()))?;
        let sim = Simulator::new(
            self.ledger.clone(),
            SimulationInput {
                namespace: checked.header.chaincode.clone(),
                function: checked.input.function.clone(),
                args: checked.input.args.clone(),
                tx_id: checked.header.tx_id.clone(),
                channel_id: checked.header.channel_id.clone(),
                creator: checked.creator.clone(),
            },
        );
        let (sim, result) = match chaincode_host::execute(cc, sim, self.timeout).await {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, "chaincode failed");
                return Ok(failure(500, e.to_string()));
            }
        };
        let payload = match result {
            Ok(p) => p,
            Err(e) => {
                let status = if matches!(e, ChaincodeError::State(_)) {
                    500
                } else {
                    400
                };
                return Ok(failure(status, e.to_string()));
            }
        };
        let response = Response {
            status: 200,
            message: String::new(),
            payload,
        };
        let prp = ProposalResponsePayload {
            proposal_hash: validation::proposal_hash(&checked.header_bytes, &checked.input_bytes),
            chaincode: checked.header.chaincode.clone(),
            results: sim.into_rwset().encode_to_vec(),
            response: Some(response.clone()),
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
