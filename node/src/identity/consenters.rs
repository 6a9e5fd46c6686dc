//! The consenter set: the orderers the channel config names, each bound to
//! the certificates it presents in TLS and signs blocks with. A certificate
//! with the orderer role from a member CA is not enough to speak Raft or to
//! sign a block; it must be one of these.

use consort_proto::ChannelConfig;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// A certificate's SHA-256 (of its DER).
pub type CertHash = [u8; 32];

/// SHA-256 of a DER certificate.
pub fn cert_hash(cert_der: &[u8]) -> CertHash {
    Sha256::digest(cert_der).into()
}

/// Why the channel config's orderer list is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsenterError {
    /// An orderer has Raft ID 0.
    #[error("orderer at {0} has Raft id 0 (ids start at 1)")]
    ZeroId(String),
    /// Two orderers share a Raft ID.
    #[error("Raft id {0} is given to more than one orderer")]
    DuplicateId(u64),
    /// An orderer carries no (or a malformed) certificate hash.
    #[error(
        "orderer {id} carries no {which} certificate hash (32 bytes); \
         the genesis block predates consenter binding: generate it again"
    )]
    MissingHash {
        /// The orderer's Raft ID.
        id: u64,
        /// `TLS` or `signing`.
        which: &'static str,
    },
    /// Two orderers are bound to the same certificate.
    #[error("orderers {0} and {1} are bound to the same certificate")]
    SharedCertificate(u64, u64),
}

/// One configured orderer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consenter {
    /// Its Raft node ID.
    pub id: u64,
    /// Its organisation.
    pub msp_id: String,
    /// Its gRPC endpoint.
    pub endpoint: String,
    /// SHA-256 of the certificate it presents in TLS.
    pub tls_cert: CertHash,
    /// SHA-256 of the certificate it signs blocks with.
    pub signing_cert: CertHash,
}

/// The channel's consenter set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Consenters {
    by_id: BTreeMap<u64, Consenter>,
}

fn hash_field(bytes: &[u8], id: u64, which: &'static str) -> Result<CertHash, ConsenterError> {
    bytes
        .try_into()
        .map_err(|_| ConsenterError::MissingHash { id, which })
}

impl Consenters {
    /// The consenter set of a channel config, checked: IDs non-zero and
    /// unique, every orderer bound to its own certificates.
    pub fn from_config(config: &ChannelConfig) -> Result<Self, ConsenterError> {
        let mut by_id = BTreeMap::new();
        for o in &config.orderers {
            if o.id == 0 {
                return Err(ConsenterError::ZeroId(o.endpoint.clone()));
            }
            let c = Consenter {
                id: o.id,
                msp_id: o.msp_id.clone(),
                endpoint: o.endpoint.clone(),
                tls_cert: hash_field(&o.tls_cert_sha256, o.id, "TLS")?,
                signing_cert: hash_field(&o.signing_cert_sha256, o.id, "signing")?,
            };
            if let Some(other) = by_id
                .values()
                .find(|x: &&Consenter| x.tls_cert == c.tls_cert || x.signing_cert == c.signing_cert)
            {
                return Err(ConsenterError::SharedCertificate(other.id, c.id));
            }
            if by_id.insert(o.id, c).is_some() {
                return Err(ConsenterError::DuplicateId(o.id));
            }
        }
        Ok(Consenters { by_id })
    }

    /// The consenter set as far as the config allows: orderers whose entry
    /// is malformed are left out, so they can neither speak Raft nor sign.
    /// Nodes refuse to start on such a config ([`Consenters::from_config`]);
    /// this is for reading ledgers and tools.
    pub fn lenient(config: &ChannelConfig) -> Self {
        let mut by_id = BTreeMap::new();
        for o in &config.orderers {
            let (Ok(tls_cert), Ok(signing_cert)) = (
                hash_field(&o.tls_cert_sha256, o.id, "TLS"),
                hash_field(&o.signing_cert_sha256, o.id, "signing"),
            ) else {
                continue;
            };
            if o.id == 0 || by_id.contains_key(&o.id) {
                continue;
            }
            by_id.insert(
                o.id,
                Consenter {
                    id: o.id,
                    msp_id: o.msp_id.clone(),
                    endpoint: o.endpoint.clone(),
                    tls_cert,
                    signing_cert,
                },
            );
        }
        Consenters { by_id }
    }

