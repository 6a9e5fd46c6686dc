//! The `consort` binary: node, CLI and demo.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use consort::client::{Client, ClientError};
use consort::config::{ClientProfile, NetworkSpec, NodeConfig};
use consort::lifecycle::LifecycleClient;
use consort::validation::codes;
use consort_proto::{Envelope, ProposalHeader, Transaction, TxValidationCode};
use prost::Message;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "consort",
    version,
    about = "Consort: a permissioned, Raft-ordered consortium blockchain"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Certificates, keys and genesis configuration.
    #[command(subcommand)]
    Crypto(CryptoCmd),
    /// Run a node.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Start a local three-org network and run a scripted story of transactions.
    Demo {
        /// Directory for the network (replaced on every run).
        #[arg(long, default_value = "demo-data")]
        dir: PathBuf,
        /// First port; the network uses six from here.
        #[arg(long, default_value_t = 7050)]
        base_port: u16,
        /// Exit after the story (0 only if every step had its expected outcome).
        #[arg(long)]
        once: bool,
    },
    /// Endorse, order and commit a transaction.
    Invoke(CallArgs),
    /// Evaluate a query on one peer.
    Query(CallArgs),
    /// Read committed blocks.
    #[command(subcommand)]
    Block(BlockCmd),
    /// Read committed transactions.
    #[command(subcommand)]
    Tx(TxCmd),
    /// Offline ledger tools.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    /// Run a bounded load of token transfers and report throughput and latency.
    Load {
        /// Client profiles to spread the load over (each uses its own gateway).
        #[arg(long = "profile", required = true)]
        profiles: Vec<PathBuf>,
        /// Transfers to send.
        #[arg(long, default_value_t = 1000)]
        count: usize,
        /// Transfers in flight at once.
        #[arg(long, default_value_t = 32)]
        concurrency: usize,
        /// Accounts per client identity to move tokens between (fewer means
        /// more MVCC conflicts).
        #[arg(long, default_value_t = 32)]
        accounts: usize,
        /// Stop after this many seconds even if not all were sent.
        #[arg(long, default_value_t = 120)]
        max_seconds: u64,
    },
    /// Ordering service tools.
    #[command(subcommand)]
    Orderer(OrdererCmd),
    /// Show the gateway peer's height and hashes.
    Status {
        #[command(flatten)]
        conn: Conn,
    },
    /// Chaincode lifecycle (approve, commit, list, show) and serving a
    /// sample as an external chaincode service.
    #[command(subcommand)]
    Chaincode(ChaincodeCmd),
}

#[derive(Subcommand)]
enum ChaincodeCmd {
    /// Serve a sample chaincode as an external chaincode service (mutual TLS).
    Serve(ServeArgs),
    #[command(flatten)]
    Lifecycle(LifecycleCmd),
}

