//! What a run measured: [`Tally`] counts the transfers' outcomes as they
//! arrive, [`Report`] is the result, printed as text (`Display`) or JSON
//! (`Serialize`).

use super::quantile::LatencySummary;
use super::transfer::{Outcome, Phases};
use consort_proto::TxValidationCode as Code;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// The run so far, for a progress display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// The load has started (the accounts are funded).
    pub loading: bool,
    /// Transfers that ended, one way or another.
    pub done: u64,
    /// Committed `VALID`.
    pub valid: u64,
    /// Committed with another code.
    pub invalid: u64,
    /// Failed before commit.
    pub failed: u64,
}

/// The outcomes so far.
#[derive(Debug, Default)]
pub struct Tally {
    progress: Progress,
    invalid_by_code: BTreeMap<String, u64>,
    first_error: Option<String>,
    endorse: Vec<Duration>,
    ordered: Vec<Duration>,
    committed: Vec<Duration>,
    end_to_end: Vec<Duration>,
}

impl Tally {
    /// Counts one transfer's outcome.
    pub fn record(&mut self, outcome: Outcome) {
        self.progress.done += 1;
        match outcome {
            Outcome::Committed { code, phases } => {
                if code == Code::Valid {
                    self.progress.valid += 1;
                } else {
                    self.progress.invalid += 1;
                    *self
                        .invalid_by_code
                        .entry(code.as_str_name().to_string())
                        .or_default() += 1;
                }
                self.phases(phases);
            }
            Outcome::Failed { phase, error } => {
                self.progress.failed += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(format!("{phase}: {error}"));
                }
            }
        }
    }

    fn phases(&mut self, p: Phases) {
        self.endorse.push(p.endorse);
        self.ordered.push(p.ordered);
        self.committed.push(p.committed);
        self.end_to_end.push(p.end_to_end());
    }

    /// The counts so far.
    pub fn progress(&self) -> Progress {
        Progress {
            loading: true,
            ..self.progress
        }
    }

    /// The report of a load that took `elapsed`, run as `settings` says.
    pub fn report(mut self, elapsed: Duration, settings: Settings) -> Report {
        let p = self.progress;
        let end_to_end = LatencySummary::of(&mut self.end_to_end);
        Report {
            settings,
            duration_s: elapsed.as_secs_f64(),
            sent: p.done,
            valid: p.valid,
            invalid: p.invalid,
            failed: p.failed,
            committed_tps: p.valid as f64 / elapsed.as_secs_f64().max(1e-9),
            invalid_by_code: self.invalid_by_code,
            first_error: self.first_error,
            latency: end_to_end,
            phases: PhaseLatencies {
                endorse: LatencySummary::of(&mut self.endorse),
                ordered: LatencySummary::of(&mut self.ordered),
                committed: LatencySummary::of(&mut self.committed),
                end_to_end,
            },
            ceiling: None,
        }
    }
}

/// How the load was run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Settings {
    /// Clients (gateway connections) the load went through.
    pub gateways: usize,
    /// Distinct client identities.
    pub identities: usize,
    /// Concurrent clients, each with one transfer in flight.
    pub concurrency: usize,
    /// Cold accounts per identity.
    pub accounts_per_identity: usize,
    /// Share of transfers that pay a hot account.
    pub hot_share: f64,
    /// Hot accounts.
    pub hot_accounts: usize,
    /// Payload bytes (the memo) per transfer.
    pub payload_bytes: usize,
}

/// Latencies of the committed transfers, phase by phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PhaseLatencies {
    /// Proposal to endorsed.
    pub endorse: LatencySummary,
    /// Submitted to acknowledged as ordered.
    pub ordered: LatencySummary,
    /// Ordered to the commit status.
    pub committed: LatencySummary,
    /// Proposal to commit status.
    pub end_to_end: LatencySummary,
}

/// The run against the crypto ceiling measured on the same machine.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CeilingFigures {
    /// Peers that validate every block.
    pub peers: u32,
    /// Endorsements per transaction.
    pub endorsers: u32,
    /// The ceiling with one signature verified at a time, tx/s.
    pub single_verify_tps: f64,
    /// The ceiling with the peers' verifications batched, tx/s.
    pub batched_tps: f64,
    /// The run's committed tx/s as a percentage of `single_verify_tps`.
    pub single_verify_pct: f64,
    /// The run's committed tx/s as a percentage of `batched_tps`.
    pub batched_pct: f64,
}

