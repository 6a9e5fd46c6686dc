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
