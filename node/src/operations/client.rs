//! A small HTTP/1 client for the operations endpoints: what
//! `consort node health` and the tests use to reach `/healthz`,
//! `/metrics` and `/logspec`, over plain HTTP or, for an `https` URL, TLS.

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;

/// Why a request to an operations endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsClientError {
    /// The URL is not `http://host:port/path` (or `https://…`).
    #[error("'{0}' is not an http:// or https:// host:port/path URL")]
    BadUrl(String),
    /// An `https` URL was given without a TLS config to reach it with.
    #[error("{0} is an https URL: give the CA certificate to trust (--cacert)")]
    NoTls(String),
    /// The TLS config or handshake failed.
    #[error("TLS with {url}: {reason}")]
    Tls {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The listener could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// `host:port`.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The exchange failed.
    #[error("HTTP request to {url} failed: {reason}")]
    Http {
        /// The URL.
        url: String,
        /// What failed.
        reason: String,
    },
    /// No answer in time.
    #[error("no answer from {0} in time")]
    Timeout(String),
}

/// An answer: the status code and the body as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// The body (lossily decoded as UTF-8).
    pub body: String,
}

/// Sends one request (`GET`, or `PUT` with a JSON `body`) within `timeout`.
pub async fn request(
    method: http::Method,
    url: &str,
    body: Option<String>,
    timeout: Duration,
) -> Result<Reply, OpsClientError> {
    request_with(method, url, body, timeout, None).await
}

/// [`request`], reaching an `https` URL with `tls`.
pub async fn request_with(
    method: http::Method,
    url: &str,
    body: Option<String>,
    timeout: Duration,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Reply, OpsClientError> {
    tokio::time::timeout(timeout, exchange(method, url, body, tls))
        .await
        .map_err(|_| OpsClientError::Timeout(url.to_owned()))?
}

/// `GET url` within `timeout`.
pub async fn get(url: &str, timeout: Duration) -> Result<Reply, OpsClientError> {
    request(http::Method::GET, url, None, timeout).await
}

async fn exchange(
    method: http::Method,
    url: &str,
    body: Option<String>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Result<Reply, OpsClientError> {
    let bad = || OpsClientError::BadUrl(url.to_owned());
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    let secure = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad()),
    };
    let authority = uri.authority().ok_or_else(bad)?.clone();
    let port = authority
        .port_u16()
        .unwrap_or(if secure { 443 } else { 80 });
    let addr = format!("{}:{port}", authority.host());
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|source| OpsClientError::Connect {
            addr: addr.clone(),
            source,
        })?;
    if !secure {
        return over(stream, method, url, &uri, body).await;
    }
    let tls = tls.ok_or_else(|| OpsClientError::NoTls(url.to_owned()))?;
    let tls_err = |e: &dyn std::fmt::Display| OpsClientError::Tls {
        url: url.to_owned(),
        reason: e.to_string(),
    };
    let name = super::tls::server_name(authority.host()).map_err(|e| tls_err(&e))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, stream)
        .await
        .map_err(|e| tls_err(&e))?;
    over(stream, method, url, &uri, body).await
}

/// One request and its answer over a connected stream.
async fn over<S>(
    stream: S,
    method: http::Method,
    url: &str,
    uri: &http::Uri,
    body: Option<String>,
) -> Result<Reply, OpsClientError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let bad = || OpsClientError::BadUrl(url.to_owned());
    let authority = uri.authority().ok_or_else(bad)?.clone();
    let http_err = |e: &dyn std::fmt::Display| OpsClientError::Http {
        url: url.to_owned(),
        reason: e.to_string(),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http_err(&e))?;
    // The connection task ends with the exchange (the request closes it).
    let conn = tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method(method)
        .uri(uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
        .header(http::header::HOST, authority.as_str())
        .header(http::header::CONNECTION, "close");
    if body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, "application/json");
    }
    let req = req
        .body(Full::new(bytes::Bytes::from(body.unwrap_or_default())))
        .map_err(|e| http_err(&e))?;
    let resp = sender.send_request(req).await.map_err(|e| http_err(&e))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| http_err(&e))?
        .to_bytes();
    let _ = conn.await;
    Ok(Reply {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

/// The `/healthz` URL of a listener bound to `listen` (`https` when
/// `secure`): a wildcard address is reached on loopback.
pub fn healthz_url(listen: &str, secure: bool) -> Option<String> {
    let addr: std::net::SocketAddr = listen.parse().ok()?;
    let host = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    let scheme = if secure { "https" } else { "http" };
    Some(format!("{scheme}://{host}:{}/healthz", addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_is_probed_on_loopback() {
        assert_eq!(
            healthz_url("0.0.0.0:8051", false).as_deref(),
            Some("http://127.0.0.1:8051/healthz")
        );
        assert_eq!(
            healthz_url("10.0.0.5:9443", true).as_deref(),
            Some("https://10.0.0.5:9443/healthz")
        );
        assert_eq!(healthz_url("nowhere", false), None);
    }

    #[tokio::test]
    async fn only_http_and_https_urls_are_taken() {
        let e = get("ftp://127.0.0.1:1/healthz", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, OpsClientError::BadUrl(_)), "{e}");
    }
}
