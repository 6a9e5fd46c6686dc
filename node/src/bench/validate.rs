//! `consort bench validate`: one peer's verify → validate → commit path on
//! its own. Signed blocks of token transfers ([`super::workload`]) go
//! through the peer's real [`Committer`] into a fresh RocksDB ledger; the
//! report gives transactions per second and where the time went.
//!
//! Blocks are made while the benchmark runs, each just before it is
//! committed (so memory holds one block at a time), and the time spent
//! making them is not counted.

use super::workload::{Workload, WorkloadError};
use crate::ledger::{Ledger, LedgerError};
use crate::peer::committer::{CommitError, CommitTimings, Committer};
use consort_proto::TxValidationCode as Code;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct ValidateSpec {
    /// Blocks to commit after the genesis block.
    pub blocks: u64,
    /// Transactions per block.
    pub txs_per_block: usize,
    /// Payload bytes in each account value written.
    pub payload_bytes: usize,
    /// Where the ledger goes (a fresh directory is made in it); the system's
    /// temporary directory when `None`.
    pub dir: Option<PathBuf>,
    /// Run phase 1 of the next block while a block commits, as a peer
    /// does; otherwise one block at a time.
    pub pipeline: bool,
}

/// Why the benchmark stopped.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    /// Setting up identities or blocks failed.
    #[error(transparent)]
    Workload(#[from] WorkloadError),
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A block was refused.
    #[error(transparent)]
    Commit(#[from] CommitError),
    /// The ledger's directory could not be made.
    #[error("ledger directory: {0}")]
    Io(#[from] std::io::Error),
}

/// What happened.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ValidateReport {
    /// Blocks committed.
    pub blocks: u64,
    /// Transactions committed.
    pub txs: u64,
    /// Of which `VALID`.
    pub valid: u64,
    /// Time spent committing (making the blocks excluded).
    #[serde(serialize_with = "as_secs")]
    pub elapsed: Duration,
    /// Where that time went.
    #[serde(skip)]
    pub timings: CommitTimings,
    /// Bytes of the ledger directory on disk at the end.
    pub ledger_bytes: u64,
    /// Time to open the ledger again (closed, then opened as a peer
    /// restarting would).
    #[serde(serialize_with = "as_secs")]
    pub reopen: Duration,
    /// This process's resident memory at the end, when known.
    pub rss_bytes: Option<u64>,
    /// Cores available.
    pub cores: usize,
}

fn as_secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl ValidateReport {
    /// Committed transactions per second.
    pub fn tps(&self) -> f64 {
        self.txs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The report as `consort bench validate` prints it.
    pub fn render(&self) -> String {
        let t = &self.timings;
        let total = t.total().as_secs_f64().max(1e-9);
        let part = |name: &str, d: Duration| {
            format!(
                "  {name:<26} {:>8.1} ms  {:>5.1} %\n",
                d.as_secs_f64() * 1e3,
                100.0 * d.as_secs_f64() / total
            )
        };
        let mut out = format!(
            "{} transactions in {} blocks committed in {:.2} s on {} cores: {:.0} tx/s ({} VALID)\n\
             time split (wall time of each step, summed over blocks; with the pipeline, \
             phase 1 of a block overlaps the commit of the one before):\n",
            self.txs,
            self.blocks,
            self.elapsed.as_secs_f64(),
            self.cores,
            self.tps(),
            self.valid,
        );
        out += &part("block checks", t.block_checks);
        out += &part("decode + identities", t.prepare);
        out += &part("signatures", t.signatures);
        out += &part("endorsement policy", t.policy);
        out += &part("MVCC + duplicate IDs", t.mvcc);
        out += &part("write batch", t.write_batch);
        out += &part("RocksDB write + fsync", t.write_sync);
        out += &format!(
            "ledger: {:.1} MB on disk, {:.0} bytes per transaction; reopened in {:.0} ms\n",
            self.ledger_bytes as f64 / 1e6,
            self.ledger_bytes as f64 / self.txs.max(1) as f64,
            self.reopen.as_secs_f64() * 1e3,
        );
        if let Some(rss) = self.rss_bytes {
            out += &format!("resident memory at the end: {:.0} MB\n", rss as f64 / 1e6);
        }
        out
    }
}

/// Runs the benchmark. Blocking: call from a blocking thread.
pub fn run(spec: &ValidateSpec) -> Result<ValidateReport, ValidateError> {
    let workload = Workload::new(spec.payload_bytes)?;
    let rules = workload.rules()?;
    let dir = match &spec.dir {
        Some(d) => tempfile::Builder::new()
            .prefix("consort-bench-")
            .tempdir_in(d)?,
        None => tempfile::Builder::new()
            .prefix("consort-bench-")
            .tempdir()?,
    };
    let path = dir.path().join("ledger");
    let mut report = ValidateReport {
        blocks: 0,
        txs: 0,
        valid: 0,
        elapsed: Duration::ZERO,
        timings: CommitTimings::default(),
        ledger_bytes: 0,
        reopen: Duration::ZERO,
        rss_bytes: None,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    {
        let ledger = Arc::new(Ledger::open(&path)?);
        let definitions =
            crate::node::definitions_at(workload.config(), rules.msp.clone(), &ledger)
                .map_err(|e| WorkloadError::Identity(e.to_string()))?;
        let committer = Committer::new(ledger, definitions, workload.genesis())?;
        let mut maker = workload.block_maker();
        let count = |codes: &[Code], timings: CommitTimings, r: &mut ValidateReport| {
            r.timings += timings;
            r.blocks += 1;
            r.txs += codes.len() as u64;
            r.valid += codes.iter().filter(|c| **c == Code::Valid).count() as u64;
        };
        if spec.pipeline {
            // Phase 1 of block N+1 runs while block N commits.
            let mut pending = None;
            for i in 0..=spec.blocks {
                let next = if i < spec.blocks {
                    Some(maker.make(&workload, spec.txs_per_block)?)
                } else {
                    None
                };
                let started = Instant::now();
                // The commit on this thread (phase 2 and the write are
                // sequential, and the fsync waits), phase 1 on the rayon
                // pool's threads.
                let (committed, checked) = std::thread::scope(|s| {
                    let checking = s.spawn(|| next.map(|b| committer.pre_check(b)));
                    let committed = pending.take().map(|pre| committer.commit_checked(pre));
                    (committed, checking.join())
                });
                let checked = match checked {
                    Ok(c) => c,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                report.elapsed += started.elapsed();
                if let Some(result) = committed {
                    let (codes, timings) = result?;
                    count(&codes, timings, &mut report);
                }
                pending = checked;
            }
        } else {
            for _ in 0..spec.blocks {
                let b = maker.make(&workload, spec.txs_per_block)?;
                let started = Instant::now();
                let (codes, timings) = committer.commit_timed(b)?;
                report.elapsed += started.elapsed();
                count(&codes, timings, &mut report);
            }
        }
    }
    report.ledger_bytes = dir_bytes(&path);
    let started = Instant::now();
    let reopened = Ledger::open(&path)?;
    report.reopen = started.elapsed();
    drop(reopened);
    report.rss_bytes = resident_bytes();
    Ok(report)
}

/// Bytes of the files under `path`.
fn dir_bytes(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// This process's resident set size, from `/proc/self/status` (Linux).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_every_transaction_valid_and_reports_the_split() {
        let dir = tempfile::tempdir().unwrap();
        let r = run(&ValidateSpec {
            blocks: 3,
            txs_per_block: 40,
            payload_bytes: 10,
            dir: Some(dir.path().to_path_buf()),
            pipeline: true,
        })
        .unwrap();
        assert_eq!((r.blocks, r.txs, r.valid), (3, 120, 120));
        assert!(r.tps() > 0.0);
        assert!(r.timings.signatures > Duration::ZERO);
        assert!(r.timings.write_sync > Duration::ZERO);
        assert!(r.ledger_bytes > 0);
        let text = r.render();
        assert!(text.contains("120 transactions in 3 blocks"), "{text}");
        assert!(text.contains("signatures"), "{text}");
        let serial = run(&ValidateSpec {
            blocks: 2,
            txs_per_block: 10,
            payload_bytes: 0,
            dir: Some(dir.path().to_path_buf()),
            pipeline: false,
        })
        .unwrap();
        assert_eq!((serial.blocks, serial.txs, serial.valid), (2, 20, 20));
        // The ledger's directory is removed with the run.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
