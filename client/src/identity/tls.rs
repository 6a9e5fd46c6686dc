//! The client side of mutual TLS, as clients and nodes dial with it.

use super::SigningIdentity;

/// The client side: trust the member orgs' CAs, present `id`.
pub fn client_config(
    id: &SigningIdentity,
    ca_certs: &[Vec<u8>],
    server_name: &str,
) -> tonic::transport::ClientTlsConfig {
    let cas = ca_certs
        .iter()
        .map(|der| tonic::transport::Certificate::from_pem(super::cert::der_to_pem(der)));
    tonic::transport::ClientTlsConfig::new()
        .ca_certificates(cas)
        .identity(tonic::transport::Identity::from_pem(
            id.cert_pem(),
            id.key_pem(),
        ))
        .domain_name(server_name.to_string())
        .timeout(std::time::Duration::from_secs(10))
}
