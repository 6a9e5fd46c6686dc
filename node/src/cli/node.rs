//! `consort node`: run a node, and check that one serves.

use super::shutdown_signal;
use crate::init_logging;
use anyhow::{Context, Result};
use clap::Subcommand;
use consort::config::NodeConfig;
use consort::identity::SigningIdentity;
use consort::operations::client::healthz_url;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Subcommand)]
pub(crate) enum NodeCmd {
    /// Start a node from its config file.
    Start {
        /// The node's config file (settings can be overridden by CONSORT_<FIELD> variables).
        #[arg(long, env = "CONSORT_CONFIG")]
        config: PathBuf,
    },
    /// Check that the node is healthy (exit 0) or not (exit 1), for
    /// container health checks: GETs its operations listener's `/healthz`
    /// (`--url`, else the config's `operations_listen`); a node without an
    /// operations listener is asked over gRPC whether it serves.
    Health {
        /// The node's config file.
        #[arg(long, env = "CONSORT_CONFIG", required_unless_present = "url")]
        config: Option<PathBuf>,
        /// The `/healthz` URL, e.g. `http://127.0.0.1:8051/healthz`.
        #[arg(long)]
        url: Option<String>,
        /// For a TLS listener: the CA certificate(s) (PEM) its certificate
        /// chains to.
        #[arg(long)]
        cacert: Option<PathBuf>,
        /// For a listener that asks for client certificates: ours (PEM).
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// Its PKCS#8 private key (PEM).
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
    },
}

pub(crate) async fn run(cmd: NodeCmd) -> Result<ExitCode> {
    match cmd {
        NodeCmd::Start { config } => start(&config).await,
        NodeCmd::Health {
            config,
            url,
            cacert,
            cert,
            key,
        } => {
            let tls = HealthTls {
                cacert,
                identity: cert.zip(key),
            };
            health(config.as_deref(), url.as_deref(), &tls).await
        }
    }
}

/// `consort node start`: runs the node until SIGINT or SIGTERM.
async fn start(config: &Path) -> Result<ExitCode> {
    let cfg = NodeConfig::load(config)?;
    let logspec = init_logging(
        "info",
        cfg.log_format == consort::config::node::LogFormat::Json,
    );
    if let Some(spec) = consort::crashpoint::arm_from_env()? {
        tracing::warn!(crash_at = %spec.env_value(), "crash injection armed");
    }
    consort::node::run_with(cfg, Some(logspec), shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

/// How `node health` reaches a TLS listener.
struct HealthTls {
    cacert: Option<PathBuf>,
    identity: Option<(PathBuf, PathBuf)>,
}

impl HealthTls {
    fn client_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>> {
        let Some(ca) = &self.cacert else {
            return Ok(None);
        };
        let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
        let cas = consort::identity::cert::pem_to_ders(&pem)?;
        let identity = match &self.identity {
            Some((cert, key)) => Some(SigningIdentity::load("", cert, key)?),
            None => None,
        };
        Ok(Some(consort::operations::tls::client_config(
            &cas,
            identity.as_ref(),
        )?))
    }
}

/// `consort node health`: prints the node's `/healthz` answer (or, with no
/// operations listener, what it answers over gRPC); exit 1 when unhealthy.
async fn health(config: Option<&Path>, url: Option<&str>, tls: &HealthTls) -> Result<ExitCode> {
    init_logging("error", false);
    let url = match (url, config) {
        (Some(u), _) => u.to_owned(),
        (None, Some(config)) => {
            let cfg = NodeConfig::load(config)?;
            let secure = cfg.operations_tls_cert.is_some();
            match cfg.operations_listen.as_deref() {
                Some(listen) => healthz_url(listen, secure).ok_or_else(|| {
                    anyhow::anyhow!("operations_listen '{listen}' is not IP:port")
                })?,
                None => {
                    println!("{}", consort::node::health(&cfg).await?);
                    return Ok(ExitCode::SUCCESS);
                }
            }
        }
        (None, None) => anyhow::bail!("give --url or --config"),
    };
    let reply = consort::operations::client::request_with(
        http::Method::GET,
        &url,
        None,
        Duration::from_secs(4),
        tls.client_config()?,
    )
    .await?;
    println!("{}", reply.body.trim_end());
    Ok(if reply.status == 200 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
