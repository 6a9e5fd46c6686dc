//! The network description that `consort crypto generate` turns into
//! certificates, keys, node configs, client profiles and the genesis block.

use super::{from_table, read_table, ConfigError};
use crate::identity::ca::KeyKind;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// A whole network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Channel name.
    pub channel: String,
    /// Largest gRPC message, bytes.
    #[serde(default = "default_max_message")]
    pub max_message_bytes: u64,
    /// Block cutting.
    #[serde(default)]
    pub batch: BatchSpec,
    /// Member organisations.
    pub orgs: Vec<OrgSpec>,
    /// Chaincodes deployed at genesis.
    #[serde(default)]
    pub chaincodes: Vec<ChaincodeSpec>,
}

fn default_max_message() -> u64 {
    4 * 1024 * 1024
}

/// Block cutting settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    /// Most transactions per block.
    pub max_tx_count: u32,
    /// Most bytes per block.
    pub max_bytes: u64,
    /// Longest wait before cutting, ms.
    pub timeout_ms: u64,
    /// Cut as soon as the ordering service is idle rather than waiting
    /// for `timeout_ms` (default true).
    #[serde(default = "cut_when_idle_default")]
    pub cut_when_idle: bool,
}

fn cut_when_idle_default() -> bool {
    true
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            max_tx_count: 500,
            max_bytes: 2 * 1024 * 1024,
            timeout_ms: 100,
            cut_when_idle: true,
        }
    }
}

/// One organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgSpec {
    /// MSP ID, e.g. `Org1MSP`.
    pub msp_id: String,
    /// Short name used in node names, e.g. `org1`.
    pub name: String,
    /// Key algorithm of the CA and its members.
    #[serde(default)]
    pub key: KeyKind,
    /// Orderers.
    #[serde(default)]
    pub orderers: Vec<NodeSpec>,
    /// Peers.
    #[serde(default)]
    pub peers: Vec<NodeSpec>,
    /// Client user names.
    #[serde(default)]
    pub clients: Vec<String>,
    /// Admin user names.
    #[serde(default)]
    pub admins: Vec<String>,
    /// Certificate attributes per user name (clients or admins), for
    /// attribute-based access control in chaincode, e.g.
    /// `[orgs.attributes.user1] department = "audit"`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, BTreeMap<String, String>>,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// Name inside the org, e.g. `peer0`; the node is `<name>.<org name>`.
    pub name: String,
    /// Host other nodes reach it at (also its TLS name).
    pub host: String,
    /// Port.
    pub port: u16,
    /// Address to listen on; defaults to `<host>:<port>` for an IP host, else `0.0.0.0:<port>`.
    #[serde(default)]
    pub listen: Option<String>,
    /// A peer's gossip port (libp2p over TCP) on the same host and listen
    /// address; absent: the peer does not gossip and pulls every block
    /// from the orderers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gossip_port: Option<u16>,
    /// Port of the node's operations listener (`/healthz`, `/metrics`);
    /// defaults to `port + 1000`. It listens on the host's address for an
    /// IP host, else on `0.0.0.0`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operations_port: Option<u16>,
}

impl NodeSpec {
    /// The operations port: `operations_port`, else `port + 1000` (none
    /// when that does not fit in a port number).
    pub fn ops_port(&self) -> Option<u16> {
        self.operations_port.or_else(|| self.port.checked_add(1000))
    }
}

/// A chaincode definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaincodeSpec {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Endorsement policy, Fabric syntax.
    pub policy: String,
    /// Where the chaincode runs as an external service; absent: in process
    /// on every peer, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalSpec>,
}

/// A chaincode served by an external chaincode server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalSpec {
    /// `host:port` of the chaincode server; the host is its TLS server name.
    pub address: String,
    /// The CA certificate(s) the server's TLS certificate chains to: PEM
    /// text, or the path of a PEM file. Give this or `org`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_root: Option<String>,
    /// Issue the server's certificate from this org's CA at generation
    /// (`orgs/<org>/chaincodes/<name>/`); that CA is then the root. Give
    /// this or `tls_root`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org: Option<String>,
}

