//! `consort peer list`: the channel's peers as one peer sees them through gossip.

use super::{connect, Conn};
use crate::init_logging;
use anyhow::Result;
use clap::Subcommand;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum PeerCmd {
    /// List the channel's peers as the gateway peer sees them: org,
    /// endpoint, height, alive, and which pull from the orderers.
    List {
        #[command(flatten)]
        conn: Conn,
    },
}

pub(crate) async fn run(cmd: PeerCmd) -> Result<ExitCode> {
    match cmd {
        PeerCmd::List { conn } => list(&conn).await,
    }
}

async fn list(conn: &Conn) -> Result<ExitCode> {
    init_logging("warn", false);
    let client = connect(conn).await?;
    let r = client
        .gateway()
        .peers(consort_proto::PeersRequest {})
        .await
        .map_err(|s| anyhow::anyhow!("{}", s.message()))?
        .into_inner();
    if !r.gossip_enabled {
        println!("gossip is off on this peer: it pulls every block from the orderers");
    }
    println!(
        "{:<2} {:<14} {:<10} {:<22} {:>7} {:<6} {:<6} {:>9}",
        "", "NAME", "ORG", "ENDPOINT", "HEIGHT", "ALIVE", "PULLS", "SEEN"
    );
    for p in &r.peers {
        let seen = if p.is_self {
            "self".to_string()
        } else if p.alive || p.last_seen_ms > 0 {
            format!("{:.1}s ago", p.last_seen_ms as f64 / 1000.0)
        } else {
            "never".to_string()
        };
        println!(
            "{:<2} {:<14} {:<10} {:<22} {:>7} {:<6} {:<6} {:>9}",
            if p.is_self { "*" } else { "" },
            if p.name.is_empty() { "?" } else { &p.name },
            p.msp_id,
            p.endpoint,
            p.height,
            if p.alive { "yes" } else { "no" },
            if p.pulls_from_orderers { "yes" } else { "no" },
            seen
        );
    }
    Ok(ExitCode::SUCCESS)
}
