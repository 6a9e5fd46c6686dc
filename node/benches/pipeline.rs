//! The peer's validation pipeline, piece by piece: signature checks one at a
//! time and batched, endorsement policy evaluation, phase 1 and phase 2 of a
//! 500-transaction block, a ledger commit of a block, and a block's protobuf
//! encoding and decoding. `cargo bench -p consort`; the blocks are
//! `consort bench validate`'s (three orgs, 2-of-3 Ed25519 endorsements).

use consort::bench::workload::Workload;
use consort::block;
use consort::identity::cert;
use consort::ledger::{BlockUpdate, Ledger};
use consort::validation::signatures::{self, SigCheck};
use consort::validation::{self, ChannelRules};
use consort_proto::{Block, CommittedBlock, Envelope, Transaction};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use prost::Message;
use std::hint::black_box;

const TXS: usize = 500;

struct Fixture {
    workload: Workload,
    rules: ChannelRules,
    /// Block 1 (opens accounts) and block 2 (transfers between them).
    blocks: Vec<Block>,
}

fn fixture() -> Fixture {
    let workload = Workload::new(32).expect("workload");
    let rules = workload.rules().expect("rules");
    let blocks = workload.blocks(2, TXS).expect("blocks");
    Fixture {
        workload,
        rules,
        blocks,
    }
}

/// The creator's and endorsers' signatures of a block's transactions, as
/// (key, message, signature).
fn signatures_of(f: &Fixture, b: &Block) -> Vec<(cert::PublicKey, Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    for data in &b.data {
        let env = Envelope::decode(data.as_slice()).expect("envelope");
        let tx = Transaction::decode(env.payload.as_slice()).expect("tx");
        let header = consort_proto::ProposalHeader::decode(tx.header.as_slice()).expect("header");
        let creator = f.rules.msp.validate(&header.creator).expect("creator");
        out.push((
            creator.public_key.clone(),
            env.payload.clone(),
            env.signature,
        ));
        for e in &tx.endorsements {
            let id = f.rules.msp.validate(&e.endorser).expect("endorser");
            let message = validation::endorsement_message(&tx.response_payload, &e.endorser);
            out.push((id.public_key.clone(), message, e.signature.clone()));
        }
    }
    out
}

fn bench_signatures(c: &mut Criterion, f: &Fixture) {
    let owned = signatures_of(f, &f.blocks[1]);
    let checks: Vec<SigCheck<'_>> = owned
        .iter()
        .take(signatures::BATCH)
        .map(|(key, message, signature)| SigCheck {
            key,
            message,
            signature,
        })
        .collect();
    let mut g = c.benchmark_group("signatures");
    g.throughput(Throughput::Elements(checks.len() as u64));
    g.bench_function("ed25519_single_64", |b| {
        b.iter(|| signatures::verify_each(black_box(&checks)))
    });
    g.bench_function("ed25519_batched_64", |b| {
        b.iter(|| signatures::verify_batched(black_box(&checks)))
    });
    g.finish();
}

fn bench_policy(c: &mut Criterion, f: &Fixture) {
    let env = Envelope::decode(f.blocks[1].data[0].as_slice()).expect("envelope");
    let tx = Transaction::decode(env.payload.as_slice()).expect("tx");
    let signers: Vec<_> = tx
        .endorsements
        .iter()
        .map(|e| {
            f.rules
                .msp
                .validate(&e.endorser)
                .expect("endorser")
                .signer()
        })
        .collect();
    let policy = f
        .rules
        .policies
        .get(consort::bench::workload::CHAINCODE)
        .expect("policy")
        .clone();
    c.bench_function("policy/two_of_three", |b| {
        b.iter(|| policy.evaluate(black_box(&signers)))
    });
}

fn bench_validation(c: &mut Criterion, f: &Fixture) {
    let data = &f.blocks[1].data;
    let mut g = c.benchmark_group("validation");
    g.throughput(Throughput::Elements(data.len() as u64));
    g.sample_size(10);
    g.bench_function("phase1_block_500", |b| {
        b.iter(|| validation::check_block(&f.rules, black_box(data)))
    });
    g.bench_function("phase1_serial_500", |b| {
        b.iter(|| {
            data.iter()
                .map(|d| validation::check_tx(&f.rules, d))
                .collect::<Vec<_>>()
        })
    });
    // Phase 2 against a ledger holding block 1's accounts.
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::open(&dir.path().join("ledger")).expect("ledger");
    commit_plain(&ledger, f.workload.genesis(), &f.rules);
    commit_plain(&ledger, &f.blocks[0], &f.rules);
    g.bench_function("phase2_block_500", |b| {
        b.iter_batched(
            || validation::check_block(&f.rules, data),
            |checked| validation::validate_block(&ledger, checked).expect("phase 2"),
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

/// Commits `b` with its transactions validated, outside any measurement.
fn commit_plain(ledger: &Ledger, b: &Block, rules: &ChannelRules) {
    let header = block::decode_header(b).expect("header");
    let result = validation::validate_block(ledger, validation::check_block(rules, &b.data))
        .expect("validate");
    ledger
        .commit(&BlockUpdate {
            hash: block::block_hash(b),
            number: header.number,
            timestamp_ms: header.timestamp_ms,
            block: CommittedBlock {
                block: Some(b.clone()),
                validation_codes: result.codes.iter().map(|c| *c as i32).collect(),
            },
            writes: result.writes,
            txs: result.txs,
        })
        .expect("commit");
}

fn bench_commit(c: &mut Criterion, f: &Fixture) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ledger = Ledger::open(&dir.path().join("ledger")).expect("ledger");
    commit_plain(&ledger, f.workload.genesis(), &f.rules);
    let b = &f.blocks[1];
    let result = validation::validate_block(&ledger, validation::check_block(&f.rules, &b.data))
        .expect("validate");
    let mut update = BlockUpdate {
        hash: block::block_hash(b),
        number: 0,
        timestamp_ms: 0,
        block: CommittedBlock {
            block: Some(b.clone()),
            validation_codes: result.codes.iter().map(|c| *c as i32).collect(),
        },
        writes: result.writes,
        txs: vec![],
    };
    let mut g = c.benchmark_group("ledger");
    g.throughput(Throughput::Elements(b.data.len() as u64));
    g.sample_size(10);
    // The same writes again at each next height: a block's batch (block,
    // state, history, index) written and synced.
    g.bench_function("commit_block_500", |bench| {
        bench.iter(|| {
            update.number = ledger.height();
            ledger.commit(&update).expect("commit")
        })
    });
    g.finish();
}

fn bench_codec(c: &mut Criterion, f: &Fixture) {
    let b = &f.blocks[1];
    let bytes = b.encode_to_vec();
    let mut g = c.benchmark_group("codec");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("encode_block_500", |bench| {
        bench.iter(|| black_box(b).encode_to_vec())
    });
    g.bench_function("decode_block_500", |bench| {
        bench.iter(|| Block::decode(black_box(bytes.as_slice())).expect("decode"))
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    let f = fixture();
    bench_signatures(c, &f);
    bench_policy(c, &f);
    bench_validation(c, &f);
    bench_commit(c, &f);
    bench_codec(c, &f);
}

criterion_group!(benches, all);
criterion_main!(benches);
