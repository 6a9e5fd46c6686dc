//! The node's metrics: their names (Fabric's where Fabric has the metric),
//! the Prometheus recorder behind `/metrics`, and one small function per
//! event that the instrumented code calls.
//!
//! The functions record through the `metrics` facade: with no recorder
//! installed (no operations listener) they cost a branch and record
//! nothing.

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Duration;

/// Blocks committed to the ledger, i.e. its height (gauge, `channel`).
pub const LEDGER_HEIGHT: &str = "ledger_blockchain_height";
/// Transactions committed, by validation code (counter, `channel`,
/// `validation_code`).
pub const LEDGER_TX_COUNT: &str = "ledger_transaction_count";
/// Seconds to verify, validate and write one block (histogram, `channel`).
pub const LEDGER_BLOCK_TIME: &str = "ledger_block_processing_time";
/// Proposals received by the endorser (counter).
pub const ENDORSER_RECEIVED: &str = "endorser_proposals_received";
/// Proposals endorsed (chaincode succeeded and the response was signed)
/// (counter).
pub const ENDORSER_SUCCESSFUL: &str = "endorser_successful_proposals";
/// Seconds to process one proposal (histogram, `success`).
pub const ENDORSER_DURATION: &str = "endorser_proposal_duration";
/// Seconds one chaincode invocation ran (histogram, `chaincode`, `success`).
pub const CHAINCODE_DURATION: &str = "chaincode_execute_duration";
/// Envelopes the ordering service answered, by outcome (counter, `status`:
/// `SUCCESS`, or the `ErrorReason` of a refusal).
pub const BROADCAST_PROCESSED: &str = "broadcast_processed_count";
/// Seconds from a batch's first transaction to its cut (histogram).
pub const BLOCK_FILL: &str = "blockcutter_block_fill_duration";
/// 1 when this orderer is the Raft leader, else 0 (gauge).
pub const RAFT_IS_LEADER: &str = "consensus_etcdraft_is_leader";
/// Leader changes this orderer has seen (counter).
pub const RAFT_LEADER_CHANGES: &str = "consensus_etcdraft_leader_changes";
/// Voters in the Raft membership (gauge).
pub const RAFT_CLUSTER_SIZE: &str = "consensus_etcdraft_cluster_size";
/// The orderer's Raft term (gauge).
pub const RAFT_TERM: &str = "consort_raft_term";
/// Blocks the orderer has applied, i.e. its chain height (gauge).
pub const ORDERER_HEIGHT: &str = "consort_orderer_blockchain_height";
/// gRPC calls received (counter, `service`, `method`).
pub const GRPC_RECEIVED: &str = "grpc_server_requests_received";
/// gRPC calls answered (counter, `service`, `method`, `code`).
pub const GRPC_COMPLETED: &str = "grpc_server_requests_completed";
/// Seconds until a gRPC call's response headers (the whole call for a
/// unary method) (histogram, `service`, `method`, `code`).
pub const GRPC_DURATION: &str = "grpc_server_request_duration";
/// A certificate's `notAfter` as Unix seconds (gauge, `kind`, `msp_id`,
/// `subject`).
pub const CERT_EXPIRY: &str = "consort_certificate_expiration_timestamp_seconds";
/// Health checks failing at the last `/healthz` (gauge, `check`).
pub const HEALTH_FAILING: &str = "consort_health_check_failing";

/// Histogram buckets in seconds: 1 ms to 30 s.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// Another recorder is installed in this process, or the buckets were
    /// refused.
    #[error("cannot install the Prometheus recorder: {0}")]
    Install(String),
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide Prometheus recorder (once; later calls return
/// the same handle) and describes every metric.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    if let Some(h) = HANDLE.get() {
        return Ok(h.clone());
    }
    let recorder = PrometheusBuilder::new()
        .set_buckets(BUCKETS)
        .map_err(|e| MetricsError::Install(e.to_string()))?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).map_err(|e| MetricsError::Install(e.to_string()))?;
    describe();
    Ok(HANDLE.get_or_init(|| handle).clone())
}

