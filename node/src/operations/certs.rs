//! Certificate expiry gauges: the node's own certificates and every org's
//! CA certificates in the channel config, each with its `notAfter`.

use super::metrics;
use crate::identity::{cert, SigningIdentity};
use consort_proto::ChannelConfig;

/// One certificate to report: what it is, whose, and its DER.
#[derive(Debug, Clone, Copy)]
pub struct Watched<'a> {
    /// `signing`, `tls`, `orderer_signing`, `ca`, `tls_ca`.
    pub kind: &'static str,
    /// Its org.
    pub msp_id: &'a str,
    /// The certificate.
    pub der: &'a [u8],
}

/// The certificates a node reports: its identities, then each org's CAs.
pub fn watched<'a>(
    own: &'a [(&'static str, &'a SigningIdentity)],
    config: &'a ChannelConfig,
) -> Vec<Watched<'a>> {
    let mut out: Vec<Watched<'a>> = own
        .iter()
        .map(|&(kind, id)| Watched {
            kind,
            msp_id: id.msp_id(),
            der: id.cert_der(),
        })
        .collect();
    for org in &config.orgs {
        let cas = org.ca_certs.iter().map(|d| ("ca", d));
        let tls = org.tls_ca_certs.iter().map(|d| ("tls_ca", d));
        out.extend(cas.chain(tls).map(|(kind, der)| Watched {
            kind,
            msp_id: &org.msp_id,
            der,
        }));
    }
    out
}

/// Sets the expiry gauge of each certificate that parses.
pub fn record(certs: &[Watched<'_>]) {
    for c in certs {
        match cert::parse(c.der) {
            Ok(info) => {
                metrics::certificate_expiry(c.kind, c.msp_id, &info.subject_cn, info.not_after)
            }
            Err(e) => {
                tracing::warn!(kind = c.kind, msp = c.msp_id, error = %e, "certificate does not parse")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Consortium;

    #[test]
    fn own_identities_come_first_then_every_org_ca() {
        let c = Consortium::new(2);
        let peer = &c.orgs[0].peer;
        let own = [("signing", peer.as_ref())];
        let list = watched(&own, &c.config);
        assert_eq!(list[0].kind, "signing");
        assert_eq!(list[0].msp_id, "Org1MSP");
        let cas = list.iter().filter(|w| w.kind == "ca").count();
        assert_eq!(cas, 2);
        for w in &list {
            assert!(cert::parse(w.der).is_ok(), "{}", w.kind);
        }
    }
}
