//! Certificates: parsing (`CertInfo`, `PublicKey`, PEM helpers) comes from
//! the client library; the chain check the membership service needs is here.

pub use consort_client::identity::cert::*;
use x509_parser::prelude::*;

/// True when `cert_der` names `ca_der`'s subject as issuer and carries a
/// valid signature by the CA's key.
pub fn issued_by(cert_der: &[u8], ca_der: &[u8]) -> bool {
    let (Ok((_, cert)), Ok((_, ca))) = (
        X509Certificate::from_der(cert_der),
        X509Certificate::from_der(ca_der),
    ) else {
        return false;
    };
    cert.issuer() == ca.subject() && cert.verify_signature(Some(ca.public_key())).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{now_unix, Role};
    use crate::testkit::Consortium;
    use sha2::{Digest, Sha256};
    use std::collections::BTreeMap;

    #[test]
    fn attributes_round_trip_through_the_attribute_extension() {
        use crate::identity::ca::{CertAuthority, IssueRequest, KeyKind};
        let ca = CertAuthority::generate("Org1MSP", KeyKind::Ed25519).unwrap();
        let mut req = IssueRequest::new("auditor1@org1", Role::Client, vec![]);
        req.attributes = BTreeMap::from([
            ("department".to_owned(), "audit".to_owned()),
            ("level".to_owned(), "3".to_owned()),
        ]);
        let issued = ca.issue(&req).unwrap();
        let info = parse(&issued.cert_der).unwrap();
        assert_eq!(info.attributes, req.attributes);
        let plain = ca
            .issue(&IssueRequest::new("user1@org1", Role::Client, vec![]))
            .unwrap();
        assert!(parse(&plain.cert_der).unwrap().attributes.is_empty());
    }

    #[test]
    fn parses_member_and_ca_certificates() {
        let c = Consortium::new(3);
        for (org, alg) in [
            (&c.orgs[0], KeyAlgorithm::Ed25519),
            (&c.orgs[2], KeyAlgorithm::EcdsaP256),
        ] {
            let info = parse(org.peer.cert_der()).unwrap();
            assert_eq!(info.subject_cn, org.peer.info().subject_cn);
            assert_eq!(info.organization.as_deref(), Some(org.ca.msp_id()));
            assert_eq!(info.role, Some(Role::Peer));
            assert!(!info.is_ca);
            assert!(!info.serial.is_empty());
            assert!(info.not_before < now_unix() && now_unix() < info.not_after);
            assert_eq!(info.public_key.algorithm(), alg);

            let ca = parse(&org.ca.cert().cert_der).unwrap();
            assert!(ca.is_ca);
            assert_eq!(ca.role, None);
            assert_eq!(ca.public_key.algorithm(), alg);
            assert_ne!(ca.serial, info.serial);
        }
        assert_eq!(
            parse(c.orgs[1].client.cert_der()).unwrap().role,
            Some(Role::Client)
        );
    }

    #[test]
    fn signatures_verify_and_a_flipped_byte_fails() {
        let c = Consortium::new(3);
        let msg = b"the block header".to_vec();
        for signer in [&c.orgs[0].peer, &c.orgs[2].peer] {
            let key = &parse(signer.cert_der()).unwrap().public_key;
            let sig = signer.sign(&msg).unwrap();
            key.verify(&msg, &sig).unwrap();
            for i in [0, sig.len() / 2, sig.len() - 1] {
                let mut bad = sig.clone();
                bad[i] ^= 0x01;
                assert_eq!(
                    key.verify(&msg, &bad),
                    Err(CertError::BadSignature),
                    "byte {i}"
                );
            }
            let mut other_msg = msg.clone();
            other_msg[4] ^= 0x01;
            assert_eq!(key.verify(&other_msg, &sig), Err(CertError::BadSignature));
            assert_eq!(key.verify(&msg, &[]), Err(CertError::BadSignature));
        }
        // One org's signature under another's key.
        let sig = c.orgs[0].peer.sign(&msg).unwrap();
        let key2 = &parse(c.orgs[1].peer.cert_der()).unwrap().public_key;
        assert_eq!(key2.verify(&msg, &sig), Err(CertError::BadSignature));
    }

    #[test]
    fn issued_by_checks_the_issuers_signature() {
        let c = Consortium::new(3);
        let peer3 = c.orgs[2].peer.cert_der();
        assert!(issued_by(peer3, &c.orgs[2].ca.cert().cert_der));
        assert!(!issued_by(peer3, &c.orgs[0].ca.cert().cert_der));
        assert!(!issued_by(
            c.orgs[0].peer.cert_der(),
            &c.orgs[2].ca.cert().cert_der
        ));
        assert!(!issued_by(b"junk", &c.orgs[2].ca.cert().cert_der));
        assert!(!issued_by(peer3, b"junk"));
    }

    #[test]
    fn the_certificate_hash_covers_the_signed_part_only() {
        let c = Consortium::new(3);
        let der = c.orgs[2].peer.cert_der(); // issued by a P-256 CA
        let info = parse(der).unwrap();
        let twin = crate::testkit::ecdsa_twin(der);
        assert!(issued_by(&twin, &c.orgs[2].ca.cert().cert_der));
        assert_eq!(parse(&twin).unwrap().cert_hash, info.cert_hash);
        assert_ne!(info.cert_hash, <[u8; 32]>::from(Sha256::digest(der)));
        let hashes: std::collections::HashSet<[u8; 32]> = c
            .orgs
            .iter()
            .flat_map(|o| [&o.peer, &o.client, &o.orderer])
            .map(|who| parse(who.cert_der()).unwrap().cert_hash)
            .collect();
        assert_eq!(hashes.len(), 9);
    }

    #[test]
    fn malformed_input_is_refused() {
        let c = Consortium::new(1);
        assert!(matches!(parse(b"junk"), Err(CertError::Malformed(_))));
        let mut trailing = c.orgs[0].peer.cert_der().to_vec();
        trailing.push(0);
        assert!(matches!(parse(&trailing), Err(CertError::Malformed(m)) if m.contains("trailing")));
        let der = c.orgs[0].peer.cert_der();
        let pem = der_to_pem(der);
        assert_eq!(pem_to_ders(pem.as_bytes()).unwrap(), vec![der.to_vec()]);
        let two = format!("{pem}{}", der_to_pem(&c.orgs[0].ca.cert().cert_der));
        assert_eq!(pem_to_ders(two.as_bytes()).unwrap().len(), 2);
        assert!(matches!(pem_to_ders(b""), Err(CertError::Malformed(_))));
    }
}