fn describe() {
    describe_gauge!(
        LEDGER_HEIGHT,
        "Blocks committed to the ledger (its height)."
    );
    describe_counter!(
        LEDGER_TX_COUNT,
        "Transactions committed, by validation code."
    );
    describe_histogram!(
        LEDGER_BLOCK_TIME,
        metrics::Unit::Seconds,
        "Time to verify, validate and commit a block."
    );
    describe_counter!(ENDORSER_RECEIVED, "Proposals received by the endorser.");
    describe_counter!(ENDORSER_SUCCESSFUL, "Proposals endorsed.");
    describe_histogram!(
        ENDORSER_DURATION,
        metrics::Unit::Seconds,
        "Time to process a proposal."
    );
    describe_histogram!(
        CHAINCODE_DURATION,
        metrics::Unit::Seconds,
        "Time a chaincode invocation ran."
    );
    describe_counter!(
        BROADCAST_PROCESSED,
        "Envelopes the ordering service answered, by status."
    );
    describe_histogram!(
        BLOCK_FILL,
        metrics::Unit::Seconds,
        "Time from a batch's first transaction to its cut."
    );
    describe_gauge!(RAFT_IS_LEADER, "1 when this orderer is the Raft leader.");
    describe_counter!(RAFT_LEADER_CHANGES, "Raft leader changes seen.");
    describe_gauge!(RAFT_CLUSTER_SIZE, "Voters in the Raft membership.");
    describe_gauge!(RAFT_TERM, "The current Raft term.");
    describe_gauge!(ORDERER_HEIGHT, "Blocks the orderer has applied.");
    describe_counter!(GRPC_RECEIVED, "gRPC calls received.");
    describe_counter!(GRPC_COMPLETED, "gRPC calls answered, by status code.");
    describe_histogram!(
        GRPC_DURATION,
        metrics::Unit::Seconds,
        "Time until a gRPC call's response headers."
    );
    describe_gauge!(CERT_EXPIRY, "A certificate's notAfter, Unix seconds.");
    describe_gauge!(
        HEALTH_FAILING,
        "1 when a health check failed at the last /healthz."
    );
}

/// A block was committed: the ledger's new height, each transaction's
/// validation code, and how long the block took.
pub fn block_committed<'a>(
    channel: &str,
    height: u64,
    codes: impl IntoIterator<Item = &'a str>,
    took: Duration,
) {
    let ch = channel.to_owned();
    gauge!(LEDGER_HEIGHT, "channel" => ch.clone()).set(height as f64);
    for code in codes {
        counter!(LEDGER_TX_COUNT, "channel" => ch.clone(), "validation_code" => code.to_owned())
            .increment(1);
    }
    histogram!(LEDGER_BLOCK_TIME, "channel" => ch).record(took.as_secs_f64());
}

/// The ledger's height as found at start.
pub fn ledger_height(channel: &str, height: u64) {
    gauge!(LEDGER_HEIGHT, "channel" => channel.to_owned()).set(height as f64);
}

/// A proposal arrived at the endorser.
pub fn proposal_received() {
    counter!(ENDORSER_RECEIVED).increment(1);
}

/// The endorser finished a proposal: endorsed or not.
pub fn proposal_done(endorsed: bool, took: Duration) {
    if endorsed {
        counter!(ENDORSER_SUCCESSFUL).increment(1);
    }
    histogram!(ENDORSER_DURATION, "success" => bool_label(endorsed)).record(took.as_secs_f64());
}

/// A chaincode invocation ended.
pub fn chaincode_executed(chaincode: &str, success: bool, took: Duration) {
    histogram!(CHAINCODE_DURATION, "chaincode" => chaincode.to_owned(), "success" => bool_label(success))
        .record(took.as_secs_f64());
}

