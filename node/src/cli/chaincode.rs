//! `consort chaincode`: the chaincode lifecycle (approve, commit, list, show) and serving a sample as an external chaincode service.

use super::{connect, explain, shutdown_signal, Conn};
use crate::init_logging;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use consort::client::{Client, Committed};
use consort::lifecycle::{Approvals, DefinitionJson, LifecycleClient};
use consort::validation::codes;
use consort_proto::TxValidationCode;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum ChaincodeCmd {
    /// Serve a sample chaincode as an external chaincode service (mutual TLS).
    Serve(ServeArgs),
    #[command(flatten)]
    Lifecycle(LifecycleCmd),
}

#[derive(Subcommand)]
pub(crate) enum LifecycleCmd {
    /// Approve a chaincode definition for your org (with an org admin's profile).
    Approve {
        #[command(flatten)]
        definition: DefinitionArgs,
        #[command(flatten)]
        conn: Conn,
    },
    /// Commit a definition that enough orgs approved; it is in force on every
    /// peer once the block commits.
    Commit {
        #[command(flatten)]
        definition: DefinitionArgs,
        #[command(flatten)]
        conn: Conn,
    },
    /// List the chaincode definitions in force.
    List {
        #[command(flatten)]
        conn: Conn,
    },
    /// Show a chaincode's definition and each org's approval of its next sequence.
    Show {
        /// Chaincode name.
        #[arg(long)]
        name: String,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Args)]
pub(crate) struct DefinitionArgs {
    /// Chaincode name.
    #[arg(long)]
    name: String,
    /// Version label.
    #[arg(long)]
    version: String,
    /// 1 for a new chaincode, the committed sequence + 1 for an upgrade.
    #[arg(long)]
    sequence: u64,
    /// Endorsement policy, e.g. "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".
    #[arg(long)]
    policy: String,
    /// host:port of an external chaincode service (absent: in process).
    #[arg(long, requires = "tls_root")]
    external_address: Option<String>,
    /// PEM file of the CA the external service's TLS certificate chains to.
    #[arg(long, requires = "external_address")]
    tls_root: Option<PathBuf>,
}

impl DefinitionArgs {
    fn to_json(&self) -> Result<DefinitionJson> {
        let external = match (&self.external_address, &self.tls_root) {
            (Some(address), Some(pem)) => Some(consort::lifecycle::definition::ExternalJson {
                address: address.clone(),
                tls_root_pem: std::fs::read_to_string(pem)
                    .with_context(|| format!("reading {}", pem.display()))?,
            }),
            _ => None,
        };
        Ok(DefinitionJson {
            name: self.name.clone(),
            version: self.version.clone(),
            sequence: self.sequence,
            endorsement_policy: self.policy.clone(),
            external,
        })
    }
}

/// The samples `consort chaincode serve` can run.
#[derive(Clone, Copy, clap::ValueEnum)]
pub(crate) enum Sample {
    Token,
    AssetTransfer,
    SupplyChain,
}

#[derive(Args)]
pub(crate) struct ServeArgs {
    /// The sample chaincode to serve.
    #[arg(long)]
    sample: Sample,
    /// Address to listen on (host:port).
    #[arg(long, env = "CHAINCODE_LISTEN")]
    listen: String,
    /// The server's TLS certificate (PEM); see `consort crypto chaincode-cert`.
    #[arg(long, env = "CHAINCODE_TLS_CERT")]
    cert: PathBuf,
    /// The server's TLS private key (PKCS#8 PEM).
    #[arg(long, env = "CHAINCODE_TLS_KEY")]
    key: PathBuf,
    /// CA certificates of the orgs whose peers may connect (PEM; repeat or
    /// give a file holding several).
    #[arg(
        long = "client-ca",
        env = "CHAINCODE_CLIENT_CA_CERTS",
        value_delimiter = ':',
        required = true
    )]
    client_cas: Vec<PathBuf>,
}

