//! `consort bench ceiling`: this machine's signature rates, and the
//! throughput a network could reach if signing and verifying were all it
//! did (the crypto ceiling).
//!
//! A transaction of a network with `p` validating peers and `e` endorsements
//! costs, in signatures made and checked across the whole network:
//! - the client signs the proposal and the transaction (2 signatures);
//! - each endorser verifies the proposal and signs its response (`e`
//!   verifications, `e` signatures);
//! - the ordering service verifies the creator's signature on ingress (1);
//! - every peer verifies the creator's and the `e` endorsers' signatures
//!   (`p * (1 + e)`; these are the ones batch verification speeds up).
//!
//! For three orgs, three peers and 2-of-3 endorsement: 12 verifications and
//! 4 signatures. The ceiling is the machine's cores divided by the time
//! those take on one core. Block signatures (one per block) are left out.

use ring::rand::SystemRandom;
use ring::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING, ED25519,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Signatures per batch in the batch-verification measurement (as in a
/// block's validation, see `validation::verify`).
pub const BATCH: usize = crate::validation::signatures::LARGE_BATCH;

/// Bytes signed in each measurement: about a transfer's transaction.
const MESSAGE_BYTES: usize = 600;

/// Signature rates on one core, per second, and the machine's cores.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Ceiling {
    /// Ed25519 verifications (ring, one at a time).
    pub ed25519_verify: f64,
    /// Ed25519 verifications in batches of [`BATCH`] (ed25519-dalek).
    pub ed25519_batch_verify: f64,
    /// Ed25519 signatures.
    pub ed25519_sign: f64,
    /// ECDSA P-256 verifications.
    pub p256_verify: f64,
    /// ECDSA P-256 signatures.
    pub p256_sign: f64,
    /// Cores available to this process.
    pub cores: usize,
}

/// The shape of a network, for its crypto cost per transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct NetworkShape {
    /// Peers that validate every block.
    pub peers: u32,
    /// Endorsements per transaction.
    pub endorsers: u32,
}

impl NetworkShape {
    /// The demo's shape for the performance targets: three peers, 2-of-3.
    pub const THREE_ORGS: NetworkShape = NetworkShape {
        peers: 3,
        endorsers: 2,
    };

    /// Signatures made per transaction, network-wide.
    pub fn signs(&self) -> u32 {
        2 + self.endorsers
    }

    /// Verifications per transaction outside the peers' validation
    /// (endorsers and ordering service): never batched.
    pub fn single_verifies(&self) -> u32 {
        self.endorsers + 1
    }

    /// Verifications per transaction in the peers' validation.
    pub fn validation_verifies(&self) -> u32 {
        self.peers * (1 + self.endorsers)
    }
}

impl Ceiling {
    /// Transactions per second the network's signatures allow on this
    /// machine, Ed25519 everywhere; `batched` when the peers verify in
    /// batches.
    pub fn network_tps(&self, shape: NetworkShape, batched: bool) -> f64 {
        let rate = |r: f64| if r > 0.0 { 1.0 / r } else { f64::INFINITY };
        let validation = if batched {
            rate(self.ed25519_batch_verify)
        } else {
            rate(self.ed25519_verify)
        };
        let per_tx = f64::from(shape.signs()) * rate(self.ed25519_sign)
            + f64::from(shape.single_verifies()) * rate(self.ed25519_verify)
            + f64::from(shape.validation_verifies()) * validation;
        if per_tx.is_finite() && per_tx > 0.0 {
            self.cores as f64 / per_tx
        } else {
            0.0
        }
    }
}

/// Measures the rates, spending about `budget` of one core in all. Blocking
/// CPU work: call from a blocking thread.
pub fn measure(budget: Duration) -> Ceiling {
    let each = budget / 5;
    let rng = SystemRandom::new();
    let message = vec![0x5a_u8; MESSAGE_BYTES];
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    // Keys made here; a failure of the system RNG leaves the rate at 0.
    let ed = Ed25519KeyPair::generate_pkcs8(&rng)
        .ok()
        .and_then(|k| Ed25519KeyPair::from_pkcs8(k.as_ref()).ok());
    let p256 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
        .ok()
        .and_then(|k| {
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, k.as_ref(), &rng).ok()
        });

    let mut c = Ceiling {
        ed25519_verify: 0.0,
        ed25519_batch_verify: 0.0,
        ed25519_sign: 0.0,
        p256_verify: 0.0,
        p256_sign: 0.0,
        cores,
    };
    if let Some(key) = &ed {
        c.ed25519_sign = rate(each, 1, || {
            black_box(key.sign(black_box(&message)));
        });
        let sig = key.sign(&message);
        let public = UnparsedPublicKey::new(&ED25519, key.public_key().as_ref().to_vec());
        c.ed25519_verify = rate(each, 1, || {
            let _ = black_box(public.verify(black_box(&message), sig.as_ref()));
        });
    }
    c.ed25519_batch_verify = batch_rate(each);
    if let Some(key) = &p256 {
        c.p256_sign = rate(each, 1, || {
            let _ = black_box(key.sign(&rng, black_box(&message)));
        });
        if let Ok(sig) = key.sign(&rng, &message) {
            let public =
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key().as_ref().to_vec());
            c.p256_verify = rate(each, 1, || {
                let _ = black_box(public.verify(black_box(&message), sig.as_ref()));
            });
        }
    }
    c
}

