//! `consort bench run` end to end: the built binary starts its own demo
//! network, loads it, reports as text and JSON, and stops every node.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_consort");

/// A base port for the demo network whose every port is free: the nodes'
/// six from it, and the same + 100 (gossip) and + 1000 (operations).
/// Candidates lie below the usual ephemeral range, so that outgoing
/// connections do not take them meanwhile.
fn free_base_port() -> u16 {
    let free = |p: u16| std::net::TcpListener::bind(("127.0.0.1", p)).is_ok();
    let offset = (std::process::id() % 500) as u16 * 20;
    (0..500u16)
        .map(|i| 20_000 + (offset + i * 20) % 10_000)
        .find(|&base| {
            (0..6).all(|i| free(base + i) && free(base + 100 + i) && free(base + 1000 + i))
        })
        .expect("a free range of ports")
}

/// Runs the binary with `args`, killing it after `limit`.
fn run(args: &[&str], limit: Duration) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start consort");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("output")
}

fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).expect("the JSON report");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn bench_run_on_its_own_demo_network_reports_text_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("report.json");
    let base = free_base_port().to_string();
    let out = run(
        &[
            "bench",
            "run",
            "--demo",
            "--base-port",
            &base,
            "--duration",
            "5",
            "--concurrency",
            "32",
            "--hot-share",
            "0.2",
            "--payload-bytes",
            "256",
            "--ceiling-seconds",
            "0.5",
            "--json",
            report.to_str().expect("utf-8 path"),
        ],
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    for needle in [
        "committed valid:",
        "endorse",
        "submit -> ordered",
        "ordered -> committed",
        "end to end",
        "crypto ceiling",
    ] {
        assert!(stdout.contains(needle), "{needle:?} not in\n{stdout}");
    }
    // Not a terminal: no progress bar drawn.
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r'),
        "{stdout:?}"
    );

    let v = json(&report);
    assert!(
        v["committed_tps"].as_f64().expect("committed_tps") > 0.0,
        "{v}"
    );
    let (p50, p99) = (v["p50_ms"].as_f64(), v["p99_ms"].as_f64());
    assert!(p50.expect("p50_ms") > 0.0 && p99 >= p50, "{v}");
    let invalid = v["invalid_by_code"].as_object().expect("invalid_by_code");
    // Only hot accounts conflict, and only as MVCC read conflicts.
    assert!(
        invalid.keys().all(|k| k == "MVCC_READ_CONFLICT"),
        "{invalid:?}"
    );
    assert_eq!(v["failed"], 0, "{v}");
    assert_eq!(v["payload_bytes"], 256);
    for phase in ["endorse", "ordered", "committed", "end_to_end"] {
        assert!(v["phases"][phase]["p99_ms"].is_number(), "{phase}: {v}");
    }
    // The crypto ceiling of three peers and two endorsements, and the run's
    // share of it.
    let c = &v["ceiling"];
    assert_eq!(
        (c["peers"].as_u64(), c["endorsers"].as_u64()),
        (Some(3), Some(2))
    );
    for figure in ["single_verify_tps", "batched_tps", "single_verify_pct"] {
        assert!(c[figure].as_f64().expect(figure) > 0.0, "{c}");
    }

    // Every node it started is stopped: its ports are free again.
    let port: u16 = base.parse().expect("port");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} still taken");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn load_is_an_alias_of_bench_run() {
    let help = run(&["load", "--help"], Duration::from_secs(30));
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for option in ["--profile", "--demo", "--duration", "--hot-share", "--json"] {
        assert!(text.contains(option), "{option} not in\n{text}");
    }
    // The same checks as `bench run`: a hot share must be a share.
    let bad = run(
        &["load", "--demo", "--hot-share", "1.5"],
        Duration::from_secs(30),
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("from 0 to 1"));
}
