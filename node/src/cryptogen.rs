//! `consort crypto generate`: turns a [`NetworkSpec`] into each org's CA,
//! every node's and user's certificate and key, node config files, client
//! profiles and the channel's genesis block.
//!
//! Output layout:
//! ```text
//! <out>/genesis.block
//! <out>/network.toml                      (the spec, for reference)
//! <out>/orgs/<MSP>/ca/ca.crt, ca.key
//! <out>/orgs/<MSP>/nodes/<node>/cert.pem, key.pem, node.toml
//! <out>/orgs/<MSP>/users/<user>/cert.pem, key.pem, client.toml
//! <out>/orgs/<MSP>/chaincodes/<name>/tls.crt, tls.key, ca.crt, client-cas.crt
//!                                         (external chaincodes with `org = "<MSP>"`)
//! ```
//!
//! Private keys (`ca.key`, `key.pem`, `tls.key`) have mode 0600 from the
//! moment they exist, and the directories made for them mode 0700
//! ([`fsutil`]).

use crate::block;
use crate::config::network::{NetworkSpec, NodeSpec};
use crate::config::node::{LogFormat, NodeConfig, NodeRole};
use crate::config::ClientProfile;
use crate::fsutil;
use crate::identity::ca::{CaError, CertAuthority, IssueRequest, IssuedCert, KeyKind};
use crate::identity::Role;
use consort_proto::{
    BatchConfig, ChaincodeDefinition, ChannelConfig, ExternalChaincode, OrdererNode, OrgConfig,
    PeerNode,
};
use prost::Message;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Why generation failed.
#[derive(Debug, thiserror::Error)]
pub enum CryptoGenError {
    /// Certificate generation failed.
    #[error(transparent)]
    Ca(#[from] CaError),
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Serialising a config failed.
    #[error("cannot serialise {0}")]
    Serialize(String),
    /// Reading an input file (a CA, a TLS root) failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An input is not what it should be.
    #[error("{0}")]
    Invalid(String),
}

/// The files of an external chaincode server's TLS identity.
#[derive(Debug, Clone)]
pub struct ChaincodeCertFiles {
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PKCS#8 PEM).
    pub key: PathBuf,
    /// The issuing CA's certificate: the definition's TLS root.
    pub ca: PathBuf,
    /// Every org's CA certificate: the server's client CAs.
    pub client_cas: PathBuf,
}

/// A generated node.
#[derive(Debug, Clone)]
pub struct GeneratedNode {
    /// Full name, e.g. `peer0.org1`.
    pub name: String,
    /// Its org.
    pub msp_id: String,
    /// Peer or orderer.
    pub role: NodeRole,
    /// `host:port`.
    pub endpoint: String,
    /// `host:port` of its operations listener.
    pub operations: Option<String>,
    /// Its config file.
    pub config: PathBuf,
    /// Its directory (certificate, key, config, data).
    pub dir: PathBuf,
}

/// A generated user.
#[derive(Debug, Clone)]
pub struct GeneratedUser {
    /// User name, e.g. `user1`.
    pub name: String,
    /// Its org.
    pub msp_id: String,
    /// Client or admin.
    pub role: Role,
    /// Its client profile (pointing at its org's first peer).
    pub profile: PathBuf,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct GeneratedNetwork {
    /// The output directory.
    pub dir: PathBuf,
    /// The genesis block file.
    pub genesis: PathBuf,
    /// Every node.
    pub nodes: Vec<GeneratedNode>,
    /// Every user.
    pub users: Vec<GeneratedUser>,
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> CryptoGenError + '_ {
    move |source| CryptoGenError::Write {
        path: path.display().to_string(),
        source,
    }
}

/// Writes a file that holds no secret, making its directory if needed.
fn write(path: &Path, bytes: &[u8]) -> Result<(), CryptoGenError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(write_error(parent))?;
    }
    std::fs::write(path, bytes).map_err(write_error(path))
}

/// Writes a private key: mode 0600 from the moment the file exists
/// ([`fsutil::write_private`]).
fn write_key(path: &Path, bytes: &[u8]) -> Result<(), CryptoGenError> {
    fsutil::write_private(path, bytes).map_err(write_error(path))
}

/// Makes a directory that is to hold a private key, mode 0700 (before
/// anything is written into it).
fn key_dir(dir: &Path) -> Result<(), CryptoGenError> {
    fsutil::create_private_dir(dir).map_err(write_error(dir))
}

