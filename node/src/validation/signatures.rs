//! Signature checks of a block's transactions: one at a time, or the
//! Ed25519 ones in batches.
//!
//! A batch of Ed25519 signatures (ed25519-dalek's `verify_batch`) is checked
//! in one multi-scalar multiplication, about twice as fast per signature as
//! one at a time. When a batch fails, each of its signatures is checked on
//! its own (with `ring`, as everywhere else) to find the bad ones. P-256
//! signatures, malformed ones and weak keys are always checked one at a time.
//!
//! The batch equation is randomised with coefficients derived from the
//! batch's own contents (a transcript of every message, key and signature),
//! and batches are formed by position in the block's list of checks: every
//! peer forms the same batches from the same block and reaches the same
//! verdicts whatever its number of threads. A signature whose `R` carries a
//! small-order component can pass a batch where a single check would refuse
//! it; only the key's holder can make one, and the verdict is still the same
//! on every peer.

use consort_client::identity::cert::{KeyAlgorithm, PublicKey};
use ed25519_dalek::{Signature, VerifyingKey};
use rayon::prelude::*;
use std::collections::HashMap;

/// Signatures per batch in a block with fewer than [`LARGE_FROM`]
/// signatures (small batches spread a medium block over all cores).
pub const BATCH: usize = 64;
/// Signatures per batch in a block with at least [`LARGE_FROM`] signatures:
/// a larger batch verifies about 7 % more signatures per second per core,
/// and such a block still has a batch for every core.
pub const LARGE_BATCH: usize = 256;
/// Signatures in a block from which it is verified in [`LARGE_BATCH`]es.
pub const LARGE_FROM: usize = 4 * LARGE_BATCH;

/// The batch size for `total` signatures: a function of the block alone,
/// never of the machine, so that every peer forms the same batches.
pub fn batch_len(total: usize) -> usize {
    if total >= LARGE_FROM {
        LARGE_BATCH
    } else {
        BATCH
    }
}

/// One signature to check.
#[derive(Debug, Clone, Copy)]
pub struct SigCheck<'a> {
    /// The signer's key.
    pub key: &'a PublicKey,
    /// What was signed.
    pub message: &'a [u8],
    /// The signature.
    pub signature: &'a [u8],
}

impl SigCheck<'_> {
    fn verify_one(&self) -> bool {
        self.key.verify(self.message, self.signature).is_ok()
    }
}

/// Checks each signature on its own, in order.
pub fn verify_each(checks: &[SigCheck<'_>]) -> Vec<bool> {
    checks.iter().map(SigCheck::verify_one).collect()
}

/// Checks the signatures on all cores, the Ed25519 ones in batches of
/// [`batch_len`] consecutive checks; the same verdicts as [`verify_each`] for
/// every signature made as the protocol makes them.
pub fn verify_batched(checks: &[SigCheck<'_>]) -> Vec<bool> {
    let keys = decode_keys(checks);
    checks
        .par_chunks(batch_len(checks.len()))
        .flat_map_iter(|chunk| verify_chunk(chunk, &keys))
        .collect()
}

/// The distinct Ed25519 keys of `checks`, decoded once (a block has few
/// signers, and decoding a key costs a field exponentiation); `None` for a
/// key that does not decode or is weak.
fn decode_keys<'a>(checks: &[SigCheck<'a>]) -> HashMap<&'a [u8], Option<VerifyingKey>> {
    let mut keys = HashMap::new();
    for check in checks {
        if check.key.algorithm() == KeyAlgorithm::Ed25519 {
            let raw = check.key.raw_bytes();
            keys.entry(raw).or_insert_with(|| {
                let key = VerifyingKey::from_bytes(raw.try_into().ok()?).ok()?;
                (!key.is_weak()).then_some(key)
            });
        }
    }
    keys
}

