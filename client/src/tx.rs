//! What identifies a transaction and what its signers sign: the
//! transaction ID, the proposal hash endorsements are bound to, and the
//! bytes an endorser signs. Clients, endorsers and validators share these.

use sha2::{Digest, Sha256};

/// The transaction ID for a nonce and creator: hex(SHA-256(nonce || creator)).
pub fn compute_tx_id(nonce: &[u8], creator: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(nonce);
    h.update(creator);
    hex::encode(h.finalize())
}

/// The hash endorsers bind their results to: SHA-256(header || input).
pub fn proposal_hash(header: &[u8], input: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(header);
    h.update(input);
    h.finalize().to_vec()
}

/// What an endorser signs: the response payload followed by its identity.
pub fn endorsement_message(response_payload: &[u8], endorser: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(response_payload.len() + endorser.len());
    m.extend_from_slice(response_payload);
    m.extend_from_slice(endorser);
    m
}