/// Writes a member's certificate and key into `dir`, made mode 0700.
fn write_identity(dir: &Path, issued: &IssuedCert) -> Result<(), CryptoGenError> {
    key_dir(dir)?;
    write(&dir.join("cert.pem"), issued.cert_pem.as_bytes())?;
    write_key(&dir.join("key.pem"), issued.key_pem.as_bytes())
}

fn toml_text<T: serde::Serialize>(v: &T) -> Result<String, CryptoGenError> {
    toml::to_string(v).map_err(|e| CryptoGenError::Serialize(e.to_string()))
}

fn listen_of(n: &NodeSpec) -> String {
    n.listen
        .clone()
        .unwrap_or_else(|| bind_addr(&n.host, n.port))
}

/// `<host>:<port>` for an IP host, else `0.0.0.0:<port>`.
fn bind_addr(host: &str, port: u16) -> String {
    if host.parse::<std::net::IpAddr>().is_ok() {
        format!("{host}:{port}")
    } else {
        format!("0.0.0.0:{port}")
    }
}

/// Where a node's operations listener binds.
fn operations_listen_of(n: &NodeSpec) -> Option<String> {
    n.ops_port().map(|p| bind_addr(&n.host, p))
}

/// A peer's gossip listen address: its listen address's IP with its
/// gossip port.
fn gossip_listen_of(n: &NodeSpec) -> Option<String> {
    let port = n.gossip_port?;
    let listen = listen_of(n);
    let ip = listen
        .rsplit_once(':')
        .map(|(ip, _)| ip)
        .unwrap_or("0.0.0.0");
    Some(format!("{ip}:{port}"))
}

