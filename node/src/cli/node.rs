//! `consort node`: run a node, and check that one serves.

use super::shutdown_signal;
use crate::init_logging;
use anyhow::Result;
use clap::Subcommand;
use consort::config::NodeConfig;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum NodeCmd {
    /// Start a node from its config file.
    Start {
        /// The node's config file (settings can be overridden by CONSORT_<FIELD> variables).
        #[arg(long, env = "CONSORT_CONFIG")]
        config: PathBuf,
    },
    /// Check that the node serves (exit 0) — for container health checks.
    Health {
        /// The node's config file.
        #[arg(long, env = "CONSORT_CONFIG")]
        config: PathBuf,
    },
}

pub(crate) async fn run(cmd: NodeCmd) -> Result<ExitCode> {
    match cmd {
        NodeCmd::Start { config } => start(&config).await,
        NodeCmd::Health { config } => health(&config).await,
    }
}

/// `consort node start`: runs the node until SIGINT or SIGTERM.
async fn start(config: &Path) -> Result<ExitCode> {
    let cfg = NodeConfig::load(config)?;
    init_logging(
        "info",
        cfg.log_format == consort::config::node::LogFormat::Json,
    );
    if let Some(spec) = consort::crashpoint::arm_from_env()? {
        tracing::warn!(crash_at = %spec.env_value(), "crash injection armed");
    }
    consort::node::run(cfg, shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// `consort node health`: prints what the node answers; an error if it does not serve.
async fn health(config: &Path) -> Result<ExitCode> {
    init_logging("error", false);
    let cfg = NodeConfig::load(config)?;
    println!("{}", consort::node::health(&cfg).await?);
    Ok(ExitCode::SUCCESS)
}
