//! A small HTTP/1 client for the operations endpoints: what
//! `consort node health` and the tests use to reach `/healthz`,
//! `/metrics` and `/logspec`. Plain HTTP only.

use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use std::time::Duration;

/// Why a request to an operations endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum OpsClientError {
    /// The URL is not `http://host:port/path`.
    #[error("'{0}' is not an http://host:port/path URL")]
    BadUrl(String),
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
    tokio::time::timeout(timeout, exchange(method, url, body))
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
) -> Result<Reply, OpsClientError> {
    let bad = || OpsClientError::BadUrl(url.to_owned());
    let uri: http::Uri = url.parse().map_err(|_| bad())?;
    if uri.scheme_str() != Some("http") {
        return Err(bad());
    }
    let authority = uri.authority().ok_or_else(bad)?.clone();
    let port = authority.port_u16().unwrap_or(80);
    let addr = format!("{}:{port}", authority.host());
    let stream = tokio::net::TcpStream::connect(&addr)
        .await
        .map_err(|source| OpsClientError::Connect {
            addr: addr.clone(),
            source,
        })?;
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

/// The `/healthz` URL of a listener bound to `listen`: a wildcard address
/// is reached on loopback.
pub fn healthz_url(listen: &str) -> Option<String> {
    let addr: std::net::SocketAddr = listen.parse().ok()?;
    let host = match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    Some(format!("http://{host}:{}/healthz", addr.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_is_probed_on_loopback() {
        assert_eq!(
            healthz_url("0.0.0.0:8051").as_deref(),
            Some("http://127.0.0.1:8051/healthz")
        );
        assert_eq!(
            healthz_url("10.0.0.5:9443").as_deref(),
            Some("http://10.0.0.5:9443/healthz")
        );
        assert_eq!(healthz_url("nowhere"), None);
    }

    #[tokio::test]
    async fn only_http_urls_are_taken() {
        let e = get("https://127.0.0.1:1/healthz", Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, OpsClientError::BadUrl(_)), "{e}");
    }
}
