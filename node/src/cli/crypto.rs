//! `consort crypto`: certificates, keys and genesis configuration.

use crate::init_logging;
use anyhow::Result;
use clap::Subcommand;
use consort::config::NetworkSpec;
use consort::cryptogen::GeneratedNetwork;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Subcommand)]
pub(crate) enum CryptoCmd {
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

pub(crate) fn run(cmd: CryptoCmd) -> Result<ExitCode> {
    match cmd {
        CryptoCmd::Generate {
            spec,
            out,
            keep_existing,
        } => generate(spec.as_deref(), &out, keep_existing),
        CryptoCmd::ChaincodeCert { org_dir, host, out } => chaincode_cert(&org_dir, &host, &out),
        CryptoCmd::SampleSpec { base_port } => {
            print!("{}", toml::to_string(&NetworkSpec::three_orgs(base_port))?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `consort crypto generate`: the network `spec` describes (the three-org
/// sample without one), written to `out`.
fn generate(spec: Option<&Path>, out: &Path, keep_existing: bool) -> Result<ExitCode> {
    init_logging("warn", false);
    if keep_existing && out.join("genesis.block").exists() {
        println!("{} already holds a network; keeping it", out.display());
        return Ok(ExitCode::SUCCESS);
    }
    let spec = match spec {
        Some(p) => NetworkSpec::load(p)?,
        None => NetworkSpec::three_orgs(7050),
    };
    let net = consort::cryptogen::generate(&spec, out)?;
    print_network(&net);
    Ok(ExitCode::SUCCESS)
}

fn print_network(net: &GeneratedNetwork) {
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
}

/// `consort crypto chaincode-cert`: an external chaincode server's TLS files.
fn chaincode_cert(org_dir: &Path, host: &str, out: &Path) -> Result<ExitCode> {
    let files = consort::cryptogen::chaincode_cert(org_dir, host, out)?;
    println!("certificate:    {}", files.cert.display());
    println!("key:            {}", files.key.display());
    println!("TLS root:       {}", files.ca.display());
    println!("client CAs:     {}", files.client_cas.display());
    Ok(ExitCode::SUCCESS)
}
