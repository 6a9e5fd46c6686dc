//! `grpc_server_*` metrics: a tower layer on each of the node's gRPC
//! services that counts calls by service and method and times them until
//! their response headers (the whole call for a unary method; a stream's
//! opening for a streaming one).

use super::metrics;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tonic::body::Body;

/// The layer; see the module docs.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower_layer::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;
    fn layer(&self, inner: S) -> GrpcMetrics<S> {
        GrpcMetrics { inner }
    }
}

/// A service with its calls counted and timed.
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for GrpcMetrics<S> {
    const NAME: &'static str = S::NAME;
}

/// `/pkg.Service/Method` → (`pkg.Service`, `Method`) for a method the
/// node serves (in the access matrix); anything else is (`unknown`,
/// `unknown`), so callers cannot grow the label set.
pub fn split_path(path: &str) -> (&str, &str) {
    let known = crate::access::matrix::rule(path).is_some();
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    match trimmed.split_once('/') {
        Some((service, method)) if known => (service, method),
        _ => ("unknown", "unknown"),
    }
}

/// The gRPC code a response carries in its headers (a call refused or
/// failed before its body), else `OK`: a call that fails later says so in
/// its trailers, after the timing ends.
pub fn code_of(headers: &http::HeaderMap) -> &'static str {
    let code = headers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map(tonic::Code::from_i32)
        .unwrap_or(tonic::Code::Ok);
    code_name(code)
}

/// The name of a gRPC code, as gRPC spells it.
pub fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code as C;
    match code {
        C::Ok => "OK",
        C::Cancelled => "Canceled",
        C::Unknown => "Unknown",
        C::InvalidArgument => "InvalidArgument",
        C::DeadlineExceeded => "DeadlineExceeded",
        C::NotFound => "NotFound",
        C::AlreadyExists => "AlreadyExists",
        C::PermissionDenied => "PermissionDenied",
        C::ResourceExhausted => "ResourceExhausted",
        C::FailedPrecondition => "FailedPrecondition",
        C::Aborted => "Aborted",
        C::OutOfRange => "OutOfRange",
        C::Unimplemented => "Unimplemented",
        C::Internal => "Internal",
        C::Unavailable => "Unavailable",
        C::DataLoss => "DataLoss",
        C::Unauthenticated => "Unauthenticated",
    }
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

impl<S> tower_service::Service<http::Request<Body>> for GrpcMetrics<S>
where
    S: tower_service::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        let (service, method) = split_path(req.uri().path());
        let (service, method) = (service.to_owned(), method.to_owned());
        metrics::grpc_received(&service, &method);
        let started = Instant::now();
        // Call the instance that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let result = inner.call(req).await;
            let code = match &result {
                Ok(resp) => code_of(resp.headers()),
                Err(_) => "Unknown",
            };
            metrics::grpc_completed(&service, &method, code, started.elapsed());
            result
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split_path("/consort.Gateway/Evaluate"),
            ("consort.Gateway", "Evaluate")
        );
        assert_eq!(split_path("/nonsense"), ("unknown", "unknown"));
        assert_eq!(
            split_path("/consort.Gateway/NoSuchMethod"),
            ("unknown", "unknown")
        );
    }

    #[test]
    fn the_code_comes_from_the_headers_when_there() {
        let mut h = http::HeaderMap::new();
        assert_eq!(code_of(&h), "OK");
        h.insert("grpc-status", http::HeaderValue::from_static("7"));
        assert_eq!(code_of(&h), "PermissionDenied");
        h.insert("grpc-status", http::HeaderValue::from_static("junk"));
        assert_eq!(code_of(&h), "OK");
    }
}
