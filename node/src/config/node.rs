//! A node's config file.

use super::{apply_env, from_table, read_table, resolve, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a node runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Holds the ledger, endorses, serves the gateway.
    Peer,
    /// Member of the Raft ordering cluster.
    Orderer,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// One node's configuration. Relative paths are relative to the file's
/// directory. Every field can be overridden by `CONSORT_<FIELD>` (e.g.
/// `CONSORT_LISTEN=0.0.0.0:7051`, `CONSORT_ROLES=peer,orderer`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Node name (its certificate's CN), e.g. `peer0.org1`.
    pub name: String,
    /// The node's org.
    pub msp_id: String,
    /// `peer`, `orderer`, or both.
    pub roles: Vec<NodeRole>,
    /// Address to listen on, e.g. `0.0.0.0:7051`.
    pub listen: String,
    /// Where the node keeps its RocksDB databases.
    pub data_dir: PathBuf,
    /// The node's signing certificate (PEM), issued by its org's CA: signs
    /// endorsements (a peer) or blocks (an orderer).
    pub cert: PathBuf,
    /// Its PKCS#8 private key (PEM).
    pub key: PathBuf,
    /// The node's TLS certificate (PEM), issued by its org's TLS CA
    /// (ECDSA P-256, which every TLS stack speaks). Absent: `cert` serves
    /// for TLS as well.
    #[serde(default)]
    pub tls_cert: Option<PathBuf>,
    /// The TLS certificate's PKCS#8 private key (PEM), with `tls_cert`.
    #[serde(default)]
    pub tls_key: Option<PathBuf>,
    /// The channel's genesis block.
    pub genesis: PathBuf,
    /// Raft node ID; required for an orderer.
    #[serde(default)]
    pub orderer_id: Option<u64>,
    /// For a node running both roles: the orderer's certificate (PEM), with
    /// an orderer role. `cert` and `key` are then the peer's.
    #[serde(default)]
    pub orderer_cert: Option<PathBuf>,
    /// The orderer's PKCS#8 private key (PEM), with `orderer_cert`.
    #[serde(default)]
    pub orderer_key: Option<PathBuf>,
    /// For a node running both roles: the orderer's TLS certificate, which
    /// it presents to other orderers. Absent: `orderer_cert`.
    #[serde(default)]
    pub orderer_tls_cert: Option<PathBuf>,
    /// Its private key, with `orderer_tls_cert`.
    #[serde(default)]
    pub orderer_tls_key: Option<PathBuf>,
    /// Chaincode execution timeout in milliseconds.
    #[serde(default = "default_cc_timeout")]
    pub chaincode_timeout_ms: u64,
    /// `text` or `json`.
    #[serde(default)]
    pub log_format: LogFormat,
    /// A peer's gossip listener, `ip:port` (libp2p over TCP). Absent: the
    /// peer does not gossip and pulls every block from the orderers.
    #[serde(default)]
    pub gossip_listen: Option<String>,
    /// Gossip addresses (`host:port`) to dial at start and keep dialing.
    /// Empty: every other peer's `gossip_endpoint` in the channel config.
    #[serde(default)]
    pub gossip_bootstrap: Vec<String>,
    /// Which peers pull blocks from the ordering service: `auto` (one per
    /// org, elected among its live peers), `always` or `never` (this peer
    /// takes blocks from other peers only).
    #[serde(default)]
    pub gossip_pull: crate::gossip::PullMode,
    /// Address of the operations listener (plain HTTP: `/healthz`,
    /// `/metrics`, `/logspec`, `/version`), e.g. `127.0.0.1:8051`. Absent:
    /// no operations listener. Anyone who can reach it can read the metrics
    /// and change the log level: keep it on loopback or a private network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations_listen: Option<String>,
    /// The operations listener's TLS certificate (PEM): with
    /// `operations_tls_key`, the listener speaks HTTPS only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations_tls_cert: Option<PathBuf>,
    /// Its PKCS#8 private key (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations_tls_key: Option<PathBuf>,
    /// CA certificates (PEM) that operations clients' certificates must
    /// chain to; absent: no client certificate is asked for. Needs TLS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations_client_ca: Option<PathBuf>,
    /// The free space, in MiB, below which the disk-space health check fails.
    #[serde(default = "default_min_free_mb")]
    pub operations_min_free_mb: u64,
}

fn default_cc_timeout() -> u64 {
    30_000
}

fn default_min_free_mb() -> u64 {
    256
}

