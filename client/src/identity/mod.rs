//! Who the client is: certificates, the signing identity, and the TLS
//! configuration it dials gateways with.
//!
//! Every organisation is defined by its CA certificates; a node or client is
//! an X.509 certificate issued by one of them, whose organisational unit (OU)
//! carries its role, as Fabric's NodeOUs do.

pub mod cert;
pub mod signer;
pub mod tls;

pub use cert::{CertError, CertInfo, KeyAlgorithm, PublicKey};
pub use signer::{SignerError, SigningIdentity};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The role an identity holds, carried in its certificate's OU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Administers its organisation.
    Admin,
    /// Runs a peer: endorses, validates, commits.
    Peer,
    /// Runs an orderer.
    Orderer,
    /// Submits transactions and queries.
    Client,
}

impl Role {
    /// The OU string used in certificates.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Peer => "peer",
            Role::Orderer => "orderer",
            Role::Client => "client",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "admin" => Ok(Role::Admin),
            "peer" => Ok(Role::Peer),
            "orderer" => Ok(Role::Orderer),
            "client" => Ok(Role::Client),
            other => Err(format!(
                "unknown role '{other}' (expected admin, peer, orderer or client)"
            )),
        }
    }
}

/// The TLS roots of a channel: each member org's TLS CA certificates, or
/// its signing CA certificates for an org that has no separate TLS CA.
pub fn tls_roots(config: &consort_proto::ChannelConfig) -> Vec<Vec<u8>> {
    config
        .orgs
        .iter()
        .flat_map(|o| {
            if o.tls_ca_certs.is_empty() {
                o.ca_certs.clone()
            } else {
                o.tls_ca_certs.clone()
            }
        })
        .collect()
}
