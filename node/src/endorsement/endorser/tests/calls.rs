//! The endorser on calls between chaincodes: namespaces, policies, errors, depth.

use super::*;

fn seed_with(ledger: &Ledger, ns: &str, cc: &dyn Chaincode, calls: &[(&str, &[&str])]) {
    let mut mock = chaincode_sdk::MockStub::new(CH);
    for (function, args) in calls {
        mock.invoke(cc, function, args).unwrap();
    }
    let number = ledger.height();
    let writes = mock
        .keys()
        .into_iter()
        .map(|key| crate::ledger::StateWrite {
            namespace: ns.into(),
            value: mock.state(&key).map(<[u8]>::to_vec),
            key,
            tx_num: 0,
            tx_id: "seed".into(),
        })
        .collect();
    ledger
        .commit(&BlockUpdate {
            block: CommittedBlock::default(),
            number,
            hash: [number as u8; 32],
            timestamp_ms: 0,
            writes,
            txs: vec![],
        })
        .unwrap();
}

/// GOLD with alice holding 100.
/// GOLD with 100 in the token account of Org1's client (`user1@org1`).
fn seed_gold(ledger: &Ledger) {
    seed_with(
        ledger,
        "token",
        &chaincode_sdk::samples::token::Token,
        &[
            ("create", &["GOLD", "1000"]),
            ("issue", &["GOLD", "Org1MSP:user1@org1", "100", ""]),
        ],
    );
}

fn namespaces(prp: &ProposalResponsePayload) -> TxReadWriteSet {
    TxReadWriteSet::decode(prp.results.as_slice()).unwrap()
}

