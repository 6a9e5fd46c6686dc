//! gRPC over mutual TLS, the dialing side: the `Dialer` that clients and
//! nodes reach gateways, peers and orderers with, and how its failures read.

use crate::identity::{tls, SigningIdentity};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tonic::transport::{Channel, Endpoint};

/// A transport failure.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The endpoint is not a valid `host:port`.
    #[error("invalid endpoint '{0}': expected host:port")]
    BadEndpoint(String),
    /// Connecting (TCP or TLS handshake) failed.
    #[error("cannot connect to {endpoint}: {reason}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// Why, as tonic reports it.
        reason: String,
    },
}

/// The TLS server name of an endpoint: its host part.
pub fn host_of(endpoint: &str) -> Result<&str, TransportError> {
    let (host, port) = endpoint
        .rsplit_once(':')
        .ok_or_else(|| TransportError::BadEndpoint(endpoint.to_string()))?;
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(TransportError::BadEndpoint(endpoint.to_string()));
    }
    Ok(host.trim_start_matches('[').trim_end_matches(']'))
}

/// Dials other nodes over mutual TLS and keeps one channel per endpoint.
pub struct Dialer {
    identity: Arc<SigningIdentity>,
    ca_certs: Vec<Vec<u8>>,
    channels: Mutex<HashMap<String, Channel>>,
}

impl std::fmt::Debug for Dialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dialer")
            .field("identity", &self.identity)
            .finish()
    }
}

impl Dialer {
    /// A dialer presenting `identity` and trusting `ca_certs` (DER).
    pub fn new(identity: Arc<SigningIdentity>, ca_certs: Vec<Vec<u8>>) -> Self {
        Dialer {
            identity,
            ca_certs,
            channels: Mutex::new(HashMap::new()),
        }
    }

    /// The identity this dialer presents.
    pub fn identity(&self) -> &Arc<SigningIdentity> {
        &self.identity
    }

    fn endpoint(
        &self,
        endpoint: &str,
        server_name: Option<&str>,
    ) -> Result<Endpoint, TransportError> {
        let host = match server_name {
            Some(n) => n,
            None => host_of(endpoint)?,
        };
        let tls = tls::client_config(&self.identity, &self.ca_certs, host);
        Endpoint::from_shared(format!("https://{endpoint}"))
            .map_err(|_| TransportError::BadEndpoint(endpoint.to_string()))?
            .tls_config(tls)
            .map_err(|e| TransportError::Connect {
                endpoint: endpoint.to_string(),
                reason: e.to_string(),
            })
            .map(|e| {
                e.connect_timeout(Duration::from_secs(3))
                    .tcp_nodelay(true)
                    .http2_keep_alive_interval(Duration::from_secs(5))
                    .keep_alive_timeout(Duration::from_secs(5))
                    .keep_alive_while_idle(true)
            })
    }

    /// A lazily connected channel to `endpoint`, shared by all callers;
    /// it reconnects by itself after failures.
    pub fn channel(&self, endpoint: &str) -> Result<Channel, TransportError> {
        if let Ok(map) = self.channels.lock() {
            if let Some(ch) = map.get(endpoint) {
                return Ok(ch.clone());
            }
        }
        let ch = self.endpoint(endpoint, None)?.connect_lazy();
        if let Ok(mut map) = self.channels.lock() {
            map.insert(endpoint.to_string(), ch.clone());
        }
        Ok(ch)
    }

    /// Connects now, so that a refused handshake or an unreachable node is
    /// reported at once (what the CLI wants).
    pub async fn connect(
        &self,
        endpoint: &str,
        server_name: Option<&str>,
    ) -> Result<Channel, TransportError> {
        self.endpoint(endpoint, server_name)?
            .connect()
            .await
            .map_err(|e| TransportError::Connect {
                endpoint: endpoint.to_string(),
                reason: describe_connect_error(&e),
            })
    }
}

/// Flattens a tonic connect error's source chain into one line.
pub fn describe_connect_error(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        let t = s.to_string();
        if !parts.contains(&t) {
            parts.push(t);
        }
        src = s.source();
    }
    parts.join(": ")
}
