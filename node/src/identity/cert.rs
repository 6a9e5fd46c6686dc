//! Parsing a certificate once into what the node needs from it.

use super::Role;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use x509_parser::prelude::*;

/// Why a certificate could not be used.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CertError {
    /// The bytes are not a DER X.509 certificate.
    #[error("malformed certificate: {0}")]
    Malformed(String),
    /// The public key is neither Ed25519 nor ECDSA P-256.
    #[error("unsupported public key algorithm {0}")]
    UnsupportedKey(String),
    /// A signature did not verify under this key.
    #[error("signature does not verify")]
    BadSignature,
}

/// The signature schemes Consort identities use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// Ed25519 (the default for generated identities).
    Ed25519,
    /// ECDSA over P-256 with SHA-256, ASN.1 DER signatures.
    EcdsaP256,
}

/// A certificate's public key, ready to verify signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    alg: KeyAlgorithm,
    bytes: Vec<u8>,
}

impl PublicKey {
    /// Verifies `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), CertError> {
        let alg: &dyn ring::signature::VerificationAlgorithm = match self.alg {
            KeyAlgorithm::Ed25519 => &ring::signature::ED25519,
            KeyAlgorithm::EcdsaP256 => &ring::signature::ECDSA_P256_SHA256_ASN1,
        };
        ring::signature::UnparsedPublicKey::new(alg, &self.bytes)
            .verify(message, signature)
            .map_err(|_| CertError::BadSignature)
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.alg
    }

    /// The raw key: 32 bytes for Ed25519, the uncompressed SEC1 point for P-256.
    pub fn raw_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// What a certificate says, parsed once.
#[derive(Debug, Clone)]
pub struct CertInfo {
    /// Subject common name.
    pub subject_cn: String,
    /// Subject organisation (O), which Consort sets to the MSP ID.
    pub organization: Option<String>,
    /// Role from the subject's OU, if it names one.
    pub role: Option<Role>,
    /// Serial number, big-endian bytes.
    pub serial: Vec<u8>,
    /// Start of validity, Unix seconds.
    pub not_before: i64,
    /// End of validity, Unix seconds.
    pub not_after: i64,
    /// Whether the certificate is a CA.
    pub is_ca: bool,
    /// Subject public key.
    pub public_key: PublicKey,
    /// Attributes from the attribute extension ([`OID_ATTRIBUTES`]); empty without one.
    pub attributes: BTreeMap<String, String>,
    /// SHA-256 of the certificate's `TBSCertificate`, the part its CA
    /// signed: what identifies the certificate. Unlike a hash of the whole
    /// DER it does not change when the CA's signature or the outer encoding
    /// is altered (an ECDSA signature `(r, s)` is as valid as `(r, n - s)`),
    /// so one issued certificate has one hash.
    pub cert_hash: [u8; 32],
}

/// The extension carrying a member's attributes, as Fabric CA writes it:
/// the JSON `{"attrs": {"name": "value", ...}}` as the extension's value.
pub const OID_ATTRIBUTES: &str = "1.2.3.4.5.6.7.8.1";

/// The attribute extension's JSON.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct AttributesJson {
    /// Attribute names and values.
    pub attrs: BTreeMap<String, String>,
}

const OID_ED25519: &str = "1.3.101.112";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";

