//! `consort bench run` (alias `consort load`): token transfers through a
//! network's gateways, or through a demo network it starts and stops
//! itself; prints throughput, validation codes, latency per phase and the
//! run against the machine's crypto ceiling.

use crate::cli::{explain, shutdown_signal};
use crate::init_logging;
use anyhow::{anyhow, Context, Result};
use clap::Args;
use consort::bench::ceiling::{self, Ceiling, NetworkShape};
use consort::bench::run::{CeilingFigures, Progress, Report, RunSpec, Stop};
use consort::client::Client;
use consort::config::{ClientProfile, NodeRole};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The demo network's first port: clear of `consort demo`'s 7050.
const DEMO_BASE_PORT: u16 = 17050;

#[derive(Args)]
pub(crate) struct RunArgs {
    /// Client profiles to spread the load over (each uses its own gateway).
    #[arg(
        long = "profile",
        required_unless_present = "demo",
        conflicts_with = "demo"
    )]
    profiles: Vec<PathBuf>,
    /// Start a fresh three-org network (three orderers, one peer per org)
    /// in a temporary directory, load it through each org's user1, stop it.
    #[arg(long)]
    demo: bool,
    /// With --demo: the network's first port; it uses six from here, and
    /// the same + 100 (gossip) and + 1000 (operations) [default: 17050].
    // Without --demo a profile is required, so conflicting with the
    // profiles means "only with --demo" (clap's `requires` does not check
    // a flag, which is always present with its default).
    #[arg(long, conflicts_with = "profiles")]
    base_port: Option<u16>,
    /// Concurrent clients, each with one transfer in flight.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Accounts per client identity [default: two per concurrent client of
    /// the identity, so that transfers outside the hot accounts never
    /// conflict].
    #[arg(long)]
    accounts: Option<usize>,
    /// Send transfers for this many seconds.
    #[arg(long, value_name = "SECONDS", conflicts_with = "count")]
    duration: Option<u64>,
    /// Send this many transfers [default: 1000, without --duration].
    #[arg(long)]
    count: Option<u64>,
    /// Stop sending after this many seconds, whatever --duration or
    /// --count say.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Bytes of payload (the transfer's memo) added to each transfer.
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    /// Share of transfers (0 to 1) that pay one of the hot accounts,
    /// producing MVCC conflicts.
    #[arg(long, default_value_t = 0.0, value_parser = share)]
    hot_share: f64,
    /// Hot accounts.
    #[arg(long, default_value_t = 4)]
    hot_accounts: usize,
    /// Endorsements per transaction, for the crypto ceiling.
    #[arg(long, default_value_t = 2)]
    endorsers: u32,
    /// Seconds spent measuring the crypto ceiling before the load (0: not
    /// measured).
    #[arg(long, default_value_t = 2.0)]
    ceiling_seconds: f64,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// A share from 0 to 1.
fn share(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a number from 0 to 1, got {s:?}")),
    }
}

impl RunArgs {
    fn spec(&self) -> RunSpec {
        RunSpec {
            symbol: format!("B{}", rand::random::<u32>() % 1_000_000),
            accounts: self.accounts,
            concurrency: self.concurrency,
            stop: match (self.duration, self.count) {
                (Some(s), _) => Stop::Duration(Duration::from_secs(s)),
                (None, Some(n)) => Stop::Count(n),
                (None, None) => Stop::Count(1000),
            },
            max_duration: Duration::from_secs(self.max_seconds),
            payload_bytes: self.payload_bytes,
            hot_share: self.hot_share,
            hot_accounts: self.hot_accounts,
        }
    }
}

/// Runs the bench; exit 1 if any transfer failed before commit. SIGINT or
/// SIGTERM ends it, and with --demo every node it started is stopped on
/// every way out.
pub(crate) async fn run(args: RunArgs) -> Result<ExitCode> {
    init_logging("warn", false);
    let spec = args.spec();
    spec.validate()?;
    tokio::select! {
        // First, so that the signal handlers are in place before any node starts.
        biased;
        () = shutdown_signal() => Err(anyhow!("interrupted")),
        r = bench(&args, spec) => r,
    }
}

async fn bench(args: &RunArgs, spec: RunSpec) -> Result<ExitCode> {
    let ceiling = measure_ceiling(args.ceiling_seconds).await?;
    if args.demo {
        on_demo_network(args, spec, ceiling).await
    } else {
        let mut clients = Vec::new();
        for p in &args.profiles {
            let profile = ClientProfile::load(p)?;
            clients.push(Client::connect(&profile).await.map_err(explain)?);
        }
        let Some(first) = clients.first() else {
            return Err(anyhow!("no --profile given"));
        };
        let peers = match channel_peers(first).await {
            Ok(n) => Some(n),
            Err(e) => {
                tracing::warn!(error = %e, "cannot count the channel's peers; no crypto ceiling");
                None
            }
        };
        load(args, &clients, spec, ceiling, peers).await
    }
}

