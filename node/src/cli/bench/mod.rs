//! `consort bench`: measurements operators use to size a network.

pub(crate) mod run;

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum BenchCmd {
    /// Drive token transfers through a network's gateways (or a demo
    /// network it starts) and report throughput, validation codes and
    /// latency per phase.
    Run(run::RunArgs),
}

pub(crate) async fn run(cmd: BenchCmd) -> Result<ExitCode> {
    match cmd {
        BenchCmd::Run(args) => run::run(args).await,
    }
}
