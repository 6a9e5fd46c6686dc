//! Test fixtures: a CA that issues member certificates, and a genesis block
//! naming it. Used by the unit tests and, through `#[path]`, by the
//! integration tests in `client/tests/`.
#![allow(dead_code)]

use consort_proto::{Block, BlockHeader, ChannelConfig, OrgConfig};
use prost::Message;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// The key kinds Consort identities use.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// Ed25519.
    Ed25519,
    /// ECDSA P-256.
    P256,
}

fn key(kind: Kind) -> KeyPair {
    match kind {
        Kind::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("Ed25519 key"),
        Kind::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key"),
    }
}

/// A certificate and its PKCS#8 key, DER.
pub struct Issued {
    /// The certificate.
    pub cert_der: Vec<u8>,
    /// The private key.
    pub key_der: Vec<u8>,
}

impl Issued {
    /// Writes `cert.pem` and `key.pem` into `dir`; returns their paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(
            &cert,
            pem::encode(&pem::Pem::new("CERTIFICATE", self.cert_der.clone())),
        )
        .expect("write cert");
        std::fs::write(
            &key,
            pem::encode(&pem::Pem::new("PRIVATE KEY", self.key_der.clone())),
        )
        .expect("write key");
        (cert, key)
    }
}

/// An organisation's CA.
pub struct TestCa {
    /// The org.
    pub msp_id: String,
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    /// A new CA for `msp_id`.
    pub fn new(msp_id: &str, kind: Kind) -> Self {
        let key = key(kind);
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, format!("ca.{msp_id}"));
        dn.push(DnType::OrganizationName, msp_id);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).expect("self-signed CA");
        TestCa {
            msp_id: msp_id.to_string(),
            cert_der: cert.der().to_vec(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A member certificate with role `role` (its OU) for `hosts`.
    pub fn issue(&self, name: &str, role: &str, hosts: &[&str], kind: Kind) -> Issued {
        let key = key(kind);
        let hosts: Vec<String> = hosts.iter().map(|h| h.to_string()).collect();
        let mut params = CertificateParams::new(hosts).expect("params");
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, name);
        dn.push(DnType::OrganizationName, self.msp_id.clone());
        dn.push(DnType::OrganizationalUnitName, role);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer).expect("issue");
        Issued {
            cert_der: cert.der().to_vec(),
            key_der: key.serialize_der(),
        }
    }
}

/// An encoded genesis block of `channel` whose one org has `ca` as its
/// signing CA and `tls_ca` as its TLS CA.
pub fn genesis(channel: &str, ca: &TestCa, tls_ca: &TestCa) -> Vec<u8> {
    let config = ChannelConfig {
        channel_id: channel.into(),
        orgs: vec![OrgConfig {
            msp_id: ca.msp_id.clone(),
            ca_certs: vec![ca.cert_der.clone()],
            revoked_serials: vec![],
            tls_ca_certs: vec![tls_ca.cert_der.clone()],
        }],
        ..Default::default()
    };
    Block {
        header: BlockHeader {
            number: 0,
            channel_id: channel.into(),
            ..Default::default()
        }
        .encode_to_vec(),
        data: vec![config.encode_to_vec()],
        signature: None,
    }
    .encode_to_vec()
}
