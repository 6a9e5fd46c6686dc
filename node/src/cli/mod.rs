//! The `consort` command line: the top-level clap definitions and what the command groups share.

pub(crate) mod bench;
pub(crate) mod call;
pub(crate) mod chain;
pub(crate) mod chaincode;
pub(crate) mod crypto;
pub(crate) mod demo;
pub(crate) mod ledger;
pub(crate) mod node;
pub(crate) mod orderer;
pub(crate) mod peer;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use consort::client::{Client, ClientError};
use consort::config::ClientProfile;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "consort",
    version,
    about = "Consort: a permissioned, Raft-ordered consortium blockchain"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Certificates, keys and genesis configuration.
    #[command(subcommand)]
    Crypto(crypto::CryptoCmd),
    /// Run a node.
    #[command(subcommand)]
    Node(node::NodeCmd),
    /// Start a local three-org network and run a scripted story of transactions.
    Demo(demo::DemoArgs),
    /// Endorse, order and commit a transaction.
    Invoke(call::CallArgs),
    /// Evaluate a query on one peer.
    Query(call::CallArgs),
    /// Read committed blocks.
    #[command(subcommand)]
    Block(chain::BlockCmd),
    /// Read committed transactions.
    #[command(subcommand)]
    Tx(chain::TxCmd),
    /// Offline ledger tools.
    #[command(subcommand)]
    Ledger(ledger::LedgerCmd),
    /// Benchmarks: a network's throughput, one peer's commit path, the
    /// machine's crypto ceiling.
    #[command(subcommand)]
    Bench(bench::BenchCmd),
    /// Alias of `consort bench run`: token transfers through a network's
    /// gateways, with throughput and latency.
    Load(bench::run::RunArgs),
    /// Ordering service tools.
    #[command(subcommand)]
    Orderer(orderer::OrdererCmd),
    /// Show the gateway peer's height and hashes.
    Status(Conn),
    /// The channel's peers as one peer sees them (gossip membership).
    #[command(subcommand)]
    Peer(peer::PeerCmd),
    /// Chaincode lifecycle (approve, commit, list, show) and serving a
    /// sample as an external chaincode service.
    #[command(subcommand)]
    Chaincode(chaincode::ChaincodeCmd),
}

// How a command reaches the network: a client profile and, optionally, the
// gateway to use instead of the profile's.
#[derive(Args)]
pub(crate) struct Conn {
    /// Client profile (identity, genesis block, gateway).
    #[arg(long, env = "CONSORT_PROFILE")]
    profile: PathBuf,
    /// Gateway host:port, overriding the profile's gateway and its fallbacks.
    #[arg(long)]
    gateway: Option<String>,
}

/// Connects to the gateway `conn` names.
pub(crate) async fn connect(conn: &Conn) -> Result<Client> {
    let mut profile = ClientProfile::load(&conn.profile)?;
    if let Some(g) = &conn.gateway {
        profile.gateway = g.clone();
        profile.fallback_gateways.clear();
    }
    Ok(Client::connect(&profile).await?)
}

/// A client error as the user sees it: a chaincode's own message as is.
pub(crate) fn explain(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Chaincode(m) => anyhow::anyhow!("{m}"),
        other => anyhow::anyhow!(other),
    }
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = ctrl_c.await;
            return;
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
