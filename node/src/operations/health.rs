//! `/healthz`: the checks, each a cheap look at one dependency (no scans),
//! and the report they make. The decisions are pure functions over what
//! was observed; [`HealthSources::run`] observes.

use super::metrics;
use crate::ledger::Ledger;
use crate::ordering::{NodeId, Raft};
use crate::peer::deliver::{LinkState, OrdererLink};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a peer may be without a deliver stream (switching orderers)
/// before the orderer check fails.
pub const ORDERER_GRACE: Duration = Duration::from_secs(5);
/// How long a Raft leader may go without a majority's acknowledgement
/// before the Raft check fails.
pub const QUORUM_STALE: Duration = Duration::from_secs(3);
/// How long all checks together may take before `/healthz` answers with
/// the ones that did not finish as failed.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// One check's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// What was checked: `storage`, `ledger`, `disk_space`, `orderer`, `raft`.
    pub component: &'static str,
    /// `OK` or `FAILED`.
    pub status: &'static str,
    /// What was seen, or why it failed.
    pub reason: String,
}

impl Check {
    fn ok(component: &'static str, reason: impl Into<String>) -> Self {
        Check {
            component,
            status: "OK",
            reason: reason.into(),
        }
    }

    fn failed(component: &'static str, reason: impl Into<String>) -> Self {
        Check {
            component,
            status: "FAILED",
            reason: reason.into(),
        }
    }

    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.status == "OK"
    }
}

/// The `/healthz` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// `OK` when every check passed, else `Service Unavailable`.
    pub status: &'static str,
    /// Every check, in a fixed order.
    pub checks: Vec<Check>,
    /// The names of the checks that failed.
    pub failed_checks: Vec<&'static str>,
}

impl Report {
    /// The report of `checks`.
    pub fn of(checks: Vec<Check>) -> Self {
        let failed_checks: Vec<&'static str> = checks
            .iter()
            .filter(|c| !c.passed())
            .map(|c| c.component)
            .collect();
        Report {
            status: if failed_checks.is_empty() {
                "OK"
            } else {
                "Service Unavailable"
            },
            checks,
            failed_checks,
        }
    }

    /// Whether every check passed.
    pub fn healthy(&self) -> bool {
        self.failed_checks.is_empty()
    }
}

/// The disk-space check: `free` bytes available to the node on its data
/// directory's file system, against `min`.
pub fn disk_space(free: Result<u64, String>, min: u64) -> Check {
    const MB: u64 = 1024 * 1024;
    match free {
        Ok(f) if f >= min => Check::ok("disk_space", format!("{} MiB free", f / MB)),
        Ok(f) => Check::failed(
            "disk_space",
            format!("{} MiB free, below the {} MiB threshold", f / MB, min / MB),
        ),
        Err(e) => Check::failed("disk_space", format!("cannot read free space: {e}")),
    }
}

/// The peer's orderer check: a deliver stream is open, or was lost less
/// than `grace` ago (the deliver task is switching orderers).
pub fn orderer_link(state: &LinkState, now: Instant, grace: Duration) -> Check {
    match state {
        LinkState::Connected(endpoint) => {
            Check::ok("orderer", format!("receiving blocks from {endpoint}"))
        }
        LinkState::ByGossip => Check::ok(
            "orderer",
            "receiving blocks by gossip: another peer of this org pulls from the orderers",
        ),
        LinkState::Down { since } => {
            let down = now.saturating_duration_since(*since);
            if down < grace {
                Check::ok(
                    "orderer",
                    format!("connecting to an orderer ({} ms)", down.as_millis()),
                )
            } else {
                Check::failed(
                    "orderer",
                    format!("no orderer reachable for {} s", down.as_secs()),
                )
            }
        }
    }
}

/// What an orderer's Raft check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RaftView {
    /// This orderer's Raft ID.
    pub me: NodeId,
    /// The leader it knows, if any.
    pub leader: Option<NodeId>,
    /// As leader: milliseconds since a majority last acknowledged it.
    pub millis_since_quorum_ack: Option<u64>,
}

/// The orderer's Raft check: a leader is known, and a leader has heard
/// from a majority within `stale`.
pub fn raft(view: RaftView, stale: Duration) -> Check {
    match view.leader {
        None => Check::failed(
            "raft",
            "no Raft leader known (is a majority of orderers up?)",
        ),
        Some(l) if l == view.me => match view.millis_since_quorum_ack {
            Some(ms) if u128::from(ms) > stale.as_millis() => Check::failed(
                "raft",
                format!("this orderer leads but has not heard from a majority for {ms} ms"),
            ),
            _ => Check::ok("raft", "this orderer is the Raft leader"),
        },
        Some(l) => Check::ok("raft", format!("Raft leader is orderer {l}")),
    }
}

/// What the checks look at on this node.
#[derive(Clone)]
pub struct HealthSources {
    /// The node's data directory (storage and disk-space checks).
    pub data_dir: PathBuf,
    /// The disk-space threshold in bytes.
    pub min_free_bytes: u64,
    /// A peer's ledger.
    pub ledger: Option<Arc<Ledger>>,
    /// A peer's deliver link.
    pub orderer_link: Option<Arc<OrdererLink>>,
    /// An orderer's Raft handle and ID.
    pub raft: Option<(Raft, NodeId)>,
}

impl std::fmt::Debug for HealthSources {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthSources")
            .field("data_dir", &self.data_dir)
            .field("peer", &self.ledger.is_some())
            .field("orderer", &self.raft.is_some())
            .finish()
    }
}

const PROBE: &str = ".healthz-probe";

