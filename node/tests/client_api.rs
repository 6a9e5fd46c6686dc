//! The client API against a live three-org network: chaincode event streams
//! that an application resumes after a restart from its checkpoint, with no
//! gap and no repeat.

mod common;

use common::{acct, serial, TestNet};
use consort::client::{args, ChaincodeEventItem, Checkpoint};
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
