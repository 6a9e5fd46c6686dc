//! Crash injection for recovery tests. `CONSORT_CRASH_AT=<point>:<n>` in a
//! node's environment makes the process abort (`std::process::abort`, no
//! unwinding, no flush, no destructors) at the `n`-th pass of the named
//! [`CrashPoint`]. The node reads the variable once at start
//! ([`arm_from_env`]); unset, each point costs one atomic load.
//!
//! Always compiled in, so the test binary and the workspace build the same
//! `consort` binary (a cargo feature would build the node and RocksDB twice).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that arms a crash point.
pub const ENV: &str = "CONSORT_CRASH_AT";

/// A place in the write paths where a node can be made to crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrashPoint {
    /// `Ledger::commit`, before anything of the block is built.
    LedgerCommitStart,
    /// `Ledger::commit` building the batch: at each history record.
    LedgerHistory,
    /// `Ledger::commit` building the batch: at each tx-index record.
    LedgerTxIndex,
    /// `Ledger::commit`, the batch built but not written.
    LedgerBeforeWrite,
    /// `Ledger::commit`, the batch written (synced) but the height not moved.
    LedgerAfterWrite,
    /// `BlockMachine::apply`, before any entry is looked at.
    ApplyStart,
    /// `BlockMachine::apply`, at each block added to the batch.
    ApplyBlockAdded,
    /// `BlockMachine::apply`, before the applied log ID (`sm_meta`) joins
    /// the batch and the batch is written.
    ApplyBeforeMeta,
    /// `BlockMachine::apply`, the batch written (synced) but the tip watch
    /// not moved.
    ApplyAfterWrite,
    /// `LogStore::append`, before the synced write.
    LogAppendBeforeWrite,
    /// `LogStore::append`, after the synced write, before openraft is told.
    LogAppendAfterWrite,
}

impl CrashPoint {
    /// Every crash point.
    pub const ALL: [CrashPoint; 11] = [
        CrashPoint::LedgerCommitStart,
        CrashPoint::LedgerHistory,
        CrashPoint::LedgerTxIndex,
        CrashPoint::LedgerBeforeWrite,
        CrashPoint::LedgerAfterWrite,
        CrashPoint::ApplyStart,
        CrashPoint::ApplyBlockAdded,
        CrashPoint::ApplyBeforeMeta,
        CrashPoint::ApplyAfterWrite,
        CrashPoint::LogAppendBeforeWrite,
        CrashPoint::LogAppendAfterWrite,
    ];

    /// The name used in `CONSORT_CRASH_AT`.
    pub fn name(self) -> &'static str {
        match self {
            CrashPoint::LedgerCommitStart => "ledger.commit.start",
            CrashPoint::LedgerHistory => "ledger.commit.history",
            CrashPoint::LedgerTxIndex => "ledger.commit.txindex",
            CrashPoint::LedgerBeforeWrite => "ledger.commit.before_write",
            CrashPoint::LedgerAfterWrite => "ledger.commit.after_write",
            CrashPoint::ApplyStart => "orderer.apply.start",
            CrashPoint::ApplyBlockAdded => "orderer.apply.block_added",
            CrashPoint::ApplyBeforeMeta => "orderer.apply.before_meta",
            CrashPoint::ApplyAfterWrite => "orderer.apply.after_write",
            CrashPoint::LogAppendBeforeWrite => "orderer.log.before_write",
            CrashPoint::LogAppendAfterWrite => "orderer.log.after_write",
        }
    }

    /// The point of that name.
    pub fn from_name(name: &str) -> Option<CrashPoint> {
        CrashPoint::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl std::fmt::Display for CrashPoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A crash point and the pass at which it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrashSpec {
    /// Where.
    pub point: CrashPoint,
    /// At which pass, from 1.
    pub pass: u64,
}

impl CrashSpec {
    /// The `CONSORT_CRASH_AT` value for this spec.
    pub fn env_value(&self) -> String {
        format!("{}:{}", self.point, self.pass)
    }
}

/// A `CONSORT_CRASH_AT` value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrashSpecError {
    /// Not `<point>:<n>`.
    #[error("{ENV}: '{0}' is not <point>:<n>")]
    Syntax(String),
    /// No crash point of that name.
    #[error("{ENV}: no crash point '{0}'")]
    UnknownPoint(String),
    /// The pass is not an integer of at least 1.
    #[error("{ENV}: pass '{0}' is not an integer of at least 1")]
    Pass(String),
}

