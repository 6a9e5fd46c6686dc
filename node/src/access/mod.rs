//! Authorisation, in one place: a tower layer in front of every gRPC
//! service a node serves. For each call it finds the method's rule in the
//! [`matrix`], identifies the caller from its TLS client certificate
//! (member org, role, and whether it is a configured orderer), and refuses
//! the call before its body is read when the rule does not admit it.
//! Long-lived streams also take a place under the [`streams`] caps.
//!
//! Handlers read the admitted caller from the request's extensions
//! ([`Caller`]); they do not repeat the checks.

pub mod matrix;
pub mod streams;

use crate::identity::{cert_hash, Identity, Msp, Role};
use consort_client::reason;
use consort_proto::ErrorReason as R;
use matrix::{Rule, Who};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use streams::{StreamGauge, StreamLimits, StreamPermit};
use tonic::body::Body;
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::Status;

pub use streams::StreamRefused;

/// The caller of an admitted call.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Its member identity, from its TLS client certificate.
    pub identity: Arc<Identity>,
    /// Its Raft node ID when the certificate is the TLS certificate the
    /// channel config binds to one of its orderers.
    pub consenter: Option<u64>,
}

/// The admitted caller of `req`, as the access layer recorded it.
pub fn caller_of<T>(req: &tonic::Request<T>) -> Option<&Caller> {
    req.extensions().get::<Caller>()
}

/// Decides one call: the method's rule, and whether the caller presenting
/// `peer_cert` (DER) may make it. Pure over its inputs.
pub fn authorize(
    msp: &Msp,
    path: &str,
    peer_cert: Option<&[u8]>,
) -> Result<(Caller, &'static Rule), Status> {
    let rule = matrix::rule(path)
        .ok_or_else(|| reason::status(R::NoSuchMethod, format!("no such method {path}")))?;
    let cert =
        peer_cert.ok_or_else(|| reason::status(R::NoClientCertificate, "no client certificate"))?;
    let identity = msp.identify_cert(cert).map_err(|e| {
        reason::status(
            R::CertificateRefused,
            format!("client certificate refused: {e}"),
        )
    })?;
    let consenter = msp
        .consenters()
        .by_tls_cert(cert)
        .filter(|c| identity.role == Role::Orderer && c.msp_id == identity.msp_id)
        .map(|c| c.id);
    match rule.who {
        Who::Members(roles) if roles.contains(&identity.role) => {}
        Who::Members(_) => {
            return Err(reason::status(
                R::RoleNotAllowed,
                format!(
                    "role '{}' of '{}' ({}) may not call {path}",
                    identity.role, identity.subject, identity.msp_id
                ),
            ))
        }
        Who::Consenters if consenter.is_some() => {}
        Who::Consenters => {
            return Err(reason::status(
                R::RoleNotAllowed,
                format!(
                    "'{}' ({}) is not one of the channel's orderers; only they may call {path}",
                    identity.subject, identity.msp_id
                ),
            ))
        }
    }
    Ok((
        Caller {
            identity,
            consenter,
        },
        rule,
    ))
}

struct Shared {
    msp: Arc<Msp>,
    streams: StreamGauge,
}

/// The layer; every service the node serves is wrapped in it.
#[derive(Clone)]
pub struct AccessLayer {
    shared: Arc<Shared>,
}

impl AccessLayer {
    /// A layer admitting callers by `msp`'s membership and consenter set.
    pub fn new(msp: Arc<Msp>, limits: StreamLimits) -> Self {
        AccessLayer {
            shared: Arc::new(Shared {
                msp,
                streams: StreamGauge::new(limits),
            }),
        }
    }

    /// The open-stream gauge.
    pub fn streams(&self) -> &StreamGauge {
        &self.shared.streams
    }
}

