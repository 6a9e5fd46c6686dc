//! The channel's membership service: which certificates belong to which
//! member org, in which role.

use super::cert::{self, CertError, PublicKey};
use super::Role;
use crate::policy::{Signer, SignerId};
use consort_proto::{ChannelConfig, SerializedIdentity};
use prost::Message;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Why an identity is not accepted as a channel member.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum MspError {
    /// The serialized identity does not decode.
    #[error("malformed identity: {0}")]
    Malformed(String),
    /// The serialized identity decodes but is not in its one canonical
    /// encoding (the decoded message encoded again): it has unknown,
    /// repeated or reordered fields, or overlong lengths. Refused so that
    /// one identity has one encoding.
    #[error("identity is not canonically encoded")]
    NonCanonical,
    /// The MSP ID is not a member of the channel.
    #[error("unknown organisation '{0}'")]
    UnknownOrg(String),
    /// The certificate was not issued by the named org's CA.
    #[error("certificate of '{subject}' is not issued by a CA of {msp_id}")]
    NotIssuedByOrg {
        /// The claimed org.
        msp_id: String,
        /// The certificate's subject CN.
        subject: String,
    },
    /// The certificate's serial is on the org's revocation list.
    #[error("certificate of '{subject}' ({msp_id}) is revoked")]
    Revoked {
        /// The org.
        msp_id: String,
        /// The certificate's subject CN.
        subject: String,
    },
    /// The certificate has no role OU.
    #[error("certificate of '{0}' carries no role (OU admin, peer, orderer or client)")]
    NoRole(String),
    /// The certificate is a CA certificate, not a member's.
    #[error("certificate of '{0}' is a CA certificate")]
    IsCa(String),
    /// The certificate is outside its validity period.
    #[error("certificate of '{subject}' is not valid now (valid {not_before}..{not_after})")]
    Expired {
        /// The certificate's subject CN.
        subject: String,
        /// Start of validity, Unix seconds.
        not_before: i64,
        /// End of validity, Unix seconds.
        not_after: i64,
    },
    /// The certificate does not parse.
    #[error(transparent)]
    Cert(#[from] CertError),
}

/// A validated member identity.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The org.
    pub msp_id: String,
    /// The role from the certificate.
    pub role: Role,
    /// Subject common name.
    pub subject: String,
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// SHA-256 of the certificate's signed part
    /// ([`CertInfo::cert_hash`](super::CertInfo::cert_hash)).
    pub cert_hash: [u8; 32],
    /// Attributes from the certificate's attribute extension.
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The key that verifies its signatures.
    pub public_key: PublicKey,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
}

impl Identity {
    /// Verifies this identity's signature over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CertError> {
        self.public_key.verify(message, signature)
    }

    /// Errors unless `now` (Unix seconds) is inside the validity period.
    pub fn check_valid_at(&self, now: i64) -> Result<(), MspError> {
        if now < self.not_before || now > self.not_after {
            return Err(MspError::Expired {
                subject: self.subject.clone(),
                not_before: self.not_before,
                not_after: self.not_after,
            });
        }
        Ok(())
    }

    /// Who this identity is when signatures are counted: its org and
    /// certificate hash.
    pub fn signer_id(&self) -> SignerId {
        SignerId {
            msp_id: self.msp_id.clone(),
            cert_hash: self.cert_hash,
        }
    }

    /// The policy-language view of this signer.
    pub fn signer(&self) -> Signer {
        Signer {
            id: self.signer_id(),
            role: self.role.into(),
        }
    }
}

struct Org {
    /// Roots of signing identities.
    ca_certs: Vec<Vec<u8>>,
    /// Roots of TLS certificates (the signing roots when the org has no
    /// separate TLS CA).
    tls_ca_certs: Vec<Vec<u8>>,
    revoked: HashSet<Vec<u8>>,
}

/// Which of an org's CAs a certificate must chain to.
#[derive(Debug, Clone, Copy)]
enum Roots {
    /// The signing CA: identities that sign messages.
    Signing,
    /// The TLS CA: certificates presented in TLS.
    Tls,
}

/// A cached validation outcome.
type Validated = Result<Arc<Identity>, MspError>;

/// Cache capacity; beyond it the cache starts over (identities are few).
const CACHE_CAP: usize = 4096;

