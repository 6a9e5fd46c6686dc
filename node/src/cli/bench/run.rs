//! `consort load`: a bounded load of token transfers, reported as throughput and latency.

use super::explain;
use crate::init_logging;
use anyhow::Result;
use clap::Args;
use consort::client::Client;
use consort::config::ClientProfile;
use consort::loadgen::{LoadReport, LoadSpec};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub(crate) struct LoadArgs {
    /// Client profiles to spread the load over (each uses its own gateway).
    #[arg(long = "profile", required = true)]
    profiles: Vec<PathBuf>,
    /// Transfers to send.
    #[arg(long, default_value_t = 1000)]
    count: usize,
    /// Transfers in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Accounts per client identity to move tokens between (fewer means
    /// more MVCC conflicts).
    #[arg(long, default_value_t = 32)]
    accounts: usize,
    /// Stop after this many seconds even if not all were sent.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
}

/// Runs the load; exit 1 if any transfer failed.
pub(crate) async fn run(args: LoadArgs) -> Result<ExitCode> {
    init_logging("warn", false);
    let mut clients = Vec::new();
    for p in &args.profiles {
        clients.push(Client::connect(&ClientProfile::load(p)?).await?);
    }
    let symbol = format!("L{}", rand::random::<u32>() % 1_000_000);
    let spec = LoadSpec {
        symbol,
        accounts: args.accounts,
        count: args.count,
        concurrency: args.concurrency,
        max_duration: Duration::from_secs(args.max_seconds),
    };
    let r = consort::loadgen::run(&clients, &spec)
        .await
        .map_err(explain)?;
    print_report(&r, clients.len(), args.concurrency);
    Ok(if r.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn print_report(r: &LoadReport, gateways: usize, concurrency: usize) {
    println!(
        "{} transfers in {:.1} s through {} gateway(s), {} in flight: {} VALID, {} MVCC_READ_CONFLICT, {} failed",
        r.sent,
        r.elapsed.as_secs_f64(),
        gateways,
        concurrency,
        r.valid,
        r.mvcc,
        r.failed
    );
    println!(
        "{:.0} committed tx/s; endorse-to-commit latency p50 {:?}, p99 {:?}",
        r.committed_per_sec(),
        r.latency(0.5),
        r.latency(0.99)
    );
}
