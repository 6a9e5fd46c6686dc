//! Mutual TLS: the server configuration that admits only member
//! certificates; the client configuration nodes and clients dial with comes
//! from the client library.

use super::{Msp, SigningIdentity};
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore};
use rustls::{ServerConfig, SignatureScheme};
use std::sync::Arc;

/// Why a TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused a certificate, key or setting.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client verifier could not be built (e.g. no CA certificates).
    #[error("client verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Wraps webpki's chain and expiry checks with Consort's membership checks:
/// the certificate must belong to a member org, carry a role and not be revoked.
///
/// Anyone can make a node run this, so each refusal is logged at `debug`
/// only. Every refusal fails the handshake with
/// `rustls::Error::InvalidCertificate`, which the listener counts as
/// `transport::Refusal::Certificate` and reports in its periodic summary.
#[derive(Debug)]
struct MemberVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    msp: Arc<Msp>,
}

impl ClientCertVerifier for MemberVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if let Err(e) = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            tracing::debug!(error = %e, "refused client certificate");
            return Err(e);
        }
        match self.msp.identify_cert(end_entity) {
            Ok(_) => Ok(ClientCertVerified::assertion()),
            Err(e) => {
                tracing::debug!(error = %e, "refused client certificate");
                Err(rustls::Error::InvalidCertificate(
                    CertificateError::ApplicationVerificationFailure,
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

fn roots(msp: &Msp) -> Result<RootCertStore, rustls::Error> {
    let mut roots = RootCertStore::empty();
    for ca in msp.all_tls_ca_certs() {
        roots.add(CertificateDer::from(ca))?;
    }
    Ok(roots)
}

/// The server side of mutual TLS for a node: presents `id`, requires a
/// client certificate from a member org, speaks HTTP/2.
pub fn server_config(id: &SigningIdentity, msp: Arc<Msp>) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = provider();
    let inner =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&msp)?), provider.clone())
            .build()?;
    let verifier = Arc::new(MemberVerifier { inner, msp });
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from(id.cert_der().to_vec())],
            PrivateKeyDer::Pkcs8(id.key_der().to_vec().into()),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

pub use consort_client::identity::tls::client_config;
