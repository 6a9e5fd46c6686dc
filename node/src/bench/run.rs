//! `consort bench run` (alias `consort load`): a load of token transfers
//! through one or more gateways, to size a network.
//!
//! A run creates a fresh token and funds the accounts in parallel rounds
//! ([`funding`]), then starts [`RunSpec::concurrency`] workers, spread over
//! the clients in turn, each with one transfer in flight at a time, until
//! the [`Stop`] condition or [`RunSpec::max_duration`]. Which accounts a
//! transfer moves tokens between is planned without I/O ([`accounts`]):
//! transfers among each identity's own accounts, and a share that pays a
//! few hot accounts to produce MVCC conflicts. Each transfer is timed phase
//! by phase ([`transfer`]); the run owns the [`Tally`] of their outcomes
//! and returns its [`Report`].

pub mod accounts;
pub mod funding;
pub mod quantile;
pub mod report;
pub mod transfer;

pub use accounts::{Account, Layout, Picker, Transfer};
pub use quantile::LatencySummary;
pub use report::{CeilingFigures, PhaseLatencies, Progress, Report, Settings, Tally};
pub use transfer::{Outcome, Phase, Phases};

use crate::client::{Client, ClientError};
use chaincode_sdk::samples::token;
use chaincode_sdk::Creator;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// When the load stops sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// After this many transfers.
    Count(u64),
    /// After this long.
    Duration(Duration),
}

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    /// Token symbol created for the run (must be new).
    pub symbol: String,
    /// Cold accounts per client identity; by default two per worker of
    /// that identity, so that cold transfers never conflict.
    pub accounts: Option<usize>,
    /// Workers, each with one transfer in flight.
    pub concurrency: usize,
    /// When to stop sending.
    pub stop: Stop,
    /// Upper bound on the load's duration, whatever `stop` says.
    pub max_duration: Duration,
    /// Bytes of payload (the transfer's memo) per transfer.
    pub payload_bytes: usize,
    /// Share of transfers (0 to 1) that pay one of the hot accounts.
    pub hot_share: f64,
    /// Hot accounts.
    pub hot_accounts: usize,
}

impl Default for RunSpec {
    fn default() -> Self {
        RunSpec {
            symbol: "BENCH".into(),
            accounts: None,
            concurrency: 128,
            stop: Stop::Count(1000),
            max_duration: Duration::from_secs(120),
            payload_bytes: 0,
            hot_share: 0.0,
            hot_accounts: 4,
        }
    }
}

/// Why a [`RunSpec`] cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SpecError {
    /// No worker.
    #[error("concurrency must be at least 1")]
    Concurrency,
    /// The hot share is not a number from 0 to 1.
    #[error("the hot share must be from 0 to 1, got {0}")]
    HotShare(f64),
    /// A hot share without hot accounts.
    #[error("a hot share above 0 needs at least one hot account")]
    HotAccounts,
    /// Fewer than two accounts per identity.
    #[error("at least 2 accounts per identity are needed, got {0}")]
    Accounts(usize),
    /// Nothing to send.
    #[error("the load must send at least one transfer and last more than 0 s")]
    Empty,
}

impl RunSpec {
    /// Checks the spec.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.concurrency == 0 {
            return Err(SpecError::Concurrency);
        }
        if !(0.0..=1.0).contains(&self.hot_share) {
            return Err(SpecError::HotShare(self.hot_share));
        }
        if self.hot_share > 0.0 && self.hot_accounts == 0 {
            return Err(SpecError::HotAccounts);
        }
        if let Some(n) = self.accounts.filter(|n| *n < 2) {
            return Err(SpecError::Accounts(n));
        }
        let empty = match self.stop {
            Stop::Count(n) => n == 0,
            Stop::Duration(d) => d.is_zero(),
        };
        if empty || self.max_duration.is_zero() {
            return Err(SpecError::Empty);
        }
        Ok(())
    }
}

/// Why a run failed before its load (failures during the load are counted
/// in the [`Report`], not returned).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The spec cannot run.
    #[error("invalid run: {0}")]
    Spec(#[from] SpecError),
    /// No client was given.
    #[error("no client to run the load with")]
    NoClients,
    /// A setup step (creating the token, funding the accounts) failed.
    #[error("{step}: {source}")]
    Setup {
        /// The step.
        step: &'static str,
        /// The client's error.
        #[source]
        source: ClientError,
    },
    /// A setup transaction committed, but not `VALID`.
    #[error("{step}: transaction {tx_id} committed as {code}")]
    SetupInvalid {
        /// The step.
        step: &'static str,
        /// The transaction.
        tx_id: String,
        /// Its validation code.
        code: String,
    },
    /// A gateway's peer did not commit a funding block in time.
    #[error("the peer of gateway {gateway} did not commit block {block} within {timeout:?}")]
    Lagging {
        /// The gateway.
        gateway: String,
        /// The block.
        block: u64,
        /// How long it was given.
        timeout: Duration,
    },
}

/// The token account `client`'s identity holds (`<MSP id>:<subject>`); its
/// sub-accounts are this name, `#` and a label.
pub fn token_account(client: &Client) -> String {
    let signer = client.signer();
    token::account_of(&Creator {
        msp_id: signer.msp_id().to_owned(),
        role: String::new(),
        subject: signer.info().subject_cn.clone(),
        cert_der: Vec::new(),
        attributes: Default::default(),
    })
}

