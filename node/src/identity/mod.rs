//! Identity and membership: certificates, signing identities, the channel's
//! membership service (MSP) and the TLS configurations built on it. What a
//! client needs too (`Role`, certificate parsing, `SigningIdentity`, the
//! client TLS configuration) lives in `consort-client` and is re-exported here.
//!
//! Every organisation is defined by its CA certificates; a node or client is
//! an X.509 certificate issued by one of them, whose organisational unit (OU)
//! carries its role, as Fabric's NodeOUs do.

pub mod ca;
pub mod cert;
pub mod consenters;
pub mod msp;
pub mod tls;

pub use cert::{CertError, CertInfo, PublicKey};
pub use consenters::{cert_hash, CertHash, Consenter, ConsenterError, Consenters};
pub use consort_client::identity::{signer, tls_roots, Role, SignerError, SigningIdentity};
pub use msp::{Identity, Msp, MspError};

/// Seconds since the Unix epoch, for certificate validity checks.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
