//! TLS for the operations listener, as Fabric's operations service offers
//! it: a server certificate, and optionally client certificates that must
//! chain to configured CAs. Independent of the channel's membership: the
//! operators' CA need not be a member org's.

use crate::identity::SigningIdentity;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::Arc;

/// Why a TLS config could not be built.
#[derive(Debug, thiserror::Error)]
pub enum OpsTlsError {
    /// rustls refused the certificate, key or protocol settings.
    #[error("operations TLS: {0}")]
    Rustls(#[from] rustls::Error),
    /// A CA certificate is not a usable trust anchor.
    #[error("operations TLS: CA certificate refused: {0}")]
    Root(String),
    /// The client verifier could not be built (e.g. no CA certificates).
    #[error("operations TLS: client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The host of a URL is not a valid TLS server name.
    #[error("operations TLS: '{0}' is not a valid server name")]
    ServerName(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots(cas: &[Vec<u8>]) -> Result<RootCertStore, OpsTlsError> {
    let mut store = RootCertStore::empty();
    for der in cas {
        store
            .add(CertificateDer::from(der.clone()))
            .map_err(|e| OpsTlsError::Root(e.to_string()))?;
    }
    Ok(store)
}

/// The listener's TLS: presents `identity`; when `client_cas` is given, a
/// client must present a certificate chaining to one of them.
pub fn server_config(
    identity: &SigningIdentity,
    client_cas: Option<&[Vec<u8>]>,
) -> Result<Arc<ServerConfig>, OpsTlsError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let builder = match client_cas {
        Some(cas) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(cas)?), provider).build()?,
        ),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(
        vec![CertificateDer::from(identity.cert_der().to_vec())],
        PrivateKeyDer::Pkcs8(identity.key_der().to_vec().into()),
    )?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A client of a TLS listener: trusts `cas`, presents `identity` if given.
pub fn client_config(
    cas: &[Vec<u8>],
    identity: Option<&SigningIdentity>,
) -> Result<Arc<ClientConfig>, OpsTlsError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots(cas)?);
    let mut config = match identity {
        Some(id) => builder.with_client_auth_cert(
            vec![CertificateDer::from(id.cert_der().to_vec())],
            PrivateKeyDer::Pkcs8(id.key_der().to_vec().into()),
        )?,
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The TLS server name of `host`.
pub fn server_name(host: &str) -> Result<ServerName<'static>, OpsTlsError> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|_| OpsTlsError::ServerName(host.to_owned()))
}
