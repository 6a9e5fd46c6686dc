//! A chaincode calling another on a live three-org network: asset-transfer's
//! `sell` pays with `token.transfer` in the same transaction.

mod common;

use common::*;
use consort::client::{args, ClientError};
use consort::config::NetworkSpec;
use consort_proto::TxValidationCode as Code;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_writes_both_chaincodes_state_under_both_policies() {
    let _serial = serial().await;
    let mut spec = NetworkSpec::three_orgs(7050);
    // asset-transfer alone would be endorsed by Org1's peer; the sale also
    // writes token's state, so the gateway must add a second org for token.
    for cc in &mut spec.chaincodes {
        if cc.name == "asset-transfer" {
            cc.policy = "OR('Org1MSP.peer')".into();
        }
    }
    let mut t = TestNet::start_with(spec).await;
    let c1 = t.client(1).await;
    // The buyer is the caller: Org1's user1 holds this token account.
    let bob = consort::bench::run::token_account(&c1);
    for (cc, function, call) in [
        ("token", "create", vec!["GOLD", "1000"]),
        ("token", "issue", vec!["GOLD", bob.as_str(), "500", "setup"]),
        (
            "asset-transfer",
            "create",
            vec!["lamp", "blue", "1", "alice", "300"],
        ),
        (
            "asset-transfer",
            "create",
            vec!["vase", "red", "1", "alice", "400"],
        ),
    ] {
        let r = c1.invoke(cc, function, &args(&call)).await.expect(function);
        assert_eq!(r.code, Code::Valid, "{cc} {function}");
    }

    let sold = c1
        .invoke("asset-transfer", "sell", &args(&["lamp", &bob, "GOLD"]))
        .await
        .expect("sell");
    assert_eq!(sold.code, Code::Valid);
    t.wait_converged(sold.block + 1, std::time::Duration::from_secs(30))
        .await;

    // Both namespaces changed, as every peer sees them.
    for i in 1..=3 {
        let c = t.client(i).await;
        let lamp: Value = serde_json::from_slice(
            &c.evaluate("asset-transfer", "read", &args(&["lamp"]))
                .await
                .expect("read"),
        )
        .expect("json");
        assert_eq!(lamp["owner"], bob.as_str(), "on Org{i}'s peer");
        for (owner, balance) in [("alice", "300"), (bob.as_str(), "200")] {
            let got = c
                .evaluate("token", "balance", &args(&["GOLD", owner]))
                .await
                .expect("balance");
            assert_eq!(
                String::from_utf8_lossy(&got),
                balance,
                "{owner} on Org{i}'s peer"
            );
        }
    }

    // token's refusal fails the sale: nothing is ordered, nothing changes.
    let err = c1
        .invoke("asset-transfer", "sell", &args(&["vase", &bob, "GOLD"]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Chaincode(m) if m.contains("insufficient balance")),
        "{err}"
    );
    let vase: Value = serde_json::from_slice(
        &c1.evaluate("asset-transfer", "read", &args(&["vase"]))
            .await
            .expect("read"),
    )
    .expect("json");
    assert_eq!(vase["owner"], "alice");
}