    /// The consenter with Raft ID `id`.
    pub fn get(&self, id: u64) -> Option<&Consenter> {
        self.by_id.get(&id)
    }

    /// The consenter that presents `tls_cert_der` in TLS, if any.
    pub fn by_tls_cert(&self, tls_cert_der: &[u8]) -> Option<&Consenter> {
        let h = cert_hash(tls_cert_der);
        self.by_id.values().find(|c| c.tls_cert == h)
    }

    /// The consenter of `msp_id` that signs with `signing_cert_der`, if any.
    pub fn by_signing_cert(&self, msp_id: &str, signing_cert_der: &[u8]) -> Option<&Consenter> {
        let h = cert_hash(signing_cert_der);
        self.by_id
            .values()
            .find(|c| c.signing_cert == h && c.msp_id == msp_id)
    }

    /// Every consenter, by Raft ID.
    pub fn iter(&self) -> impl Iterator<Item = &Consenter> {
        self.by_id.values()
    }

    /// Number of consenters.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consort_proto::OrdererNode;

    fn node(id: u64, tls: u8, sign: u8) -> OrdererNode {
        OrdererNode {
            id,
            msp_id: "Org1MSP".into(),
            endpoint: format!("o{id}:7050"),
            tls_cert_sha256: vec![tls; 32],
            signing_cert_sha256: vec![sign; 32],
        }
    }

    fn config(orderers: Vec<OrdererNode>) -> ChannelConfig {
        ChannelConfig {
            orderers,
            ..Default::default()
        }
    }

    #[test]
    fn binds_each_orderer_to_its_certificates() {
        let set = Consenters::from_config(&config(vec![node(1, 1, 2), node(2, 3, 4)])).unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set.get(2).unwrap().tls_cert, [3; 32]);
        assert!(set.get(3).is_none());
    }

    #[test]
    fn malformed_orderer_lists_are_refused() {
        assert_eq!(
            Consenters::from_config(&config(vec![node(0, 1, 2)])),
            Err(ConsenterError::ZeroId("o0:7050".into()))
        );
        let mut dup = node(1, 3, 4);
        dup.endpoint = "other:1".into();
        assert_eq!(
            Consenters::from_config(&config(vec![node(1, 1, 2), dup])),
            Err(ConsenterError::DuplicateId(1))
        );
        assert_eq!(
            Consenters::from_config(&config(vec![node(1, 1, 2), node(2, 1, 5)])),
            Err(ConsenterError::SharedCertificate(1, 2))
        );
        let mut missing = node(1, 1, 2);
        missing.tls_cert_sha256.clear();
        assert_eq!(
            Consenters::from_config(&config(vec![missing.clone()])),
            Err(ConsenterError::MissingHash {
                id: 1,
                which: "TLS"
            })
        );
        assert!(Consenters::lenient(&config(vec![missing, node(2, 3, 4)]))
            .get(1)
            .is_none());
    }

    #[test]
    fn finds_consenters_by_certificate() {
        let tls = b"tls certificate".to_vec();
        let sign = b"signing certificate".to_vec();
        let mut n = node(7, 0, 0);
        n.tls_cert_sha256 = cert_hash(&tls).to_vec();
        n.signing_cert_sha256 = cert_hash(&sign).to_vec();
        let set = Consenters::from_config(&config(vec![n])).unwrap();
        assert_eq!(set.by_tls_cert(&tls).unwrap().id, 7);
        assert!(set.by_tls_cert(&sign).is_none());
        assert_eq!(set.by_signing_cert("Org1MSP", &sign).unwrap().id, 7);
        // The same certificate claimed for another org does not count.
        assert!(set.by_signing_cert("Org2MSP", &sign).is_none());
        assert!(set.by_signing_cert("Org1MSP", &tls).is_none());
    }
}
