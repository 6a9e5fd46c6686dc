//! The Python client (`clients/python/`) against a live three-org network:
//! stubs generated from `proto/` with grpcio-tools, then `example.py` runs its
//! token story as Org1's client (Ed25519) with Org2's client (ECDSA P-256) as
//! the other party, reaching the network through a fallback gateway given
//! by `CONSORT_*` overrides. It proves the `.proto` files and their comments are
//! enough to write a client in another language.
//!
//! Needs python3 with `clients/python/requirements.txt` installed
//! (`deploy/test.sh` installs it). Without them the test fails under CI and
//! is skipped, with a message, elsewhere.

mod common;

use common::{serial, TestNet};
use consort::config::NetworkSpec;
use consort::identity::ca::KeyKind;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const INSTALL: &str = "python3 -m pip install -r clients/python/requirements.txt";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the node crate lives in the workspace")
        .to_path_buf()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Why python3 cannot run the client, if it cannot.
fn python_missing() -> Option<String> {
    let check = Command::new("python3")
        .args([
            "-c",
            "import grpc, grpc_tools.protoc, google.protobuf, cryptography",
        ])
        .output();
    match check {
        Err(e) => Some(format!("python3 cannot be run ({e})")),
        Ok(out) if !out.status.success() => Some(format!(
            "python3 lacks the client's packages: {}",
            text(&out).trim().lines().last().unwrap_or_default()
        )),
        Ok(_) => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_runs_the_token_story() {
    if let Some(why) = python_missing() {
        let message = format!("{why}; run `{INSTALL}`");
        if std::env::var_os("CI").is_some() {
            panic!("{message}");
        }
        eprintln!("skipping the Python client test: {message}");
        return;
    }
    let _serial = serial().await;
    let mut spec = NetworkSpec::three_orgs(7050);
    spec.orgs[1].key = KeyKind::EcdsaP256;
    let t = TestNet::start_with(spec).await;
    let users = t.net.net.dir.join("orgs");
    let profile = |msp: &str| users.join(msp).join("users/user1/client.toml");

    // Stubs from the published .proto files, into a directory of the test's own.
    let stubs = t.dir.path().join("python-stubs");
    std::fs::create_dir_all(&stubs).expect("stub dir");
    let mut protos: Vec<PathBuf> = std::fs::read_dir(repo().join("proto/consort"))
        .expect("proto/consort")
        .map(|e| e.expect("proto entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    protos.sort();
    let out = Command::new("python3")
        .current_dir(repo())
        .args(["-m", "grpc_tools.protoc", "-I"])
        .arg(repo().join("proto"))
        .arg(format!("--python_out={}", stubs.display()))
        .arg(format!("--grpc_python_out={}", stubs.display()))
        .args(&protos)
        .output()
        .expect("run grpc_tools.protoc");
    assert!(out.status.success(), "protoc failed:\n{}", text(&out));

    // The profiles' own gateways are replaced, through the environment, by
    // one that is down, with Org1's peer as the fallback: the client
    // reaches the network through its fallback, as the Rust client does.
    let org1_peer = t
        .net
        .profile("Org1MSP", consort::identity::Role::Client, None)
        .expect("Org1's profile")
        .gateway;
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let started = Instant::now();
    let run = tokio::process::Command::new("python3")
        .current_dir(repo())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("CONSORT_GATEWAY", &down)
        .env("CONSORT_FALLBACK_GATEWAYS", &org1_peer)
        .arg("clients/python/example.py")
        .arg("--profile")
        .arg(profile("Org1MSP"))
        .arg("--profile2")
        .arg(profile("Org2MSP"))
        .arg("--stubs")
        .arg(&stubs)
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("example.py finishes within 180 s")
        .expect("run example.py");
    let output = text(&out);
    println!(
        "example.py ({:.1} s):\n{output}",
        started.elapsed().as_secs_f64()
    );
    assert!(out.status.success(), "example.py failed:\n{output}");
    for line in [
        "  first (#savings -> #a)",
        "every step had its expected outcome",
    ] {
        assert!(output.contains(line), "no '{line}' in:\n{output}");
    }
    assert!(output.contains("VALID") && output.contains("MVCC_READ_CONFLICT"));
    assert!(output.contains("signing with ECDSA P-256"), "{output}");
    assert!(
        output.contains(&format!("gateway {org1_peer} ")),
        "not through the fallback gateway:\n{output}"
    );
}