/// The ordering service answered a broadcast with `status`.
pub fn broadcast_processed(status: &'static str) {
    counter!(BROADCAST_PROCESSED, "status" => status).increment(1);
}

/// The cutter cut a batch whose first transaction waited `filled`.
pub fn block_filled(filled: Duration) {
    histogram!(BLOCK_FILL).record(filled.as_secs_f64());
}

/// The orderer's Raft view changed.
pub fn raft_view(is_leader: bool, cluster_size: usize, term: u64) {
    gauge!(RAFT_IS_LEADER).set(if is_leader { 1.0 } else { 0.0 });
    gauge!(RAFT_CLUSTER_SIZE).set(cluster_size as f64);
    gauge!(RAFT_TERM).set(term as f64);
}

/// The orderer saw a new leader.
pub fn raft_leader_changed() {
    counter!(RAFT_LEADER_CHANGES).increment(1);
}

/// The orderer's chain height.
pub fn orderer_height(height: u64) {
    gauge!(ORDERER_HEIGHT).set(height as f64);
}

/// A gRPC call arrived.
pub fn grpc_received(service: &str, method: &str) {
    counter!(GRPC_RECEIVED, "service" => service.to_owned(), "method" => method.to_owned())
        .increment(1);
}

/// A gRPC call was answered with `code` after `took`.
pub fn grpc_completed(service: &str, method: &str, code: &str, took: Duration) {
    let labels = [
        ("service", service.to_owned()),
        ("method", method.to_owned()),
        ("code", code.to_owned()),
    ];
    counter!(GRPC_COMPLETED, &labels).increment(1);
    histogram!(GRPC_DURATION, &labels).record(took.as_secs_f64());
}

/// A certificate this node uses or trusts expires at `not_after`.
pub fn certificate_expiry(kind: &'static str, msp_id: &str, subject: &str, not_after: i64) {
    gauge!(CERT_EXPIRY, "kind" => kind, "msp_id" => msp_id.to_owned(), "subject" => subject.to_owned())
        .set(not_after as f64);
}

/// Whether a health check failed.
pub fn health_check(check: &'static str, failing: bool) {
    gauge!(HEALTH_FAILING, "check" => check).set(if failing { 1.0 } else { 0.0 });
}

fn bool_label(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    /// Renders what `f` records, through a recorder local to the test.
    fn rendered(f: impl FnOnce()) -> String {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap()
            .build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, f);
        handle.render()
    }

    #[test]
    fn block_commits_count_transactions_by_code_and_set_the_height() {
        let text = rendered(|| {
            block_committed(
                "ch",
                3,
                ["VALID", "VALID", "MVCC_READ_CONFLICT"],
                Duration::from_millis(4),
            );
            block_committed("ch", 4, ["VALID"], Duration::from_millis(2));
        });
        assert!(
            text.contains(r#"ledger_blockchain_height{channel="ch"} 4"#),
            "{text}"
        );
        assert!(
            text.contains(r#"ledger_transaction_count{channel="ch",validation_code="VALID"} 3"#),
            "{text}"
        );
        assert!(text.contains(
            r#"ledger_transaction_count{channel="ch",validation_code="MVCC_READ_CONFLICT"} 1"#
        ));
        assert!(
            text.contains(r#"ledger_block_processing_time_count{channel="ch"} 2"#),
            "{text}"
        );
    }

    #[test]
    fn grpc_calls_are_counted_with_their_code() {
        let text = rendered(|| {
            grpc_received("consort.Gateway", "Evaluate");
            grpc_completed(
                "consort.Gateway",
                "Evaluate",
                "OK",
                Duration::from_millis(1),
            );
        });
        assert!(text.contains(
            r#"grpc_server_requests_completed{service="consort.Gateway",method="Evaluate",code="OK"} 1"#
        ), "{text}");
    }
}
