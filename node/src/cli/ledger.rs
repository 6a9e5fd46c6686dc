//! `consort ledger`: offline tools for a stopped peer's ledger.

use crate::init_logging;
use anyhow::{bail, Result};
use clap::Subcommand;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Subcommand)]
pub(crate) enum LedgerCmd {
    /// Verify a stopped peer's ledger: hash chain, signatures, validation, state.
    Verify {
        /// The peer's data directory (holding `ledger/`).
        data_dir: PathBuf,
        /// The channel's genesis block.
        #[arg(long)]
        genesis: PathBuf,
    },
}

pub(crate) fn run(cmd: LedgerCmd) -> Result<ExitCode> {
    match cmd {
        LedgerCmd::Verify { data_dir, genesis } => verify(&data_dir, &genesis),
    }
}

/// `consort ledger verify`: exit 3 if the ledger does not verify.
fn verify(data_dir: &Path, genesis: &Path) -> Result<ExitCode> {
    init_logging("warn", false);
    let dir = if data_dir.join("ledger").is_dir() {
        data_dir.join("ledger")
    } else {
        data_dir.to_path_buf()
    };
    if !dir.join("CURRENT").exists() {
        bail!("{} holds no ledger", data_dir.display());
    }
    let (g, config) = consort::node::load_genesis(genesis)?;
    let msp = Arc::new(consort::identity::Msp::from_config(&config));
    let rules = consort::node::channel_rules(&config, msp)?;
    let ledger = consort::ledger::Ledger::open(&dir)?;
    match consort::ledger::verify::verify(&ledger, &g, &rules) {
        Ok(v) => {
            println!(
                "ledger verified: {} blocks, {} transactions ({} valid), {} state keys",
                v.height, v.transactions, v.valid, v.keys
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("ledger does NOT verify: {e}");
            Ok(ExitCode::from(3))
        }
    }
}