fn writes_of(rw: &TxReadWriteSet, ns: &str) -> Vec<(String, Vec<u8>)> {
    rw.ns_rwsets
        .iter()
        .find(|n| n.namespace == ns)
        .map(|n| {
            n.writes
                .iter()
                .map(|w| (w.key.clone(), w.value.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// The envelope of a proposal endorsed by `responses`.
fn envelope(
    creator: &SigningIdentity,
    signed: &SignedProposal,
    responses: &[&ProposalResponse],
) -> Vec<u8> {
    let p = Proposal::decode(signed.proposal_bytes.as_slice()).unwrap();
    let tx = Transaction {
        header: p.header,
        input: p.input,
        response_payload: responses[0].payload.clone(),
        endorsements: responses
            .iter()
            .map(|r| r.endorsement.clone().unwrap())
            .collect(),
    }
    .encode_to_vec();
    Envelope {
        signature: creator.sign(&tx).unwrap(),
        payload: tx,
    }
    .encode_to_vec()
}

#[tokio::test]
async fn a_called_chaincode_writes_its_own_namespace_and_needs_its_own_policy() {
    let f = Fixture::new();
    seed_gold(&f.ledger);
    let client = &f.c.orgs[0].client;
    let (signed, _) = proposal(
        client,
        CH,
        "market",
        "pay",
        &["GOLD", "Org1MSP:user1@org1", "bob", "30"],
    );
    let r1 = f.endorser(0, LONG).process(&signed).await.unwrap();
    assert_eq!(status(&r1), (200, ""));
    assert_eq!(
        r1.response.as_ref().unwrap().payload,
        br#"{"from":70,"to":30}"#
    );
    let prp = ProposalResponsePayload::decode(r1.payload.as_slice()).unwrap();
    let rw = namespaces(&prp);
    let names: Vec<&str> = rw.ns_rwsets.iter().map(|n| n.namespace.as_str()).collect();
    assert_eq!(names, ["market", "token"]);
    assert_eq!(
        writes_of(&rw, "token"),
        vec![
            ("balance/GOLD/Org1MSP:user1@org1".into(), b"70".to_vec()),
            ("balance/GOLD/bob".into(), b"30".to_vec()),
        ]
    );
    assert_eq!(writes_of(&rw, "market")[0].0, "payment/last");
    assert_eq!(
        rw.ns_rwsets[1].reads.len(),
        3,
        "token info and both balances"
    );
    // Only the invoked chaincode's event.
    assert_eq!(
        prp.event.as_ref().map(|e| e.chaincode.as_str()),
        Some("market")
    );

    // market's policy (Org1's peer) alone does not satisfy token's (two orgs).
    let rules = &f.rules;
    let alone = envelope(client, &signed, &[&r1]);
    assert_eq!(
        validation::check_tx(rules, &alone).unwrap_err().code,
        TxValidationCode::EndorsementPolicyFailure
    );
    let r2 = f.endorser(1, LONG).process(&signed).await.unwrap();
    assert_eq!(r2.payload, r1.payload);
    let both = envelope(client, &signed, &[&r1, &r2]);
    let checked = validation::check_tx(rules, &both).unwrap();
    let outcome = validation::validate_block(&*f.ledger, vec![Ok(checked)]).unwrap();
    assert_eq!(outcome.codes, vec![TxValidationCode::Valid]);
    let number = f.ledger.height();
    f.ledger
        .commit(&BlockUpdate {
            block: CommittedBlock::default(),
            number,
            hash: [9; 32],
            timestamp_ms: 0,
            writes: outcome.writes,
            txs: outcome.txs,
        })
        .unwrap();
    let value = |ns: &str, key: &str| f.ledger.get_state(ns, key).unwrap().map(|v| v.value);
    assert_eq!(value("token", "balance/GOLD/bob"), Some(b"30".to_vec()));
    assert_eq!(
        value("market", "payment/last"),
        Some(br#"{"from":70,"to":30}"#.to_vec())
    );
    assert_eq!(value("market", "balance/GOLD/bob"), None);
}

#[tokio::test]
async fn a_callee_error_fails_the_call_or_is_recovered_without_its_writes() {
    let f = Fixture::new();
    seed_gold(&f.ledger);
    let client = &f.c.orgs[0].client;
    let e = f.endorser(0, LONG);
    let (signed, _) = proposal(
        client,
        CH,
        "market",
        "pay",
        &["GOLD", "Org1MSP:user1@org1", "bob", "500"],
    );
    let r = e.process(&signed).await.unwrap();
    assert_eq!(status(&r).0, 400);
    assert!(
        status(&r).1.contains("insufficient balance"),
        "{}",
        status(&r).1
    );
    assert!(r.endorsement.is_none());

    let (signed, _) = proposal(
        client,
        CH,
        "market",
        "try_pay",
        &["GOLD", "Org1MSP:user1@org1", "bob", "500"],
    );
    let r = e.process(&signed).await.unwrap();
    assert_eq!(status(&r), (200, ""));
    let rw = namespaces(&ProposalResponsePayload::decode(r.payload.as_slice()).unwrap());
    assert!(writes_of(&rw, "token").is_empty());
    assert!(
        !rw.ns_rwsets[1].reads.is_empty(),
        "the callee's reads still count"
    );
    assert_eq!(writes_of(&rw, "market")[0].0, "payment/failed");
}

#[tokio::test]
async fn calls_to_undefined_chaincodes_and_too_deep_calls_are_refused() {
    let f = Fixture::new();
    let client = &f.c.orgs[0].client;
    let e = f.endorser(0, LONG);
    for (callee, reason) in [
        ("nope", "not defined on the channel"),
        ("ghost", "not installed on this peer"),
        ("_lifecycle", "system namespaces cannot be called"),
    ] {
        let (signed, _) = proposal(client, CH, "market", "call", &[callee]);
        let r = e.process(&signed).await.unwrap();
        assert_eq!(
            status(&r),
            (
                400,
                format!("cannot call chaincode '{callee}': {reason}").as_str()
            )
        );
    }
    // A callee's event is dropped; its range scan is recorded under its namespace.
    let (signed, _) = proposal(client, CH, "market", "call", &["context"]);
    let r = e.process(&signed).await.unwrap();
    assert_eq!(status(&r), (200, ""));
    let prp = ProposalResponsePayload::decode(r.payload.as_slice()).unwrap();
    assert_eq!(prp.event, None);
    let rw = namespaces(&prp);
    assert_eq!(rw.ns_rwsets[0].namespace, "context");
    assert_eq!(rw.ns_rwsets[0].range_queries.len(), 1);

    let (signed, _) = proposal(client, CH, "market", "recurse", &[]);
    let r = e.process(&signed).await.unwrap();
    assert_eq!(
        status(&r),
        (
            400,
            "cannot call chaincode 'market': chaincode calls nest deeper than 8"
        )
    );
}