fn read_text(path: &Path) -> Result<String, CryptoGenError> {
    std::fs::read_to_string(path).map_err(|source| CryptoGenError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The TLS server names of a chaincode server at `address`.
fn chaincode_hosts(address: &str) -> Result<Vec<String>, CryptoGenError> {
    let host =
        crate::transport::host_of(address).map_err(|e| CryptoGenError::Invalid(e.to_string()))?;
    let mut hosts = vec![
        host.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ];
    hosts.dedup();
    Ok(hosts)
}

/// Issues a chaincode server certificate from `ca` for `hosts` into `out`
/// (`tls.crt`, `tls.key`, `ca.crt`, and `client-cas.crt` from `client_cas`).
fn write_chaincode_cert(
    ca: &CertAuthority,
    hosts: &[String],
    kind: KeyKind,
    client_cas: &str,
    out: &Path,
) -> Result<ChaincodeCertFiles, CryptoGenError> {
    let issued = ca.issue_chaincode_server(hosts, kind)?;
    let files = ChaincodeCertFiles {
        cert: out.join("tls.crt"),
        key: out.join("tls.key"),
        ca: out.join("ca.crt"),
        client_cas: out.join("client-cas.crt"),
    };
    key_dir(out)?;
    write(&files.cert, issued.cert_pem.as_bytes())?;
    write_key(&files.key, issued.key_pem.as_bytes())?;
    write(&files.ca, ca.cert().cert_pem.as_bytes())?;
    write(&files.client_cas, client_cas.as_bytes())?;
    Ok(files)
}

/// `consort crypto chaincode-cert`: issues an ECDSA P-256 TLS server
/// certificate for an external chaincode server reachable as `host` from the
/// TLS CA of a generated org (`<org_dir>/tlsca/ca.crt` and `ca.key`, or
/// `<org_dir>/ca/` for a network without TLS CAs; the org's MSP ID being the
/// directory's name), into `out`. `client-cas.crt` holds the TLS CA of every
/// org next to `org_dir`, whose peers may connect.
pub fn chaincode_cert(
    org_dir: &Path,
    host: &str,
    out: &Path,
) -> Result<ChaincodeCertFiles, CryptoGenError> {
    let msp_id = org_dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| {
            CryptoGenError::Invalid(format!("{} is not an org directory", org_dir.display()))
        })?;
    let ca_dir = |org: &Path| {
        let tls = org.join("tlsca");
        if tls.join("ca.crt").is_file() {
            tls
        } else {
            org.join("ca")
        }
    };
    let cert_pem = read_text(&ca_dir(org_dir).join("ca.crt"))?;
    let key_pem = read_text(&ca_dir(org_dir).join("ca.key"))?;
    let ca = CertAuthority::load(msp_id, &cert_pem, &key_pem)?;
    let mut client_cas = String::new();
    let orgs = org_dir.parent().unwrap_or(org_dir);
    let mut entries: Vec<PathBuf> = std::fs::read_dir(orgs)
        .map_err(|source| CryptoGenError::Read {
            path: orgs.display().to_string(),
            source,
        })?
        .filter_map(|entry| entry.ok().map(|e| ca_dir(&e.path()).join("ca.crt")))
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    for path in entries {
        client_cas.push_str(&read_text(&path)?);
    }
    let kind = KeyKind::EcdsaP256;
    let mut hosts = vec![
        host.to_owned(),
        "localhost".to_owned(),
        "127.0.0.1".to_owned(),
    ];
    hosts.dedup();
    write_chaincode_cert(&ca, &hosts, kind, &client_cas, out)
}

/// The external service of every chaincode of `spec` that has one: a PEM
/// root as given (inline or read from its path), or an ECDSA P-256 server
/// certificate issued now from the named org's TLS CA (`cas` are the orgs'
/// TLS CAs, whose peers may connect).
fn external_chaincodes(
    spec: &NetworkSpec,
    cas: &[CertAuthority],
    out: &Path,
) -> Result<HashMap<String, ExternalChaincode>, CryptoGenError> {
    let client_cas: String = cas.iter().map(|ca| ca.cert().cert_pem.clone()).collect();
    let mut externals = HashMap::new();
    for cc in &spec.chaincodes {
        let Some(external) = &cc.external else {
            continue;
        };
        let tls_root_pem = match (&external.tls_root, &external.org) {
            (Some(root), _) if root.contains("-----BEGIN") => root.clone(),
            (Some(path), _) => read_text(Path::new(path))?,
            (None, Some(org)) => {
                let (_, ca) = spec
                    .orgs
                    .iter()
                    .zip(cas)
                    .find(|(o, _)| &o.msp_id == org)
                    .ok_or_else(|| {
                        CryptoGenError::Invalid(format!("{}: unknown org '{org}'", cc.name))
                    })?;
                let dir = out.join("orgs").join(org).join("chaincodes").join(&cc.name);
                let hosts = chaincode_hosts(&external.address)?;
                write_chaincode_cert(ca, &hosts, KeyKind::EcdsaP256, &client_cas, &dir)?;
                ca.cert().cert_pem.clone()
            }
            (None, None) => {
                return Err(CryptoGenError::Invalid(format!(
                    "{}: an external chaincode needs tls_root or org",
                    cc.name
                )))
            }
        };
        externals.insert(
            cc.name.clone(),
            ExternalChaincode {
                address: external.address.clone(),
                tls_root_pem,
            },
        );
    }
    Ok(externals)
}

/// The certificates of one orderer (DER) that bind it into the consenter set.
#[derive(Debug, Clone)]
pub struct OrdererCerts {
    /// The certificate it signs blocks with.
    pub signing: Vec<u8>,
    /// The certificate it presents in TLS.
    pub tls: Vec<u8>,
}

/// The channel config a spec describes, given each org's CA and TLS CA
/// certificates, the external service of each external chaincode and the
/// certificates of each orderer (by endpoint), which bind it into the
/// consenter set.
pub fn channel_config(
    spec: &NetworkSpec,
    ca_certs: &[(String, Vec<u8>)],
    tls_ca_certs: &[(String, Vec<u8>)],
    externals: &HashMap<String, ExternalChaincode>,
    orderer_certs: &HashMap<String, OrdererCerts>,
) -> ChannelConfig {
    let mut next_id = 1u64;
    let mut orderers = Vec::new();
    let mut peers = Vec::new();
    for org in &spec.orgs {
        for o in &org.orderers {
            let endpoint = format!("{}:{}", o.host, o.port);
            let certs = orderer_certs.get(&endpoint);
            let hash = |der: &[u8]| crate::identity::cert_hash(der).to_vec();
            orderers.push(OrdererNode {
                id: next_id,
                msp_id: org.msp_id.clone(),
                endpoint,
                tls_cert_sha256: certs.map(|c| hash(&c.tls)).unwrap_or_default(),
                signing_cert_sha256: certs.map(|c| hash(&c.signing)).unwrap_or_default(),
            });
            next_id += 1;
        }
        for p in &org.peers {
            peers.push(PeerNode {
                name: format!("{}.{}", p.name, org.name),
                msp_id: org.msp_id.clone(),
                endpoint: format!("{}:{}", p.host, p.port),
                gossip_endpoint: p
                    .gossip_port
                    .map(|g| format!("{}:{g}", p.host))
                    .unwrap_or_default(),
            });
        }
    }
    ChannelConfig {
        channel_id: spec.channel.clone(),
        orgs: spec
            .orgs
            .iter()
            .map(|o| OrgConfig {
                msp_id: o.msp_id.clone(),
                ca_certs: ca_certs
                    .iter()
                    .filter(|(id, _)| *id == o.msp_id)
                    .map(|(_, der)| der.clone())
                    .collect(),
                revoked_serials: vec![],
                tls_ca_certs: tls_ca_certs
                    .iter()
                    .filter(|(id, _)| *id == o.msp_id)
                    .map(|(_, der)| der.clone())
                    .collect(),
            })
            .collect(),
        orderers,
        peers,
        batch: Some(BatchConfig {
            max_tx_count: spec.batch.max_tx_count,
            max_bytes: spec.batch.max_bytes,
            timeout_ms: spec.batch.timeout_ms,
            cut_when_idle: spec.batch.cut_when_idle,
        }),
        max_message_bytes: spec.max_message_bytes,
        chaincodes: spec
            .chaincodes
            .iter()
            .map(|c| ChaincodeDefinition {
                name: c.name.clone(),
                version: c.version.clone(),
                endorsement_policy: c.policy.clone(),
                sequence: 1,
                external: externals.get(&c.name).cloned(),
            })
            .collect(),
    }
}

/// Generates the whole network into `out` (created if missing).
pub fn generate(spec: &NetworkSpec, out: &Path) -> Result<GeneratedNetwork, CryptoGenError> {
    let mut cas = Vec::new();
    let mut tls_cas = Vec::new();
    for org in &spec.orgs {
        let org_dir = out.join("orgs").join(&org.msp_id);
        for (ca, sub) in [
            (CertAuthority::generate(&org.msp_id, org.key)?, "ca"),
            (CertAuthority::generate_tls(&org.msp_id)?, "tlsca"),
        ] {
            let dir = org_dir.join(sub);
            key_dir(&dir)?;
            write(&dir.join("ca.crt"), ca.cert().cert_pem.as_bytes())?;
            write_key(&dir.join("ca.key"), ca.cert().key_pem.as_bytes())?;
            if sub == "ca" {
                cas.push(ca);
            } else {
                tls_cas.push(ca);
            }
        }
    }
    let ders = |cas: &[CertAuthority]| -> Vec<(String, Vec<u8>)> {
        cas.iter()
            .map(|c| (c.msp_id().to_string(), c.cert().cert_der.clone()))
            .collect()
    };
    let (ca_ders, tls_ca_ders) = (ders(&cas), ders(&tls_cas));
    let externals = external_chaincodes(spec, &tls_cas, out)?;
    // Nodes' identities first: the channel config binds each orderer to
    // its certificate.
    let net = layout(spec, out);
    let mut issued = Vec::with_capacity(net.nodes.len());
    for node in &net.nodes {
        let ((org, ca), tls_ca) = spec
            .orgs
            .iter()
            .zip(&cas)
            .zip(&tls_cas)
            .find(|((o, _), _)| o.msp_id == node.msp_id)
            .ok_or_else(|| CryptoGenError::Serialize(format!("org of {}", node.name)))?;
        let n =
            node_spec(spec, node).ok_or_else(|| CryptoGenError::Serialize(node.name.clone()))?;
        let mut hosts = vec![
            n.host.clone(),
            node.name.clone(),
            "localhost".into(),
            "127.0.0.1".into(),
        ];
        hosts.dedup();
        let id_role = match node.role {
            NodeRole::Orderer => Role::Orderer,
            NodeRole::Peer => Role::Peer,
        };
        let mut req = IssueRequest::new(&node.name, id_role, hosts);
        req.kind = org.key;
        let signing = ca.issue(&req)?;
        req.kind = KeyKind::EcdsaP256;
        let tls = tls_ca.issue(&req)?;
        issued.push((
            signing,
            tls,
            (listen_of(n), operations_listen_of(n)),
            gossip_listen_of(n),
        ));
    }
    let orderer_certs: HashMap<String, OrdererCerts> = net
        .nodes
        .iter()
        .zip(&issued)
        .filter(|(node, _)| node.role == NodeRole::Orderer)
        .map(|(node, (signing, tls, _, _))| {
            (
                node.endpoint.clone(),
                OrdererCerts {
                    signing: signing.cert_der.clone(),
                    tls: tls.cert_der.clone(),
                },
            )
        })
        .collect();
    let config = channel_config(spec, &ca_ders, &tls_ca_ders, &externals, &orderer_certs);
    let genesis_path = out.join("genesis.block");
    write(&genesis_path, &block::genesis(&config).encode_to_vec())?;
    write(&out.join("network.toml"), toml_text(spec)?.as_bytes())?;

    let mut next_orderer_id = 1u64;
    for (node, (cert, tls, (listen, operations_listen), gossip_listen)) in
        net.nodes.iter().zip(issued)
    {
        write_identity(&node.dir, &cert)?;
        write_identity(&node.dir.join("tls"), &tls)?;
        let orderer_id = (node.role == NodeRole::Orderer).then(|| {
            let id = next_orderer_id;
            next_orderer_id += 1;
            id
        });
        let cfg = NodeConfig {
            name: node.name.clone(),
            msp_id: node.msp_id.clone(),
            roles: vec![node.role],
            listen,
            data_dir: "data".into(),
            cert: "cert.pem".into(),
            key: "key.pem".into(),
            genesis: relative_genesis(3),
            orderer_id,
            orderer_cert: None,
            orderer_key: None,
            tls_cert: Some("tls/cert.pem".into()),
            tls_key: Some("tls/key.pem".into()),
            orderer_tls_cert: None,
            orderer_tls_key: None,
            chaincode_timeout_ms: 30_000,
            log_format: LogFormat::Text,
            gossip_listen: gossip_listen.filter(|_| node.role == NodeRole::Peer),
            gossip_bootstrap: Vec::new(),
            gossip_pull: Default::default(),
            operations_listen,
            operations_tls_cert: None,
            operations_tls_key: None,
            operations_client_ca: None,
            operations_min_free_mb: 256,
        };
        write(&node.config, toml_text(&cfg)?.as_bytes())?;
    }
    for user in &net.users {
        let ((org, ca), tls_ca) = spec
            .orgs
            .iter()
            .zip(&cas)
            .zip(&tls_cas)
            .find(|((o, _), _)| o.msp_id == user.msp_id)
            .ok_or_else(|| CryptoGenError::Serialize(format!("org of {}", user.name)))?;
        let dir = user.profile.parent().unwrap_or(out).to_path_buf();
        let mut req = IssueRequest::new(&format!("{}@{}", user.name, org.name), user.role, vec![]);
        req.kind = org.key;
        req.attributes = org.attributes.get(&user.name).cloned().unwrap_or_default();
        write_identity(&dir, &ca.issue(&req)?)?;
        req.kind = KeyKind::EcdsaP256;
        write_identity(&dir.join("tls"), &tls_ca.issue(&req)?)?;
        let profile = ClientProfile {
            msp_id: org.msp_id.clone(),
            cert: "cert.pem".into(),
            key: "key.pem".into(),
            tls_cert: Some("tls/cert.pem".into()),
            tls_key: Some("tls/key.pem".into()),
            genesis: relative_genesis(3),
            gateway: org
                .peers
                .first()
                .map(|p| format!("{}:{}", p.host, p.port))
                .unwrap_or_default(),
            fallback_gateways: org
                .peers
                .iter()
                .skip(1)
                .map(|p| format!("{}:{}", p.host, p.port))
                .collect(),
            tls_name: None,
        };
        write(&user.profile, toml_text(&profile)?.as_bytes())?;
    }
    Ok(net)
}

fn node_spec<'a>(spec: &'a NetworkSpec, node: &GeneratedNode) -> Option<&'a NodeSpec> {
    let org = spec.orgs.iter().find(|o| o.msp_id == node.msp_id)?;
    let list = match node.role {
        NodeRole::Orderer => &org.orderers,
        NodeRole::Peer => &org.peers,
    };
    list.iter()
        .find(|n| format!("{}.{}", n.name, org.name) == node.name)
}