/// The demo network in a temporary directory, stopped (and the directory
/// removed) however this returns; dropping the future on a signal kills
/// the nodes through `LocalNet`'s `Drop`.
async fn on_demo_network(
    args: &RunArgs,
    spec: RunSpec,
    ceiling: Option<Ceiling>,
) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("locating the consort binary")?;
    let dir = tempfile::Builder::new()
        .prefix("consort-bench-")
        .tempdir()
        .context("creating a temporary directory")?;
    let base = args.base_port.unwrap_or(DEMO_BASE_PORT);
    println!(
        "starting a three-org network (3 orderers, 1 peer per org) on ports {}..{} in {}",
        base,
        base + 5,
        dir.path().display()
    );
    let mut net =
        consort::demo::start_network_with_peers(&dir.path().join("net"), base, 1, &exe).await?;
    let outcome = async {
        let mut clients = Vec::new();
        for org in ["Org1MSP", "Org2MSP", "Org3MSP"] {
            clients.push(net.client(org, None).await?);
        }
        let peers = net.nodes_of(NodeRole::Peer).len() as u32;
        load(args, &clients, spec, ceiling, Some(peers)).await
    }
    .await;
    tokio::task::block_in_place(|| net.stop_all());
    outcome
}

/// The channel's peers as the first gateway sees them (`Gateway.Peers`):
/// every one validates every block.
async fn channel_peers(client: &Client) -> Result<u32> {
    let mut request = tonic::Request::new(consort_proto::PeersRequest {});
    request.set_timeout(Duration::from_secs(10));
    let r = client
        .gateway()
        .peers(request)
        .await
        .map_err(|s| anyhow!("{}", s.message()))?
        .into_inner();
    Ok(u32::try_from(r.peers.len())?)
}

/// Funds, runs the load with a progress bar, prints and writes the report.
async fn load(
    args: &RunArgs,
    clients: &[Client],
    spec: RunSpec,
    ceiling: Option<Ceiling>,
    peers: Option<u32>,
) -> Result<ExitCode> {
    let (progress, watched) = watch::channel(Progress::default());
    let bar = tokio::spawn(show_progress(watched, spec.stop, spec.max_duration));
    let result = consort::bench::run::run(clients, &spec, Some(progress)).await;
    if let Err(e) = bar.await {
        tracing::warn!(error = %e, "progress display failed");
    }
    let mut report: Report = result?;
    if let (Some(c), Some(peers)) = (ceiling, peers) {
        report.ceiling = Some(ceiling_figures(
            &c,
            report.committed_tps,
            peers,
            args.endorsers,
        ));
    }
    print!("{report}");
    if report.ceiling.is_none() {
        println!("crypto ceiling: not measured");
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(if report.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A progress bar on stdout while the load runs (a spinner while the
/// accounts are funded), hidden when stdout is not a terminal; ends when
/// the run drops its sender.
async fn show_progress(mut progress: watch::Receiver<Progress>, stop: Stop, max: Duration) {
    let bar = if std::io::stdout().is_terminal() {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout())
    } else {
        ProgressBar::hidden()
    };
    bar.set_message("funding the accounts");
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut started: Option<Instant> = None;
    while progress.changed().await.is_ok() {
        let p = *progress.borrow_and_update();
        if !p.loading {
            continue;
        }
        let start = *started.get_or_insert_with(|| {
            let (len, unit) = match stop {
                Stop::Count(n) => (n, ""),
                Stop::Duration(d) => (d.min(max).as_secs(), " s"),
            };
            let template = format!("{{spinner}} [{{wide_bar}}] {{pos}}/{{len}}{unit} {{msg}}");
            let style = ProgressStyle::with_template(&template)
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.set_length(len);
            Instant::now()
        });
        let elapsed = start.elapsed();
        match stop {
            Stop::Count(_) => bar.set_position(p.done),
            Stop::Duration(_) => bar.set_position(elapsed.as_secs()),
        }
        bar.set_message(format!(
            "{} valid, {} invalid, {} failed, {:.0} tx/s",
            p.valid,
            p.invalid,
            p.failed,
            p.valid as f64 / elapsed.as_secs_f64().max(1e-3)
        ));
    }
    bar.finish_and_clear();
}

/// Measures the crypto ceiling (`consort::bench::ceiling`) for about
/// `seconds` on a blocking thread, before the load starts; `None` when
/// `seconds` is 0.
async fn measure_ceiling(seconds: f64) -> Result<Option<Ceiling>> {
    if seconds.is_nan() || seconds <= 0.0 {
        return Ok(None);
    }
    let budget = Duration::from_secs_f64(seconds.min(600.0));
    Ok(Some(
        tokio::task::spawn_blocking(move || ceiling::measure(budget)).await?,
    ))
}

/// The run's share of the ceiling of a network of `peers` and `endorsers`.
fn ceiling_figures(c: &Ceiling, committed_tps: f64, peers: u32, endorsers: u32) -> CeilingFigures {
    let shape = NetworkShape { peers, endorsers };
    CeilingFigures::new(
        committed_tps,
        peers,
        endorsers,
        c.network_tps(shape, false),
        c.network_tps(shape, true),
    )
}
