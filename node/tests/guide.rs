//! The chaincode author's guide (`chaincode-sdk/README.md`), step by step on
//! a live three-org network: issue the chaincode server's certificate, run
//! the `notes` example as an external chaincode service, approve and commit
//! its definition with two org admins, then invoke and query it, all with
//! the commands the guide shows.

mod common;

use common::{serial, TestNet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const POLICY: &str = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
const ADDRESS: &str = "127.0.0.1:24100";

/// Runs the `consort` CLI; returns its stdout, failing the test on a non-zero exit.
fn consort(cmd: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_consort"))
        .args(cmd)
        .output()
        .expect("run consort");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "consort {cmd:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_notes_chaincode_runs_as_written() {
    let _serial = serial().await;
    let t = TestNet::start(24000).await;
    let net = t.net.net.dir.clone();
    let orgs = net.join("orgs");
    let tls = t.dir.path().join("notes-tls");

    // 1. A TLS certificate for the chaincode server, from Org1's CA.
    consort(&[
        "crypto",
        "chaincode-cert",
        "--org-dir",
        &path(&orgs.join("Org1MSP")),
        "--host",
        "127.0.0.1",
        "--out",
        &path(&tls),
    ]);

    // 2. The chaincode as an external service: what the example's `main` does
    //    with CHAINCODE_LISTEN, CHAINCODE_TLS_CERT, CHAINCODE_TLS_KEY and
    //    CHAINCODE_CLIENT_CA_CERTS.
    let config = chaincode_sdk::ServeConfig::from_files(
        ADDRESS,
        &tls.join("tls.crt"),
        &tls.join("tls.key"),
        &[tls.join("client-cas.crt")],
    )
    .expect("server config");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(chaincode_sdk::serve_with_shutdown(
        notes_chaincode::Notes,
        config,
        async move {
            let _ = stopped.await;
        },
    ));

    // 3. Two of the three orgs' admins approve the definition; anyone commits it.
    let definition = |profile: &Path| -> Vec<String> {
        [
            "--name",
            "notes",
            "--version",
            "1.0",
            "--sequence",
            "1",
            "--policy",
            POLICY,
            "--external-address",
            ADDRESS,
            "--tls-root",
            &path(&tls.join("ca.crt")),
            "--profile",
            &path(profile),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let admin = |org: &str| orgs.join(org).join("users/admin/client.toml");
    for org in ["Org1MSP", "Org2MSP"] {
        let mut cmd = vec!["chaincode".to_owned(), "approve".to_owned()];
        cmd.extend(definition(&admin(org)));
        let out = consort(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(out.contains("VALID"), "{out}");
    }
    let mut cmd = vec!["chaincode".to_owned(), "commit".to_owned()];
    cmd.extend(definition(&admin("Org1MSP")));
    let out = consort(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.contains("VALID"), "{out}");

    // 4. Invoke and query it.
    let user1 = path(&orgs.join("Org1MSP/users/user1/client.toml"));
    let out = consort(&[
        "invoke",
        "--profile",
        &user1,
        "notes",
        "add",
        "n1",
        "hello from the guide",
    ]);
    assert!(out.contains("VALID"), "{out}");
    let user2 = path(&orgs.join("Org2MSP/users/user1/client.toml"));
    let mut got = String::new();
    for _ in 0..50 {
        // Org2's peer may commit the block a moment after Org1's.
        let out = Command::new(env!("CARGO_BIN_EXE_consort"))
            .args(["query", "--profile", &user2, "notes", "get", "n1"])
            .output()
            .expect("run consort");
        got = String::from_utf8_lossy(&out.stdout).to_string();
        if out.status.success() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(got.contains("hello from the guide"), "{got}");
    assert!(got.contains("Org1MSP:user1@org1"), "{got}");
    let list = consort(&["query", "--profile", &user1, "notes", "list", "10", ""]);
    assert!(list.contains("\"n1\""), "{list}");

    let _ = stop.send(());
    server.await.expect("server task").expect("server");
}
