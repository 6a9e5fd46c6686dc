//! The chaincode author's guide (`chaincode-sdk/README.md`), run as written
//! on a live three-org network: its shell blocks for steps 3 to 5 (issue the
//! chaincode server's certificate, run the `notes` example as an external
//! chaincode service, approve and commit its definition with two org admins,
//! then invoke and query it) are read from the guide and run with `bash`,
//! with the guide's variables set to this network's directory and a port the
//! OS chose, not the demo's.

mod common;

use common::{free_ports, serial, TestNet};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The guide's shell blocks from step 3 to the end of step 5.
fn guide_blocks() -> Vec<String> {
    let guide = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../chaincode-sdk/README.md"),
    )
    .expect("read the guide");
    let start = guide
        .find("**3. Run it as an external service.**")
        .expect("step 3");
    let end = start
        + guide[start..]
            .find("A new version (say,")
            .expect("the end of step 5");
    guide[start..end]
        .split("```sh\n")
        .skip(1)
        .map(|b| b[..b.find("```").expect("closed block")].to_owned())
        .collect()
}

/// The variables a block assigns, one `NAME=value` per line.
fn assignments(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|l| l.split_once('=').map(|(name, _)| name.trim().to_owned()))
        .collect()
}

/// Runs `script` with bash in `dir`, with `consort` on PATH and `env` set.
fn bash(dir: &Path, env: &BTreeMap<&str, String>, script: &str) -> Output {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_consort"));
    let path = format!(
        "{}:{}",
        bin.parent().expect("bin dir").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    Command::new("bash")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env("PATH", path)
        .envs(env)
        .output()
        .expect("run bash")
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guides_steps_run_as_written_on_any_network() {
    let _serial = serial().await;
    let t = TestNet::start().await;
    let blocks = guide_blocks();
    assert_eq!(blocks.len(), 4, "variables, steps 3, 4 and 5: {blocks:#?}");

    // The guide's variables, set to this network instead of the demo's.
    assert_eq!(assignments(&blocks[0]), ["NET", "CC_HOST", "CC_PORT"]);
    let env: BTreeMap<&str, String> = [
        ("NET", t.net.net.dir.display().to_string()),
        ("CC_HOST", "127.0.0.1".to_owned()),
        ("CC_PORT", free_ports(1)[0].to_string()),
    ]
    .into();
    let work = t.dir.path();

    // Step 3: the certificate, then the server. `cargo run` is the one line
    // not run as written: the test records the environment the guide gives
    // the example's `main` and serves the same chaincode with it in process.
    let step3 = format!(
        "set -e\ncargo() {{ env | grep '^CHAINCODE_' > chaincode.env; }}\n{}\nwait\n",
        blocks[1]
    );
    let out = bash(work, &env, &step3);
    assert!(out.status.success(), "step 3: {}", text(&out));
    let vars: BTreeMap<String, String> = std::fs::read_to_string(work.join("chaincode.env"))
        .expect("step 3 starts the chaincode")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let var = |k: &str| {
        vars.get(k)
            .cloned()
            .unwrap_or_else(|| panic!("{k} in {vars:?}"))
    };
    assert_eq!(
        var("CHAINCODE_LISTEN"),
        format!("127.0.0.1:{}", env["CC_PORT"])
    );
    let config = chaincode_sdk::ServeConfig::from_files(
        &var("CHAINCODE_LISTEN"),
        &work.join(var("CHAINCODE_TLS_CERT")),
        &work.join(var("CHAINCODE_TLS_KEY")),
        &[work.join(var("CHAINCODE_CLIENT_CA_CERTS"))],
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

    // Step 4: two admins approve, one commits.
    let out = bash(work, &env, &format!("set -e\n{}", blocks[2]));
    assert!(out.status.success(), "step 4: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.matches("approved: notes").count(),
        2,
        "{}",
        text(&out)
    );
    assert!(stdout.contains("committed: notes"), "{}", text(&out));
    assert!(
        stdout.contains(&format!("external 127.0.0.1:{}", env["CC_PORT"])),
        "{}",
        text(&out)
    );

    // Step 5: invoke, query from another org (whose peer may commit the block
    // a moment after Org1's: the query is retried until it answers), the
    // refused edit, the list.
    let retrying_query = "consort() { if [ \"$1\" = query ]; then \
        for _ in $(seq 100); do command consort \"$@\" && return 0; sleep 0.1; done; \
        fi; command consort \"$@\"; }\n";
    let out = bash(work, &env, &format!("{retrying_query}{}", blocks[3]));
    assert!(out.status.success(), "step 5: {}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("VALID"), "{}", text(&out));
    assert!(stdout.contains("\"text\":\"ship it\""), "{}", text(&out));
    assert!(stdout.contains("Org1MSP:user1@org1"), "{}", text(&out));
    assert!(
        stderr.contains("only Org1MSP:user1@org1 may edit note 'n1', not Org2MSP:user1@org2"),
        "{}",
        text(&out)
    );
    assert!(stdout.contains("notes"), "{}", text(&out));

    let _ = stop.send(());
    server.await.expect("server task").expect("server");
}
