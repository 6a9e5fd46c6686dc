//! Phase 1 on all cores with batched signatures ([`check_block`]) gives the
//! same result as [`check_tx`] on each transaction in turn, and phase 2 then
//! the same codes and writes, on random blocks mixing valid transactions,
//! bad signatures, foreign and duplicate endorsers, repeated transaction
//! IDs and read conflicts.

use super::*;
use crate::identity::ca::{CertAuthority, KeyKind};
use crate::identity::{Role, SigningIdentity};
use crate::testkit::{self, endorsed_envelope, identity, rwset, version, Consortium};
use consort_proto::{Envelope, Transaction};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A transaction's envelope with its transaction re-signed by `creator`
/// after `change`.
fn resigned(
    env: &[u8],
    creator: &SigningIdentity,
    change: impl FnOnce(&mut Transaction),
) -> Vec<u8> {
    let env = Envelope::decode(env).unwrap();
    let mut tx = Transaction::decode(env.payload.as_slice()).unwrap();
    change(&mut tx);
    let payload = tx.encode_to_vec();
    Envelope {
        signature: creator.sign(&payload).unwrap(),
        payload,
    }
    .encode_to_vec()
}

/// One random transaction over a few keys of "token".
fn random_tx(
    rng: &mut StdRng,
    c: &Consortium,
    outsider: &SigningIdentity,
    earlier: &[Vec<u8>],
) -> Vec<u8> {
    let orgs = c.orgs.len();
    let creator = &c.orgs[rng.gen_range(0..orgs)].client;
    let first = rng.gen_range(0..orgs);
    let second = (first + rng.gen_range(1..orgs)) % orgs;
    let key = |rng: &mut StdRng| format!("k{}", rng.gen_range(0..12));
    let (k1, k2) = (key(rng), key(rng));
    // Reads at the committed version (block 1, tx 0), or a stale one.
    let seen = if rng.gen_bool(0.8) {
        Some(version(1, 0))
    } else {
        Some(version(0, 7))
    };
    let rw = rwset("token", &[(k1.as_str(), seen)], &[(k2.as_str(), Some("v"))]);
    let p1 = &c.orgs[first].peer;
    let p2 = &c.orgs[second].peer;
    let (env, _) = match rng.gen_range(0..10) {
        // A duplicate endorser counts once: 2-of-3 fails.
        0 => endorsed_envelope(creator, "testchannel", rw, &[p1, p1]),
        // A non-member's endorsement is ignored.
        1 => endorsed_envelope(creator, "testchannel", rw, &[p1, outsider]),
        // Three endorsers.
        2 => endorsed_envelope(
            creator,
            "testchannel",
            rw,
            &[p1, p2, &c.orgs[(second + 1) % orgs].peer],
        ),
        _ => endorsed_envelope(creator, "testchannel", rw, &[p1, p2]),
    };
    match rng.gen_range(0..12) {
        // The creator's signature broken.
        0 => {
            let mut e = Envelope::decode(env.as_slice()).unwrap();
            e.signature[3] ^= 0x40;
            e.encode_to_vec()
        }
        // An endorsement's signature broken (then one good endorsement).
        1 => resigned(&env, creator, |tx| tx.endorsements[0].signature[9] ^= 1),
        // A bad copy of an endorsement before the good one: still counted.
        2 => resigned(&env, creator, |tx| {
            let mut bad = tx.endorsements[1].clone();
            bad.signature[0] ^= 1;
            tx.endorsements.insert(0, bad);
        }),
        // A transaction repeated from earlier in the block.
        3 if !earlier.is_empty() => earlier[rng.gen_range(0..earlier.len())].clone(),
        // Garbage.
        4 => vec![0x0a, 0x03, 1, 2],
        _ => env,
    }
}

#[test]
fn parallel_batched_validation_equals_serial_validation() {
    let c = Consortium::new(3);
    let rules = c.rules();
    let foreign = CertAuthority::generate("Org1MSP", KeyKind::Ed25519).unwrap();
    let outsider = identity(&foreign, "peer0.org1", Role::Peer, KeyKind::Ed25519);
    // Committed state: k0..k11 at version (1, 0), and one committed ID.
    let (_dir, ledger) = testkit::temp_ledger();
    let genesis = crate::block::genesis(&c.config);
    let committer =
        crate::peer::committer::Committer::new(ledger.clone(), rules.clone(), &genesis).unwrap();
    let keys: Vec<String> = (0..12).map(|i| format!("k{i}")).collect();
    let writes: Vec<(&str, Option<&str>)> = keys.iter().map(|k| (k.as_str(), Some("0"))).collect();
    let (first, _) = endorsed_envelope(
        &c.orgs[0].client,
        "testchannel",
        rwset("token", &[], &writes),
        &[&c.orgs[0].peer, &c.orgs[1].peer],
    );
    let b1 = testkit::block_after(
        "testchannel",
        1,
        &genesis,
        vec![first.clone()],
        Some(&c.orgs[0].orderer),
    );
    assert_eq!(committer.commit(b1).unwrap(), vec![Code::Valid]);

    for seed in 0..12u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        // The last seeds make blocks with enough signatures for the large
        // batches (`signatures::LARGE_FROM`).
        let n = if seed >= 10 {
            rng.gen_range(350..420)
        } else {
            rng.gen_range(1..200)
        };
        let mut data: Vec<Vec<u8>> = Vec::new();
        if seed % 3 == 0 {
            data.push(first.clone()); // already committed
        }
        while data.len() < n {
            let tx = random_tx(&mut rng, &c, &outsider, &data);
            data.push(tx);
        }
        let serial: Vec<_> = data.iter().map(|d| check_tx(&rules, d)).collect();
        let parallel = check_block(&rules, &data);
        assert_eq!(serial.len(), parallel.len());
        for (i, (s, p)) in serial.iter().zip(&parallel).enumerate() {
            match (s, p) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.tx_id, b.tx_id, "seed {seed} tx {i}");
                    assert_eq!(a.rwset, b.rwset, "seed {seed} tx {i}");
                }
                (Err(a), Err(b)) => assert_eq!(a, b, "seed {seed} tx {i}"),
                _ => panic!("seed {seed} tx {i}: serial {s:?}, parallel {p:?}"),
            }
        }
        let a = validate_block(ledger.as_ref(), serial).unwrap();
        let b = validate_block(ledger.as_ref(), parallel).unwrap();
        assert_eq!(a.codes, b.codes, "seed {seed}");
        assert_eq!(a.writes, b.writes, "seed {seed}");
        assert_eq!(a.txs, b.txs, "seed {seed}");
        // The mix exercises both verdicts and conflicts.
        if n > 50 {
            for code in [
                Code::Valid,
                Code::MvccReadConflict,
                Code::BadCreatorSignature,
                Code::EndorsementPolicyFailure,
            ] {
                assert!(
                    a.codes.contains(&code),
                    "seed {seed}: no {code:?} in {:?}",
                    a.codes
                );
            }
        }
    }
}