/// Parses a DER certificate.
pub fn parse(der: &[u8]) -> Result<CertInfo, CertError> {
    let (rest, cert) =
        X509Certificate::from_der(der).map_err(|e| CertError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(CertError::Malformed(
            "trailing bytes after certificate".into(),
        ));
    }
    let spki = cert.public_key();
    let alg_oid = spki.algorithm.algorithm.to_id_string();
    let alg = match alg_oid.as_str() {
        OID_ED25519 => KeyAlgorithm::Ed25519,
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            if curve != OID_P256 {
                return Err(CertError::UnsupportedKey(format!("EC curve {curve}")));
            }
            KeyAlgorithm::EcdsaP256
        }
        other => return Err(CertError::UnsupportedKey(other.to_string())),
    };
    let subject = cert.subject();
    let first = |it: &mut dyn Iterator<Item = &AttributeTypeAndValue>| {
        it.next().and_then(|a| a.as_str().ok()).map(str::to_string)
    };
    let subject_cn = first(&mut subject.iter_common_name()).unwrap_or_default();
    let organization = first(&mut subject.iter_organization());
    let role = subject
        .iter_organizational_unit()
        .filter_map(|a| a.as_str().ok())
        .find_map(|ou| ou.parse::<Role>().ok());
    let mut attributes = BTreeMap::new();
    for ext in cert.extensions() {
        if ext.oid.to_id_string() == OID_ATTRIBUTES {
            let parsed: AttributesJson = serde_json::from_slice(ext.value).map_err(|e| {
                CertError::Malformed(format!("attribute extension is not valid JSON: {e}"))
            })?;
            attributes = parsed.attrs;
        }
    }
    let is_ca = cert
        .basic_constraints()
        .ok()
        .flatten()
        .map(|bc| bc.value.ca)
        .unwrap_or(false);
    Ok(CertInfo {
        subject_cn,
        organization,
        role,
        serial: cert.raw_serial().to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        is_ca,
        public_key: PublicKey {
            alg,
            bytes: spki.subject_public_key.data.to_vec(),
        },
        attributes,
        cert_hash: Sha256::digest(cert.tbs_certificate.as_ref()).into(),
    })
}

/// True when `cert_der` names `ca_der`'s subject as issuer and carries a
/// valid signature by the CA's key.
pub fn issued_by(cert_der: &[u8], ca_der: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, ca))) = (
        X509Certificate::from_der(cert_der),
        X509Certificate::from_der(ca_der),
    ) else {
        return false;
    };
    cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

/// Decodes all certificates in a PEM text to DER.
pub fn pem_to_ders(pem: &[u8]) -> Result<Vec<Vec<u8>>, CertError> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::CertificateDer;
    let ders = CertificateDer::pem_slice_iter(pem)
        .map(|c| c.map(|c| c.to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CertError::Malformed(format!("PEM: {e}")))?;
    if ders.is_empty() {
        return Err(CertError::Malformed("no certificate in PEM".into()));
    }
    Ok(ders)
}

/// Encodes a DER certificate as PEM.
pub fn der_to_pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