/// Writes, syncs, reads back and removes a small file in `dir`.
fn probe_write(dir: &std::path::Path) -> Result<(), String> {
    use std::io::Write;
    let path = dir.join(PROBE);
    let body = b"consort health probe";
    let mut f =
        std::fs::File::create(&path).map_err(|e| format!("create {}: {e}", path.display()))?;
    f.write_all(body)
        .and_then(|_| f.sync_all())
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    let back = std::fs::read(&path).map_err(|e| format!("read {}: {e}", path.display()))?;
    std::fs::remove_file(&path).map_err(|e| format!("remove {}: {e}", path.display()))?;
    if back != body {
        return Err(format!("{} read back differently", path.display()));
    }
    Ok(())
}

/// Bytes available to an unprivileged writer on `dir`'s file system.
fn free_bytes(dir: &std::path::Path) -> Result<u64, String> {
    let s = rustix::fs::statvfs(dir).map_err(|e| e.to_string())?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// The blocking checks (file system and RocksDB), for a blocking thread.
fn blocking_checks(s: &HealthSources) -> Vec<Check> {
    let mut out = Vec::new();
    out.push(match probe_write(&s.data_dir) {
        Ok(()) => Check::ok("storage", format!("{} is writable", s.data_dir.display())),
        Err(e) => Check::failed("storage", e),
    });
    if let Some(ledger) = &s.ledger {
        // One point read of the ledger's metadata: readable without a scan.
        out.push(match ledger.last_hash() {
            Ok(_) => Check::ok("ledger", format!("height {}", ledger.height())),
            Err(e) => Check::failed("ledger", e.to_string()),
        });
    }
    out.push(disk_space(free_bytes(&s.data_dir), s.min_free_bytes));
    out
}

impl HealthSources {
    /// Runs every check that applies to this node, within [`CHECK_TIMEOUT`].
    pub async fn run(&self) -> Report {
        let mut checks = Vec::new();
        let sources = self.clone();
        let blocking = tokio::task::spawn_blocking(move || blocking_checks(&sources));
        match tokio::time::timeout(CHECK_TIMEOUT, blocking).await {
            Ok(Ok(c)) => checks.extend(c),
            Ok(Err(e)) => checks.push(Check::failed("storage", format!("check failed: {e}"))),
            Err(_) => checks.push(Check::failed(
                "storage",
                format!("no answer within {CHECK_TIMEOUT:?}"),
            )),
        }
        if let Some(link) = &self.orderer_link {
            checks.push(orderer_link(&link.state(), Instant::now(), ORDERER_GRACE));
        }
        if let Some((raft_handle, me)) = &self.raft {
            let m = raft_handle.metrics().borrow().clone();
            checks.push(raft(
                RaftView {
                    me: *me,
                    leader: m.current_leader,
                    millis_since_quorum_ack: m.millis_since_quorum_ack,
                },
                QUORUM_STALE,
            ));
        }
        for c in &checks {
            metrics::health_check(c.component, !c.passed());
        }
        Report::of(checks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_the_failing_checks() {
        let r = Report::of(vec![
            Check::ok("storage", "fine"),
            Check::failed("raft", "none"),
        ]);
        assert!(!r.healthy());
        assert_eq!(r.status, "Service Unavailable");
        assert_eq!(r.failed_checks, vec!["raft"]);
        let ok = Report::of(vec![Check::ok("storage", "fine")]);
        assert!(ok.healthy());
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["status"], "OK");
        assert_eq!(json["checks"][0]["component"], "storage");
    }

    #[test]
    fn disk_space_fails_below_the_threshold_or_when_unreadable() {
        assert!(disk_space(Ok(2 << 30), 1 << 30).passed());
        assert!(!disk_space(Ok(1 << 20), 1 << 30).passed());
        assert!(!disk_space(Err("gone".into()), 1).passed());
    }

    #[test]
    fn a_lost_deliver_stream_fails_only_after_the_grace() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(5);
        assert!(orderer_link(&LinkState::Connected("o:1".into()), t0, grace).passed());
        let down = LinkState::Down { since: t0 };
        assert!(orderer_link(&down, t0 + Duration::from_secs(1), grace).passed());
        let c = orderer_link(&down, t0 + Duration::from_secs(6), grace);
        assert!(!c.passed());
        assert!(c.reason.contains("no orderer reachable"), "{}", c.reason);
    }

    #[test]
    fn raft_needs_a_leader_and_a_leader_needs_a_quorum() {
        let stale = Duration::from_secs(3);
        let view = |leader, ack| RaftView {
            me: 1,
            leader,
            millis_since_quorum_ack: ack,
        };
        assert!(!raft(view(None, None), stale).passed());
        assert!(raft(view(Some(2), None), stale).passed());
        assert!(raft(view(Some(1), Some(100)), stale).passed());
        assert!(!raft(view(Some(1), Some(10_000)), stale).passed());
    }

    #[tokio::test]
    async fn the_storage_and_disk_checks_run_on_a_real_directory() {
        let dir = tempfile::tempdir().unwrap();
        let sources = HealthSources {
            data_dir: dir.path().to_path_buf(),
            min_free_bytes: 1,
            ledger: None,
            orderer_link: None,
            raft: None,
        };
        let r = sources.run().await;
        assert!(r.healthy(), "{r:?}");
        assert!(!dir.path().join(PROBE).exists());
        let gone = HealthSources {
            data_dir: dir.path().join("missing"),
            ..sources
        };
        let r = gone.run().await;
        assert_eq!(r.failed_checks, vec!["storage", "disk_space"]);
    }
}