pub(crate) async fn run(cmd: ChaincodeCmd) -> Result<ExitCode> {
    match cmd {
        ChaincodeCmd::Lifecycle(cmd) => run_lifecycle(cmd).await,
        ChaincodeCmd::Serve(args) => {
            init_logging("info", false);
            serve_sample(args).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_lifecycle(cmd: LifecycleCmd) -> Result<ExitCode> {
    init_logging("warn", false);
    match cmd {
        LifecycleCmd::Approve { definition, conn } => approve(&definition, &conn).await,
        LifecycleCmd::Commit { definition, conn } => commit(&definition, &conn).await,
        LifecycleCmd::List { conn } => list(&conn).await,
        LifecycleCmd::Show { name, conn } => show(&name, &conn).await,
    }
}

/// `consort chaincode approve`.
async fn approve(definition: &DefinitionArgs, conn: &Conn) -> Result<ExitCode> {
    let d = definition.to_json()?;
    let client = connect(conn).await?;
    let approved = client.approve_definition(&d).await.map_err(explain)?;
    for warning in consort::lifecycle::Approved::warnings_of(&approved.result) {
        eprintln!("warning: {warning}");
    }
    Ok(report_committed(&approved, "approved"))
}

/// `consort chaincode commit`.
async fn commit(definition: &DefinitionArgs, conn: &Conn) -> Result<ExitCode> {
    let d = definition.to_json()?;
    let client = connect(conn).await?;
    let committed = client.commit_definition(&d).await.map_err(explain)?;
    Ok(report_committed(&committed, "committed"))
}

/// Prints how a lifecycle transaction committed and the definition it
/// returned (as `what`); exit 2 if it committed invalid.
fn report_committed(committed: &Committed, what: &str) -> ExitCode {
    println!(
        "tx {} committed in block {}: {}",
        committed.tx_id,
        committed.block,
        committed.code.as_str_name()
    );
    if committed.code != TxValidationCode::Valid {
        eprintln!("transaction invalid: {}", codes::describe(committed.code));
        return ExitCode::from(2);
    }
    if let Ok(d) = serde_json::from_slice::<DefinitionJson>(&committed.result) {
        print!("{what}: ");
        print_definition(&d);
    }
    ExitCode::SUCCESS
}

/// `consort chaincode list`.
async fn list(conn: &Conn) -> Result<ExitCode> {
    for d in connect(conn).await?.definitions().await.map_err(explain)? {
        print_definition(&d);
    }
    Ok(ExitCode::SUCCESS)
}

/// `consort chaincode show`: the definition in force (if any) and the
/// approvals of the sequence after it.
async fn show(name: &str, conn: &Conn) -> Result<ExitCode> {
    let client = connect(conn).await?;
    let next = print_current(&client, name).await?;
    let a = client.approvals(name, next).await.map_err(explain)?;
    print_approvals(&a, next);
    Ok(ExitCode::SUCCESS)
}

/// Prints `name`'s definition in force and returns the sequence that comes next.
async fn print_current(client: &Client, name: &str) -> Result<u64> {
    let defs = client.definitions().await.map_err(explain)?;
    Ok(match defs.iter().find(|d| d.name == name) {
        Some(d) => {
            print_definition(d);
            d.sequence + 1
        }
        None => {
            println!("{name}: not defined");
            1
        }
    })
}

fn print_approvals(a: &Approvals, sequence: u64) {
    println!("approvals of sequence {sequence}:");
    for (org, approved) in &a.approvals {
        match approved {
            Some(d) => println!(
                "  {org:<10} approved version {} policy {}{}",
                d.version,
                d.endorsement_policy,
                d.external
                    .as_ref()
                    .map(|e| format!(" external {}", e.address))
                    .unwrap_or_default()
            ),
            None => println!("  {org:<10} not approved"),
        }
    }
}

fn print_definition(d: &DefinitionJson) {
    let runs = match &d.external {
        Some(e) => format!("external {}", e.address),
        None => "in process".to_string(),
    };
    println!(
        "{:<16} version {:<8} sequence {:<3} {:<12} policy {}",
        d.name, d.version, d.sequence, runs, d.endorsement_policy
    );
}

/// `consort chaincode serve`: one sample chaincode as an external service,
/// until SIGINT or SIGTERM.
async fn serve_sample(args: ServeArgs) -> Result<()> {
    use chaincode_sdk::samples::{
        asset_transfer::AssetTransfer, supply_chain::SupplyChain, token::Token,
    };
    let name = match args.sample {
        Sample::Token => "token",
        Sample::AssetTransfer => "asset-transfer",
        Sample::SupplyChain => "supply-chain",
    };
    let config = chaincode_sdk::ServeConfig::from_files(
        &args.listen,
        &args.cert,
        &args.key,
        &args.client_cas,
    )?
    .with_name(name);
    let stop = shutdown_signal();
    match args.sample {
        Sample::Token => chaincode_sdk::serve_with_shutdown(Token, config, stop).await?,
        Sample::AssetTransfer => {
            chaincode_sdk::serve_with_shutdown(AssetTransfer, config, stop).await?
        }
        Sample::SupplyChain => {
            chaincode_sdk::serve_with_shutdown(SupplyChain, config, stop).await?
        }
    }
    Ok(())
}
