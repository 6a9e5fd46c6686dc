//! One transfer of the load, timed phase by phase, as
//! [`Client::submit_and_wait`](crate::client::Client::submit_and_wait)
//! runs it:
//!
//! - **endorse**: build and sign the proposal, the gateway's `Endorse`
//!   (every endorsing peer runs the chaincode);
//! - **submit → ordered**: sign the envelope and the gateway's `Submit`,
//!   which answers once the ordering service acknowledged the Broadcast
//!   (the block holding it is committed by Raft); a submission the node
//!   says may be resent is resent, the same envelope, within this phase;
//! - **ordered → committed**: `CommitStatus`, until the gateway's peer has
//!   validated and committed the block.

use crate::client::{Client, ClientError, Retry};
use consort_proto::TxValidationCode as Code;
use std::fmt;
use std::time::{Duration, Instant};

/// How many times a submission the node says may be resent is sent.
const SUBMIT_ATTEMPTS: u32 = 4;
/// How long the commit status may take.
const COMMIT_WAIT: Duration = Duration::from_secs(60);

/// Where a transfer that never committed failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Building, signing or endorsing the proposal.
    Endorse,
    /// Signing or submitting the transaction.
    Submit,
    /// Waiting for the commit status.
    Commit,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Endorse => "endorse",
            Phase::Submit => "submit",
            Phase::Commit => "commit status",
        })
    }
}

/// How long each phase of a committed transfer took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Phases {
    /// Proposal built, signed and endorsed.
    pub endorse: Duration,
    /// Envelope signed, submitted, and acknowledged as ordered.
    pub ordered: Duration,
    /// From ordered until the commit status arrived.
    pub committed: Duration,
}

impl Phases {
    /// From the proposal's start to the commit status.
    pub fn end_to_end(&self) -> Duration {
        self.endorse + self.ordered + self.committed
    }
}

/// How one transfer ended.
#[derive(Debug)]
pub enum Outcome {
    /// Ordered and committed, with this validation code.
    Committed {
        /// The validation code.
        code: Code,
        /// The phases' durations.
        phases: Phases,
    },
    /// Failed before it committed.
    Failed {
        /// Where.
        phase: Phase,
        /// Why.
        error: ClientError,
    },
}

/// Sends `token transfer args` through `client`, timing each phase.
pub async fn send(client: &Client, args: &[Vec<u8>]) -> Outcome {
    let failed = |phase| move |error| Outcome::Failed { phase, error };
    let start = Instant::now();
    let endorsed = match client.endorse("token", "transfer", args).await {
        Ok(e) => e,
        Err(e) => return failed(Phase::Endorse)(e),
    };
    let endorsed_at = Instant::now();
    let envelope = match client.envelope(&endorsed) {
        Ok(e) => e,
        Err(e) => return failed(Phase::Submit)(e),
    };
    let mut attempt = 0;
    loop {
        attempt += 1;
        match client.submit_envelope(envelope.clone()).await {
            Ok(_) => break,
            Err(e) if e.retry() == Retry::Resend && attempt < SUBMIT_ATTEMPTS => {
                tracing::debug!(tx_id = %endorsed.tx_id, attempt, error = %e, "resending");
                tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
            }
            Err(e) => return failed(Phase::Submit)(e),
        }
    }
    let ordered_at = Instant::now();
    let code = match client.commit_status(&endorsed.tx_id, COMMIT_WAIT).await {
        Ok((code, _block)) => code,
        Err(e) => return failed(Phase::Commit)(e),
    };
    let committed_at = Instant::now();
    Outcome::Committed {
        code,
        phases: Phases {
            endorse: endorsed_at - start,
            ordered: ordered_at - endorsed_at,
            committed: committed_at - ordered_at,
        },
    }
}