impl CeilingFigures {
    /// The figures for a run of `committed_tps` on a network of `peers`
    /// and `endorsers` whose ceilings are `single_verify_tps` and
    /// `batched_tps`.
    pub fn new(
        committed_tps: f64,
        peers: u32,
        endorsers: u32,
        single_verify_tps: f64,
        batched_tps: f64,
    ) -> Self {
        let pct = |ceiling: f64| {
            if ceiling > 0.0 {
                100.0 * committed_tps / ceiling
            } else {
                0.0
            }
        };
        CeilingFigures {
            peers,
            endorsers,
            single_verify_tps,
            batched_tps,
            single_verify_pct: pct(single_verify_tps),
            batched_pct: pct(batched_tps),
        }
    }
}

/// A run's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// How it was run.
    #[serde(flatten)]
    pub settings: Settings,
    /// Wall time of the load (funding excluded), seconds.
    pub duration_s: f64,
    /// Transfers sent.
    pub sent: u64,
    /// Committed `VALID`.
    pub valid: u64,
    /// Committed with another validation code.
    pub invalid: u64,
    /// Failed before commit (not endorsed, not ordered, or no commit status).
    pub failed: u64,
    /// Committed `VALID` transfers per second.
    pub committed_tps: f64,
    /// Committed but invalid transfers, by validation code name.
    pub invalid_by_code: BTreeMap<String, u64>,
    /// The first failure before commit: its phase and error.
    pub first_error: Option<String>,
    /// End-to-end latency of committed transfers (`p50_ms`, … at the top
    /// level of the JSON).
    #[serde(flatten)]
    pub latency: LatencySummary,
    /// Each phase's latency.
    pub phases: PhaseLatencies,
    /// The crypto ceiling, when it was measured.
    pub ceiling: Option<CeilingFigures>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.settings;
        writeln!(
            f,
            "{} concurrent clients over {} gateway(s) ({} identities, {} accounts each), hot share {} ({} hot accounts), payload {} bytes",
            s.concurrency, s.gateways, s.identities, s.accounts_per_identity, s.hot_share, s.hot_accounts, s.payload_bytes
        )?;
        writeln!(
            f,
            "{} transfers in {:.1} s: {} VALID, {} invalid, {} failed before commit",
            self.sent, self.duration_s, self.valid, self.invalid, self.failed
        )?;
        writeln!(f, "committed valid: {:.1} tx/s", self.committed_tps)?;
        if !self.invalid_by_code.is_empty() {
            let codes: Vec<String> = self
                .invalid_by_code
                .iter()
                .map(|(code, n)| format!("{code} {n}"))
                .collect();
            writeln!(f, "invalid by code: {}", codes.join(", "))?;
        }
        if let Some(e) = &self.first_error {
            writeln!(f, "failed before commit: {}; first: {e}", self.failed)?;
        }
        writeln!(
            f,
            "{:<20} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "p50", "p95", "p99", "max"
        )?;
        let p = &self.phases;
        for (name, l) in [
            ("endorse", p.endorse),
            ("submit -> ordered", p.ordered),
            ("ordered -> committed", p.committed),
            ("end to end", p.end_to_end),
        ] {
            writeln!(
                f,
                "{name:<20} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                l.p50_ms, l.p95_ms, l.p99_ms, l.max_ms
            )?;
        }
        if let Some(c) = &self.ceiling {
            writeln!(
                f,
                "crypto ceiling: {:.0} tx/s single-verify, {:.0} tx/s batched ({} peers, {} endorsements); this run: {:.1} % / {:.1} %",
                c.single_verify_tps, c.batched_tps, c.peers, c.endorsers, c.single_verify_pct, c.batched_pct
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::run::transfer::Phase;
    use crate::client::ClientError;

    fn committed(code: Code, ms: u64) -> Outcome {
        let d = Duration::from_millis(ms);
        Outcome::Committed {
            code,
            phases: Phases {
                endorse: d,
                ordered: 2 * d,
                committed: 3 * d,
            },
        }
    }

    fn sample() -> Report {
        let mut t = Tally::default();
        for ms in 1..=8 {
            t.record(committed(Code::Valid, ms));
        }
        t.record(committed(Code::MvccReadConflict, 9));
        t.record(committed(Code::MvccReadConflict, 10));
        t.record(committed(Code::EndorsementPolicyFailure, 11));
        t.record(Outcome::Failed {
            phase: Phase::Endorse,
            error: ClientError::Chaincode("insufficient balance".into()),
        });
        t.record(Outcome::Failed {
            phase: Phase::Submit,
            error: ClientError::Chaincode("second".into()),
        });
        let settings = Settings {
            gateways: 3,
            identities: 3,
            concurrency: 16,
            accounts_per_identity: 12,
            hot_share: 0.1,
            hot_accounts: 4,
            payload_bytes: 100,
        };
        let mut r = t.report(Duration::from_secs(2), settings);
        r.ceiling = Some(CeilingFigures::new(r.committed_tps, 3, 2, 400.0, 800.0));
        r
    }

    #[test]
    fn the_tally_counts_codes_failures_and_phases() {
        let r = sample();
        assert_eq!((r.sent, r.valid, r.invalid, r.failed), (13, 8, 3, 2));
        assert_eq!(r.committed_tps, 4.0);
        assert_eq!(r.invalid_by_code["MVCC_READ_CONFLICT"], 2);
        assert_eq!(r.invalid_by_code["ENDORSEMENT_POLICY_FAILURE"], 1);
        assert!(!r.invalid_by_code.contains_key("VALID"));
        let first = r.first_error.as_deref().unwrap_or_default();
        assert!(first.starts_with("endorse: ") && first.contains("insufficient balance"));
        // Latencies of every committed transfer, valid or not: 1..=11 ms.
        assert_eq!(r.phases.endorse.p50_ms, 6.0);
        assert_eq!(r.phases.ordered.max_ms, 22.0);
        assert_eq!(r.phases.committed.p95_ms, 33.0);
        assert_eq!(r.latency, r.phases.end_to_end);
        assert_eq!((r.latency.p50_ms, r.latency.max_ms), (36.0, 66.0));
        let c = r.ceiling.unwrap_or_else(|| panic!("no ceiling"));
        assert_eq!((c.single_verify_pct, c.batched_pct), (1.0, 0.5));
    }

    #[test]
    fn the_json_has_the_documented_fields() {
        let v = serde_json::to_value(sample()).unwrap_or_default();
        for field in [
            "committed_tps",
            "p50_ms",
            "p95_ms",
            "p99_ms",
            "max_ms",
            "invalid_by_code",
            "phases",
            "sent",
            "valid",
            "invalid",
            "failed",
            "first_error",
            "duration_s",
            "concurrency",
            "gateways",
            "payload_bytes",
            "hot_share",
            "ceiling",
        ] {
            assert!(v.get(field).is_some(), "no {field} in {v}");
        }
        assert_eq!(v["invalid_by_code"]["MVCC_READ_CONFLICT"], 2);
        assert_eq!(v["p50_ms"], 36.0);
        for phase in ["endorse", "ordered", "committed", "end_to_end"] {
            assert!(v["phases"][phase]["p99_ms"].is_number(), "{phase}");
        }
        assert_eq!(v["ceiling"]["batched_tps"], 800.0);
        assert_eq!(v["ceiling"]["single_verify_pct"], 1.0);
        // No committed transfer: zeros, an empty map, no ceiling.
        let empty = Tally::default().report(Duration::ZERO, Settings::default());
        let v = serde_json::to_value(&empty).unwrap_or_default();
        assert_eq!(v["invalid_by_code"], serde_json::json!({}));
        assert_eq!(v["committed_tps"], 0.0);
        assert!(v["ceiling"].is_null());
    }

    #[test]
    fn the_text_names_every_phase_and_the_ceiling() {
        let text = sample().to_string();
        for needle in [
            "committed valid: 4.0 tx/s",
            "invalid by code: ENDORSEMENT_POLICY_FAILURE 1, MVCC_READ_CONFLICT 2",
            "failed before commit: 2; first: endorse: ",
            "endorse ",
            "submit -> ordered",
            "ordered -> committed",
            "end to end",
            "crypto ceiling: 400 tx/s single-verify, 800 tx/s batched",
            "this run: 1.0 % / 0.5 %",
        ] {
            assert!(text.contains(needle), "{needle:?} not in\n{text}");
        }
    }
}
