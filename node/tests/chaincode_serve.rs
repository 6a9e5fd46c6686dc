//! `consort chaincode serve` as a chaincode author sees it: exactly one line
//! on standard output once it listens, and a start-up failure as one
//! readable `error:` line. No network is started; the server binds port 0.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn consort() -> Command {
    Command::new(env!("CARGO_BIN_EXE_consort"))
}

/// Crypto material for a chaincode server from Org1's CA, in `dir`.
fn chaincode_tls(dir: &Path) -> std::path::PathBuf {
    let spec = consort::config::NetworkSpec::three_orgs(26500);
    let crypto = dir.join("crypto");
    consort::cryptogen::generate(&spec, &crypto).expect("crypto generate");
    let tls = dir.join("tls");
    consort::cryptogen::chaincode_cert(&crypto.join("orgs").join("Org1MSP"), "127.0.0.1", &tls)
        .expect("chaincode cert");
    tls
}

#[test]
fn serve_prints_one_ready_line_naming_the_chaincode_and_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let tls = chaincode_tls(dir.path());
    let mut child = consort()
        .args([
            "chaincode",
            "serve",
            "--sample",
            "token",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--cert")
        .arg(tls.join("tls.crt"))
        .arg("--key")
        .arg(tls.join("tls.key"))
        .arg("--client-ca")
        .arg(tls.join("client-cas.crt"))
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start consort chaincode serve");
    let stdout = child.stdout.take().expect("stdout");
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let first = received.recv_timeout(Duration::from_secs(30));
    let _ = child.kill();
    let _ = child.wait();
    let first = first.expect("a ready line within 30 s");
    let address = first
        .strip_prefix("chaincode token listening on 127.0.0.1:")
        .unwrap_or_else(|| panic!("ready line: {first:?}"));
    let port: u16 = address.parse().expect("a port");
    assert_ne!(port, 0, "the bound port, not the one asked for");
    reader.join().unwrap();
    let rest: Vec<String> = received.try_iter().collect();
    assert!(rest.is_empty(), "more than one line: {rest:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.trim().is_empty(), "stderr: {stderr}");
}

#[test]
fn a_start_up_failure_is_one_readable_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("ca.crt");
    let out = consort()
        .args([
            "chaincode",
            "serve",
            "--sample",
            "token",
            "--listen",
            "127.0.0.1:0",
        ])
        .arg("--cert")
        .arg(dir.path().join("tls.crt"))
        .arg("--key")
        .arg(dir.path().join("tls.key"))
        .arg("--client-ca")
        .arg(&missing)
        .output()
        .expect("run consort chaincode serve");
    assert!(!out.status.success());
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let expected = format!(
        "error: cannot read the client CA certificate file {}: ",
        missing.display()
    );
    assert!(lines[0].starts_with(&expected), "{stderr}");
    assert_eq!(lines[0].matches("No such file").count(), 1, "{stderr}");
}
