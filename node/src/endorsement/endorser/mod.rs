//! The endorser: checks a signed proposal, simulates it, signs the result.

mod check;
mod error;
#[cfg(test)]
mod tests;

pub use check::{check_proposal, CheckedProposal};
pub use error::EndorseError;

use crate::chaincode_host::{ChaincodeHost, HostError};
use crate::endorsement::callees::Callees;
use crate::endorsement::simulator::{Invocation, PeerState, SimulationResults, Simulator};
use crate::identity::SigningIdentity;
use crate::ledger::Ledger;
use crate::lifecycle::{DefinitionSet, Definitions};
use crate::operations::metrics;
use crate::validation;
use consort_proto::{
    ChaincodeDefinition, Endorsement, ProposalResponse, ProposalResponsePayload, Response,
    SignedProposal,
};
use prost::Message;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
        metrics::proposal_received();
        let started = Instant::now();
        let result = self.process_checked(signed).await;
        let endorsed = matches!(&result, Ok(r) if r.endorsement.is_some());
        metrics::proposal_done(endorsed, started.elapsed());
        result
    }

    /// [`process`](Self::process) without its metrics.
    async fn process_checked(
        &self,
        signed: &SignedProposal,
    ) -> Result<ProposalResponse, EndorseError> {
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
        let ran = Instant::now();
        let executed = runtime.execute(sim, self.timeout).await;
        metrics::chaincode_executed(
            &checked.header.chaincode,
            matches!(&executed, Ok((_, Ok(_)))),
            ran.elapsed(),
        );
        let (sim, result) = match executed {
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
