//! `consort orderer`: ordering service tools.

use super::explain;
use crate::init_logging;
use anyhow::Result;
use clap::Subcommand;
use consort::config::ClientProfile;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum OrdererCmd {
    /// Show an orderer's Raft view (its ID, the leader, the term) and chain height.
    Status {
        /// The orderer, host:port.
        #[arg(long)]
        orderer: String,
        /// TLS server name to expect, when it differs from the orderer's host.
        #[arg(long)]
        tls_name: Option<String>,
        /// Client profile (identity and genesis block).
        #[arg(long, env = "CONSORT_PROFILE")]
        profile: PathBuf,
    },
}

pub(crate) async fn run(cmd: OrdererCmd) -> Result<ExitCode> {
    match cmd {
        OrdererCmd::Status {
            orderer,
            tls_name,
            profile,
        } => status(&orderer, tls_name.as_deref(), &profile).await,
    }
}

/// `consort orderer status`.
async fn status(orderer: &str, tls_name: Option<&str>, profile: &Path) -> Result<ExitCode> {
    init_logging("warn", false);
    let profile = ClientProfile::load(profile)?;
    let s = consort::client::orderer_status(&profile, orderer, tls_name)
        .await
        .map_err(explain)?;
    let leader = if s.leader == 0 {
        "none".to_string()
    } else {
        s.leader.to_string()
    };
    println!("orderer     {}", s.id);
    println!("leader      {leader}");
    println!("term        {}", s.term);
    println!("height      {}", s.height);
    println!("last block  {}", hex::encode(&s.last_block_hash));
    Ok(ExitCode::SUCCESS)
}