#[derive(Subcommand)]
enum LifecycleCmd {
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
struct DefinitionArgs {
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
    fn to_json(&self) -> Result<consort::lifecycle::DefinitionJson> {
        let external = match (&self.external_address, &self.tls_root) {
            (Some(address), Some(pem)) => Some(consort::lifecycle::definition::ExternalJson {
                address: address.clone(),
                tls_root_pem: std::fs::read_to_string(pem)
                    .with_context(|| format!("reading {}", pem.display()))?,
            }),
            _ => None,
        };
        Ok(consort::lifecycle::DefinitionJson {
            name: self.name.clone(),
            version: self.version.clone(),
            sequence: self.sequence,
            endorsement_policy: self.policy.clone(),
            external,
        })
    }
}

fn print_definition(d: &consort::lifecycle::DefinitionJson) {
    let runs = match &d.external {
        Some(e) => format!("external {}", e.address),
        None => "in process".to_string(),
    };
    println!(
        "{:<16} version {:<8} sequence {:<3} {:<12} policy {}",
        d.name, d.version, d.sequence, runs, d.endorsement_policy
    );
}

async fn run_lifecycle(cmd: LifecycleCmd) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    init_logging("warn", false);
    let (committed, what) = match cmd {
        LifecycleCmd::Approve { definition, conn } => {
            let d = definition.to_json()?;
            let client = connect(&conn).await?;
            let approved = client.approve_definition(&d).await.map_err(explain)?;
            for warning in consort::lifecycle::Approved::warnings_of(&approved.result) {
                eprintln!("warning: {warning}");
            }
            (approved, "approved")
        }
        LifecycleCmd::Commit { definition, conn } => {
            let d = definition.to_json()?;
            let client = connect(&conn).await?;
            (
                client.commit_definition(&d).await.map_err(explain)?,
                "committed",
            )
        }
        LifecycleCmd::List { conn } => {
            for d in connect(&conn).await?.definitions().await.map_err(explain)? {
                print_definition(&d);
            }
            return Ok(ExitCode::SUCCESS);
        }
        LifecycleCmd::Show { name, conn } => {
            let client = connect(&conn).await?;
            let defs = client.definitions().await.map_err(explain)?;
            let next = match defs.iter().find(|d| d.name == name) {
                Some(d) => {
                    print_definition(d);
                    d.sequence + 1
                }
                None => {
                    println!("{name}: not defined");
                    1
                }
            };
            let a = client.approvals(&name, next).await.map_err(explain)?;
            println!("approvals of sequence {next}:");
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
            return Ok(ExitCode::SUCCESS);
        }
    };
    println!(
        "tx {} committed in block {}: {}",
        committed.tx_id,
        committed.block,
        committed.code.as_str_name()
    );
    if committed.code != TxValidationCode::Valid {
        eprintln!("transaction invalid: {}", codes::describe(committed.code));
        return Ok(ExitCode::from(2));
    }
    if let Ok(d) = serde_json::from_slice::<consort::lifecycle::DefinitionJson>(&committed.result) {
        print!("{what}: ");
        print_definition(&d);
    }
    Ok(ExitCode::SUCCESS)
}

/// The samples `consort chaincode serve` can run.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Sample {
    Token,
    AssetTransfer,
    SupplyChain,
}