impl<S> tower_layer::Layer<S> for AccessLayer {
    type Service = Access<S>;
    fn layer(&self, inner: S) -> Access<S> {
        Access {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The access-checking service around one of a node's gRPC services.
#[derive(Clone)]
pub struct Access<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for Access<S> {
    const NAME: &'static str = S::NAME;
}

type BoxFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

fn peer_cert(req: &http::Request<Body>) -> Option<Vec<u8>> {
    req.extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()
        .and_then(|info| info.peer_certs())
        .and_then(|certs| certs.first().map(|c| c.as_ref().to_vec()))
}

impl<S> tower_service::Service<http::Request<Body>> for Access<S>
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

    fn call(&mut self, mut req: http::Request<Body>) -> BoxFuture<http::Response<Body>, S::Error> {
        let refuse = |status: Status| -> BoxFuture<http::Response<Body>, S::Error> {
            Box::pin(async move { Ok(status.into_http()) })
        };
        let cert = peer_cert(&req);
        let path = req.uri().path().to_string();
        let (caller, rule) = match authorize(&self.shared.msp, &path, cert.as_deref()) {
            Ok(admitted) => admitted,
            Err(status) => {
                tracing::debug!(%path, error = %status.message(), "call refused");
                return refuse(status);
            }
        };
        let permit = if rule.stream {
            let id = cert_hash(&caller.identity.cert_der);
            match self.shared.streams.try_open(id, &caller.identity.msp_id) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::debug!(%path, error = %e, "stream refused");
                    return refuse(reason::status(R::StreamLimit, e.to_string()));
                }
            }
        } else {
            None
        };
        req.extensions_mut().insert(caller);
        // The usual tower dance: call the instance that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let resp = inner.call(req).await?;
            Ok(match permit {
                Some(permit) => resp.map(|body| Body::new(Permitted { body, permit })),
                None => resp,
            })
        })
    }
}

/// A response body that holds a stream permit until it is dropped.
struct Permitted {
    body: Body,
    #[allow(dead_code)] // held for its Drop
    permit: StreamPermit,
}

impl http_body::Body for Permitted {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ca::KeyKind;
    use crate::testkit::{self, Consortium};

    fn code(r: Result<(Caller, &'static Rule), Status>) -> tonic::Code {
        match r {
            Ok(_) => tonic::Code::Ok,
            Err(s) => s.code(),
        }
    }

    #[test]
    fn only_configured_orderers_may_speak_raft() {
        let c = Consortium::new(3);
        let raft = "/consort.Raft/AppendEntries";
        for (i, org) in c.orgs.iter().enumerate() {
            let (caller, _) = authorize(&c.msp, raft, Some(org.orderer.cert_der())).unwrap();
            assert_eq!(caller.consenter, Some(i as u64 + 1));
        }
        // A certificate with the orderer role from a member CA, not configured.
        let rogue = testkit::identity(
            &c.orgs[0].ca,
            "orderer9.org1",
            Role::Orderer,
            KeyKind::Ed25519,
        );
        for m in ["AppendEntries", "Vote", "InstallSnapshot"] {
            let path = format!("/consort.Raft/{m}");
            let err = authorize(&c.msp, &path, Some(rogue.cert_der())).unwrap_err();
            assert_eq!(err.code(), tonic::Code::PermissionDenied, "{m}");
            assert!(err.message().contains("not one of the channel's orderers"));
            for who in [&c.orgs[1].client, &c.orgs[1].peer] {
                assert_eq!(
                    code(authorize(&c.msp, &path, Some(who.cert_der()))),
                    tonic::Code::PermissionDenied
                );
            }
        }
        // The rogue may still use what any orderer-role member may.
        let (caller, _) = authorize(
            &c.msp,
            "/consort.AtomicBroadcast/Status",
            Some(rogue.cert_der()),
        )
        .unwrap();
        assert_eq!(caller.consenter, None);
    }

    #[test]
    fn roles_follow_the_matrix() {
        let c = Consortium::new(2);
        let org = &c.orgs[0];
        let cases = [
            (
                "/consort.Gateway/Submit",
                org.client.cert_der(),
                tonic::Code::Ok,
            ),
            (
                "/consort.Gateway/Submit",
                org.orderer.cert_der(),
                tonic::Code::PermissionDenied,
            ),
            (
                "/consort.Endorser/ProcessProposal",
                org.client.cert_der(),
                tonic::Code::PermissionDenied,
            ),
            (
                "/consort.Endorser/ProcessProposal",
                org.peer.cert_der(),
                tonic::Code::Ok,
            ),
            (
                "/consort.AtomicBroadcast/Deliver",
                org.client.cert_der(),
                tonic::Code::PermissionDenied,
            ),
            (
                "/consort.AtomicBroadcast/Deliver",
                org.peer.cert_der(),
                tonic::Code::Ok,
            ),
            (
                "/consort.Other/Method",
                org.peer.cert_der(),
                tonic::Code::Unimplemented,
            ),
            (
                "/consort.Gateway/Submit",
                b"not a certificate".as_slice(),
                tonic::Code::PermissionDenied,
            ),
        ];
        for (path, cert, want) in cases {
            assert_eq!(code(authorize(&c.msp, path, Some(cert))), want, "{path}");
        }
        assert_eq!(
            code(authorize(&c.msp, "/consort.Gateway/Submit", None)),
            tonic::Code::Unauthenticated
        );
    }
}
