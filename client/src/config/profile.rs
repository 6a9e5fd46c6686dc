//! A client's connection profile: who it is and which gateway it uses.

use super::{apply_env, from_table, read_table, resolve, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A client identity and its gateway. Overridable by `CONSORT_GATEWAY`,
/// `CONSORT_TLS_NAME`, `CONSORT_MSP_ID`, `CONSORT_CERT`, `CONSORT_KEY`,
/// `CONSORT_TLS_CERT`, `CONSORT_TLS_KEY`, `CONSORT_GENESIS`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientProfile {
    /// The client's org.
    pub msp_id: String,
    /// Signing certificate (PEM), issued by the org's CA: signs proposals
    /// and transactions.
    pub cert: PathBuf,
    /// PKCS#8 private key (PEM).
    pub key: PathBuf,
    /// TLS client certificate (PEM), issued by the org's TLS CA. Absent:
    /// `cert` serves for TLS as well.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// Its PKCS#8 private key (PEM), with `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// The channel's genesis block (channel ID and trusted CAs).
    pub genesis: PathBuf,
    /// The gateway peer, `host:port`.
    pub gateway: String,
    /// TLS server name to expect, when it differs from the gateway's host.
    #[serde(default)]
    pub tls_name: Option<String>,
}

const FIELDS: &[&str] = &[
    "msp_id", "cert", "key", "tls_cert", "tls_key", "genesis", "gateway", "tls_name",
];

impl ClientProfile {
    /// The TLS certificate and key files: `tls_cert`/`tls_key`, or the
    /// signing pair when they are absent.
    pub fn tls_files(&self) -> (&Path, &Path) {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => (c, k),
            _ => (&self.cert, &self.key),
        }
    }

    /// Loads a profile, applying environment overrides and resolving paths.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut table = read_table(path)?;
        apply_env(&mut table, FIELDS, &[], &[])?;
        let mut p: ClientProfile = from_table(table, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        p.cert = resolve(base, &p.cert);
        p.key = resolve(base, &p.key);
        p.genesis = resolve(base, &p.genesis);
        p.tls_cert = p.tls_cert.map(|c| resolve(base, &c));
        p.tls_key = p.tls_key.map(|k| resolve(base, &k));
        if p.tls_cert.is_some() != p.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                field: "tls_cert",
                message: "give the certificate and its key together".into(),
            });
        }
        if p.gateway.is_empty() {
            return Err(ConfigError::Invalid {
                field: "gateway",
                message: "must be host:port".into(),
            });
        }
        Ok(p)
    }
}
