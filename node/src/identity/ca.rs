//! An organisation's certificate authority: makes the CA and issues member
//! certificates (what `consort crypto generate` and the tests use).

use super::cert::AttributesJson;
use super::Role;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SerialNumber,
};
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;

/// Why a CA could not be made or could not issue.
#[derive(Debug, thiserror::Error)]
pub enum CaError {
    /// Key generation, parameter or signing failure inside rcgen.
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    /// The attributes could not be encoded.
    #[error("certificate attributes: {0}")]
    Attributes(String),
}

/// [`super::cert::OID_ATTRIBUTES`] as arcs.
const ATTRIBUTES_OID: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 1];

/// The key algorithm of a generated identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyKind {
    /// Ed25519 (default: fastest to verify).
    #[default]
    Ed25519,
    /// ECDSA over P-256.
    EcdsaP256,
}

/// The fixed PKCS#8 v1 (RFC 5208) prefix of an Ed25519 private key
/// (RFC 8410): version 0, algorithm id-Ed25519, then the 32-byte seed as an
/// OCTET STRING inside the privateKey OCTET STRING.
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// An Ed25519 seed as a PKCS#8 v1 private key. PKCS#8 v2 (RFC 5958, the
/// public key attached) is what ring writes, and OpenSSL 3.0, Python's
/// `ssl` and `cryptography` refuse it; v1 is read everywhere.
pub fn ed25519_pkcs8_v1(seed: &[u8; 32]) -> Vec<u8> {
    let mut der = Vec::with_capacity(48);
    der.extend_from_slice(&ED25519_PKCS8_V1_PREFIX);
    der.extend_from_slice(seed);
    der
}

impl KeyKind {
    fn generate(self) -> Result<KeyPair, CaError> {
        match self {
            KeyKind::Ed25519 => {
                let mut seed = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut seed)
                    .map_err(|_| CaError::Generate(rcgen::Error::RingUnspecified))?;
                let der = ed25519_pkcs8_v1(&seed);
                Ok(KeyPair::from_pkcs8_der_and_sign_algo(
                    &rustls_pki_types::PrivatePkcs8KeyDer::from(der.as_slice()),
                    &rcgen::PKCS_ED25519,
                )?)
            }
            // ring's ECDSA PKCS#8 is already version 0 (v1).
            KeyKind::EcdsaP256 => Ok(KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?),
        }
    }
}

/// A certificate and its private key, in DER and PEM.
#[derive(Debug, Clone)]
pub struct IssuedCert {
    /// The certificate, DER.
    pub cert_der: Vec<u8>,
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key, PKCS#8 DER.
    pub key_der: Vec<u8>,
    /// The private key, PKCS#8 PEM.
    pub key_pem: String,
}

/// What to put in a member certificate.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// Subject CN, e.g. "peer0.org1".
    pub common_name: String,
    /// The role carried as OU.
    pub role: Role,
    /// DNS names and IP addresses for the SAN (TLS server names).
    pub hosts: Vec<String>,
    /// Key algorithm.
    pub kind: KeyKind,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity.
    pub not_after: OffsetDateTime,
    /// Attributes for attribute-based access control, written in the
    /// attribute extension (`cert::OID_ATTRIBUTES`) when not empty.
    pub attributes: BTreeMap<String, String>,
}

impl IssueRequest {
    /// A request valid from an hour ago for ten years.
    pub fn new(common_name: &str, role: Role, hosts: Vec<String>) -> Self {
        let now = OffsetDateTime::now_utc();
        IssueRequest {
            common_name: common_name.to_string(),
            role,
            hosts,
            kind: KeyKind::Ed25519,
            not_before: now - Duration::from_secs(3600),
            not_after: now + Duration::from_secs(10 * 365 * 24 * 3600),
            attributes: BTreeMap::new(),
        }
    }
}

/// An org's CA: its self-signed certificate and key.
pub struct CertAuthority {
    msp_id: String,
    issuer: Issuer<'static, KeyPair>,
    cert: IssuedCert,
}

fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] &= 0x7f; // positive
    bytes[0] |= 0x01; // no leading zero byte to strip
    SerialNumber::from_slice(&bytes)
}

impl CertAuthority {
    /// Makes a new CA for `msp_id` (CN `ca.<msp id>`), valid for twenty
    /// years: the org's signing CA.
    pub fn generate(msp_id: &str, kind: KeyKind) -> Result<Self, CaError> {
        Self::generate_named(msp_id, &format!("ca.{}", msp_id.to_lowercase()), kind)
    }

    /// Makes the org's TLS CA (CN `tlsca.<msp id>`): always ECDSA P-256,
    /// like the certificates it issues, since every TLS stack speaks it.
    pub fn generate_tls(msp_id: &str) -> Result<Self, CaError> {
        Self::generate_named(
            msp_id,
            &format!("tlsca.{}", msp_id.to_lowercase()),
            KeyKind::EcdsaP256,
        )
    }