/// As [`verify_batched`], on the calling thread: the same batches, the same
/// verdicts.
pub fn verify_batched_here(checks: &[SigCheck<'_>]) -> Vec<bool> {
    let keys = decode_keys(checks);
    checks
        .chunks(batch_len(checks.len()))
        .flat_map(|chunk| verify_chunk(chunk, &keys))
        .collect()
}

/// One batch: the Ed25519 checks together, falling back to one at a time
/// when the batch fails; the others one at a time.
fn verify_chunk(
    chunk: &[SigCheck<'_>],
    decoded: &HashMap<&[u8], Option<VerifyingKey>>,
) -> Vec<bool> {
    let mut verdicts = vec![false; chunk.len()];
    let mut batched = Vec::with_capacity(chunk.len());
    let mut keys: Vec<VerifyingKey> = Vec::with_capacity(chunk.len());
    let mut signatures = Vec::with_capacity(chunk.len());
    let mut messages: Vec<&[u8]> = Vec::with_capacity(chunk.len());
    for (i, check) in chunk.iter().enumerate() {
        let parts = decoded
            .get(check.key.raw_bytes())
            .copied()
            .flatten()
            .filter(|_| check.key.algorithm() == KeyAlgorithm::Ed25519)
            .and_then(|key| Some((key, Signature::from_slice(check.signature).ok()?)));
        match parts {
            Some((key, signature)) => {
                batched.push(i);
                keys.push(key);
                signatures.push(signature);
                messages.push(check.message);
            }
            None => verdicts[i] = check.verify_one(),
        }
    }
    let batch_ok = match batched.len() {
        0 => false,
        1 => chunk[batched[0]].verify_one(),
        _ => ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok(),
    };
    for i in batched {
        verdicts[i] = batch_ok || chunk[i].verify_one();
    }
    verdicts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ca::KeyKind;
    use crate::identity::Role;
    use crate::testkit::{identity, Consortium};

    /// Signatures by Ed25519 and P-256 identities, with every `bad_every`th
    /// one wrong.
    fn checks_of(n: usize, bad_every: usize) -> (Vec<PublicKey>, Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let c = Consortium::new(3);
        let signers = [
            c.orgs[0].peer.clone(),
            c.orgs[1].peer.clone(),
            c.orgs[2].peer.clone(), // P-256
            identity(&c.orgs[0].ca, "peer9.org1", Role::Peer, KeyKind::Ed25519),
        ];
        let mut keys = Vec::new();
        let mut messages = Vec::new();
        let mut sigs = Vec::new();
        for i in 0..n {
            let s = &signers[i % signers.len()];
            let message = format!("message {i}").into_bytes();
            let mut sig = s.sign(&message).unwrap();
            if bad_every > 0 && i % bad_every == bad_every - 1 {
                sig[5] ^= 1;
            }
            keys.push(
                crate::identity::cert::parse(s.cert_der())
                    .unwrap()
                    .public_key,
            );
            messages.push(message);
            sigs.push(sig);
        }
        (keys, messages, sigs)
    }

    fn as_checks<'a>(
        keys: &'a [PublicKey],
        messages: &'a [Vec<u8>],
        sigs: &'a [Vec<u8>],
    ) -> Vec<SigCheck<'a>> {
        (0..keys.len())
            .map(|i| SigCheck {
                key: &keys[i],
                message: &messages[i],
                signature: &sigs[i],
            })
            .collect()
    }

    #[test]
    fn the_batch_size_depends_on_the_block_alone() {
        assert_eq!(batch_len(0), BATCH);
        assert_eq!(batch_len(LARGE_FROM - 1), BATCH);
        assert_eq!(batch_len(LARGE_FROM), LARGE_BATCH);
    }

    #[test]
    fn batches_give_the_same_verdicts_as_single_checks() {
        for (n, bad_every) in [
            (0, 0),
            (1, 0),
            (1, 1),
            (150, 0),
            (150, 7),
            (130, 1),
            (LARGE_FROM, 0),
            (LARGE_FROM + 70, 301),
        ] {
            let (keys, messages, sigs) = checks_of(n, bad_every);
            let checks = as_checks(&keys, &messages, &sigs);
            let single = verify_each(&checks);
            assert_eq!(
                verify_batched(&checks),
                single,
                "n={n} bad_every={bad_every}"
            );
            assert_eq!(verify_batched_here(&checks), single);
            let bad = single.iter().filter(|ok| !**ok).count();
            let expected = n.checked_div(bad_every).unwrap_or(0);
            assert_eq!(bad, expected);
        }
    }

    #[test]
    fn a_signature_of_another_message_or_length_fails_in_a_batch() {
        let (keys, mut messages, mut sigs) = checks_of(70, 0);
        messages[3].push(0);
        sigs[40].truncate(63);
        sigs[41] = vec![0; 64];
        let checks = as_checks(&keys, &messages, &sigs);
        let verdicts = verify_batched(&checks);
        let bad: Vec<usize> = (0..verdicts.len()).filter(|i| !verdicts[*i]).collect();
        assert_eq!(bad, vec![3, 40, 41]);
    }
}
