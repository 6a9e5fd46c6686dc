//! A signing identity: a certificate plus its private key.

use super::cert::{self, CertError, CertInfo};
use consort_proto::SerializedIdentity;
use prost::Message;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use std::path::Path;

/// Why a signing identity could not be loaded or used.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// A key or certificate file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The private key is not a PKCS#8 Ed25519 or P-256 key.
    #[error("unusable private key: {0}")]
    Key(String),
    /// The certificate does not parse.
    #[error(transparent)]
    Cert(#[from] CertError),
    /// The private key does not belong to the certificate.
    #[error("private key does not match the certificate's public key")]
    KeyMismatch,
    /// Signing failed (ECDSA needs randomness).
    #[error("signing failed")]
    Sign,
}

enum Key {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
}

/// A certificate and private key that can sign as one member of an org.
pub struct SigningIdentity {
    msp_id: String,
    cert_der: Vec<u8>,
    key_pkcs8: Vec<u8>,
    serialized: Vec<u8>,
    info: CertInfo,
    key: Key,
    rng: ring::rand::SystemRandom,
}

impl std::fmt::Debug for SigningIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("msp_id", &self.msp_id)
            .field("subject", &self.info.subject_cn)
            .field("role", &self.info.role)
            .finish()
    }
}

impl SigningIdentity {
    /// Builds an identity from a DER certificate and a PKCS#8 DER key.
    pub fn from_der(
        msp_id: &str,
        cert_der: Vec<u8>,
        key_pkcs8: Vec<u8>,
    ) -> Result<Self, SignerError> {
        let info = cert::parse(&cert_der)?;
        let rng = ring::rand::SystemRandom::new();
        let key = if let Ok(k) = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&key_pkcs8) {
            Key::Ed25519(k)
        } else if let Ok(k) =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &key_pkcs8, &rng)
        {
            Key::P256(k)
        } else {
            return Err(SignerError::Key(
                "expected a PKCS#8 Ed25519 or ECDSA P-256 key".into(),
            ));
        };
        let this = SigningIdentity {
            serialized: SerializedIdentity {
                msp_id: msp_id.to_string(),
                cert_der: cert_der.clone(),
            }
            .encode_to_vec(),
            msp_id: msp_id.to_string(),
            cert_der,
            key_pkcs8,
            info,
            key,
            rng,
        };
        // Prove the key matches the certificate by a sign/verify round trip.
        let probe = this.sign(b"consort-key-check")?;
        this.info
            .public_key
            .verify(b"consort-key-check", &probe)
            .map_err(|_| SignerError::KeyMismatch)?;
        Ok(this)
    }

    /// Loads `cert.pem` and `key.pem` style files.
    pub fn load(msp_id: &str, cert_path: &Path, key_path: &Path) -> Result<Self, SignerError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|source| SignerError::Read {
                path: p.display().to_string(),
                source,
            })
        };
        let cert_pem = read(cert_path)?;
        let key_pem = read(key_path)?;
        let cert_der = cert::pem_to_ders(&cert_pem)?
            .into_iter()
            .next()
            .ok_or_else(|| CertError::Malformed("empty PEM".into()))?;
        let key_der = pem::parse(&key_pem)
            .map_err(|e| SignerError::Key(format!("{}: {e}", key_path.display())))?
            .into_contents();
        Self::from_der(msp_id, cert_der, key_der)
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignerError> {
        match &self.key {
            Key::Ed25519(k) => Ok(k.sign(message).as_ref().to_vec()),
            Key::P256(k) => k
                .sign(&self.rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| SignerError::Sign),
        }
    }

    /// The org this identity belongs to.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The encoded `SerializedIdentity` (what messages carry as creator).
    pub fn serialized(&self) -> &[u8] {
        &self.serialized
    }

    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }

    /// What the certificate says.
    pub fn info(&self) -> &CertInfo {
        &self.info
    }

    /// The certificate as PEM (for TLS).
    pub fn cert_pem(&self) -> String {
        cert::der_to_pem(&self.cert_der)
    }

    /// The private key as PKCS#8 PEM (for TLS).
    pub fn key_pem(&self) -> String {
        cert::pem_block("PRIVATE KEY", &self.key_pkcs8)
    }

    /// The private key, PKCS#8 DER.
    pub fn key_der(&self) -> &[u8] {
        &self.key_pkcs8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{KeyAlgorithm, Role};
    use crate::testutil::{Kind, TestCa};

    #[test]
    fn both_key_kinds_sign_what_their_certificate_verifies() {
        let ca = TestCa::new("Org1MSP", Kind::P256);
        for (kind, alg) in [
            (Kind::Ed25519, KeyAlgorithm::Ed25519),
            (Kind::P256, KeyAlgorithm::EcdsaP256),
        ] {
            let issued = ca.issue("user1@org1", "client", &[], kind);
            let id = SigningIdentity::from_der("Org1MSP", issued.cert_der, issued.key_der).unwrap();
            assert_eq!(id.info().public_key.algorithm(), alg);
            assert_eq!(id.info().role, Some(Role::Client));
            assert_eq!(id.info().subject_cn, "user1@org1");
            assert_eq!(id.info().organization.as_deref(), Some("Org1MSP"));
            let sig = id.sign(b"proposal bytes").unwrap();
            id.info()
                .public_key
                .verify(b"proposal bytes", &sig)
                .unwrap();
            assert!(id.info().public_key.verify(b"other bytes", &sig).is_err());
            let creator = SerializedIdentity::decode(id.serialized()).unwrap();
            assert_eq!(creator.msp_id, "Org1MSP");
            assert_eq!(creator.cert_der, id.cert_der());
        }
    }

    #[test]
    fn a_key_of_another_certificate_or_no_key_is_refused() {
        let ca = TestCa::new("Org1MSP", Kind::P256);
        let a = ca.issue("a", "client", &[], Kind::P256);
        let b = ca.issue("b", "client", &[], Kind::P256);
        assert!(matches!(
            SigningIdentity::from_der("Org1MSP", a.cert_der.clone(), b.key_der),
            Err(SignerError::KeyMismatch)
        ));
        assert!(matches!(
            SigningIdentity::from_der("Org1MSP", a.cert_der.clone(), vec![1, 2, 3]),
            Err(SignerError::Key(_))
        ));
        assert!(matches!(
            SigningIdentity::from_der("Org1MSP", vec![1, 2, 3], a.key_der),
            Err(SignerError::Cert(_))
        ));
    }

    #[test]
    fn pem_files_load_and_a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new("Org1MSP", Kind::Ed25519);
        let (cert, key) = ca
            .issue("peer0", "peer", &[], Kind::Ed25519)
            .write(dir.path(), "peer0");
        let id = SigningIdentity::load("Org1MSP", &cert, &key).unwrap();
        assert_eq!(id.info().role, Some(Role::Peer));
        assert_eq!(
            cert::pem_to_ders(id.cert_pem().as_bytes()).unwrap(),
            vec![id.cert_der().to_vec()]
        );
        let missing = dir.path().join("missing.pem");
        match SigningIdentity::load("Org1MSP", &missing, &key) {
            Err(SignerError::Read { path, .. }) => assert!(path.ends_with("missing.pem")),
            other => panic!("{other:?}"),
        }
    }
}