const FIELDS: &[&str] = &[
    "name",
    "msp_id",
    "roles",
    "listen",
    "data_dir",
    "cert",
    "key",
    "tls_cert",
    "tls_key",
    "genesis",
    "orderer_id",
    "orderer_cert",
    "orderer_key",
    "orderer_tls_cert",
    "orderer_tls_key",
    "chaincode_timeout_ms",
    "log_format",
    "gossip_listen",
    "gossip_bootstrap",
    "gossip_pull",
    "operations_listen",
    "operations_tls_cert",
    "operations_tls_key",
    "operations_client_ca",
    "operations_min_free_mb",
];

/// The fields whose environment overrides are integers.
const INT_FIELDS: &[&str] = &[
    "orderer_id",
    "chaincode_timeout_ms",
    "operations_min_free_mb",
];

impl NodeConfig {
    /// Loads `path`, applies environment overrides, resolves relative paths, validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let mut table = read_table(path)?;
        apply_env(
            &mut table,
            FIELDS,
            &["roles", "gossip_bootstrap"],
            INT_FIELDS,
        )?;
        let mut c: NodeConfig = from_table(table, path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        c.data_dir = resolve(base, &c.data_dir);
        c.cert = resolve(base, &c.cert);
        c.key = resolve(base, &c.key);
        c.genesis = resolve(base, &c.genesis);
        c.orderer_cert = c.orderer_cert.map(|p| resolve(base, &p));
        c.orderer_key = c.orderer_key.map(|p| resolve(base, &p));
        for p in [
            &mut c.tls_cert,
            &mut c.tls_key,
            &mut c.orderer_tls_cert,
            &mut c.orderer_tls_key,
            &mut c.operations_tls_cert,
            &mut c.operations_tls_key,
            &mut c.operations_client_ca,
        ] {
            *p = p.as_ref().map(|p| resolve(base, p));
        }
        c.validate()
    }