#[derive(Args)]
struct ServeArgs {
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

#[derive(Subcommand)]
enum CryptoCmd {
    /// Generate CAs, certificates, keys, node configs, client profiles and the genesis block.
    Generate {
        /// Network description (TOML); see `consort crypto sample-spec`.
        #[arg(long)]
        spec: Option<PathBuf>,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Do nothing when the output directory already holds a network
        /// (for one-shot init containers that run on every start).
        #[arg(long)]
        keep_existing: bool,
    },
    /// Issue a TLS server certificate for an external chaincode server from
    /// a generated org's CA: writes tls.crt, tls.key, ca.crt (the TLS root
    /// for the chaincode definition) and client-cas.crt (every org's CA).
    ChaincodeCert {
        /// The org's directory in `crypto generate` output, e.g. `crypto/orgs/Org1MSP`.
        #[arg(long)]
        org_dir: PathBuf,
        /// The host name peers dial (the host of the definition's address).
        #[arg(long)]
        host: String,
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print the three-org network description used by the demo.
    SampleSpec {
        /// First port.
        #[arg(long, default_value_t = 7050)]
        base_port: u16,
    },
}

#[derive(Subcommand)]
enum NodeCmd {
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

#[derive(Args)]
struct Conn {
    /// Client profile (identity, genesis block, gateway).
    #[arg(long, env = "CONSORT_PROFILE")]
    profile: PathBuf,
    /// Gateway host:port, overriding the profile's gateway and its fallbacks.
    #[arg(long)]
    gateway: Option<String>,
}

#[derive(Args)]
struct CallArgs {
    #[command(flatten)]
    conn: Conn,
    /// Chaincode name.
    chaincode: String,
    /// Function.
    function: String,
    /// Arguments (strings).
    args: Vec<String>,
}

#[derive(Subcommand)]
enum OrdererCmd {
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

#[derive(Subcommand)]
enum BlockCmd {
    /// Print one block with its transactions and validation codes.
    Get {
        /// Block number.
        number: u64,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand)]
enum TxCmd {
    /// Print one transaction.
    Get {
        /// Transaction ID.
        tx_id: String,
        #[command(flatten)]
        conn: Conn,
    },
}

#[derive(Subcommand)]
enum LedgerCmd {
    /// Verify a stopped peer's ledger: hash chain, signatures, validation, state.
    Verify {
        /// The peer's data directory (holding `ledger/`).
        data_dir: PathBuf,
        /// The channel's genesis block.
        #[arg(long)]
        genesis: PathBuf,
    },
}

fn init_logging(default: &str, json: bool) {
    let spec = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_string());
    // rustls logs every refused TLS alert at warn: the listener counts and
    // summarises refusals instead, so rustls is quiet unless asked for.
    let spec = if spec.contains("rustls") {
        spec
    } else {
        format!("{spec},rustls=error")
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

async fn connect(conn: &Conn) -> Result<Client> {
    let mut profile = ClientProfile::load(&conn.profile)?;
    if let Some(g) = &conn.gateway {
        profile.gateway = g.clone();
        profile.fallback_gateways.clear();
    }
    Ok(Client::connect(&profile).await?)
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn shutdown_signal() {
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

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match cli.command {
        Command::Chaincode(ChaincodeCmd::Lifecycle(cmd)) => run_lifecycle(cmd).await,
        Command::Node(NodeCmd::Health { config }) => {
            init_logging("error", false);
            let cfg = NodeConfig::load(&config)?;
            println!("{}", consort::node::health(&cfg).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Node(NodeCmd::Start { config }) => {
            let cfg = NodeConfig::load(&config)?;
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
        Command::Crypto(CryptoCmd::Generate {
            spec,
            out,
            keep_existing,
        }) => {
            init_logging("warn", false);
            if keep_existing && out.join("genesis.block").exists() {
                println!("{} already holds a network; keeping it", out.display());
                return Ok(ExitCode::SUCCESS);
            }
            let spec = match spec {
                Some(p) => NetworkSpec::load(&p)?,
                None => NetworkSpec::three_orgs(7050),
            };
            let net = consort::cryptogen::generate(&spec, &out)?;
            println!("genesis block: {}", net.genesis.display());
            for n in &net.nodes {
                println!(
                    "{:?} {:<18} {:<10} {}  config {}",
                    n.role,
                    n.name,
                    n.msp_id,
                    n.endpoint,
                    n.config.display()
                );
            }
            for u in &net.users {
                println!(
                    "{:<8} {:<8} {:<10} profile {}",
                    u.role.to_string(),
                    u.name,
                    u.msp_id,
                    u.profile.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Crypto(CryptoCmd::ChaincodeCert { org_dir, host, out }) => {
            let files = consort::cryptogen::chaincode_cert(&org_dir, &host, &out)?;
            println!("certificate:    {}", files.cert.display());
            println!("key:            {}", files.key.display());
            println!("TLS root:       {}", files.ca.display());
            println!("client CAs:     {}", files.client_cas.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Chaincode(ChaincodeCmd::Serve(args)) => {
            init_logging("info", false);
            serve_sample(args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Crypto(CryptoCmd::SampleSpec { base_port }) => {
            print!("{}", toml::to_string(&NetworkSpec::three_orgs(base_port))?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo {
            dir,
            base_port,
            once,
        } => {
            init_logging("warn", false);
            let exe = std::env::current_exe().context("locating the consort binary")?;
            println!(
                "starting a three-org network in {} (ports {}..{})",
                dir.display(),
                base_port,
                base_port + 5
            );
            let mut net = consort::demo::start_network(&dir, base_port, &exe).await?;
            println!("network ready: 3 orderers (Raft), 3 peers; node logs in {}/orgs/*/nodes/*/node.log\n", dir.display());
            let outcome = consort::demo::run_story(&net).await;
            match &outcome {
                Ok(()) => println!("\nevery step had its expected outcome"),
                Err(e) => eprintln!("\ndemo failed: {e}"),
            }
            if !once {
                println!(
                    "\nserving; gateways: {}",
                    net.nodes_of(consort::config::NodeRole::Peer)
                        .iter()
                        .map(|n| n.endpoint.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                println!("try: consort query --profile {}/orgs/Org1MSP/users/user1/client.toml token balance GOLD Org1MSP:user1@org1", dir.display());
                println!("press Ctrl-C to stop");
                shutdown_signal().await;
            }
            net.stop_all();
            Ok(if outcome.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Invoke(call) => {
            init_logging("warn", false);
            let client = connect(&call.conn).await?;
            let args: Vec<Vec<u8>> = call.args.iter().map(|a| a.as_bytes().to_vec()).collect();
            let endorsed = client
                .endorse(&call.chaincode, &call.function, &args)
                .await
                .map_err(explain)?;
            let block = client.submit_endorsed(&endorsed).await.map_err(explain)?;
            let (code, committed) = client
                .commit_status(&endorsed.tx_id, Duration::from_secs(60))
                .await
                .map_err(explain)?;
            println!(
                "tx {} ordered in block {block}, committed in block {committed}: {}",
                endorsed.tx_id,
                code.as_str_name()
            );
            if code == TxValidationCode::Valid {
                println!("{}", String::from_utf8_lossy(&endorsed.result));
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("transaction invalid: {}", codes::describe(code));
                Ok(ExitCode::from(2))
            }
        }
        Command::Query(call) => {
            init_logging("warn", false);
            let client = connect(&call.conn).await?;
            let args: Vec<Vec<u8>> = call.args.iter().map(|a| a.as_bytes().to_vec()).collect();
            let out = client
                .evaluate(&call.chaincode, &call.function, &args)
                .await
                .map_err(explain)?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(ExitCode::SUCCESS)
        }
        Command::Orderer(OrdererCmd::Status {
            orderer,
            tls_name,
            profile,
        }) => {
            init_logging("warn", false);
            let profile = ClientProfile::load(&profile)?;
            let s = consort::client::orderer_status(&profile, &orderer, tls_name.as_deref())
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
        Command::Load {
            profiles,
            count,
            concurrency,
            accounts,
            max_seconds,
        } => {
            init_logging("warn", false);
            let mut clients = Vec::new();
            for p in &profiles {
                clients.push(Client::connect(&ClientProfile::load(p)?).await?);
            }
            let symbol = format!("L{}", rand::random::<u32>() % 1_000_000);
            let spec = consort::loadgen::LoadSpec {
                symbol,
                accounts,
                count,
                concurrency,
                max_duration: Duration::from_secs(max_seconds),
            };
            let r = consort::loadgen::run(&clients, &spec)
                .await
                .map_err(explain)?;
            println!(
                "{} transfers in {:.1} s through {} gateway(s), {} in flight: {} VALID, {} MVCC_READ_CONFLICT, {} failed",
                r.sent,
                r.elapsed.as_secs_f64(),
                clients.len(),
                concurrency,
                r.valid,
                r.mvcc,
                r.failed
            );
            println!(
                "{:.0} committed tx/s; endorse-to-commit latency p50 {:?}, p99 {:?}",
                r.committed_per_sec(),
                r.latency(0.5),
                r.latency(0.99)
            );
            Ok(if r.failed == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Status { conn } => {
            init_logging("warn", false);
            let s = connect(&conn).await?.status().await.map_err(explain)?;
            println!("peer {} ({})", s.name, s.msp_id);
            println!("height      {}", s.height);
            println!("last block  {}", hex::encode(&s.last_block_hash));
            println!("state hash  {}", hex::encode(&s.state_hash));
            Ok(ExitCode::SUCCESS)
        }
        Command::Block(BlockCmd::Get { number, conn }) => {
            init_logging("warn", false);
            let client = connect(&conn).await?;
            let b = client
                .gateway()
                .get_block(consort_proto::GetBlockRequest { number })
                .await
                .map_err(|s| anyhow::anyhow!("{}", s.message()))?
                .into_inner();
            print_block(&b)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tx(TxCmd::Get { tx_id, conn }) => {
            init_logging("warn", false);
            let client = connect(&conn).await?;
            let t = client
                .gateway()
                .get_transaction(consort_proto::GetTransactionRequest { tx_id })
                .await
                .map_err(|s| anyhow::anyhow!("{}", s.message()))?
                .into_inner();
            let code = codes::from_i32(t.code);
            println!("tx        {}", t.tx_id);
            println!("block     {} (tx #{})", t.block_number, t.tx_number);
            println!(
                "code      {} ({})",
                code.as_str_name(),
                codes::describe(code)
            );
            print_envelope(&t.envelope, "          ");
            Ok(ExitCode::SUCCESS)
        }
        Command::Ledger(LedgerCmd::Verify { data_dir, genesis }) => {
            init_logging("warn", false);
            let dir = if data_dir.join("ledger").is_dir() {
                data_dir.join("ledger")
            } else {
                data_dir.clone()
            };
            if !dir.join("CURRENT").exists() {
                bail!("{} holds no ledger", data_dir.display());
            }
            let (g, config) = consort::node::load_genesis(&genesis)?;
            let msp = Arc::new(consort::identity::Msp::from_config(&config));
            let rules = consort::node::channel_rules(&config, msp)?;
            let ledger = consort::ledger::Ledger::open(&dir)?;
            match consort::ledger::verify::verify(&ledger, &g, &rules) {
                Ok(v) => {
                    println!(
                        "ledger verified: {} blocks, {} transactions ({} valid), {} state keys",
                        v.height, v.transactions, v.valid, v.keys
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("ledger does NOT verify: {e}");
                    Ok(ExitCode::from(3))
                }
            }
        }
    }
}

fn explain(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Chaincode(m) => anyhow::anyhow!("{m}"),
        other => anyhow::anyhow!(other),
    }
}

fn print_envelope(raw: &[u8], indent: &str) {
    let Ok(env) = Envelope::decode(raw) else {
        println!("{indent}(undecodable envelope, {} bytes)", raw.len());
        return;
    };
    let Ok(tx) = Transaction::decode(env.payload.as_slice()) else {
        println!("{indent}(payload is not a transaction)");
        return;
    };
    let header = ProposalHeader::decode(tx.header.as_slice()).unwrap_or_default();
    let input = consort_proto::ChaincodeInput::decode(tx.input.as_slice()).unwrap_or_default();
    let creator =
        consort_proto::SerializedIdentity::decode(header.creator.as_slice()).unwrap_or_default();
    let args: Vec<String> = input
        .args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_string())
        .collect();
    println!(
        "{indent}creator {} | {}.{}({})",
        creator.msp_id,
        header.chaincode,
        input.function,
        args.join(", ")
    );
    println!("{indent}endorsements {}", tx.endorsements.len());
}

fn print_block(b: &consort_proto::CommittedBlock) -> Result<()> {
    let block = b.block.clone().unwrap_or_default();
    let header = consort::block::decode_header(&block)?;
    println!("block     {}", header.number);
    println!(
        "hash      {}",
        hex::encode(consort::block::block_hash(&block))
    );
    println!("previous  {}", hex::encode(&header.previous_hash));
    println!("data hash {}", hex::encode(&header.data_hash));
    println!("channel   {}", header.channel_id);
    if header.number == 0 {
        println!("genesis block (channel config)");
        return Ok(());
    }
    for (i, d) in block.data.iter().enumerate() {
        let code = codes::from_i32(b.validation_codes.get(i).copied().unwrap_or(254));
        let id = Envelope::decode(d.as_slice())
            .ok()
            .and_then(|e| Transaction::decode(e.payload.as_slice()).ok())
            .and_then(|t| ProposalHeader::decode(t.header.as_slice()).ok())
            .map(|h| h.tx_id)
            .unwrap_or_else(|| "?".into());
        println!("tx {i:>3}    {id}  {}", code.as_str_name());
        print_envelope(d, "          ");
    }
    Ok(())
}
