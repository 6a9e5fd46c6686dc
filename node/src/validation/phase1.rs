//! Phase 1: the checks that depend on a transaction alone, in three steps
//! so that a block's signatures can be checked together:
//!
//! 1. [`prepare`]: decode, channel, creator identity, transaction ID,
//!    response payload, read/write set and the policies it needs; collect the
//!    signatures to check (the creator's, and each endorsement by a member
//!    identity). A failure found after the point where the serial order
//!    checks the creator's signature is kept, not returned, so that an
//!    unauthenticated transaction is reported as one.
//! 2. The signatures are checked: one at a time ([`check_tx`]), or for a
//!    whole block in batches on all cores ([`check_block`]).
//! 3. [`finish`]: the verdict from the signatures' verdicts, counting each
//!    endorsing identity once and evaluating the policies.
//!
//! Both entry points run the same steps and differ only in how signatures
//! are checked, so their results are identical.

use super::signatures::{self, SigCheck};
use super::{
    compute_tx_id, endorsement_message, policies_to_satisfy, proposal_hash, ChannelRules,
    CheckedTx, Rejected,
};
use crate::identity::Identity;
use crate::policy::{all_satisfied, Policy};
use consort_proto::{
    Envelope, ProposalHeader, ProposalResponsePayload, Transaction, TxReadWriteSet,
    TxValidationCode as Code,
};
use prost::Message;
use rayon::prelude::*;
use std::collections::HashSet;
use std::sync::Arc;

fn reject(code: Code) -> Rejected {
    Rejected {
        tx_id: None,
        code,
        reason: None,
    }
}

/// A transaction decoded and checked up to its signatures.
pub struct Prepared {
    creator: Arc<Identity>,
    /// What the creator signed, and the signature.
    payload: Vec<u8>,
    signature: Vec<u8>,
    /// What follows once the creator's signature verifies.
    after: Result<Endorsed, Rejected>,
}

/// The part of a transaction checked after its creator's signature.
struct Endorsed {
    tx_id: String,
    chaincode: String,
    invoked_policy: Arc<Policy>,
    /// The policies to satisfy, the invoked chaincode's first.
    policies: Vec<Arc<Policy>>,
    rwset: TxReadWriteSet,
    /// Endorsements by member identities, in order: who, what they signed,
    /// their signature.
    candidates: Vec<(Arc<Identity>, Vec<u8>, Vec<u8>)>,
}

impl Prepared {
    /// The signatures this transaction needs checked: the creator's first,
    /// then each candidate endorsement's.
    fn checks(&self) -> impl Iterator<Item = SigCheck<'_>> {
        let creator = SigCheck {
            key: &self.creator.public_key,
            message: &self.payload,
            signature: &self.signature,
        };
        let endorsements = self.after.iter().flat_map(|e| {
            e.candidates
                .iter()
                .map(|(id, message, signature)| SigCheck {
                    key: &id.public_key,
                    message,
                    signature,
                })
        });
        std::iter::once(creator).chain(endorsements)
    }

    fn check_count(&self) -> usize {
        1 + self.after.as_ref().map_or(0, |e| e.candidates.len())
    }
}

/// Step 1: everything up to the signatures.
pub fn prepare(rules: &ChannelRules, envelope_bytes: &[u8]) -> Result<Prepared, Rejected> {
    if envelope_bytes.is_empty() {
        return Err(reject(Code::NilEnvelope));
    }
    let env = Envelope::decode(envelope_bytes).map_err(|_| reject(Code::BadPayload))?;
    if env.payload.is_empty() {
        return Err(reject(Code::NilEnvelope));
    }
    let tx = Transaction::decode(env.payload.as_slice()).map_err(|_| reject(Code::BadPayload))?;
    let header =
        ProposalHeader::decode(tx.header.as_slice()).map_err(|_| reject(Code::BadCommonHeader))?;
    if header.tx_id.is_empty() || header.chaincode.is_empty() {
        return Err(reject(Code::BadCommonHeader));
    }
    if header.channel_id != rules.channel_id {
        return Err(reject(Code::TargetChainNotFound));
    }
    let creator = rules
        .msp
        .validate(&header.creator)
        .map_err(|_| reject(Code::BadCreatorSignature))?;
    let after = endorsed_part(rules, header, tx);
    Ok(Prepared {
        creator,
        payload: env.payload,
        signature: env.signature,
        after,
    })
}

