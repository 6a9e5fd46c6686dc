//! Binding a libp2p peer ID to a peer's org certificate.
//!
//! A peer signs `"consort-gossip-v1" 0 <channel ID> 0 <peer ID bytes>` with
//! the key of its signing certificate. Whoever checks the attestation knows
//! that the holder of that certificate vouches for the peer ID, and noise
//! proves that the remote holds the peer ID's key: together, the remote is
//! that certified peer.

use crate::identity::{now_unix, Identity, Msp, MspError, Role, SignerError, SigningIdentity};
use consort_proto::PeerAttestation;
use libp2p::PeerId;
use std::sync::Arc;

const DOMAIN: &[u8] = b"consort-gossip-v1";

/// Why an attestation is refused.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The certificate is not a valid member identity (unknown org, bad
    /// chain, revoked, malformed).
    #[error("not a member identity: {0}")]
    NotMember(#[source] MspError),
    /// The certificate is outside its validity period.
    #[error(transparent)]
    Expired(MspError),
    /// A member identity, but not a peer's.
    #[error("certificate '{subject}' of {msp_id} has role {role}, not peer")]
    NotAPeer {
        /// Its common name.
        subject: String,
        /// Its org.
        msp_id: String,
        /// Its role.
        role: Role,
    },
    /// The signature does not verify for this peer ID.
    #[error("the signature does not bind certificate '{subject}' to this peer ID")]
    BadSignature {
        /// The certificate's common name.
        subject: String,
    },
    /// No attestation was given.
    #[error("no attestation")]
    Missing,
}

fn message(channel_id: &str, peer: &PeerId) -> Vec<u8> {
    let id = peer.to_bytes();
    let mut m = Vec::with_capacity(DOMAIN.len() + channel_id.len() + id.len() + 2);
    m.extend_from_slice(DOMAIN);
    m.push(0);
    m.extend_from_slice(channel_id.as_bytes());
    m.push(0);
    m.extend_from_slice(&id);
    m
}

/// This peer's attestation for `peer` (its own libp2p peer ID).
pub fn attest(
    signer: &SigningIdentity,
    channel_id: &str,
    peer: &PeerId,
) -> Result<PeerAttestation, SignerError> {
    Ok(PeerAttestation {
        identity: signer.serialized().to_vec(),
        signature: signer.sign(&message(channel_id, peer))?,
    })
}

/// Checks that `a` binds `peer` to a valid peer certificate of a member
/// org, now. Returns that identity.
pub fn verify(
    msp: &Msp,
    channel_id: &str,
    peer: &PeerId,
    a: Option<&PeerAttestation>,
) -> Result<Arc<Identity>, AttestError> {
    let a = a.ok_or(AttestError::Missing)?;
    let id = msp.validate(&a.identity).map_err(AttestError::NotMember)?;
    id.check_valid_at(now_unix())
        .map_err(AttestError::Expired)?;
    if id.role != Role::Peer {
        return Err(AttestError::NotAPeer {
            subject: id.subject.clone(),
            msp_id: id.msp_id.clone(),
            role: id.role,
        });
    }
    id.verify(&message(channel_id, peer), &a.signature)
        .map_err(|_| AttestError::BadSignature {
            subject: id.subject.clone(),
        })?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Consortium;
    use libp2p::identity::Keypair;

    #[test]
    fn binds_a_peer_certificate_to_its_peer_id_only() {
        let c = Consortium::new(2);
        let msp = c.msp.clone();
        let peer = c.orgs[0].peer.clone();
        let me = PeerId::from(Keypair::generate_ed25519().public());
        let other = PeerId::from(Keypair::generate_ed25519().public());
        let a = attest(&peer, "ch", &me).unwrap();
        let id = verify(&msp, "ch", &me, Some(&a)).unwrap();
        assert_eq!(id.msp_id, "Org1MSP");
        // Another peer ID, another channel, no attestation: refused.
        assert!(matches!(
            verify(&msp, "ch", &other, Some(&a)),
            Err(AttestError::BadSignature { .. })
        ));
        assert!(verify(&msp, "other", &me, Some(&a)).is_err());
        assert!(matches!(
            verify(&msp, "ch", &me, None),
            Err(AttestError::Missing)
        ));
        // A client's or an orderer's certificate is not a peer's.
        for who in [c.orgs[1].client.clone(), c.orgs[1].orderer.clone()] {
            let a = attest(&who, "ch", &me).unwrap();
            assert!(matches!(
                verify(&msp, "ch", &me, Some(&a)),
                Err(AttestError::NotAPeer { .. })
            ));
        }
        // A peer certificate from a CA outside the channel.
        let outsider = Consortium::new(1);
        let a = attest(&outsider.orgs[0].peer, "ch", &me).unwrap();
        assert!(matches!(
            verify(&msp, "ch", &me, Some(&a)),
            Err(AttestError::NotMember(_))
        ));
    }
}