/// Parses `<point>:<n>`.
pub fn parse(value: &str) -> Result<CrashSpec, CrashSpecError> {
    let (name, pass) = value
        .rsplit_once(':')
        .ok_or_else(|| CrashSpecError::Syntax(value.to_string()))?;
    let point =
        CrashPoint::from_name(name).ok_or_else(|| CrashSpecError::UnknownPoint(name.into()))?;
    let pass = pass
        .parse::<u64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| CrashSpecError::Pass(pass.into()))?;
    Ok(CrashSpec { point, pass })
}

/// Counts passes of one armed point and says when it should fire.
#[derive(Debug)]
pub struct Trigger {
    spec: CrashSpec,
    passes: AtomicU64,
}

impl Trigger {
    /// A trigger for `spec`, no passes counted yet.
    pub fn new(spec: CrashSpec) -> Self {
        Trigger {
            spec,
            passes: AtomicU64::new(0),
        }
    }

    /// Counts a pass of `point`; true exactly at the armed pass.
    pub fn pass(&self, point: CrashPoint) -> bool {
        point == self.spec.point && self.passes.fetch_add(1, Ordering::SeqCst) + 1 == self.spec.pass
    }
}

static ARMED: OnceLock<Trigger> = OnceLock::new();

/// Reads `CONSORT_CRASH_AT` once and arms its point; `Ok(None)` when unset.
pub fn arm_from_env() -> Result<Option<CrashSpec>, CrashSpecError> {
    let Ok(value) = std::env::var(ENV) else {
        return Ok(None);
    };
    let spec = parse(&value)?;
    // A second call keeps the first trigger and its count.
    let armed = ARMED.get_or_init(|| Trigger::new(spec));
    Ok(Some(armed.spec))
}

/// A pass of `point`: aborts the process when it is the armed pass.
#[inline]
pub fn hit(point: CrashPoint) {
    if let Some(t) = ARMED.get() {
        if t.pass(point) {
            // stderr is unbuffered: the line reaches the node's log first.
            eprintln!("crash injected at {point} pass {}", t.spec.pass);
            std::process::abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_point_parses_back_from_its_name() {
        for p in CrashPoint::ALL {
            let spec = parse(&format!("{p}:3")).unwrap();
            assert_eq!(spec, CrashSpec { point: p, pass: 3 });
            assert_eq!(parse(&spec.env_value()).unwrap(), spec);
        }
    }

    #[test]
    fn bad_values_are_refused_by_kind() {
        assert_eq!(
            parse("ledger.commit.start"),
            Err(CrashSpecError::Syntax("ledger.commit.start".into()))
        );
        assert_eq!(
            parse("ledger.nowhere:1"),
            Err(CrashSpecError::UnknownPoint("ledger.nowhere".into()))
        );
        assert_eq!(
            parse("ledger.commit.start:0"),
            Err(CrashSpecError::Pass("0".into()))
        );
        assert_eq!(
            parse("ledger.commit.start:x"),
            Err(CrashSpecError::Pass("x".into()))
        );
    }

    #[test]
    fn a_trigger_fires_once_at_its_pass_of_its_point() {
        let t = Trigger::new(CrashSpec {
            point: CrashPoint::ApplyStart,
            pass: 3,
        });
        let fired: Vec<bool> = (0..5)
            .map(|_| {
                assert!(
                    !t.pass(CrashPoint::LedgerCommitStart),
                    "other points never count"
                );
                t.pass(CrashPoint::ApplyStart)
            })
            .collect();
        assert_eq!(fired, [false, false, true, false, false]);
    }

    #[test]
    fn an_unarmed_process_passes_every_point() {
        // The unit-test process never arms a point.
        for p in CrashPoint::ALL {
            hit(p);
        }
    }
}
