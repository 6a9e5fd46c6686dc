//! A client's connection profile: who it is and which gateway it uses.

use super::{apply_env, from_table, read_table, resolve, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A client identity and its gateway. Overridable by `CONSORT_GATEWAY`,
/// `CONSORT_FALLBACK_GATEWAYS` (comma-separated), `CONSORT_TLS_NAME`,
/// `CONSORT_MSP_ID`, `CONSORT_CERT`, `CONSORT_KEY`, `CONSORT_TLS_CERT`,
/// `CONSORT_TLS_KEY`, `CONSORT_GENESIS`.
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
    /// Further gateways, `host:port`, tried in order when `gateway` cannot be
    /// reached at connect time (usually other peers of the client's org).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fallback_gateways: Vec<String>,
    /// TLS server name to expect from `gateway`, when it differs from the
    /// gateway's host. Fallback gateways are checked against their own host.
    #[serde(default)]
    pub tls_name: Option<String>,
}

const FIELDS: &[&str] = &[
    "msp_id",
    "cert",
    "key",
    "tls_cert",
    "tls_key",
    "genesis",
    "gateway",
    "fallback_gateways",
    "tls_name",
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

    /// Every gateway in the order a client tries them: `gateway`, then the
    /// fallbacks, each once.
    pub fn gateways(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::with_capacity(1 + self.fallback_gateways.len());
        for g in std::iter::once(&self.gateway).chain(&self.fallback_gateways) {
            if !out.contains(&g.as_str()) {
                out.push(g);
            }
        }
        out
    }

    /// Loads a profile, applying environment overrides and resolving paths.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut table = read_table(path)?;
        apply_env(&mut table, FIELDS, &["fallback_gateways"], &[])?;
        let mut p: ClientProfile = from_table(table, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        p.cert = resolve(base, &p.cert);
        p.key = resolve(base, &p.key);
        p.genesis = resolve(base, &p.genesis);
        p.tls_cert = p.tls_cert.map(|c| resolve(base, &c));
        p.tls_key = p.tls_key.map(|k| resolve(base, &k));
        p.validate()?;
        Ok(p)
    }

    /// Checks the fields that can be wrong on their own: the TLS pair is
    /// given whole or not at all, and every gateway is `host:port`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(ConfigError::Invalid {
                field: "tls_cert",
                message: "give the certificate and its key together".into(),
            });
        }
        if crate::transport::host_of(&self.gateway).is_err() {
            return Err(ConfigError::Invalid {
                field: "gateway",
                message: format!("'{}' is not host:port", self.gateway),
            });
        }
        if let Some(bad) = self
            .fallback_gateways
            .iter()
            .find(|g| crate::transport::host_of(g).is_err())
        {
            return Err(ConfigError::Invalid {
                field: "fallback_gateways",
                message: format!("'{bad}' is not host:port"),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        let p = dir.join("client.toml");
        std::fs::write(&p, text).unwrap();
        p
    }

    const BASE: &str = r#"
msp_id = "Org1MSP"
cert = "cert.pem"
key = "key.pem"
genesis = "../genesis.block"
gateway = "peer0.org1:7051"
"#;

    #[test]
    fn paths_resolve_against_the_file_and_fallbacks_default_to_none() {
        let dir = tempfile::tempdir().unwrap();
        let p = ClientProfile::load(&write(dir.path(), BASE)).unwrap();
        assert_eq!(p.cert, dir.path().join("cert.pem"));
        assert_eq!(p.genesis, dir.path().join("../genesis.block"));
        assert_eq!(p.tls_files(), (p.cert.as_path(), p.key.as_path()));
        assert!(p.fallback_gateways.is_empty());
        assert_eq!(p.gateways(), ["peer0.org1:7051"]);
        // An empty list is not written back.
        assert!(!toml::to_string(&p).unwrap().contains("fallback"));
    }

    #[test]
    fn fallback_gateways_come_after_the_gateway_each_once() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!(
            "{BASE}fallback_gateways = [\"peer1.org1:7051\", \"peer0.org1:7051\", \"[::1]:7051\"]\n"
        );
        let p = ClientProfile::load(&write(dir.path(), &text)).unwrap();
        assert_eq!(
            p.gateways(),
            ["peer0.org1:7051", "peer1.org1:7051", "[::1]:7051"]
        );
        let back: ClientProfile = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn a_bad_gateway_or_half_a_tls_pair_names_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            (BASE.replace("peer0.org1:7051", "nowhere"), "gateway"),
            (
                format!("{BASE}fallback_gateways = [\"peer1.org1\"]\n"),
                "fallback_gateways",
            ),
            (format!("{BASE}tls_cert = \"tls/cert.pem\"\n"), "tls_cert"),
        ];
        for (text, field) in cases {
            match ClientProfile::load(&write(dir.path(), &text)) {
                Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        let unknown = format!("{BASE}gatewya = \"x:1\"\n");
        assert!(matches!(
            ClientProfile::load(&write(dir.path(), &unknown)),
            Err(ConfigError::Parse { .. })
        ));
    }
}