/// Ed25519 batch verification: [`BATCH`] signatures by different keys over
/// different messages, as in a block.
fn batch_rate(budget: Duration) -> f64 {
    use ed25519_dalek::{Signer, SigningKey};
    let keys: Vec<SigningKey> = (0..BATCH)
        .map(|i| {
            let mut seed = [0u8; 32];
            seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
            SigningKey::from_bytes(&seed)
        })
        .collect();
    let messages: Vec<Vec<u8>> = (0..BATCH)
        .map(|i| {
            let mut m = vec![0x5a_u8; MESSAGE_BYTES];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            m
        })
        .collect();
    let signatures: Vec<_> = keys.iter().zip(&messages).map(|(k, m)| k.sign(m)).collect();
    let verifying: Vec<_> = keys.iter().map(|k| k.verifying_key()).collect();
    let refs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
    rate(budget, BATCH, || {
        let _ = black_box(ed25519_dalek::verify_batch(
            black_box(&refs),
            &signatures,
            &verifying,
        ));
    })
}

/// Calls `op` (which does `per_call` operations) for about `budget`, after
/// a short warm-up; operations per second.
fn rate(budget: Duration, per_call: usize, mut op: impl FnMut()) -> f64 {
    for _ in 0..3 {
        op();
    }
    let started = Instant::now();
    let mut calls = 0u64;
    while calls < 2 || started.elapsed() < budget {
        op();
        calls += 1;
    }
    (calls as f64 * per_call as f64) / started.elapsed().as_secs_f64().max(1e-9)
}

/// The report `consort bench ceiling` prints.
pub fn report(c: &Ceiling, shape: NetworkShape) -> String {
    let verifies = shape.single_verifies() + shape.validation_verifies();
    format!(
        "one core: Ed25519 verify {:.0}/s, batched ({BATCH}) {:.0}/s, sign {:.0}/s; \
         P-256 verify {:.0}/s, sign {:.0}/s\n\
         {} cores; a transaction with {} validating peers and {} endorsements costs \
         {verifies} verifications and {} signatures across the network\n\
         crypto ceiling: {:.0} tx/s verifying one at a time, {:.0} tx/s with the peers \
         verifying in batches\n",
        c.ed25519_verify,
        c.ed25519_batch_verify,
        c.ed25519_sign,
        c.p256_verify,
        c.p256_sign,
        c.cores,
        shape.peers,
        shape.endorsers,
        shape.signs(),
        c.network_tps(shape, false),
        c.network_tps(shape, true),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_org_transaction_costs_twelve_verifications_and_four_signatures() {
        let s = NetworkShape::THREE_ORGS;
        assert_eq!(s.single_verifies() + s.validation_verifies(), 12);
        assert_eq!(s.signs(), 4);
    }

    #[test]
    fn the_ceiling_follows_from_the_rates() {
        // The rates this machine size is known for.
        let c = Ceiling {
            ed25519_verify: 22_400.0,
            ed25519_batch_verify: 52_600.0,
            ed25519_sign: 55_000.0,
            p256_verify: 5_100.0,
            p256_sign: 14_600.0,
            cores: 2,
        };
        let single = c.network_tps(NetworkShape::THREE_ORGS, false);
        let batched = c.network_tps(NetworkShape::THREE_ORGS, true);
        assert!((3_200.0..3_400.0).contains(&single), "{single}");
        assert!((5_200.0..5_400.0).contains(&batched), "{batched}");
        let none = Ceiling {
            ed25519_verify: 0.0,
            ..c
        };
        assert_eq!(none.network_tps(NetworkShape::THREE_ORGS, false), 0.0);
    }

    #[test]
    fn measuring_gives_positive_rates() {
        let c = measure(Duration::from_millis(50));
        for r in [
            c.ed25519_verify,
            c.ed25519_batch_verify,
            c.ed25519_sign,
            c.p256_verify,
            c.p256_sign,
        ] {
            assert!(r > 0.0, "{c:?}");
        }
        assert!(report(&c, NetworkShape::THREE_ORGS).contains("crypto ceiling"));
    }
}
