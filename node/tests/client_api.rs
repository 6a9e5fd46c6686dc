//! The client API against a live three-org network: chaincode event streams
//! that an application resumes after a restart from its checkpoint, with no
//! gap and no repeat; an application whose first gateway is down reaching
//! its fallback, submitting through a `Contract` and following blocks; a
//! Raft leader killed under load, after which every failed call says that a
//! retry is safe and the retries commit.

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
    let t = TestNet::start().await;
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
    let t = TestNet::start().await;
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

/// How one transfer went under the retry rules: the committed transaction
/// ID, and every failure seen on the way with the rule it carried.
struct Outcome {
    tx_id: Option<String>,
    failures: Vec<(Retry, String)>,
}

/// One transfer driven the way the client docs say: on a failure, follow
/// [`ClientError::retry`] (resend the same envelope, or start a new
/// proposal), never anything else. Gives up only on `Retry::No` or after
/// `deadline`.
async fn transfer_with_retries(
    c: &Client,
    from: usize,
    to: usize,
    deadline: std::time::Instant,
) -> Outcome {
    let mut failures = Vec::new();
    let give_up = |failures: Vec<(Retry, String)>| Outcome {
        tx_id: None,
        failures,
    };
    let a = args(&["TOK", &acct(c, from), &acct(c, to), "1", "kill"]);
    // What failed, without the transaction IDs: for the summary.
    fn kind(stage: &str, e: &ClientError) -> String {
        match e {
            ClientError::Rpc { code, reason, .. } => format!("{stage}: {code:?} {reason:?}"),
            ClientError::Invalid { code, .. } => format!("{stage}: {}", code.as_str_name()),
            other => format!(
                "{stage}: {}",
                other.to_string().chars().take(60).collect::<String>()
            ),
        }
    }
    'proposal: loop {
        if std::time::Instant::now() > deadline {
            return give_up(failures);
        }
        let endorsed = match c.endorse("token", "transfer", &a).await {
            Ok(e) => e,
            Err(e) => {
                failures.push((e.retry(), kind("endorse", &e)));
                if e.retry() == Retry::No {
                    return give_up(failures);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue 'proposal;
            }
        };
        let envelope = c.envelope(&endorsed).unwrap();
        loop {
            match c.submit_envelope(envelope.clone()).await {
                Ok(_) => break,
                Err(e) => {
                    failures.push((e.retry(), kind("submit", &e)));
                    match e.retry() {
                        Retry::No => return give_up(failures),
                        Retry::NewProposal => continue 'proposal,
                        Retry::Resend if std::time::Instant::now() > deadline => {
                            return give_up(failures)
                        }
                        Retry::Resend => tokio::time::sleep(Duration::from_millis(200)).await,
                    }
                }
            }
        }
        loop {
            match c
                .commit_status(&endorsed.tx_id, Duration::from_secs(15))
                .await
            {
                Ok((Code::Valid, _)) => {
                    return Outcome {
                        tx_id: Some(endorsed.tx_id),
                        failures,
                    }
                }
                Ok((code, block)) => {
                    let e = ClientError::Invalid {
                        tx_id: endorsed.tx_id.clone(),
                        block,
                        code,
                    };
                    failures.push((e.retry(), kind("commit", &e)));
                    if e.retry() == Retry::No {
                        return give_up(failures);
                    }
                    continue 'proposal;
                }
                Err(e) => {
                    failures.push((e.retry(), kind("commit status", &e)));
                    if e.retry() == Retry::No || std::time::Instant::now() > deadline {
                        return give_up(failures);
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_leader_kill_every_failed_submission_says_retry_and_retries_commit() {
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    t.setup_token().await;
    let leader = t.leader(Duration::from_secs(10)).await;
    let clients = vec![t.client(1).await, t.client(2).await, t.client(3).await];
    let before = common::total_supply(&clients[0]).await;

    // Three clients, four workers each, transferring around each client's
    // four accounts (neighbouring workers conflict now and then, which
    // exercises the new-proposal path too) until told to stop.
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let done = std::sync::Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for c in &clients {
        for w in 0..4 {
            let c = c.clone();
            let stop = stop.clone();
            let done = done.clone();
            workers.push(tokio::spawn(async move {
                let mut outcomes = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let deadline = std::time::Instant::now() + Duration::from_secs(60);
                    outcomes.push(transfer_with_retries(&c, w, (w + 1) % 4, deadline).await);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                outcomes
            }));
        }
    }
    // Waits until `more` transfers beyond those done now are done.
    let progress = |more: usize, what: &'static str| {
        let done = done.clone();
        async move {
            let target = done.load(Ordering::Relaxed) + more;
            let deadline = std::time::Instant::now() + Duration::from_secs(90);
            while done.load(Ordering::Relaxed) < target {
                assert!(std::time::Instant::now() < deadline, "{what}: no progress");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    progress(12, "before the kill").await;
    t.net.kill(&leader).unwrap();
    let new_leader = t.leader(Duration::from_secs(30)).await;
    assert_ne!(new_leader, leader);
    progress(24, "after the kill").await;
    stop.store(true, Ordering::Relaxed);
    let mut outcomes = Vec::new();
    for w in workers {
        outcomes.extend(w.await.unwrap());
    }

    let mut by_rule: std::collections::BTreeMap<String, usize> = Default::default();
    for (rule, what) in outcomes.iter().flat_map(|o| &o.failures) {
        *by_rule.entry(format!("{rule:?} after {what}")).or_default() += 1;
    }
    let failures: usize = by_rule.values().sum();
    let committed: Vec<&String> = outcomes.iter().filter_map(|o| o.tx_id.as_ref()).collect();
    eprintln!(
        "leader {leader} killed: {} transfers, {} committed, {failures} failures on the way: {by_rule:#?}",
        outcomes.len(),
        committed.len()
    );
    // Every failure said that trying again is safe, and trying again
    // committed every transfer.
    for (rule, what) in outcomes.iter().flat_map(|o| &o.failures) {
        assert_ne!(*rule, Retry::No, "a failure said stop: {what}");
    }
    assert_eq!(
        committed.len(),
        outcomes.len(),
        "a transfer never committed"
    );
    assert!(outcomes.len() > 12, "the load ran");

    // Each committed transaction is in the chain once as VALID; a copy the
    // gateway resent after an unknown outcome may follow it, as
    // DUPLICATE_TXID, which changes nothing. No token was created or lost.
    let status = t.wait_converged(2, Duration::from_secs(30)).await;
    let occ = common::tx_occurrences(&clients[0], status.height).await;
    let mut resent = 0;
    for tx in committed {
        let codes = occ.get(tx).cloned().unwrap_or_default();
        assert_eq!(
            codes.first(),
            Some(&(Code::Valid as i32)),
            "tx {tx}: {codes:?}"
        );
        assert!(
            codes[1..].iter().all(|c| *c == Code::DuplicateTxid as i32),
            "tx {tx}: {codes:?}"
        );
        resent += codes.len() - 1;
    }
    eprintln!("copies ordered again after an unknown outcome (DUPLICATE_TXID): {resent}");
    assert_eq!(common::total_supply(&clients[1]).await, before);
}

/// Every orderer's answer to a submission names the Raft leader that
/// ordered it (`x-consort-ordered-by`), so a gateway (or any client) sends
/// the next ones there without a forwarding hop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_orderer_names_the_leader_that_ordered_a_submission() {
    use consort_proto::atomic_broadcast_client::AtomicBroadcastClient;
    let _serial = serial().await;
    let mut t = TestNet::start().await;
    t.setup_token().await;
    let c = t.client(1).await;
    let leader = t.leader(Duration::from_secs(30)).await;
    let orderers = t.net.nodes_of(consort::config::NodeRole::Orderer);
    let leader_endpoint = orderers
        .iter()
        .find(|o| o.name == leader)
        .map(|o| o.endpoint.clone())
        .unwrap();
    let profile = t.net.net.dir.join("orgs/Org1MSP/users/user1/client.toml");
    let profile = consort::config::ClientProfile::load(&profile).unwrap();
    let (dialer, _) = consort::client::dialer_for(&profile).unwrap();
    for o in &orderers {
        let endorsed = c
            .endorse(
                "token",
                "transfer",
                &args(&["TOK", &acct(&c, 0), &acct(&c, 1), "1", "m"]),
            )
            .await
            .unwrap();
        let envelope = c.envelope(&endorsed).unwrap();
        let ch = dialer.connect(&o.endpoint, None).await.unwrap();
        let answer = AtomicBroadcastClient::new(ch)
            .broadcast(envelope)
            .await
            .unwrap();
        let ordered_by = answer
            .metadata()
            .get("x-consort-ordered-by")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        assert_eq!(
            ordered_by.as_deref(),
            Some(leader_endpoint.as_str()),
            "answer of {}",
            o.name
        );
    }
    // Through the gateway too: the transfers commit.
    assert_eq!(transfer_code(&c).await, Code::Valid);
}

async fn transfer_code(c: &consort::client::Client) -> Code {
    c.invoke(
        "token",
        "transfer",
        &args(&["TOK", &acct(c, 0), &acct(c, 1), "1", "m"]),
    )
    .await
    .unwrap()
    .code
}