/// The checks that, in serial order, follow the creator's signature.
fn endorsed_part(
    rules: &ChannelRules,
    header: ProposalHeader,
    tx: Transaction,
) -> Result<Endorsed, Rejected> {
    if header.nonce.is_empty() || compute_tx_id(&header.nonce, &header.creator) != header.tx_id {
        return Err(reject(Code::BadProposalTxid));
    }
    // From here on the ID is authenticated by the creator's signature.
    let rejected = |code| Rejected {
        tx_id: Some(header.tx_id.clone()),
        code,
        reason: None,
    };
    let invoked_policy = rules
        .policies
        .get(&header.chaincode)
        .ok_or_else(|| rejected(Code::InvalidChaincode))?;
    let prp = ProposalResponsePayload::decode(tx.response_payload.as_slice())
        .map_err(|_| rejected(Code::BadResponsePayload))?;
    if prp.proposal_hash != proposal_hash(&tx.header, &tx.input)
        || prp.chaincode != header.chaincode
        || prp.response.as_ref().map(|r| r.status) != Some(200)
    {
        return Err(rejected(Code::InvalidEndorserTransaction));
    }
    let rwset =
        TxReadWriteSet::decode(prp.results.as_slice()).map_err(|_| rejected(Code::BadRwset))?;
    let policies = policies_to_satisfy(rules, &header.chaincode, invoked_policy, &rwset.ns_rwsets)
        .ok_or_else(|| rejected(Code::BadRwset))?
        .into_iter()
        .cloned()
        .collect();
    let candidates = tx
        .endorsements
        .into_iter()
        .filter_map(|e| {
            let endorser = rules.msp.validate(&e.endorser).ok()?;
            let message = endorsement_message(&tx.response_payload, &e.endorser);
            Some((endorser, message, e.signature))
        })
        .collect();
    Ok(Endorsed {
        invoked_policy: invoked_policy.clone(),
        tx_id: header.tx_id,
        chaincode: header.chaincode,
        policies,
        rwset,
        candidates,
    })
}

/// Step 3: the verdict, given whether the creator's signature verified and
/// each candidate endorsement's did.
pub fn finish(
    prepared: Prepared,
    creator_ok: bool,
    endorsements_ok: &[bool],
) -> Result<CheckedTx, Rejected> {
    if !creator_ok {
        return Err(reject(Code::BadCreatorSignature));
    }
    let e = prepared.after?;
    let rejected = |code| Rejected {
        tx_id: Some(e.tx_id.clone()),
        code,
        reason: None,
    };
    // One signer per identity (org and certificate hash), whatever bytes
    // encode it; an identity is taken once its signature verifies, so an
    // earlier bad copy does not hide a good one.
    let mut seen = HashSet::new();
    let mut signers = Vec::with_capacity(e.candidates.len());
    for ((endorser, _, _), ok) in e.candidates.iter().zip(endorsements_ok) {
        if *ok && seen.insert(endorser.signer_id()) {
            signers.push(endorser.signer());
        }
    }
    // `_lifecycle` has a policy per key written (an org's approval needs
    // that org's peer) in place of one policy for the chaincode, and only
    // `_lifecycle` itself may write it; every other namespace written needs
    // its chaincode's policy. A policy too complex to evaluate fails the
    // transaction like an unsatisfied one, with the reason recorded.
    let lifecycle = crate::lifecycle::NAMESPACE;
    let invoked_lifecycle = e.chaincode == lifecycle;
    let keys_endorsed = e
        .rwset
        .ns_rwsets
        .iter()
        .filter(|ns| ns.namespace == lifecycle)
        .map(|ns| {
            if invoked_lifecycle {
                crate::lifecycle::key_policy::endorsed(ns, &e.invoked_policy, &signers)
            } else {
                Ok(ns.writes.is_empty())
            }
        });
    let skip = usize::from(invoked_lifecycle);
    let policies_endorsed = e
        .policies
        .iter()
        .skip(skip)
        .map(|policy| policy.evaluate(&signers));
    match all_satisfied(keys_endorsed.chain(policies_endorsed)) {
        Ok(true) => {}
        Ok(false) => return Err(rejected(Code::EndorsementPolicyFailure)),
        Err(err) => {
            return Err(Rejected {
                reason: Some(err.to_string()),
                ..rejected(Code::EndorsementPolicyFailure)
            })
        }
    }
    Ok(CheckedTx {
        tx_id: e.tx_id,
        rwset: e.rwset,
    })
}

