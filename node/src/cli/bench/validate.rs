//! `consort bench validate`: one peer's commit path on blocks made offline.

use crate::init_logging;
use anyhow::Result;
use clap::Args;
use consort::bench::validate::{self, ValidateSpec};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct ValidateArgs {
    /// Blocks to commit.
    #[arg(long, default_value_t = 40)]
    blocks: u64,
    /// Transactions per block (each a 2-of-3 endorsed token transfer).
    #[arg(long, default_value_t = 500)]
    txs_per_block: usize,
    /// Bytes of payload in each value written (two per transaction).
    #[arg(long, default_value_t = 32)]
    payload_bytes: usize,
    /// Directory for the ledger (a fresh subdirectory, removed at the end);
    /// default the system's temporary directory. Use a directory on the
    /// disk peers use: the fsync is part of the measurement.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Validate and commit one block at a time, without running phase 1 of
    /// the next block during a commit.
    #[arg(long)]
    serial: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub(crate) async fn run(args: ValidateArgs) -> Result<ExitCode> {
    init_logging("warn", false);
    let spec = ValidateSpec {
        blocks: args.blocks,
        txs_per_block: args.txs_per_block,
        payload_bytes: args.payload_bytes,
        dir: args.dir,
        pipeline: !args.serial,
    };
    let report = tokio::task::spawn_blocking(move || validate::run(&spec)).await??;
    print!("{}", report.render());
    if let Some(path) = &args.json {
        let t = &report.timings;
        let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
        let json = serde_json::json!({
            "tps": report.tps(),
            "report": report,
            "split_ms": {
                "block_checks": ms(t.block_checks),
                "prepare": ms(t.prepare),
                "signatures": ms(t.signatures),
                "policy": ms(t.policy),
                "mvcc": ms(t.mvcc),
                "write_batch": ms(t.write_batch),
                "write_sync": ms(t.write_sync),
            },
        });
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)?;
    }
    Ok(ExitCode::SUCCESS)
}
