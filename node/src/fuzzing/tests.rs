use super::*;
use crate::testkit;
use std::path::{Path, PathBuf};

/// The targets, by their directory name under `fuzz/corpus`.
const TARGETS: [&str; 5] = [
    "envelope",
    "block",
    "signed_proposal",
    "policy",
    "transaction",
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn fixture() -> Fixture {
    let path = fuzz_dir().join("fixture/consortium.json");
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    Fixture::from_json(&json).unwrap()
}

fn run(fx: &Fixture, target: &str, data: &[u8]) {
    match target {
        "envelope" => envelope(data),
        "block" => block(fx, data),
        "signed_proposal" => signed_proposal(fx, data),
        "policy" => policy(data),
        "transaction" => transaction(fx, data),
        other => panic!("no target {other}"),
    }
}

/// A small deterministic generator (xorshift), so a failing mutation is the
/// same on every run.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        let mut d = seed.to_vec();
        for _ in 0..=self.below(4) {
            match self.below(6) {
                0 if !d.is_empty() => {
                    let i = self.below(d.len());
                    d[i] ^= 1 << self.below(8);
                }
                1 if !d.is_empty() => {
                    let i = self.below(d.len());
                    d[i] = self.next() as u8;
                }
                2 => {
                    let cut = self.below(d.len() + 1);
                    d.truncate(cut);
                }
                3 => {
                    let i = self.below(d.len() + 1);
                    d.insert(i, self.next() as u8);
                }
                4 if !d.is_empty() => {
                    // Varint-looking lengths: a byte with the high bit set.
                    let i = self.below(d.len());
                    d[i] |= 0x80;
                }
                _ if d.len() > 1 => {
                    // Duplicate a slice (repeated fields, nested copies).
                    let a = self.below(d.len());
                    let b = a + self.below(d.len() - a);
                    let slice = d[a..b].to_vec();
                    let at = self.below(d.len() + 1);
                    d.splice(at..at, slice);
                }
                _ => {}
            }
        }
        d
    }
}

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = fuzz_dir().join("corpus").join(target);
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{dir:?}: {e}"))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    entries
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

#[test]
fn every_target_holds_over_its_seed_corpus_and_its_mutations() {
    let fx = fixture();
    for target in TARGETS {
        let seeds = corpus(target);
        assert!(!seeds.is_empty(), "no seeds for {target}");
        let mut m = Mutator(0x9e37_79b9_7f4a_7c15);
        for seed in &seeds {
            run(&fx, target, seed);
            for _ in 0..1000 {
                run(&fx, target, &m.mutate(seed));
            }
        }
    }
}

#[test]
fn the_seeds_reach_past_the_signature_checks() {
    // A seed that fails where the fuzzer cannot get past would make the
    // target shallow: the fixture's signatures must still hold.
    let fx = fixture();
    let valid_tx = corpus("transaction")
        .iter()
        .filter(|s| {
            let checked = validation::check_tx(&fx.rules, &s[1..]);
            s[0] % 2 == 0 && checked.is_ok()
        })
        .count();
    assert!(valid_tx > 0, "no transaction seed passes phase 1");
    let proposals = corpus("signed_proposal")
        .iter()
        .filter(|s| {
            SignedProposal::decode(s.as_slice())
                .ok()
                .is_some_and(|sp| check_proposal(&fx.rules, &sp).is_ok())
        })
        .count();
    assert!(
        proposals > 0,
        "no proposal seed passes the endorser's checks"
    );
    let blocks = corpus("block")
        .iter()
        .filter(|s| {
            Block::decode(s.as_slice())
                .ok()
                .is_some_and(|b| block::check_signature(&b, 1, &fx.rules.msp).is_ok())
        })
        .count();
    assert!(blocks > 0, "no block seed carries a consenter's signature");
}

/// Writes `fuzz/fixture/consortium.json` (when missing) and the seed corpus
/// from it. Run with `cargo test -p consort --lib fuzzing -- --ignored`
/// after changing the wire formats.
#[test]
#[ignore = "writes the fuzz fixture and seeds into the source tree"]
fn write_fixture_and_seeds() {
    let path = fuzz_dir().join("fixture/consortium.json");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, Fixture::generate().unwrap()).unwrap();
    }
    let fx = fixture();
    let [o1, o2, o3] = [&fx.orgs[0], &fx.orgs[1], &fx.orgs[2]];
    let transfer = testkit::rwset(
        "token",
        &[
            ("balance~alice", Some(testkit::version(1, 2))),
            ("balance~bob", Some(testkit::version(1, 3))),
        ],
        &[("balance~alice", Some("90")), ("balance~bob", Some("110"))],
    );
    let (tx1, _) =
        testkit::endorsed_envelope(&o1.client, CHANNEL, transfer.clone(), &[&o1.peer, &o2.peer]);
    let (tx2, _) = testkit::endorsed_envelope(
        &o3.client,
        CHANNEL,
        testkit::rwset("token", &[("c", None)], &[("c", Some("1")), ("a", None)]),
        &[&o2.peer, &o3.peer],
    );
    let (tx3, _) = testkit::endorsed_envelope(&o2.client, CHANNEL, transfer, &[&o1.peer]);
    let mut seeds: Vec<(&str, String, Vec<u8>)> = Vec::new();
    for (name, tx) in [
        ("transfer", &tx1),
        ("create", &tx2),
        ("underendorsed", &tx3),
    ] {
        seeds.push(("envelope", name.to_string(), tx.clone()));
        let mut raw = vec![0u8];
        raw.extend_from_slice(tx);
        seeds.push(("transaction", name.to_string(), raw));
        let env = Envelope::decode(tx.as_slice()).unwrap();
        let org = if name == "create" {
            2
        } else if name == "transfer" {
            0
        } else {
            1
        };
        let mut signed = vec![1u8, org];
        signed.extend_from_slice(&env.payload);
        seeds.push(("transaction", format!("{name}-payload"), signed));
    }
    let b1 = testkit::block_after(
        CHANNEL,
        1,
        &fx.genesis,
        vec![tx1.clone(), tx2.clone()],
        Some(&o1.orderer),
    );
    seeds.push(("block", "two-txs".into(), b1.encode_to_vec()));
    let b1 = testkit::block_after(CHANNEL, 1, &fx.genesis, vec![], Some(&o3.orderer));
    seeds.push(("block", "empty".into(), b1.encode_to_vec()));
    let (sp, _) = testkit::proposal(
        &o1.client,
        CHANNEL,
        "token",
        "transfer",
        &["alice", "bob", "10"],
    );
    seeds.push(("signed_proposal", "transfer".into(), sp.encode_to_vec()));
    let (sp, _) = testkit::proposal(&o3.client, CHANNEL, "token", "balance", &["alice"]);
    seeds.push(("signed_proposal", "query".into(), sp.encode_to_vec()));
    for (i, p) in [
        "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')",
        "AND('Org1MSP.member', OR('Org2MSP.admin', 'Org3MSP.client'))",
        "OR(AND('Org1MSP.peer', 'Org1MSP.peer'), OutOf(1, 'Org2MSP.orderer'))",
        "OutOf(3, 'Org1MSP.member', 'Org1MSP.member', AND('Org2MSP.peer', 'Org3MSP.peer'), 'Org3MSP.member')",
    ]
    .iter()
    .enumerate()
    {
        seeds.push(("policy", format!("p{i}"), p.as_bytes().to_vec()));
    }
    for (target, name, bytes) in seeds {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
    }
}