/// Runs `spec` over `clients`: creates the token, funds the accounts, then
/// runs the load, publishing its [`Progress`] on `progress` when given.
/// Transfers that fail are counted in the report, not returned as errors.
pub async fn run(
    clients: &[Client],
    spec: &RunSpec,
    progress: Option<watch::Sender<Progress>>,
) -> Result<Report, RunError> {
    spec.validate()?;
    if clients.is_empty() {
        return Err(RunError::NoClients);
    }
    let names: Vec<String> = clients.iter().map(token_account).collect();
    let workers = match spec.stop {
        Stop::Count(n) => spec
            .concurrency
            .min(usize::try_from(n).unwrap_or(usize::MAX)),
        Stop::Duration(_) => spec.concurrency,
    };
    let layout = Layout::new(&names, workers, spec.accounts);
    tracing::info!(
        identities = layout.holders.len(),
        accounts = layout.accounts,
        "funding the accounts"
    );
    funding::fund(clients, &layout, &spec.symbol, spec.concurrency).await?;
    let settings = Settings {
        gateways: clients.len(),
        identities: layout.holders.len(),
        concurrency: workers,
        accounts_per_identity: layout.accounts,
        hot_share: spec.hot_share,
        hot_accounts: spec.hot_accounts,
        payload_bytes: spec.payload_bytes,
    };
    Ok(load(clients, Arc::new(layout), spec, progress, settings).await)
}

/// What every worker shares.
struct Shared {
    layout: Arc<Layout>,
    symbol: Vec<u8>,
    memo: Vec<u8>,
    /// Transfers left to start, for [`Stop::Count`].
    tickets: Option<AtomicU64>,
    /// No transfer starts after this.
    stop_at: Instant,
}

impl Shared {
    /// Takes the right to start one more transfer.
    fn take_ticket(&self) -> bool {
        if Instant::now() >= self.stop_at {
            return false;
        }
        match &self.tickets {
            None => true,
            Some(t) => t
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok(),
        }
    }
}

/// The load itself: the workers send, this task tallies.
async fn load(
    clients: &[Client],
    layout: Arc<Layout>,
    spec: &RunSpec,
    progress: Option<watch::Sender<Progress>>,
    settings: Settings,
) -> Report {
    let started = Instant::now();
    let limit = match spec.stop {
        Stop::Duration(d) => d.min(spec.max_duration),
        Stop::Count(_) => spec.max_duration,
    };
    let shared = Arc::new(Shared {
        layout: layout.clone(),
        symbol: spec.symbol.as_bytes().to_vec(),
        memo: vec![b'x'; spec.payload_bytes],
        tickets: match spec.stop {
            Stop::Count(n) => Some(AtomicU64::new(n)),
            Stop::Duration(_) => None,
        },
        stop_at: started + limit,
    });
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut workers = tokio::task::JoinSet::new();
    for slot in &layout.workers {
        let Some(client) = clients.get(slot.client).cloned() else {
            continue;
        };
        let picker = Picker::new(*slot, layout.accounts, spec.hot_share, spec.hot_accounts);
        workers.spawn(worker(client, picker, shared.clone(), tx.clone()));
    }
    drop(tx);
    let mut tally = Tally::default();
    if let Some(p) = &progress {
        p.send_replace(tally.progress());
    }
    while let Some(outcome) = rx.recv().await {
        tally.record(outcome);
        if let Some(p) = &progress {
            p.send_replace(tally.progress());
        }
    }
    let elapsed = started.elapsed();
    while let Some(joined) = workers.join_next().await {
        if let Err(e) = joined {
            if e.is_panic() {
                std::panic::resume_unwind(e.into_panic());
            }
        }
    }
    tally.report(elapsed, settings)
}

/// One worker: a transfer at a time until the stop condition.
async fn worker(
    client: Client,
    mut picker: Picker,
    shared: Arc<Shared>,
    outcomes: mpsc::UnboundedSender<Outcome>,
) {
    while shared.take_ticket() {
        let t = picker.next_transfer();
        let args = vec![
            shared.symbol.clone(),
            shared.layout.name(t.from).into_bytes(),
            shared.layout.name(t.to).into_bytes(),
            b"1".to_vec(),
            shared.memo.clone(),
        ];
        let outcome = transfer::send(&client, &args).await;
        if outcomes.send(outcome).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_are_checked() {
        assert_eq!(RunSpec::default().validate(), Ok(()));
        let bad = [
            (
                RunSpec {
                    concurrency: 0,
                    ..Default::default()
                },
                SpecError::Concurrency,
            ),
            (
                RunSpec {
                    hot_share: 1.5,
                    ..Default::default()
                },
                SpecError::HotShare(1.5),
            ),
            (
                RunSpec {
                    hot_share: 0.5,
                    hot_accounts: 0,
                    ..Default::default()
                },
                SpecError::HotAccounts,
            ),
            (
                RunSpec {
                    accounts: Some(1),
                    ..Default::default()
                },
                SpecError::Accounts(1),
            ),
            (
                RunSpec {
                    stop: Stop::Duration(Duration::ZERO),
                    ..Default::default()
                },
                SpecError::Empty,
            ),
        ];
        for (spec, err) in bad {
            assert_eq!(spec.validate(), Err(err));
        }
        assert!(RunSpec {
            hot_share: f64::NAN,
            ..Default::default()
        }
        .validate()
        .is_err());
    }

    #[test]
    fn tickets_run_out_and_the_clock_stops_them() {
        let layout = Arc::new(Layout::new(&["A".to_string()], 1, None));
        let shared = |tickets, stop_at| Shared {
            layout: layout.clone(),
            symbol: Vec::new(),
            memo: Vec::new(),
            tickets,
            stop_at,
        };
        let later = Instant::now() + Duration::from_secs(600);
        let s = shared(Some(AtomicU64::new(2)), later);
        assert_eq!(
            (s.take_ticket(), s.take_ticket(), s.take_ticket()),
            (true, true, false)
        );
        assert!(shared(None, later).take_ticket());
        assert!(!shared(None, Instant::now()).take_ticket());
    }
}
