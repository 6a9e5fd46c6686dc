//! The operations HTTP listener: the routes and the task that serves them.

use super::health::HealthSources;
use super::logspec::LogSpec;
use super::version;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Why the operations listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum OperationsError {
    /// A certificate or key file of its TLS could not be read.
    #[error("operations listener: cannot load {what}: {reason}")]
    Load {
        /// Which file.
        what: String,
        /// Why.
        reason: String,
    },
    /// Its TLS config was refused.
    #[error(transparent)]
    Tls(#[from] super::tls::OpsTlsError),
    /// The address is taken or not ours.
    #[error("operations listener: cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What the routes serve from.
#[derive(Debug, Clone)]
pub struct OperationsState {
    /// The `/healthz` checks.
    pub health: HealthSources,
    /// The recorder behind `/metrics`; `None` when it could not be installed.
    pub metrics: Option<PrometheusHandle>,
    /// The log filter behind `/logspec`; `None` when the process's
    /// subscriber cannot be changed.
    pub logspec: Option<LogSpec>,
    /// A peer's explorer (`/explorer`, `/api`); `None` on an orderer.
    pub explorer: Option<Arc<super::explorer::view::Source>>,
}

/// The `/logspec` body, read and written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSpecBody {
    /// An `EnvFilter` directive list, e.g. `info,consort::peer=debug`.
    pub spec: String,
}

/// An error body.
#[derive(Debug, Serialize)]
struct ErrorBody {
    error: String,
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorBody {
            error: message.into(),
        }),
    )
        .into_response()
}

/// The routes: `/healthz`, `/metrics`, `/logspec` (GET, PUT), `/version`,
/// and on a peer the explorer's.
pub fn router(state: Arc<OperationsState>) -> Router {
    let explorer = state.explorer.clone().map(super::explorer::routes);
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/logspec", get(get_logspec).put(put_logspec))
        .route("/version", get(get_version))
        .with_state(state);
    match explorer {
        Some(e) => app.merge(e),
        None => app,
    }
}

async fn healthz(State(s): State<Arc<OperationsState>>) -> Response {
    let report = s.health.run().await;
    let status = if report.healthy() {
        StatusCode::OK
    } else {
        tracing::debug!(failed = ?report.failed_checks, "health check failed");
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

async fn metrics(State(s): State<Arc<OperationsState>>) -> Response {
    match &s.metrics {
        Some(h) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            h.render(),
        )
            .into_response(),
        None => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics are not recorded in this process",
        ),
    }
}

async fn get_logspec(State(s): State<Arc<OperationsState>>) -> Response {
    match &s.logspec {
        Some(l) => Json(LogSpecBody { spec: l.get() }).into_response(),
        None => error(StatusCode::NOT_IMPLEMENTED, "the log filter is fixed"),
    }
}