/// Where `generate` puts each node and user of `spec` under `out`, without
/// writing anything. Orderers come first within each org, then peers.
pub fn layout(spec: &NetworkSpec, out: &Path) -> GeneratedNetwork {
    let mut nodes = Vec::new();
    let mut users = Vec::new();
    for org in &spec.orgs {
        let org_dir = out.join("orgs").join(&org.msp_id);
        let kinds = org
            .orderers
            .iter()
            .map(|n| (n, NodeRole::Orderer))
            .chain(org.peers.iter().map(|n| (n, NodeRole::Peer)));
        for (n, role) in kinds {
            let name = format!("{}.{}", n.name, org.name);
            let dir = org_dir.join("nodes").join(&name);
            nodes.push(GeneratedNode {
                msp_id: org.msp_id.clone(),
                role,
                endpoint: format!("{}:{}", n.host, n.port),
                operations: n.ops_port().map(|p| format!("{}:{}", n.host, p)),
                config: dir.join("node.toml"),
                dir,
                name,
            });
        }
        let people = org
            .clients
            .iter()
            .map(|u| (u, Role::Client))
            .chain(org.admins.iter().map(|u| (u, Role::Admin)));
        for (user, role) in people {
            users.push(GeneratedUser {
                name: user.clone(),
                msp_id: org.msp_id.clone(),
                role,
                profile: org_dir.join("users").join(user).join("client.toml"),
            });
        }
    }
    GeneratedNetwork {
        dir: out.to_path_buf(),
        genesis: out.join("genesis.block"),
        nodes,
        users,
    }
}

