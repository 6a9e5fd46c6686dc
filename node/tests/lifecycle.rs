//! Chaincode lifecycle on a live three-org network: defining a chaincode
//! absent from the genesis block, upgrading a policy with no restart, and an
//! offline ledger check of a chain holding both.

mod common;

use common::{serial, TestNet};
use consort::client::{args, Client, ClientError};
use consort::config::NetworkSpec;
use consort::identity::Role;
use consort::lifecycle::{DefinitionJson, LifecycleClient};
use consort_proto::TxValidationCode;
use std::process::Command;
use std::time::Duration;

const TWO_OF_THREE: &str = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
const ALL_THREE: &str = "AND('Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";

async fn admin(t: &TestNet, org: usize) -> Client {
    let p = t
        .net
        .profile(&format!("Org{org}MSP"), Role::Admin, None)
        .expect("admin profile");
    Client::connect(&p).await.expect("admin client")
}

fn admin_profile(t: &TestNet, org: usize) -> String {
    t.net
        .net
        .users
        .iter()
        .find(|u| u.msp_id == format!("Org{org}MSP") && u.role == Role::Admin)
        .expect("admin")
        .profile
        .display()
        .to_string()
}

fn definition(name: &str, version: &str, sequence: u64, policy: &str) -> DefinitionJson {
    DefinitionJson {
        name: name.into(),
        version: version.into(),
        sequence,
        endorsement_policy: policy.into(),
        external: None,
    }
}

fn consort(cmd: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_consort"))
        .args(cmd)
        .output()
        .expect("run consort");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn define_then_upgrade_a_chaincode_on_a_running_network() {
    let _serial = serial().await;
    let mut spec = NetworkSpec::three_orgs(7050);
    spec.chaincodes.retain(|c| c.name == "token");
    let mut t = TestNet::start_with(spec).await;
    let user = t.client(1).await;

    // asset-transfer runs in every peer but is not defined on the channel.
    let err = user
        .evaluate("asset-transfer", "exists", &args(&["a1"]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::NotFound), "{err}");
    assert!(err.to_string().contains("not defined"), "{err}");

    // Only an org admin approves.
    let assets = definition("asset-transfer", "1.0", 1, TWO_OF_THREE);
    match user.approve_definition(&assets).await {
        Err(ClientError::Chaincode(m)) => assert!(m.contains("needs an admin"), "{m}"),
        other => panic!("a client approved: {other:?}"),
    }
    let approved = admin(&t, 1)
        .await
        .approve_definition(&assets)
        .await
        .unwrap();
    assert_eq!(approved.code, TxValidationCode::Valid);

    // One approval of three is not enough; the error names who approved.
    match user.commit_definition(&assets).await {
        Err(ClientError::Chaincode(m)) => assert!(
            m.contains(
                "chaincode 'asset-transfer' sequence 1: approved by Org1MSP; \
                 2 of 3 orgs must approve; not approved by Org2MSP, Org3MSP"
            ),
            "{m}"
        ),
        other => panic!("committed with one approval: {other:?}"),
    }

    // Org2's admin approves through the CLI, then the definition commits.
    let profile2 = admin_profile(&t, 2);
    let (code, out, err) = consort(&[
        "chaincode",
        "approve",
        "--name",
        "asset-transfer",
        "--version",
        "1.0",
        "--sequence",
        "1",
        "--policy",
        TWO_OF_THREE,
        "--profile",
        &profile2,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("VALID"), "{out}");
    let (code, out, err) = consort(&[
        "chaincode",
        "show",
        "--name",
        "asset-transfer",
        "--profile",
        &profile2,
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("asset-transfer: not defined"), "{out}");
    assert!(out.contains("Org2MSP    approved version 1.0"), "{out}");
    assert!(out.contains("Org3MSP    not approved"), "{out}");

    let committed = user.commit_definition(&assets).await.unwrap();
    assert_eq!(committed.code, TxValidationCode::Valid);
    let h = t
        .wait_converged(committed.block + 1, Duration::from_secs(30))
        .await;

    // In force on every peer without a restart.
    let created = user
        .invoke(
            "asset-transfer",
            "create",
            &args(&["a1", "blue", "5", "alice", "300"]),
        )
        .await
        .unwrap();
    assert_eq!(created.code, TxValidationCode::Valid);
    t.wait_converged(h.height + 1, Duration::from_secs(30))
        .await;
    let on_org3 = t.client(3).await;
    assert_eq!(
        on_org3
            .evaluate("asset-transfer", "exists", &args(&["a1"]))
            .await
            .unwrap(),
        b"true"
    );
    let (code, out, _) = consort(&["chaincode", "list", "--profile", &profile2]);
    assert_eq!(code, 0);
    assert!(
        out.contains("asset-transfer") && out.contains("token"),
        "{out}"
    );

    // Upgrade token (sequence 1 from genesis) to need all three orgs.
    let strict = definition("token", "1.1", 2, ALL_THREE);
    for org in 1..=3 {
        let a = admin(&t, org)
            .await
            .approve_definition(&strict)
            .await
            .unwrap();
        assert_eq!(a.code, TxValidationCode::Valid);
    }
    let up = admin(&t, 3).await.commit_definition(&strict).await.unwrap();
    assert_eq!(up.code, TxValidationCode::Valid);
    let h = t
        .wait_converged(up.block + 1, Duration::from_secs(30))
        .await;
    let endorsed = user
        .endorse("token", "create", &args(&["LC", "100"]))
        .await
        .unwrap();
    assert_eq!(
        endorsed.endorsing_orgs.len(),
        3,
        "{:?}",
        endorsed.endorsing_orgs
    );
    user.submit_endorsed(&endorsed).await.unwrap();
    let (code, _) = user
        .commit_status(&endorsed.tx_id, Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(code, TxValidationCode::Valid);
    t.wait_converged(h.height + 1, Duration::from_secs(30))
        .await;

    // With Org3's peer down, two orgs no longer satisfy token's policy,
    // while asset-transfer (2 of 3) still works.
    let peer3 = t.peer_names()[2].clone();
    t.net.stop(&peer3, Duration::from_secs(10)).unwrap();
    let err = user
        .invoke("token", "issue", &args(&["LC", "alice", "1", ""]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(tonic::Code::Unavailable), "{err}");
    assert!(
        err.to_string()
            .contains("cannot satisfy endorsement policy"),
        "{err}"
    );
    let ok = user
        .invoke("asset-transfer", "transfer", &args(&["a1", "bob"]))
        .await
        .unwrap();
    assert_eq!(ok.code, TxValidationCode::Valid);

    // The stopped peer's ledger, with both definitions in it, verifies.
    let node = t
        .net
        .nodes()
        .iter()
        .find(|n| n.name == peer3)
        .unwrap()
        .clone();
    let data = node.dir.join("data");
    let genesis = t.net.net.genesis.display().to_string();
    let (code, out, err) = consort(&[
        "ledger",
        "verify",
        &data.display().to_string(),
        "--genesis",
        &genesis,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ledger verified"), "{out}");
}
