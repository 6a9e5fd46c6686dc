//! `consort demo`: a local three-org network and a scripted story of transactions.

use super::shutdown_signal;
use crate::init_logging;
use anyhow::{Context, Result};
use clap::Args;
use consort::config::NodeRole;
use consort::localnet::LocalNet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Directory for the network (replaced on every run).
    #[arg(long, default_value = "demo-data")]
    dir: PathBuf,
    /// First port; the network's gRPC listeners use nine from here, and
    /// its peers gossip on their port + 100.
    #[arg(long, default_value_t = 7050)]
    base_port: u16,
    /// Exit after the story (0 only if every step had its expected outcome).
    #[arg(long)]
    once: bool,
}

pub(crate) async fn run(args: DemoArgs) -> Result<ExitCode> {
    let DemoArgs {
        dir,
        base_port,
        once,
    } = args;
    init_logging("warn", false);
    let exe = std::env::current_exe().context("locating the consort binary")?;
    println!(
        "starting a three-org network in {} (ports {}..{}, gossip {}..{})",
        dir.display(),
        base_port,
        base_port + 8,
        base_port + 101,
        base_port + 108
    );
    let mut net = consort::demo::start_network(&dir, base_port, &exe).await?;
    println!(
        "network ready: 3 orderers (Raft), 6 peers (2 per org, gossiping blocks); node logs in {}/orgs/*/nodes/*/node.log\n",
        dir.display()
    );
    let outcome = consort::demo::run_story(&net).await;
    match &outcome {
        Ok(()) => println!("\nevery step had its expected outcome"),
        Err(e) => eprintln!("\ndemo failed: {e}"),
    }
    if !once {
        serve_until_stopped(&net, &dir).await;
    }
    net.stop_all();
    Ok(if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Leaves the network running, says how to reach it, and waits for SIGINT or SIGTERM.
async fn serve_until_stopped(net: &LocalNet, dir: &Path) {
    println!(
        "\nserving; gateways: {}",
        net.nodes_of(NodeRole::Peer)
            .iter()
            .map(|n| n.endpoint.clone())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let ops: Vec<String> = net
        .nodes()
        .iter()
        .filter_map(|n| {
            n.operations
                .as_ref()
                .map(|o| format!("{} http://{o}", n.name))
        })
        .collect();
    if !ops.is_empty() {
        println!(
            "operations (/healthz, /metrics; /explorer on peers): {}",
            ops.join(", ")
        );
    }
    println!("try: consort query --profile {}/orgs/Org1MSP/users/user1/client.toml token balance GOLD Org1MSP:user1@org1", dir.display());
    println!("press Ctrl-C to stop");
    shutdown_signal().await;
}