/// Encodes bytes as one PEM block with the given label.
pub fn pem_block(label: &str, der: &[u8]) -> String {
    ::pem::encode(&::pem::Pem::new(label, der.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::now_unix;
    use crate::testkit::Consortium;

    #[test]
    fn attributes_round_trip_through_the_attribute_extension() {
        use crate::identity::ca::{CertAuthority, IssueRequest, KeyKind};
        let ca = CertAuthority::generate("Org1MSP", KeyKind::Ed25519).unwrap();
        let mut req = IssueRequest::new("auditor1@org1", Role::Client, vec![]);
        req.attributes = BTreeMap::from([
            ("department".to_owned(), "audit".to_owned()),
            ("level".to_owned(), "3".to_owned()),
        ]);
        let issued = ca.issue(&req).unwrap();
        let info = parse(&issued.cert_der).unwrap();
        assert_eq!(info.attributes, req.attributes);
        let plain = ca
            .issue(&IssueRequest::new("user1@org1", Role::Client, vec![]))
            .unwrap();
        assert!(parse(&plain.cert_der).unwrap().attributes.is_empty());
    }

    #[test]
    fn parses_member_and_ca_certificates() {
        let c = Consortium::new(3);
        for (org, alg) in [
            (&c.orgs[0], KeyAlgorithm::Ed25519),
            (&c.orgs[2], KeyAlgorithm::EcdsaP256),
        ] {
            let info = parse(org.peer.cert_der()).unwrap();
            assert_eq!(info.subject_cn, org.peer.info().subject_cn);
            assert_eq!(info.organization.as_deref(), Some(org.ca.msp_id()));
            assert_eq!(info.role, Some(Role::Peer));
            assert!(!info.is_ca);
            assert!(!info.serial.is_empty());
            assert!(info.not_before < now_unix() && now_unix() < info.not_after);
            assert_eq!(info.public_key.algorithm(), alg);

            let ca = parse(&org.ca.cert().cert_der).unwrap();
            assert!(ca.is_ca);
            assert_eq!(ca.role, None);
            assert_eq!(ca.public_key.algorithm(), alg);
            assert_ne!(ca.serial, info.serial);
        }
        assert_eq!(
            parse(c.orgs[1].client.cert_der()).unwrap().role,
            Some(Role::Client)
        );
    }

    #[test]
    fn signatures_verify_and_a_flipped_byte_fails() {
        let c = Consortium::new(3);
        let msg = b"the block header".to_vec();
        for signer in [&c.orgs[0].peer, &c.orgs[2].peer] {
            let key = &parse(signer.cert_der()).unwrap().public_key;
            let sig = signer.sign(&msg).unwrap();
            key.verify(&msg, &sig).unwrap();
            for i in [0, sig.len() / 2, sig.len() - 1] {
                let mut bad = sig.clone();
                bad[i] ^= 0x01;
                assert_eq!(
                    key.verify(&msg, &bad),
                    Err(CertError::BadSignature),
                    "byte {i}"
                );
            }
            let mut other_msg = msg.clone();
            other_msg[4] ^= 0x01;
            assert_eq!(key.verify(&other_msg, &sig), Err(CertError::BadSignature));
            assert_eq!(key.verify(&msg, &[]), Err(CertError::BadSignature));
        }
        // One org's signature under another's key.
        let sig = c.orgs[0].peer.sign(&msg).unwrap();
        let key2 = &parse(c.orgs[1].peer.cert_der()).unwrap().public_key;
        assert_eq!(key2.verify(&msg, &sig), Err(CertError::BadSignature));
    }

    #[test]
    fn issued_by_checks_the_issuers_signature() {
        let c = Consortium::new(3);
        let peer3 = c.orgs[2].peer.cert_der();
        assert!(issued_by(peer3, &c.orgs[2].ca.cert().cert_der));
        assert!(!issued_by(peer3, &c.orgs[0].ca.cert().cert_der));
        assert!(!issued_by(
            c.orgs[0].peer.cert_der(),
            &c.orgs[2].ca.cert().cert_der
        ));
        assert!(!issued_by(b"junk", &c.orgs[2].ca.cert().cert_der));
        assert!(!issued_by(peer3, b"junk"));
    }

    #[test]
    fn the_certificate_hash_covers_the_signed_part_only() {
        let c = Consortium::new(3);
        let der = c.orgs[2].peer.cert_der(); // issued by a P-256 CA
        let info = parse(der).unwrap();
        let twin = crate::testkit::ecdsa_twin(der);
        assert!(issued_by(&twin, &c.orgs[2].ca.cert().cert_der));
        assert_eq!(parse(&twin).unwrap().cert_hash, info.cert_hash);
        assert_ne!(info.cert_hash, <[u8; 32]>::from(Sha256::digest(der)));
        let hashes: std::collections::HashSet<[u8; 32]> = c
            .orgs
            .iter()
            .flat_map(|o| [&o.peer, &o.client, &o.orderer])
            .map(|who| parse(who.cert_der()).unwrap().cert_hash)
            .collect();
        assert_eq!(hashes.len(), 9);
    }

    #[test]
    fn malformed_input_is_refused() {
        let c = Consortium::new(1);
        assert!(matches!(parse(b"junk"), Err(CertError::Malformed(_))));
        let mut trailing = c.orgs[0].peer.cert_der().to_vec();
        trailing.push(0);
        assert!(matches!(parse(&trailing), Err(CertError::Malformed(m)) if m.contains("trailing")));
        let der = c.orgs[0].peer.cert_der();
        let pem = der_to_pem(der);
        assert_eq!(pem_to_ders(pem.as_bytes()).unwrap(), vec![der.to_vec()]);
        let two = format!("{pem}{}", der_to_pem(&c.orgs[0].ca.cert().cert_der));
        assert_eq!(pem_to_ders(two.as_bytes()).unwrap().len(), 2);
        assert!(matches!(pem_to_ders(b""), Err(CertError::Malformed(_))));
    }
}
