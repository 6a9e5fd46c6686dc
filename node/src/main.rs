//! The `consort` binary: node, CLI and demo.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Sets up `tracing` on stderr: the filter from `RUST_LOG`, else `default`;
/// JSON lines when `json`. Each command calls it once, with its own default.
pub(crate) fn init_logging(default: &str, json: bool) {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_string());
    // rustls logs every refused TLS alert at warn: the listener counts and
    // summarises refusals instead, so rustls is quiet unless asked for.
    let spec = if spec.contains("rustls") {
        spec
    } else {
        format!("{spec},rustls=error")
    };
    // gossipsub warns when a peer republishes a block that reached it by
    // gossip first, which every org's puller does by design.
    let spec = if spec.contains("libp2p") {
        spec
    } else {
        format!("{spec},libp2p_gossipsub=error")
    };
    let filter = tracing_subscriber::EnvFilter::try_new(&spec)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Crypto(cmd) => cli::crypto::run(cmd),
        Command::Node(cmd) => cli::node::run(cmd).await,
        Command::Demo(args) => cli::demo::run(args).await,
        Command::Invoke(call) => cli::call::invoke(call).await,
        Command::Query(call) => cli::call::query(call).await,
        Command::Block(cmd) => cli::chain::block(cmd).await,
        Command::Tx(cmd) => cli::chain::tx(cmd).await,
        Command::Status(conn) => cli::chain::status(conn).await,
        Command::Peer(cmd) => cli::peer::run(cmd).await,
        Command::Ledger(cmd) => cli::ledger::run(cmd),
        Command::Load(args) => cli::load::run(args).await,
        Command::Orderer(cmd) => cli::orderer::run(cmd).await,
        Command::Chaincode(cmd) => cli::chaincode::run(cmd).await,
    }
}