impl NetworkSpec {
    /// Loads and validates a spec file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let spec: NetworkSpec = from_table(read_table(path)?, path)?;
        spec.validate()
    }

    /// Checks names, uniqueness and policies.
    pub fn validate(self) -> Result<Self, ConfigError> {
        let inv = |field, message: String| ConfigError::Invalid { field, message };
        if self.channel.is_empty()
            || !self
                .channel
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(inv(
                "channel",
                format!("'{}' is not a valid channel name", self.channel),
            ));
        }
        if self.orgs.is_empty() {
            return Err(inv("orgs", "at least one org is needed".into()));
        }
        let mut ids = HashSet::new();
        let mut endpoints = HashSet::new();
        let mut names = HashSet::new();
        let mut orderers = 0;
        for org in &self.orgs {
            if org.msp_id.is_empty() || !ids.insert(org.msp_id.clone()) {
                return Err(inv(
                    "orgs.msp_id",
                    format!("'{}' is empty or repeated", org.msp_id),
                ));
            }
            let kinds = org
                .orderers
                .iter()
                .map(|n| (n, "orderer"))
                .chain(org.peers.iter().map(|n| (n, "peer")));
            for (n, kind) in kinds {
                // One endpoint may be an orderer and a peer of the same org:
                // a node running both roles.
                if !endpoints.insert((n.host.clone(), n.port, org.msp_id.clone(), kind))
                    || endpoints
                        .iter()
                        .any(|(h, p, m, _)| (h, *p) == (&n.host, n.port) && *m != org.msp_id)
                {
                    return Err(inv(
                        "orgs.*.port",
                        format!("{}:{} is used twice", n.host, n.port),
                    ));
                }
                if let Some(g) = n.gossip_port {
                    if kind != "peer" {
                        return Err(inv(
                            "orgs.orderers.gossip_port",
                            format!("{}.{}: only peers gossip", n.name, org.name),
                        ));
                    }
                    if g == n.port
                        || !endpoints.insert((n.host.clone(), g, org.msp_id.clone(), "gossip"))
                    {
                        return Err(inv(
                            "orgs.*.gossip_port",
                            format!("{}:{} is used twice", n.host, g),
                        ));
                    }
                }
                if n.ops_port() == Some(n.port) {
                    return Err(inv(
                        "orgs.*.operations_port",
                        format!(
                            "{}: the operations port must differ from the gRPC port",
                            n.name
                        ),
                    ));
                }
                if !names.insert(format!("{}.{}", n.name, org.name)) {
                    return Err(inv(
                        "orgs.*.name",
                        format!("node {}.{} is repeated", n.name, org.name),
                    ));
                }
            }
            if let Some(user) = org
                .attributes
                .keys()
                .find(|u| !org.clients.contains(u) && !org.admins.contains(u))
            {
                return Err(inv(
                    "orgs.attributes",
                    format!(
                        "'{user}' of {} is neither a client nor an admin",
                        org.msp_id
                    ),
                ));
            }
            orderers += org.orderers.len();
        }
        if orderers == 0 {
            return Err(inv(
                "orgs.orderers",
                "at least one orderer is needed".into(),
            ));
        }
        if self.batch.max_tx_count == 0 || self.batch.max_bytes == 0 {
            return Err(inv(
                "batch",
                "max_tx_count and max_bytes must be positive".into(),
            ));
        }
        for cc in &self.chaincodes {
            let policy: crate::policy::Policy = cc
                .policy
                .parse()
                .map_err(|e| inv("chaincodes.policy", format!("{}: {e}", cc.name)))?;
            for id in policy.msp_ids() {
                if !ids.contains(&id) {
                    return Err(inv(
                        "chaincodes.policy",
                        format!("{}: unknown org '{id}'", cc.name),
                    ));
                }
            }
            if let Some(external) = &cc.external {
                if crate::transport::host_of(&external.address).is_err() {
                    return Err(inv(
                        "chaincodes.external.address",
                        format!("{}: '{}' is not host:port", cc.name, external.address),
                    ));
                }
                match (&external.tls_root, &external.org) {
                    (Some(_), None) => {}
                    (None, Some(org)) if ids.contains(org) => {}
                    (None, Some(org)) => {
                        return Err(inv(
                            "chaincodes.external.org",
                            format!("{}: unknown org '{org}'", cc.name),
                        ))
                    }
                    _ => {
                        return Err(inv(
                            "chaincodes.external",
                            format!("{}: give exactly one of tls_root and org", cc.name),
                        ))
                    }
                }
            }
        }
        Ok(self)
    }

    /// The spec of the standard three-org network on loopback: per org one
    /// orderer and one peer, ports from `base_port` up, one client and one
    /// admin per org, the `token` chaincode with a 2-of-3 policy.
    pub fn three_orgs(base_port: u16) -> Self {
        Self::three_orgs_with_peers(base_port, 1)
    }

    /// Three orgs with `peers` peers each (at least one). Org *i*'s orderer
    /// is on `base_port + 2(i-1)` and its first peer on the next port; its
    /// further peers follow `base_port + 6`, org by org; each peer gossips
    /// on its port + 100.
    pub fn three_orgs_with_peers(base_port: u16, peers: u16) -> Self {
        let extra = peers.saturating_sub(1);
        let orgs = (1..=3u16)
            .map(|i| {
                let p = base_port + (i - 1) * 2;
                let peer = |name: String, port: u16| NodeSpec {
                    name,
                    host: "127.0.0.1".into(),
                    port,
                    listen: None,
                    gossip_port: Some(port + 100),
                    operations_port: None,
                };
                let mut peer_nodes = vec![peer("peer0".into(), p + 1)];
                for k in 1..=extra {
                    peer_nodes.push(peer(
                        format!("peer{k}"),
                        base_port + 6 + (i - 1) * extra + (k - 1),
                    ));
                }
                OrgSpec {
                    msp_id: format!("Org{i}MSP"),
                    name: format!("org{i}"),
                    key: KeyKind::Ed25519,
                    orderers: vec![NodeSpec {
                        name: "orderer0".into(),
                        host: "127.0.0.1".into(),
                        port: p,
                        listen: None,
                        gossip_port: None,
                        operations_port: None,
                    }],
                    peers: peer_nodes,
                    clients: vec!["user1".into()],
                    admins: vec!["admin".into()],
                    attributes: BTreeMap::new(),
                }
            })
            .collect();
        NetworkSpec {
            channel: "consort".into(),
            max_message_bytes: default_max_message(),
            batch: BatchSpec::default(),
            orgs,
            chaincodes: ["token", "asset-transfer", "supply-chain"]
                .into_iter()
                .map(|name| ChaincodeSpec {
                    name: name.into(),
                    version: "1.0".into(),
                    policy: "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".into(),
                    external: None,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_orgs_is_valid_and_round_trips() {
        let spec = NetworkSpec::three_orgs(7050).validate().unwrap();
        let text = toml::to_string(&spec).unwrap();
        let back: NetworkSpec = toml::from_str(&text).unwrap();
        assert_eq!(back, spec);
    }

    #[test]
    fn attributes_must_name_a_user_of_the_org() {
        let mut s = NetworkSpec::three_orgs(7050);
        s.orgs[0].attributes.insert(
            "user1".into(),
            BTreeMap::from([("department".into(), "audit".into())]),
        );
        let text = toml::to_string(&s).unwrap();
        assert!(text.contains("department = \"audit\""), "{text}");
        assert!(s.clone().validate().is_ok());
        s.orgs[0].attributes.insert("ghost".into(), BTreeMap::new());
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("'ghost' of Org1MSP"), "{err}");
    }

    #[test]
    fn refuses_bad_specs() {
        let mut s = NetworkSpec::three_orgs(7050);
        s.chaincodes[0].policy = "AND('Org9MSP.peer')".into();
        assert!(s.validate().unwrap_err().to_string().contains("Org9MSP"));
        let mut s = NetworkSpec::three_orgs(7050);
        s.orgs[1].peers[0].port = 7050;
        assert!(s.validate().unwrap_err().to_string().contains("used twice"));
        let mut s = NetworkSpec::three_orgs(7050);
        s.chaincodes[0].policy = "AND(".into();
        assert!(s.validate().is_err());
    }

    #[test]
    fn external_chaincodes_need_an_address_and_one_root() {
        let with = |address: &str, tls_root: Option<&str>, org: Option<&str>| {
            let mut s = NetworkSpec::three_orgs(7050);
            s.chaincodes[1].external = Some(ExternalSpec {
                address: address.into(),
                tls_root: tls_root.map(Into::into),
                org: org.map(Into::into),
            });
            s.validate()
        };
        let spec = with("cc.org1:9999", None, Some("Org1MSP")).unwrap();
        let text = toml::to_string(&spec).unwrap();
        assert!(text.contains("[chaincodes.external]"), "{text}");
        assert_eq!(toml::from_str::<NetworkSpec>(&text).unwrap(), spec);
        with("cc.org1:9999", Some("ca.pem"), None).unwrap();
        for (address, root, org, expect) in [
            ("cc.org1", None, Some("Org1MSP"), "external.address"),
            ("cc.org1:1", None, Some("Org9MSP"), "Org9MSP"),
            ("cc.org1:1", None, None, "exactly one"),
            ("cc.org1:1", Some("ca.pem"), Some("Org1MSP"), "exactly one"),
        ] {
            let err = with(address, root, org).unwrap_err().to_string();
            assert!(err.contains(expect), "{err}");
        }
    }
}