async fn put_logspec(
    State(s): State<Arc<OperationsState>>,
    Json(body): Json<LogSpecBody>,
) -> Response {
    let Some(l) = &s.logspec else {
        return error(StatusCode::NOT_IMPLEMENTED, "the log filter is fixed");
    };
    match l.set(&body.spec) {
        Ok(()) => Json(LogSpecBody { spec: l.get() }).into_response(),
        Err(e @ super::logspec::LogSpecError::Invalid { .. }) => {
            error(StatusCode::BAD_REQUEST, e.to_string())
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

async fn get_version() -> Json<version::Version> {
    Json(version::current())
}

/// How often the recorder's histograms are compacted.
const UPKEEP: Duration = Duration::from_secs(5);

/// A running operations listener.
#[derive(Debug)]
pub struct Operations {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Operations {
    /// Binds `listen` and serves the routes on a task of its own, over TLS
    /// when `tls` is given.
    pub async fn start(
        listen: &str,
        state: OperationsState,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Self, OperationsError> {
        let bind_err = |source| OperationsError::Bind {
            addr: listen.to_owned(),
            source,
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let (stop, mut stopped) = watch::channel(false);
        let recorder = state.metrics.clone();
        let app = router(Arc::new(state));
        let serve_stop = stopped.clone();
        let task = tokio::spawn(async move {
            let serve = super::listener::serve(listener, tls, app, serve_stop);
            let upkeep = async move {
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(UPKEEP) => {
                            if let Some(h) = &recorder {
                                h.run_upkeep();
                            }
                        }
                        _ = stopped.wait_for(|s| *s) => return,
                    }
                }
            };
            tokio::join!(serve, upkeep);
        });
        tracing::info!(operations = %addr, "operations listener serving");
        Ok(Operations { addr, stop, task })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops serving and waits for the task.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::health::HealthSources;
    use crate::operations::logspec;

    async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
        request(addr, "GET", path, None).await
    }

    /// A plain HTTP/1.1 request over a fresh connection.
    async fn request(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: Option<&str>,
    ) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let body = body.unwrap_or("");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        let code = out[9..12].parse().unwrap();
        let body = out
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (code, body)
    }

    #[tokio::test]
    async fn serves_health_version_and_logspec_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let (_layer, spec) = logspec::layer("info", "info");
        let state = OperationsState {
            health: HealthSources {
                data_dir: dir.path().to_path_buf(),
                min_free_bytes: 1,
                ledger: None,
                orderer_link: None,
                raft: None,
            },
            metrics: None,
            logspec: Some(spec.clone()),
            explorer: None,
        };
        let ops = Operations::start("127.0.0.1:0", state, None).await.unwrap();
        let addr = ops.local_addr();

        let (code, body) = get(addr, "/healthz").await;
        assert_eq!(code, 200, "{body}");
        assert!(body.contains(r#""status":"OK""#), "{body}");

        let (code, body) = get(addr, "/version").await;
        assert_eq!(code, 200);
        assert!(body.contains(env!("CARGO_PKG_VERSION")), "{body}");

        let (code, body) = get(addr, "/logspec").await;
        assert_eq!((code, body.as_str()), (200, r#"{"spec":"info"}"#));
        let (code, _) = request(addr, "PUT", "/logspec", Some(r#"{"spec":"debug"}"#)).await;
        assert_eq!(code, 200);
        assert_eq!(spec.get(), "debug");
        let (code, body) = request(addr, "PUT", "/logspec", Some(r#"{"spec":"x=loud"}"#)).await;
        assert_eq!(code, 400, "{body}");
        assert_eq!(spec.get(), "debug");

        let (code, _) = get(addr, "/metrics").await;
        assert_eq!(code, 503, "no recorder in this test");
        let (code, _) = get(addr, "/nothing").await;
        assert_eq!(code, 404);

        ops.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn over_tls_a_client_certificate_from_the_configured_ca_is_required() {
        use crate::identity::ca::{CertAuthority, KeyKind};
        use crate::identity::Role;
        use crate::operations::{client, tls};
        let ca = CertAuthority::generate_tls("OpsMSP").unwrap();
        let other = CertAuthority::generate_tls("OtherMSP").unwrap();
        let server = crate::testkit::identity(&ca, "ops", Role::Peer, KeyKind::EcdsaP256);
        let operator = crate::testkit::identity(&ca, "operator", Role::Client, KeyKind::EcdsaP256);
        let stranger = crate::testkit::identity(&other, "x", Role::Client, KeyKind::EcdsaP256);
        let cas = vec![ca.cert().cert_der.clone()];
        let dir = tempfile::tempdir().unwrap();
        let state = OperationsState {
            health: HealthSources {
                data_dir: dir.path().to_path_buf(),
                min_free_bytes: 1,
                ledger: None,
                orderer_link: None,
                raft: None,
            },
            metrics: None,
            logspec: None,
            explorer: None,
        };
        let config = tls::server_config(&server, Some(&cas)).unwrap();
        let ops = Operations::start("127.0.0.1:0", state, Some(config))
            .await
            .unwrap();
        let url = format!("https://127.0.0.1:{}/healthz", ops.local_addr().port());
        let get = |id: Option<&crate::identity::SigningIdentity>| {
            let config = tls::client_config(&cas, id).unwrap();
            client::request_with(
                http::Method::GET,
                &url,
                None,
                Duration::from_secs(5),
                Some(config),
            )
        };
        let ok = get(Some(&operator)).await.unwrap();
        assert_eq!(ok.status, 200, "{}", ok.body);
        assert!(get(None).await.is_err(), "no client certificate");
        assert!(
            get(Some(&stranger)).await.is_err(),
            "another CA's certificate"
        );
        let plain = client::get(&url.replace("https", "http"), Duration::from_secs(5)).await;
        assert!(
            plain.map(|r| r.status != 200).unwrap_or(true),
            "no plain HTTP"
        );
        ops.shutdown().await;
    }
}
