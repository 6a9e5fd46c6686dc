//! `consort bench ceiling`: signature rates and the crypto ceiling.

use crate::init_logging;
use anyhow::Result;
use clap::Args;
use consort::bench::ceiling::{self, NetworkShape};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Args)]
pub(crate) struct CeilingArgs {
    /// Peers that validate every block.
    #[arg(long, default_value_t = 3)]
    peers: u32,
    /// Endorsements per transaction.
    #[arg(long, default_value_t = 2)]
    endorsers: u32,
    /// Seconds of measurement in all.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Also write the figures as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub(crate) async fn run(args: CeilingArgs) -> Result<ExitCode> {
    init_logging("warn", false);
    let budget = Duration::from_secs_f64(args.seconds.clamp(0.05, 600.0));
    let c = tokio::task::spawn_blocking(move || ceiling::measure(budget)).await?;
    let shape = NetworkShape {
        peers: args.peers,
        endorsers: args.endorsers,
    };
    print!("{}", ceiling::report(&c, shape));
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "rates_per_core": c,
            "shape": shape,
            "ceiling_tps_single": c.network_tps(shape, false),
            "ceiling_tps_batched": c.network_tps(shape, true),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
