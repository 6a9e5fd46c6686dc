//! Identity and membership: certificates, signing identities, the channel's
//! membership service (MSP) and the TLS configurations built on it.
//!
//! Every organisation is defined by its CA certificates; a node or client is
//! an X.509 certificate issued by one of them, whose organisational unit (OU)
//! carries its role, as Fabric's NodeOUs do.

pub mod ca;
pub mod cert;
pub mod consenters;
pub mod msp;
pub mod signer;
pub mod tls;

pub use cert::{CertError, CertInfo, PublicKey};
pub use consenters::{cert_hash, CertHash, Consenter, ConsenterError, Consenters};
pub use msp::{Identity, Msp, MspError};
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

    /// The matching signer role of the policy language.
    pub fn signer_role(self) -> crate::policy::SignerRole {
        match self {
            Role::Admin => crate::policy::SignerRole::Admin,
            Role::Peer => crate::policy::SignerRole::Peer,
            Role::Orderer => crate::policy::SignerRole::Orderer,
            Role::Client => crate::policy::SignerRole::Client,
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

/// Seconds since the Unix epoch, for certificate validity checks.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