    /// The TLS certificate and key files: `tls_cert`/`tls_key`, or the
    /// signing pair when they are absent.
    pub fn tls_files(&self) -> (&Path, &Path) {
        match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => (c, k),
            _ => (&self.cert, &self.key),
        }
    }

    /// For a node running both roles, the orderer's TLS files (falling back
    /// to its signing pair), when it has an orderer identity of its own.
    pub fn orderer_tls_files(&self) -> Option<(&Path, &Path)> {
        match (
            &self.orderer_tls_cert,
            &self.orderer_tls_key,
            &self.orderer_cert,
            &self.orderer_key,
        ) {
            (Some(c), Some(k), _, _) | (None, None, Some(c), Some(k)) => Some((c, k)),
            _ => None,
        }
    }

    /// Checks field values.
    pub fn validate(self) -> Result<Self, ConfigError> {
        for (field, a, b) in [
            ("tls_cert", &self.tls_cert, &self.tls_key),
            (
                "orderer_tls_cert",
                &self.orderer_tls_cert,
                &self.orderer_tls_key,
            ),
            (
                "operations_tls_cert",
                &self.operations_tls_cert,
                &self.operations_tls_key,
            ),
        ] {
            if a.is_some() != b.is_some() {
                return Err(ConfigError::Invalid {
                    field,
                    message: "give the certificate and its key together".into(),
                });
            }
        }
        if self.name.is_empty() {
            return Err(ConfigError::Invalid {
                field: "name",
                message: "must not be empty".into(),
            });
        }
        if self.msp_id.is_empty() {
            return Err(ConfigError::Invalid {
                field: "msp_id",
                message: "must not be empty".into(),
            });
        }
        if self.roles.is_empty() {
            return Err(ConfigError::Invalid {
                field: "roles",
                message: "name at least one of peer, orderer".into(),
            });
        }
        if self.listen.parse::<std::net::SocketAddr>().is_err() {
            return Err(ConfigError::Invalid {
                field: "listen",
                message: format!("'{}' is not an IP:port address", self.listen),
            });
        }
        if let Some(ops) = &self.operations_listen {
            match ops.parse::<std::net::SocketAddr>() {
                Err(_) => {
                    return Err(ConfigError::Invalid {
                        field: "operations_listen",
                        message: format!("'{ops}' is not an IP:port address"),
                    })
                }
                Ok(a) if a.port() != 0 && ops == &self.listen => {
                    return Err(ConfigError::Invalid {
                        field: "operations_listen",
                        message: "must differ from listen (the gRPC port)".into(),
                    })
                }
                Ok(_) => {}
            }
        }
        if self.operations_client_ca.is_some() && self.operations_tls_cert.is_none() {
            return Err(ConfigError::Invalid {
                field: "operations_client_ca",
                message: "client certificates need TLS: give operations_tls_cert and \
                          operations_tls_key too"
                    .into(),
            });
        }
        if self.roles.contains(&NodeRole::Orderer) && self.orderer_id.unwrap_or(0) == 0 {
            return Err(ConfigError::Invalid {
                field: "orderer_id",
                message: "an orderer needs a non-zero Raft node ID".into(),
            });
        }
        let both = self.has(NodeRole::Peer) && self.has(NodeRole::Orderer);
        if both && (self.orderer_cert.is_none() || self.orderer_key.is_none()) {
            return Err(ConfigError::Invalid {
                field: "orderer_cert",
                message: "a node running both roles needs orderer_cert and orderer_key \
                          (an orderer identity beside the peer's cert and key)"
                    .into(),
            });
        }
        if let Some(g) = &self.gossip_listen {
            if g.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::Invalid {
                    field: "gossip_listen",
                    message: format!("'{g}' is not an IP:port address"),
                });
            }
        }
        if self.chaincode_timeout_ms == 0 {
            return Err(ConfigError::Invalid {
                field: "chaincode_timeout_ms",
                message: "must be positive".into(),
            });
        }
        Ok(self)
    }

    /// Whether the node runs a role.
    pub fn has(&self, role: NodeRole) -> bool {
        self.roles.contains(&role)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"
name = "peer0.org1"
msp_id = "Org1MSP"
roles = ["peer"]
listen = "127.0.0.1:7051"
data_dir = "data"
cert = "cert.pem"
key = "key.pem"
genesis = "../genesis.block"
"#;

    #[test]
    fn loads_resolves_and_validates() {
        let _env = crate::testkit::env_lock();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("node.toml");
        std::fs::write(&p, SAMPLE).unwrap();
        let c = NodeConfig::load(&p).unwrap();
        assert_eq!(c.data_dir, dir.path().join("data"));
        assert_eq!(c.chaincode_timeout_ms, 30_000);
        assert!(c.has(NodeRole::Peer));
        let bad = SAMPLE.replace("127.0.0.1:7051", "nowhere");
        std::fs::write(&p, bad).unwrap();
        let err = NodeConfig::load(&p).unwrap_err().to_string();
        assert!(err.contains("listen"), "{err}");
        let unknown = format!("{SAMPLE}\nlisten_port = 3\n");
        std::fs::write(&p, unknown).unwrap();
        assert!(NodeConfig::load(&p)
            .unwrap_err()
            .to_string()
            .contains("listen_port"));
        let ops = format!("{SAMPLE}\noperations_listen = \"127.0.0.1:7051\"\n");
        std::fs::write(&p, ops).unwrap();
        assert!(NodeConfig::load(&p)
            .unwrap_err()
            .to_string()
            .contains("operations_listen"));
        let ca_only = format!("{SAMPLE}\noperations_client_ca = \"ops-ca.pem\"\n");
        std::fs::write(&p, ca_only).unwrap();
        assert!(NodeConfig::load(&p)
            .unwrap_err()
            .to_string()
            .contains("operations_client_ca"));
        let orderer = SAMPLE.replace("[\"peer\"]", "[\"orderer\"]");
        std::fs::write(&p, orderer).unwrap();
        assert!(NodeConfig::load(&p)
            .unwrap_err()
            .to_string()
            .contains("orderer_id"));
    }

    #[test]
    fn env_overrides_typed_fields() {
        let mut t: toml::Table = SAMPLE.parse().unwrap();
        // Variables are process-wide: hold the lock every config-loading test takes.
        let _env = crate::testkit::env_lock();
        std::env::set_var("CONSORT_ROLES", "peer, orderer");
        std::env::set_var("CONSORT_ORDERER_ID", "3");
        std::env::set_var("CONSORT_OPERATIONS_LISTEN", "127.0.0.1:9443");
        apply_env(&mut t, FIELDS, &["roles"], INT_FIELDS).unwrap();
        std::env::remove_var("CONSORT_OPERATIONS_LISTEN");
        std::env::remove_var("CONSORT_ROLES");
        std::env::remove_var("CONSORT_ORDERER_ID");
        let c: NodeConfig = t.try_into().unwrap();
        assert_eq!(c.roles, vec![NodeRole::Peer, NodeRole::Orderer]);
        assert_eq!(c.orderer_id, Some(3));
        assert_eq!(c.operations_listen.as_deref(), Some("127.0.0.1:9443"));
    }
}
