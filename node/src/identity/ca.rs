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

impl KeyKind {
    fn generate(self) -> Result<KeyPair, CaError> {
        let alg = match self {
            KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
            KeyKind::EcdsaP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        };
        Ok(KeyPair::generate_for(alg)?)
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
    /// Makes a new CA for `msp_id`, valid for twenty years.
    pub fn generate(msp_id: &str, kind: KeyKind) -> Result<Self, CaError> {
        let key = kind.generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("ca.{}", msp_id.to_lowercase()));
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