    fn generate_named(msp_id: &str, common_name: &str, kind: KeyKind) -> Result<Self, CaError> {
        let key = kind.generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        dn.push(DnType::OrganizationName, msp_id);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::from_secs(3600);
        params.not_after = now + Duration::from_secs(20 * 365 * 24 * 3600);
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key)?;
        let issued = IssuedCert {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        };
        Ok(CertAuthority {
            msp_id: msp_id.to_string(),
            issuer: Issuer::new(params, key),
            cert: issued,
        })
    }

    /// Loads an existing CA from its PEM certificate and PKCS#8 PEM key.
    pub fn load(msp_id: &str, cert_pem: &str, key_pem: &str) -> Result<Self, CaError> {
        let key = KeyPair::from_pem(key_pem)?;
        let der = pem::parse(cert_pem)
            .map_err(|_| rcgen::Error::CouldNotParseCertificate)?
            .into_contents();
        let cert = IssuedCert {
            cert_der: der,
            cert_pem: cert_pem.to_string(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        };
        Ok(CertAuthority {
            msp_id: msp_id.to_string(),
            issuer: Issuer::from_ca_cert_pem(cert_pem, key)?,
            cert,
        })
    }

    /// The CA's certificate and key.
    pub fn cert(&self) -> &IssuedCert {
        &self.cert
    }

    /// The org this CA belongs to.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// Issues a TLS server certificate for an external chaincode server
    /// reachable as `hosts` (the first is the CN). It carries the OU
    /// `chaincode`, which is no member role, so the MSP never accepts it as a
    /// member identity, and only the server-authentication usage.
    pub fn issue_chaincode_server(
        &self,
        hosts: &[String],
        kind: KeyKind,
    ) -> Result<IssuedCert, CaError> {
        let key = kind.generate()?;
        let mut params = CertificateParams::new(hosts.to_vec())?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            hosts.first().cloned().unwrap_or_default(),
        );
        dn.push(DnType::OrganizationName, self.msp_id.clone());
        dn.push(DnType::OrganizationalUnitName, "chaincode");
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::from_secs(3600);
        params.not_after = now + Duration::from_secs(10 * 365 * 24 * 3600);
        self.sign(params, key)
    }

    /// Signs `params` for `key` with a fresh serial number.
    fn sign(&self, mut params: CertificateParams, key: KeyPair) -> Result<IssuedCert, CaError> {
        params.serial_number = Some(random_serial());
        params.use_authority_key_identifier_extension = true;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(IssuedCert {
            cert_der: cert.der().to_vec(),
            cert_pem: cert.pem(),
            key_der: key.serialize_der(),
            key_pem: key.serialize_pem(),
        })
    }

    /// Issues a member certificate with a fresh key.
    pub fn issue(&self, req: &IssueRequest) -> Result<IssuedCert, CaError> {
        let key = req.kind.generate()?;
        let mut params = CertificateParams::new(req.hosts.clone())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, req.common_name.clone());
        dn.push(DnType::OrganizationName, self.msp_id.clone());
        dn.push(DnType::OrganizationalUnitName, req.role.as_str());
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = req.not_before;
        params.not_after = req.not_after;
        if !req.attributes.is_empty() {
            let json = serde_json::to_vec(&AttributesJson {
                attrs: req.attributes.clone(),
            })
            .map_err(|e| CaError::Attributes(e.to_string()))?;
            params
                .custom_extensions
                .push(CustomExtension::from_oid_content(ATTRIBUTES_OID, json));
        }
        self.sign(params, key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::SigningIdentity;

    #[test]
    fn ed25519_keys_are_written_as_pkcs8_v1_and_earlier_v2_keys_still_load() {
        let ca = CertAuthority::generate("Org1MSP", KeyKind::Ed25519).unwrap();
        let issued = ca
            .issue(&IssueRequest::new("user1@org1", Role::Client, vec![]))
            .unwrap();
        for der in [&issued.key_der, &ca.cert().key_der] {
            assert_eq!(der.len(), 48);
            assert_eq!(
                der[..16],
                ED25519_PKCS8_V1_PREFIX,
                "version 0, no public key"
            );
        }
        assert!(issued.key_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
        let id =
            SigningIdentity::from_der("Org1MSP", issued.cert_der.clone(), issued.key_der.clone())
                .unwrap();
        // The same key as PKCS#8 v2 (RFC 5958), as earlier versions wrote it.
        let seed = &issued.key_der[16..48];
        let cert = crate::identity::cert::parse(&issued.cert_der).unwrap();
        let public = cert.public_key.raw_bytes();
        let mut v2 = vec![
            0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        v2.extend_from_slice(seed);
        v2.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
        v2.extend_from_slice(public);
        let legacy = SigningIdentity::from_der("Org1MSP", issued.cert_der, v2).unwrap();
        assert_eq!(legacy.sign(b"m").unwrap(), id.sign(b"m").unwrap());
        // A CA key written by earlier versions loads too.
        let p256 = CertAuthority::generate("Org2MSP", KeyKind::EcdsaP256).unwrap();
        CertAuthority::load("Org2MSP", &p256.cert().cert_pem, &p256.cert().key_pem).unwrap();
    }

    #[test]
    fn openssl_reads_the_keys_it_is_given() {
        if std::process::Command::new("openssl")
            .arg("version")
            .output()
            .is_err()
        {
            eprintln!("openssl not installed; skipped");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        for kind in [KeyKind::Ed25519, KeyKind::EcdsaP256] {
            let ca = CertAuthority::generate("Org1MSP", kind).unwrap();
            let issued = ca
                .issue(&IssueRequest::new("peer0.org1", Role::Peer, vec![]))
                .unwrap();
            let path = dir.path().join(format!("{kind:?}.pem"));
            std::fs::write(&path, &issued.key_pem).unwrap();
            let out = std::process::Command::new("openssl")
                .args(["pkey", "-noout", "-in"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{kind:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}
