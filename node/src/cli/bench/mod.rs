//! `consort bench`: measure a network, one peer's commit path, or this
//! machine's crypto ceiling.

pub(crate) mod ceiling;
pub(crate) mod run;
pub(crate) mod validate;

use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum BenchCmd {
    /// Drive token transfers through a network's gateways (or a demo
    /// network it starts) and report throughput, validation codes and
    /// latency per phase.
    Run(run::RunArgs),
    /// Feed signed blocks of token transfers through one peer's verify,
    /// validate and commit path into a fresh ledger; report tx/s and where
    /// the time goes.
    Validate(validate::ValidateArgs),
    /// Measure this machine's signature rates and the network's crypto ceiling.
    Ceiling(ceiling::CeilingArgs),
}

pub(crate) async fn run(cmd: BenchCmd) -> Result<ExitCode> {
    match cmd {
        BenchCmd::Run(args) => run::run(args).await,
        BenchCmd::Validate(args) => validate::run(args).await,
        BenchCmd::Ceiling(args) => ceiling::run(args).await,
    }
}