/// The member orgs of a channel, with a cache of validated identities so a
/// certificate is parsed and chain-checked once, not per signature.
pub struct Msp {
    orgs: HashMap<String, Org>,
    consenters: super::Consenters,
    cache: Mutex<HashMap<[u8; 32], Validated>>,
}

impl std::fmt::Debug for Msp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Msp")
            .field("orgs", &self.msp_ids())
            .finish()
    }
}

impl Msp {
    /// Builds the MSP from a channel config.
    pub fn from_config(config: &ChannelConfig) -> Self {
        let orgs = config
            .orgs
            .iter()
            .map(|o| {
                (
                    o.msp_id.clone(),
                    Org {
                        ca_certs: o.ca_certs.clone(),
                        tls_ca_certs: if o.tls_ca_certs.is_empty() {
                            o.ca_certs.clone()
                        } else {
                            o.tls_ca_certs.clone()
                        },
                        revoked: o.revoked_serials.iter().cloned().collect(),
                    },
                )
            })
            .collect();
        Msp {
            orgs,
            consenters: super::Consenters::lenient(config),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The channel's configured orderers, bound to their certificates.
    pub fn consenters(&self) -> &super::Consenters {
        &self.consenters
    }

    /// The member MSP IDs, sorted.
    pub fn msp_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.orgs.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Every member org's CA certificates, DER.
    pub fn all_ca_certs(&self) -> Vec<Vec<u8>> {
        let mut ids = self.msp_ids();
        ids.dedup();
        ids.iter()
            .filter_map(|id| self.orgs.get(id))
            .flat_map(|o| o.ca_certs.iter().cloned())
            .collect()
    }

    /// Every member org's TLS CA certificates, DER: the roots a TLS peer's
    /// certificate must chain to.
    pub fn all_tls_ca_certs(&self) -> Vec<Vec<u8>> {
        let mut ids = self.msp_ids();
        ids.dedup();
        ids.iter()
            .filter_map(|id| self.orgs.get(id))
            .flat_map(|o| o.tls_ca_certs.iter().cloned())
            .collect()
    }

    /// Validates an encoded `SerializedIdentity`, which must be in its
    /// canonical encoding (cached by the hash of the bytes given, outcome
    /// included, so a non-canonical encoding is refused from the cache too).
    pub fn validate(&self, serialized: &[u8]) -> Result<Arc<Identity>, MspError> {
        let key: [u8; 32] = Sha256::digest(serialized).into();
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let result = decode_canonical(serialized)
            .and_then(|id| self.validate_uncached(&id.msp_id, &id.cert_der, Roots::Signing))
            .map(Arc::new);
        self.store(key, result.clone());
        result
    }

    /// Finds the member org whose TLS CA issued a DER certificate (a TLS
    /// peer's), and validates it as that org's identity.
    pub fn identify_cert(&self, cert_der: &[u8]) -> Result<Arc<Identity>, MspError> {
        let mut key: [u8; 32] = Sha256::digest(cert_der).into();
        key[0] ^= 0xff; // keep apart from serialized-identity keys
        if let Some(hit) = self.cached(&key) {
            return hit;
        }
        let info = cert::parse(cert_der)?;
        let owner = self
            .orgs
            .iter()
            .find(|(_, org)| {
                org.tls_ca_certs
                    .iter()
                    .any(|ca| cert::issued_by(cert_der, ca))
            })
            .map(|(id, _)| id.clone());
        let result = match owner {
            Some(msp_id) => self
                .validate_uncached(&msp_id, cert_der, Roots::Tls)
                .map(Arc::new),
            None => Err(MspError::UnknownOrg(
                info.organization.unwrap_or_else(|| info.subject_cn.clone()),
            )),
        };
        self.store(key, result.clone());
        result
    }

    /// True when a certificate serial is revoked by any member org.
    pub fn is_revoked_serial(&self, serial: &[u8]) -> bool {
        self.orgs.values().any(|o| o.revoked.contains(serial))
    }

    fn cached(&self, key: &[u8; 32]) -> Option<Result<Arc<Identity>, MspError>> {
        // Short critical section, no await inside.
        self.cache.lock().ok().and_then(|c| c.get(key).cloned())
    }

    fn store(&self, key: [u8; 32], value: Result<Arc<Identity>, MspError>) {
        if let Ok(mut c) = self.cache.lock() {
            if c.len() >= CACHE_CAP {
                c.clear();
            }
            c.insert(key, value);
        }
    }

    fn validate_uncached(
        &self,
        msp_id: &str,
        cert_der: &[u8],
        roots: Roots,
    ) -> Result<Identity, MspError> {
        let org = self
            .orgs
            .get(msp_id)
            .ok_or_else(|| MspError::UnknownOrg(msp_id.to_string()))?;
        let info = cert::parse(cert_der)?;
        if info.is_ca {
            return Err(MspError::IsCa(info.subject_cn));
        }
        let roots = match roots {
            Roots::Signing => &org.ca_certs,
            Roots::Tls => &org.tls_ca_certs,
        };
        if !roots.iter().any(|ca| cert::issued_by(cert_der, ca)) {
            return Err(MspError::NotIssuedByOrg {
                msp_id: msp_id.to_string(),
                subject: info.subject_cn,
            });
        }
        if org.revoked.contains(&info.serial) {
            return Err(MspError::Revoked {
                msp_id: msp_id.to_string(),
                subject: info.subject_cn,
            });
        }
        let role = info
            .role
            .ok_or_else(|| MspError::NoRole(info.subject_cn.clone()))?;
        Ok(Identity {
            msp_id: msp_id.to_string(),
            role,
            subject: info.subject_cn,
            cert_der: cert_der.to_vec(),
            cert_hash: info.cert_hash,
            attributes: info.attributes,
            public_key: info.public_key,
            not_before: info.not_before,
            not_after: info.not_after,
        })
    }
}

/// Decodes a `SerializedIdentity`, refusing any encoding but the one prost
/// gives the decoded message: decoding alone ignores unknown fields and
/// accepts repeated or reordered ones, which would give one identity many
/// encodings.
fn decode_canonical(serialized: &[u8]) -> Result<SerializedIdentity, MspError> {
    let id =
        SerializedIdentity::decode(serialized).map_err(|e| MspError::Malformed(e.to_string()))?;
    if id.encode_to_vec() != serialized {
        return Err(MspError::NonCanonical);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ca::{CertAuthority, KeyKind};
    use crate::identity::now_unix;
    use crate::testkit::{self, Consortium};

    fn serialized(msp_id: &str, cert_der: &[u8]) -> Vec<u8> {
        SerializedIdentity {
            msp_id: msp_id.into(),
            cert_der: cert_der.to_vec(),
        }
        .encode_to_vec()
    }

    #[test]
    fn validates_members_in_every_role() {
        let c = Consortium::new(3);
        assert_eq!(c.msp.msp_ids(), vec!["Org1MSP", "Org2MSP", "Org3MSP"]);
        assert_eq!(c.msp.all_ca_certs().len(), 3);
        for (i, org) in c.orgs.iter().enumerate() {
            let msp_id = format!("Org{}MSP", i + 1);
            for (who, role) in [
                (&org.peer, Role::Peer),
                (&org.client, Role::Client),
                (&org.orderer, Role::Orderer),
            ] {
                let id = c.msp.validate(who.serialized()).unwrap();
                assert_eq!(id.msp_id, msp_id);
                assert_eq!(id.role, role);
                assert_eq!(id.subject, who.info().subject_cn);
                assert_eq!(id.cert_der, who.cert_der());
                assert_eq!(id.signer().role, crate::policy::SignerRole::from(role));
                id.check_valid_at(now_unix()).unwrap();
                assert!(matches!(
                    id.check_valid_at(id.not_after + 1),
                    Err(MspError::Expired { .. })
                ));
                assert!(matches!(
                    id.check_valid_at(id.not_before - 1),
                    Err(MspError::Expired { .. })
                ));
                // The second lookup is served from the cache, unchanged.
                let again = c.msp.validate(who.serialized()).unwrap();
                assert!(Arc::ptr_eq(&id, &again));
            }
        }
    }

    #[test]
    fn a_members_certificate_attributes_reach_its_identity() {
        use crate::identity::ca::IssueRequest;
        let c = Consortium::new(1);
        let mut req = IssueRequest::new("auditor@org1", Role::Client, vec![]);
        req.attributes = [("department".to_owned(), "audit".to_owned())].into();
        let issued = c.orgs[0].ca.issue(&req).unwrap();
        let id = c
            .msp
            .validate(&serialized("Org1MSP", &issued.cert_der))
            .unwrap();
        assert_eq!(id.attributes, req.attributes);
        let plain = c.msp.validate(c.orgs[0].client.serialized()).unwrap();
        assert!(plain.attributes.is_empty());
    }

    #[test]
    fn unknown_org_and_wrong_issuer_are_refused() {
        let c = Consortium::new(2);
        let peer1 = c.orgs[0].peer.cert_der();
        assert_eq!(
            c.msp.validate(&serialized("Org9MSP", peer1)).unwrap_err(),
            MspError::UnknownOrg("Org9MSP".into())
        );
        // Org1's certificate presented as Org2's.
        assert!(matches!(
            c.msp.validate(&serialized("Org2MSP", peer1)),
            Err(MspError::NotIssuedByOrg { msp_id, .. }) if msp_id == "Org2MSP"
        ));
        // A different CA with the same name (and so the same subject) as Org1's.
        let impostor_ca = CertAuthority::generate("Org1MSP", KeyKind::Ed25519).unwrap();
        let impostor = testkit::identity(&impostor_ca, "peer0.org1", Role::Peer, KeyKind::Ed25519);
        assert_eq!(
            c.msp.validate(impostor.serialized()).unwrap_err(),
            MspError::NotIssuedByOrg {
                msp_id: "Org1MSP".into(),
                subject: "peer0.org1".into()
            }
        );
    }

    #[test]
    fn revoked_serial_is_refused() {
        let c = Consortium::new(2);
        let client = &c.orgs[0].client;
        let serial = cert::parse(client.cert_der()).unwrap().serial;
        let mut config = c.config.clone();
        config.orgs[0].revoked_serials.push(serial.clone());
        let msp = Msp::from_config(&config);
        assert!(msp.is_revoked_serial(&serial));
        assert!(!c.msp.is_revoked_serial(&serial));
        let revoked = MspError::Revoked {
            msp_id: "Org1MSP".into(),
            subject: "user1@org1".into(),
        };
        assert_eq!(msp.validate(client.serialized()).unwrap_err(), revoked);
        assert_eq!(msp.identify_cert(client.cert_der()).unwrap_err(), revoked);
        // Only that certificate.
        msp.validate(c.orgs[0].peer.serialized()).unwrap();
        msp.validate(c.orgs[1].client.serialized()).unwrap();
    }

    #[test]
    fn ca_and_malformed_certificates_are_refused() {
        let c = Consortium::new(1);
        let ca_der = &c.orgs[0].ca.cert().cert_der;
        assert_eq!(
            c.msp.validate(&serialized("Org1MSP", ca_der)).unwrap_err(),
            MspError::IsCa("ca.org1msp".into())
        );
        assert!(matches!(
            c.msp.validate(&[0xff, 0xff, 0xff]),
            Err(MspError::Malformed(_))
        ));
        assert!(matches!(
            c.msp.validate(&serialized("Org1MSP", b"not a certificate")),
            Err(MspError::Cert(CertError::Malformed(_)))
        ));
    }

    #[test]
    fn non_canonical_encodings_are_refused() {
        let c = Consortium::new(1);
        let peer = &c.orgs[0].peer;
        let cert_der = peer.cert_der();
        let canonical = serialized("Org1MSP", cert_der);
        assert_eq!(canonical, peer.serialized());
        let part = |msp_id: &str, cert_der: &[u8]| serialized(msp_id, cert_der);
        // Field 1 with its length 7 written in two bytes.
        let mut overlong = vec![0x0a, 0x87, 0x00];
        overlong.extend_from_slice(b"Org1MSP");
        overlong.extend(part("", cert_der));
        let encodings = [
            ("unknown field", testkit::with_unknown_field(&canonical)),
            (
                "unknown field first",
                [&[0x78, 0x01][..], &canonical].concat(),
            ),
            (
                "reordered",
                [part("", cert_der), part("Org1MSP", &[])].concat(),
            ),
            (
                "repeated",
                [part("Org9MSP", &[]), canonical.clone()].concat(),
            ),
            ("overlong length", overlong),
        ];
        for (what, bytes) in encodings {
            let decoded = SerializedIdentity::decode(bytes.as_slice()).unwrap();
            assert_eq!(decoded.encode_to_vec(), canonical, "{what} decodes alike");
            assert_eq!(
                c.msp.validate(&bytes).unwrap_err(),
                MspError::NonCanonical,
                "{what}"
            );
        }
        c.msp.validate(&canonical).unwrap();
    }

    #[test]
    fn the_cache_does_not_let_a_non_canonical_encoding_through() {
        let c = Consortium::new(1);
        let canonical = c.orgs[0].peer.serialized();
        let renamed = testkit::with_unknown_field(canonical);
        // Before and after the canonical encoding is cached, and from the
        // cache on a second look.
        for _ in 0..2 {
            assert_eq!(
                c.msp.validate(&renamed).unwrap_err(),
                MspError::NonCanonical
            );
            c.msp.validate(canonical).unwrap();
        }
        let msp = Msp::from_config(&c.config);
        msp.validate(canonical).unwrap();
        assert_eq!(msp.validate(&renamed).unwrap_err(), MspError::NonCanonical);
    }

    #[test]
    fn a_signer_is_its_org_and_certificate_hash() {
        let c = Consortium::new(3);
        let peer = &c.orgs[2].peer; // issued by a P-256 CA
        let id = c.msp.validate(peer.serialized()).unwrap();
        assert_eq!(id.cert_hash, peer.info().cert_hash);
        assert_eq!(id.signer_id().msp_id, "Org3MSP");
        assert_eq!(id.signer_id().cert_hash, id.cert_hash);
        assert_eq!(id.signer().id, id.signer_id());
        // The same certificate with the CA's signature (r, s) turned into
        // (r, n - s): other DER, equally valid, the same signer.
        let twin_der = testkit::ecdsa_twin(peer.cert_der());
        let twin = c.msp.validate(&serialized("Org3MSP", &twin_der)).unwrap();
        assert_ne!(twin.cert_der, id.cert_der);
        assert_eq!(twin.signer_id(), id.signer_id());
        // Another certificate of the same org and role is another signer.
        let other = c.orgs[2].another("peer1.org3", Role::Peer);
        let other = c.msp.validate(other.serialized()).unwrap();
        assert_eq!(other.msp_id, id.msp_id);
        assert_ne!(other.signer_id(), id.signer_id());
        for org in &c.orgs {
            let ids: HashSet<_> = [&org.peer, &org.client, &org.orderer]
                .iter()
                .map(|who| c.msp.validate(who.serialized()).unwrap().signer_id())
                .collect();
            assert_eq!(ids.len(), 3);
        }
    }

    #[test]
    fn identify_cert_finds_the_issuing_org() {
        let c = Consortium::new(3);
        for (i, org) in c.orgs.iter().enumerate() {
            for who in [&org.peer, &org.orderer] {
                let id = c.msp.identify_cert(who.cert_der()).unwrap();
                assert_eq!(id.msp_id, format!("Org{}MSP", i + 1));
                assert_eq!(id.subject, who.info().subject_cn);
            }
        }
        let outside_ca = CertAuthority::generate("Org9MSP", KeyKind::EcdsaP256).unwrap();
        let outsider = testkit::identity(&outside_ca, "peer0.org9", Role::Peer, KeyKind::EcdsaP256);
        assert_eq!(
            c.msp.identify_cert(outsider.cert_der()).unwrap_err(),
            MspError::UnknownOrg("Org9MSP".into())
        );
        let impostor_ca = CertAuthority::generate("Org2MSP", KeyKind::Ed25519).unwrap();
        let impostor = testkit::identity(&impostor_ca, "peer0.org2", Role::Peer, KeyKind::Ed25519);
        assert_eq!(
            c.msp.identify_cert(impostor.cert_der()).unwrap_err(),
            MspError::UnknownOrg("Org2MSP".into())
        );
        assert!(matches!(
            c.msp.identify_cert(b"junk"),
            Err(MspError::Cert(CertError::Malformed(_)))
        ));
    }
}