/// Phase 1 for one transaction, its signatures checked one at a time.
pub fn check_tx(rules: &ChannelRules, envelope_bytes: &[u8]) -> Result<CheckedTx, Rejected> {
    let prepared = prepare(rules, envelope_bytes)?;
    let creator_ok = {
        let mut checks = prepared.checks();
        checks
            .next()
            .is_some_and(|c| signatures::verify_each(&[c])[0])
    };
    // Endorsements are checked only when the creator's signature holds.
    let endorsements_ok = if creator_ok {
        let checks: Vec<_> = prepared.checks().skip(1).collect();
        signatures::verify_each(&checks)
    } else {
        Vec::new()
    };
    finish(prepared, creator_ok, &endorsements_ok)
}

/// Transactions from which [`check_block`] spreads a block over the rayon
/// pool's threads.
pub const PARALLEL_FROM: usize = 64;

/// Where the time of [`check_block`] went.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phase1Timings {
    /// Decoding, identities and structure ([`prepare`]).
    pub prepare: std::time::Duration,
    /// Signature checks.
    pub signatures: std::time::Duration,
    /// Counting endorsers and evaluating policies ([`finish`]).
    pub policy: std::time::Duration,
}

/// Phase 1 for a block's transactions on all cores, signatures checked in
/// batches: the same results as [`check_tx`] on each, in order.
pub fn check_block(rules: &ChannelRules, data: &[Vec<u8>]) -> Vec<Result<CheckedTx, Rejected>> {
    check_block_timed(rules, data).0
}

/// [`check_block`], with where its time went.
pub fn check_block_timed(
    rules: &ChannelRules,
    data: &[Vec<u8>],
) -> (Vec<Result<CheckedTx, Rejected>>, Phase1Timings) {
    let started = std::time::Instant::now();
    // Small blocks stay on this thread: waking the pool costs more than
    // it saves (and its idle threads spin on a busy machine).
    let parallel = data.len() >= PARALLEL_FROM;
    let prepared: Vec<Result<Prepared, Rejected>> = if parallel {
        data.par_iter().map(|d| prepare(rules, d)).collect()
    } else {
        data.iter().map(|d| prepare(rules, d)).collect()
    };
    let prepared_at = std::time::Instant::now();
    let checks: Vec<SigCheck<'_>> = prepared
        .iter()
        .flatten()
        .flat_map(Prepared::checks)
        .collect();
    let mut verdicts = if parallel {
        signatures::verify_batched(&checks)
    } else {
        signatures::verify_batched_here(&checks)
    }
    .into_iter();
    drop(checks);
    let signed_at = std::time::Instant::now();
    // Each transaction's verdicts, in the order its checks were listed.
    let per_tx: Vec<(Result<Prepared, Rejected>, Vec<bool>)> = prepared
        .into_iter()
        .map(|p| {
            let n = p.as_ref().map_or(0, Prepared::check_count);
            let v: Vec<bool> = verdicts.by_ref().take(n).collect();
            (p, v)
        })
        .collect();
    let finish_one = |(p, v): (Result<Prepared, Rejected>, Vec<bool>)| {
        let p = p?;
        let creator_ok = v.first().copied().unwrap_or(false);
        finish(p, creator_ok, v.get(1..).unwrap_or_default())
    };
    let out = if parallel {
        per_tx.into_par_iter().map(finish_one).collect()
    } else {
        per_tx.into_iter().map(finish_one).collect()
    };
    let done = std::time::Instant::now();
    (
        out,
        Phase1Timings {
            prepare: prepared_at - started,
            signatures: signed_at - prepared_at,
            policy: done - signed_at,
        },
    )
}
