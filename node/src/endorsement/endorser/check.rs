//! The checks a signed proposal passes before its chaincode runs.

use super::EndorseError;
use crate::identity::now_unix;
use crate::validation::{self, ChannelRules};
use chaincode_sdk::Creator;
use consort_proto::{ChaincodeInput, Proposal, ProposalHeader, SignedProposal};
use prost::Message;
use std::collections::BTreeMap;

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
