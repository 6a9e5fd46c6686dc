//! The `consort` binary: node, CLI and demo.

mod cli;

use clap::Parser;
use cli::{Cli, Command};
use consort::operations::logspec::LogSpec;
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
/// The filter can be changed later through the returned handle (a node's
/// `/logspec`).
pub(crate) fn init_logging(default: &str, json: bool) -> LogSpec {
    use std::io::IsTerminal;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_string());
    let (filter, logspec) = consort::operations::logspec::layer(&spec, default);
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(fmt.json()).init();
    } else {
        registry.with(fmt).init();
    }
    logspec
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
        Command::Bench(cmd) => cli::bench::run(cmd).await,
        Command::Orderer(cmd) => cli::orderer::run(cmd).await,
        Command::Chaincode(cmd) => cli::chaincode::run(cmd).await,
    }
}