fn relative_genesis(depth: usize) -> PathBuf {
    let mut p = PathBuf::new();
    for _ in 0..=depth {
        p.push("..");
    }
    p.join("genesis.block")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::cert;
    use crate::identity::{Msp, SigningIdentity};
    use crate::node::load_genesis;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A private key: mode 0600, in a directory of mode 0700.
    fn assert_private(path: &Path) {
        assert_eq!(mode(path), 0o600, "{}", path.display());
        let dir = path.parent().unwrap();
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }

    /// Every file under `dir`, recursively.
    fn files_under(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                out.extend(files_under(&path));
            } else {
                out.push(path);
            }
        }
        out
    }

    fn is_key(path: &Path) -> bool {
        path.file_name()
            .is_some_and(|n| n == "key.pem" || n == "ca.key" || n == "tls.key")
    }

    #[test]
    fn every_key_is_0600_in_a_0700_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("net");
        let mut spec = NetworkSpec::three_orgs(17250);
        spec.chaincodes[1].external = Some(crate::config::network::ExternalSpec {
            address: "cc1.org1:17299".into(),
            tls_root: None,
            org: Some("Org2MSP".into()),
        });
        generate(&spec, &out).unwrap();
        chaincode_cert(
            &out.join("orgs/Org1MSP"),
            "cc2.org1",
            &tmp.path().join("cc2"),
        )
        .unwrap();
        let files = files_under(tmp.path());
        let keys: Vec<&PathBuf> = files.iter().filter(|f| is_key(f)).collect();
        // 3 CAs and 3 TLS CAs, 6 nodes and 6 users with a signing and a
        // TLS key each, 2 chaincode servers.
        assert_eq!(keys.len(), 32, "{keys:?}");
        for key in &keys {
            assert_private(key);
        }
        // No other file is a key, and nothing else was left behind.
        for file in files.iter().filter(|f| !is_key(f)) {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            assert!(!text.contains("PRIVATE KEY"), "{}", file.display());
            assert!(
                !file.to_string_lossy().ends_with(".tmp"),
                "{}",
                file.display()
            );
        }
    }

    #[test]
    fn regenerating_over_readable_keys_leaves_them_private() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("net");
        let spec = NetworkSpec::three_orgs(17350);
        generate(&spec, &out).unwrap();
        let keys: Vec<PathBuf> = files_under(&out)
            .into_iter()
            .filter(|f| is_key(f))
            .collect();
        for key in &keys {
            std::fs::set_permissions(key, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let before = std::fs::read(&keys[0]).unwrap();
        generate(&spec, &out).unwrap();
        assert_ne!(std::fs::read(&keys[0]).unwrap(), before, "a new key");
        for key in &keys {
            assert_eq!(mode(key), 0o600, "{}", key.display());
        }
    }

    #[test]
    fn external_chaincodes_get_a_server_certificate_no_member_identity() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("net");
        let mut spec = NetworkSpec::three_orgs(17150);
        spec.chaincodes[1].external = Some(crate::config::network::ExternalSpec {
            address: "cc1.org1:17199".into(),
            tls_root: None,
            org: Some("Org2MSP".into()),
        });
        generate(&spec, &out).unwrap();
        let (_, config) = load_genesis(&out.join("genesis.block")).unwrap();
        let external = config.chaincodes[1].external.clone().unwrap();
        assert_eq!(external.address, "cc1.org1:17199");
        let org2_ca = std::fs::read_to_string(out.join("orgs/Org2MSP/tlsca/ca.crt")).unwrap();
        assert_eq!(external.tls_root_pem, org2_ca);
        assert!(config.chaincodes[0].external.is_none());

        let dir = out.join("orgs/Org2MSP/chaincodes/asset-transfer");
        assert_private(&dir.join("tls.key"));
        let client_cas = std::fs::read_to_string(dir.join("client-cas.crt")).unwrap();
        assert_eq!(cert::pem_to_ders(client_cas.as_bytes()).unwrap().len(), 3);
        let server = cert::pem_to_ders(&std::fs::read(dir.join("tls.crt")).unwrap()).unwrap();
        let msp = Msp::from_config(&config);
        assert!(
            msp.identify_cert(&server[0]).is_err(),
            "not a member identity"
        );

        // The same from the command's function, for a chaincode added later.
        let later = tmp.path().join("cc2");
        let files = chaincode_cert(&out.join("orgs/Org1MSP"), "cc2.org1", &later).unwrap();
        assert_eq!(files.cert, later.join("tls.crt"));
        let org1_ca = std::fs::read_to_string(out.join("orgs/Org1MSP/tlsca/ca.crt")).unwrap();
        assert_eq!(std::fs::read_to_string(&files.ca).unwrap(), org1_ca);
        let client_cas = std::fs::read_to_string(&files.client_cas).unwrap();
        assert_eq!(cert::pem_to_ders(client_cas.as_bytes()).unwrap().len(), 3);
        let err = chaincode_cert(&tmp.path().join("nowhere"), "h", &later).unwrap_err();
        assert!(err.to_string().contains("ca.crt"), "{err}");
    }

    #[test]
    fn three_org_network_loads_and_validates() {
        // Config loading reads CONSORT_* variables.
        let _env = crate::testkit::env_lock();
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("net");
        let spec = NetworkSpec::three_orgs(17050);
        let net = generate(&spec, &out).unwrap();
        let planned = layout(&spec, &out);
        assert_eq!(net.genesis, out.join("genesis.block"));
        assert_eq!(
            net.nodes.iter().map(|n| &n.config).collect::<Vec<_>>(),
            planned.nodes.iter().map(|n| &n.config).collect::<Vec<_>>()
        );
        assert_eq!(net.nodes.len(), 6);
        assert_eq!(net.users.len(), 6);
        assert_eq!(NetworkSpec::load(&out.join("network.toml")).unwrap(), spec);

        let (genesis, config) = load_genesis(&net.genesis).unwrap();
        assert_eq!(config.channel_id, "consort");
        assert_eq!(config.chaincodes.len(), 3);
        assert_eq!(config.peers.len(), 3);
        let msp = Msp::from_config(&config);
        assert_eq!(msp.msp_ids(), vec!["Org1MSP", "Org2MSP", "Org3MSP"]);

        for org in &spec.orgs {
            let ca_dir = out.join("orgs").join(&org.msp_id).join("ca");
            assert_private(&ca_dir.join("ca.key"));
            let ca_der = cert::pem_to_ders(&std::fs::read(ca_dir.join("ca.crt")).unwrap())
                .unwrap()
                .remove(0);
            let in_config = config.orgs.iter().find(|o| o.msp_id == org.msp_id).unwrap();
            assert_eq!(in_config.ca_certs, vec![ca_der]);
            let tlsca_dir = out.join("orgs").join(&org.msp_id).join("tlsca");
            assert_private(&tlsca_dir.join("ca.key"));
            let tlsca_der = cert::pem_to_ders(&std::fs::read(tlsca_dir.join("ca.crt")).unwrap())
                .unwrap()
                .remove(0);
            assert_eq!(in_config.tls_ca_certs, vec![tlsca_der]);
        }

        let mut orderer_ids = Vec::new();
        for node in &net.nodes {
            let cfg = NodeConfig::load(&node.config).unwrap();
            assert_eq!(cfg.name, node.name);
            assert_eq!(cfg.msp_id, node.msp_id);
            assert_eq!(cfg.roles, vec![node.role]);
            assert_eq!(cfg.listen, node.endpoint);
            // Loopback hosts: the operations listener at the gRPC port + 1000.
            let port: u16 = node.endpoint.rsplit(':').next().unwrap().parse().unwrap();
            let ops = format!("127.0.0.1:{}", port + 1000);
            assert_eq!(cfg.operations_listen.as_deref(), Some(ops.as_str()));
            assert_eq!(node.operations.as_deref(), Some(ops.as_str()));
            assert_eq!(cfg.data_dir, node.dir.join("data"));
            assert_eq!(load_genesis(&cfg.genesis).unwrap().0, genesis);
            assert_private(&cfg.key);

            let signer = SigningIdentity::load(&cfg.msp_id, &cfg.cert, &cfg.key).unwrap();
            let member = msp.validate(signer.serialized()).unwrap();
            assert_eq!(member.msp_id, node.msp_id);
            assert_eq!(member.subject, node.name);
            let expected_role = match node.role {
                NodeRole::Orderer => Role::Orderer,
                NodeRole::Peer => Role::Peer,
            };
            assert_eq!(member.role, expected_role);
            // TLS: an ECDSA P-256 certificate from the org's TLS CA, with
            // the same role; the signing certificate is no TLS identity
            // and the TLS certificate signs nothing.
            let (tls_cert, tls_key) = cfg.tls_files();
            assert_eq!(tls_cert, node.dir.join("tls/cert.pem"));
            assert_private(tls_key);
            let tls = SigningIdentity::load(&cfg.msp_id, tls_cert, tls_key).unwrap();
            assert_eq!(
                tls.info().public_key.algorithm(),
                cert::KeyAlgorithm::EcdsaP256
            );
            let admitted = msp.identify_cert(tls.cert_der()).unwrap();
            assert_eq!(
                (admitted.msp_id.as_str(), admitted.role),
                (node.msp_id.as_str(), expected_role)
            );
            assert!(msp.identify_cert(signer.cert_der()).is_err());
            assert!(msp.validate(tls.serialized()).is_err());

            match node.role {
                NodeRole::Orderer => {
                    let id = cfg.orderer_id.unwrap();
                    let entry = config.orderers.iter().find(|o| o.id == id).unwrap();
                    assert_eq!(entry.msp_id, node.msp_id);
                    assert_eq!(entry.endpoint, node.endpoint);
                    let hash = |der: &[u8]| crate::identity::cert_hash(der).to_vec();
                    assert_eq!(entry.signing_cert_sha256, hash(signer.cert_der()));
                    assert_eq!(entry.tls_cert_sha256, hash(tls.cert_der()));
                    orderer_ids.push(id);
                }
                NodeRole::Peer => {
                    assert_eq!(cfg.orderer_id, None);
                    assert!(config.peers.iter().any(|p| p.name == node.name
                        && p.msp_id == node.msp_id
                        && p.endpoint == node.endpoint));
                }
            }
        }
        orderer_ids.sort();
        assert_eq!(orderer_ids, vec![1, 2, 3]);
        let mut config_ids: Vec<u64> = config.orderers.iter().map(|o| o.id).collect();
        config_ids.sort();
        assert_eq!(config_ids, orderer_ids);

        for user in &net.users {
            let profile = ClientProfile::load(&user.profile).unwrap();
            assert_eq!(profile.msp_id, user.msp_id);
            assert_eq!(load_genesis(&profile.genesis).unwrap().0, genesis);
            let org_peer = net
                .nodes
                .iter()
                .find(|n| n.msp_id == user.msp_id && n.role == NodeRole::Peer)
                .unwrap();
            assert_eq!(profile.gateway, org_peer.endpoint);
            assert_private(&profile.key);

            let signer =
                SigningIdentity::load(&profile.msp_id, &profile.cert, &profile.key).unwrap();
            let member = msp.validate(signer.serialized()).unwrap();
            assert_eq!(member.msp_id, user.msp_id);
            assert_eq!(member.role, user.role);
            assert!(member.subject.starts_with(&format!("{}@", user.name)));
            let (tls_cert, tls_key) = profile.tls_files();
            let tls = SigningIdentity::load(&profile.msp_id, tls_cert, tls_key).unwrap();
            assert_eq!(msp.identify_cert(tls.cert_der()).unwrap().role, user.role);
        }
        for msp_id in msp.msp_ids() {
            let roles: Vec<Role> = net
                .users
                .iter()
                .filter(|u| u.msp_id == msp_id)
                .map(|u| u.role)
                .collect();
            assert_eq!(roles, vec![Role::Client, Role::Admin], "{msp_id}");
        }
    }
}
