//! Parsing a certificate once into what Consort needs from it: subject,
//! organisation, role, validity, public key (to verify signatures),
//! attributes and the hash that identifies it.

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
    let first = |it: &mut dyn Iterator<Item = &AttributeTypeAndValue<'_>>| {
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
