//! `consort load`: a bounded load of token transfers through one or more
//! gateways, reporting throughput and latency. Stops after `count`
//! transactions or `max_duration`, whichever comes first.

use crate::client::{args, Client, ClientError};
use chaincode_sdk::samples::token;
use chaincode_sdk::Creator;
use consort_proto::TxValidationCode as Code;
use futures::stream::{self, StreamExt};
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct LoadSpec {
    /// Token symbol created for the run (must be new).
    pub symbol: String,
    /// Accounts per client identity the transfers move between, in
    /// disjoint pairs; conflicts appear only when more transfers are in
    /// flight than there are pairs.
    pub accounts: usize,
    /// Transfers to send.
    pub count: usize,
    /// Transfers in flight at once.
    pub concurrency: usize,
    /// Upper bound on the run's duration.
    pub max_duration: Duration,
}

/// What happened.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    /// Transfers sent.
    pub sent: usize,
    /// Committed VALID.
    pub valid: usize,
    /// Committed MVCC_READ_CONFLICT (expected under contention).
    pub mvcc: usize,
    /// Committed with another code, or failed before commit.
    pub failed: usize,
    /// Wall time of the transfer phase.
    pub elapsed: Duration,
    /// Endorse-to-commit latencies, sorted.
    pub latencies: Vec<Duration>,
}

impl LoadReport {
    /// Committed transactions (any code) per second.
    pub fn committed_per_sec(&self) -> f64 {
        (self.valid + self.mvcc) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..=1).
    pub fn latency(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
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

/// The `i`th load account of `client`: one of its sub-accounts.
fn load_account(client: &Client, i: usize) -> String {
    format!("{}#load{i}", token_account(client))
}

/// Creates the token, funds the accounts, then runs the transfers.
pub async fn run(clients: &[Client], spec: &LoadSpec) -> Result<LoadReport, ClientError> {
    let Some(first) = clients.first() else {
        return Ok(LoadReport::default());
    };
    let accounts = spec.accounts.max(2);
    let per = 1_000_000u64;
    // Each client moves tokens between its own sub-accounts: only an
    // account's holder may transfer from it.
    let mut holders: Vec<&Client> = Vec::new();
    for c in clients {
        if !holders.iter().any(|h| token_account(h) == token_account(c)) {
            holders.push(c);
        }
    }
    let supply = (per * (accounts * holders.len()) as u64).to_string();
    first
        .invoke("token", "create", &args(&[&spec.symbol, &supply]))
        .await?;
    for holder in &holders {
        for i in 0..accounts {
            first
                .invoke(
                    "token",
                    "issue",
                    &args(&[
                        &spec.symbol,
                        &load_account(holder, i),
                        &per.to_string(),
                        "load",
                    ]),
                )
                .await?;
        }
    }
    let started = Instant::now();
    let deadline = started + spec.max_duration;
    let results: Vec<Result<(Code, Duration), ClientError>> = stream::iter(0..spec.count)
        .take_while(|_| async move { Instant::now() < deadline })
        .map(|i| {
            let c = clients[i % clients.len()].clone();
            // The client's own disjoint pairs, direction alternating by
            // round: its transfers in flight touch different accounts while
            // it has at most accounts / 2 in flight.
            let j = i / clients.len();
            let pairs = accounts / 2;
            let (a, b) = (2 * (j % pairs), 2 * (j % pairs) + 1);
            let (from, to) = if (j / pairs).is_multiple_of(2) {
                (a, b)
            } else {
                (b, a)
            };
            let symbol = spec.symbol.clone();
            async move {
                let t = Instant::now();
                let a = args(&[
                    &symbol,
                    &load_account(&c, from),
                    &load_account(&c, to),
                    "1",
                    "load",
                ]);
                let e = c.endorse("token", "transfer", &a).await?;
                c.submit_endorsed(&e).await?;
                let (code, _) = c.commit_status(&e.tx_id, Duration::from_secs(60)).await?;
                Ok((code, t.elapsed()))
            }
        })
        .buffer_unordered(spec.concurrency.max(1))
        .collect()
        .await;
    let mut report = LoadReport {
        sent: results.len(),
        elapsed: started.elapsed(),
        ..Default::default()
    };
    for r in results {
        match r {
            Ok((Code::Valid, d)) => {
                report.valid += 1;
                report.latencies.push(d);
            }
            Ok((Code::MvccReadConflict, d)) => {
                report.mvcc += 1;
                report.latencies.push(d);
            }
            _ => report.failed += 1,
        }
    }
    report.latencies.sort();
    Ok(report)
}
