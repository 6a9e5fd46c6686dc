//! The client API against a live three-org network: chaincode event streams
//! that an application resumes after a restart from its checkpoint, with no
//! gap and no repeat; an application whose first gateway is down reaching
//! its fallback, submitting through a `Contract` and following blocks.

mod common;

use common::{acct, serial, TestNet};
use consort::client::{args, ChaincodeEventItem, Checkpoint, Client, ClientError, Retry};
use consort::identity::Role;
use consort_proto::TxValidationCode as Code;
use std::time::Duration;

async fn transfer(c: &consort::client::Client, amount: u64) -> String {
    let r = c
        .invoke(
            "token",
            "transfer",
            &args(&["TOK", &acct(c, 0), &acct(c, 1), &amount.to_string(), "m"]),
        )
        .await
        .unwrap();
    assert_eq!(r.code, Code::Valid);
    r.tx_id
}

async fn next(events: &mut consort::client::ChaincodeEvents) -> ChaincodeEventItem {
    tokio::time::timeout(Duration::from_secs(20), events.next())
        .await
        .expect("an event within 20 s")
        .unwrap()
        .expect("the stream is open")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chaincode_event_stream_resumes_from_its_checkpoint_without_gap_or_repeat() {
    let _serial = serial().await;
    let t = TestNet::start(25500).await;
    t.setup_token().await;
    let c = t.client(1).await;

    let mut events = c.chaincode_events("token", 0, None).await.unwrap();
    let first = [
        transfer(&c, 1).await,
        transfer(&c, 2).await,
        transfer(&c, 3).await,
    ];
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(next(&mut events).await);
    }
    assert_eq!(
        seen.iter().map(|e| e.tx_id.clone()).collect::<Vec<_>>(),
        first
    );
    for e in &seen {
        assert_eq!(e.name, "Transfer");
        let v: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
        assert_eq!(v["symbol"], "TOK");
    }
    // The application handled two events, saved its checkpoint, and died.
    let saved = serde_json::to_string(&Checkpoint::after(&seen[1])).unwrap();
    drop(events);
    drop(c);

    // While it was down, two more transfers committed.
    let other = t.client(2).await;
    let later = [transfer(&other, 4).await, transfer(&other, 5).await];

    // Restarted, it resumes from the checkpoint: the third event again (it
    // was never handled), then the two it missed, then new ones live.
    let c = t.client(1).await;
    let checkpoint: Checkpoint = serde_json::from_str(&saved).unwrap();
    let mut events = c
        .chaincode_events("token", 0, Some(checkpoint))
        .await
        .unwrap();
    let mut resumed = Vec::new();
    for _ in 0..3 {
        resumed.push(next(&mut events).await.tx_id);
    }
    assert_eq!(
        resumed,
        vec![first[2].clone(), later[0].clone(), later[1].clone()]
    );
    let live = transfer(&c, 6).await;
    assert_eq!(next(&mut events).await.tx_id, live);
    // Nothing else is pending: no repeats.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), events.next())
            .await
            .is_err(),
        "an event was delivered twice"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_application_reaches_its_fallback_gateway_submits_and_follows_blocks() {
    let _serial = serial().await;
    let t = TestNet::start(25600).await;
    t.setup_token().await;

    // The profile's gateway is down; its fallback is Org1's peer.
    let mut profile = t.net.profile("Org1MSP", Role::Client, None).unwrap();
    let peer = profile.gateway.clone();
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    profile.gateway = down;
    profile.fallback_gateways = vec![peer.clone()];
    let c = Client::connect(&profile).await.unwrap();
    assert_eq!(c.endpoint(), peer);

    let height = c.status().await.unwrap().height;
    let mut blocks = c.block_events(height).await.unwrap();
    let token = c.contract("token");
    let committed = token
        .submit(
            "transfer",
            &args(&["TOK", &acct(&c, 0), &acct(&c, 1), "7", "m"]),
        )
        .await
        .unwrap();
    assert!(committed.is_valid());
    // The block holding the transaction arrives on the block stream, in
    // order, with the transaction's code.
    let mut expected = height;
    loop {
        let b = tokio::time::timeout(Duration::from_secs(20), blocks.next())
            .await
            .expect("a block within 20 s")
            .unwrap()
            .expect("the stream is open");
        assert_eq!(b.number, expected);
        expected += 1;
        if b.number == committed.block {
            let info = c.transaction(&committed.tx_id).await.unwrap();
            assert_eq!(info.block_number, committed.block);
            assert_eq!(b.codes[info.tx_number as usize], Code::Valid);
            break;
        }
    }
    let balance = token
        .evaluate("balance", &args(&["TOK", &acct(&c, 1)]))
        .await
        .unwrap();
    assert!(!balance.is_empty());

    // The chaincode's refusal is final: no retry helps.
    let err = token
        .submit(
            "transfer",
            &args(&["TOK", &acct(&c, 0), &acct(&c, 1), "999999999999", "m"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Chaincode(m) if m.contains("insufficient balance")),
        "{err}"
    );
    assert_eq!(err.retry(), Retry::No);
}
