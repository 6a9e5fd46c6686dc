use super::*;
use chaincode_sdk::{Creator, MockStub};
use consort_proto::OrgConfig;

fn config() -> ChannelConfig {
    ChannelConfig {
        channel_id: "ch".into(),
        orgs: (1..=3)
            .map(|i| OrgConfig {
                msp_id: format!("Org{i}MSP"),
                ..Default::default()
            })
            .collect(),
        chaincodes: vec![ChaincodeDefinition {
            name: "token".into(),
            version: "1.0".into(),
            endorsement_policy: "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".into(),
            sequence: 0,
            external: None,
        }],
        ..Default::default()
    }
}

fn as_(stub: &mut MockStub, org: usize, role: &str) {
    stub.set_creator(Creator {
        msp_id: format!("Org{org}MSP"),
        role: role.into(),
        subject: format!("{role}@org{org}"),
        cert_der: vec![],
        attributes: Default::default(),
    });
}

fn def(name: &str, version: &str, sequence: u64, policy: &str) -> String {
    serde_json::to_string(&DefinitionJson {
        name: name.into(),
        version: version.into(),
        sequence,
        endorsement_policy: policy.into(),
        external: None,
    })
    .unwrap()
}

const ORG1: &str = "OR('Org1MSP.peer')";

fn approve(
    stub: &mut MockStub,
    lc: &Lifecycle,
    org: usize,
    d: &str,
) -> Result<Vec<u8>, ChaincodeError> {
    as_(stub, org, "admin");
    stub.invoke(lc, "approve", &[d])
}

#[test]
fn a_client_cannot_approve() {
    let lc = Lifecycle::new(&config());
    let mut stub = MockStub::new("ch");
    as_(&mut stub, 1, "client");
    let err = stub
        .invoke(&lc, "approve", &[&def("notes", "1", 1, ORG1)])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "approve needs an admin of a member org; the creator is a client of Org1MSP"
    );
    as_(&mut stub, 1, "peer");
    assert!(stub
        .invoke(&lc, "approve", &[&def("notes", "1", 1, ORG1)])
        .is_err());
    assert!(stub.keys().is_empty());
}

#[test]
fn approval_is_recorded_per_org_and_sequence() {
    let lc = Lifecycle::new(&config());
    let mut stub = MockStub::new("ch");
    approve(&mut stub, &lc, 2, &def("notes", "1", 1, ORG1)).unwrap();
    let stored = stub.state("approval/notes/1/Org2MSP").unwrap().to_vec();
    assert_eq!(definition::decode(&stored).unwrap().version, "1");
    let out = stub.invoke(&lc, "approvals", &["notes", "1"]).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["approvals"]["Org2MSP"]["version"], "1");
    assert!(v["approvals"]["Org1MSP"].is_null());
}

#[test]
fn sequence_must_be_the_next_one() {
    let lc = Lifecycle::new(&config());
    let mut stub = MockStub::new("ch");
    let err = approve(&mut stub, &lc, 1, &def("notes", "1", 2, ORG1)).unwrap_err();
    assert!(
        err.to_string()
            .contains("the committed sequence is 0, so the next is 1"),
        "{err}"
    );
    // token is sequence 1 from genesis: its upgrade is 2.
    let token_policy = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
    assert!(approve(&mut stub, &lc, 1, &def("token", "2.0", 1, token_policy)).is_err());
    approve(&mut stub, &lc, 1, &def("token", "2.0", 2, token_policy)).unwrap();
    // Re-approving the definition in force is allowed.
    approve(&mut stub, &lc, 3, &def("token", "1.0", 1, token_policy)).unwrap();
    let err = stub
        .invoke(&lc, "commit", &[&def("token", "1.0", 1, token_policy)])
        .unwrap_err();
    assert!(
        err.to_string().contains("cannot commit sequence 1"),
        "{err}"
    );
}

#[test]
fn commit_needs_a_majority_of_identical_approvals_and_names_them() {
    let lc = Lifecycle::new(&config());
    let mut stub = MockStub::new("ch");
    let wanted = def("notes", "1", 1, ORG1);
    approve(&mut stub, &lc, 1, &wanted).unwrap();
    // Org2 approves a different version: it does not count.
    approve(&mut stub, &lc, 2, &def("notes", "1.1", 1, ORG1)).unwrap();
    as_(&mut stub, 3, "client");
    let err = stub.invoke(&lc, "commit", &[&wanted]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "chaincode 'notes' sequence 1: approved by Org1MSP; 2 of 3 orgs must approve; \
         not approved by Org2MSP (approved a different definition: version '1.1' \
         (proposed '1')), Org3MSP"
    );
    assert!(stub.state("definition/notes").is_none());

    // The same definition spelt differently is the same definition.
    approve(
        &mut stub,
        &lc,
        3,
        &def("notes", "1", 1, " OR( 'Org1MSP.peer' )"),
    )
    .unwrap();
    let out = stub.invoke(&lc, "commit", &[&wanted]).unwrap();
    let committed: DefinitionJson = serde_json::from_slice(&out).unwrap();
    assert_eq!(committed.sequence, 1);
    assert!(stub.state("definition/notes").is_some());
    let shown = stub.invoke(&lc, "definition", &["notes"]).unwrap();
    assert_eq!(
        serde_json::from_slice::<DefinitionJson>(&shown).unwrap(),
        committed
    );

    // Committed: the next approval is for sequence 2.
    assert!(approve(&mut stub, &lc, 1, &def("notes", "2", 1, ORG1)).is_err());
    approve(&mut stub, &lc, 1, &def("notes", "2", 2, ORG1)).unwrap();
}

#[test]
fn no_approval_at_all_and_bad_definitions() {
    let lc = Lifecycle::new(&config());
    let mut stub = MockStub::new("ch");
    let err = stub
        .invoke(&lc, "commit", &[&def("notes", "1", 1, ORG1)])
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("approved by no org; 2 of 3 orgs must approve"),
        "{err}"
    );
    let err = approve(&mut stub, &lc, 1, &def("notes", "1", 1, "OR(")).unwrap_err();
    assert!(err.to_string().contains("bad endorsement policy"), "{err}");
    assert!(matches!(
        approve(&mut stub, &lc, 1, "{"),
        Err(ChaincodeError::InvalidArgs { .. })
    ));
    assert!(matches!(
        stub.invoke(&lc, "nope", &[]),
        Err(ChaincodeError::UnknownFunction(_))
    ));
}

#[test]
fn list_merges_genesis_and_committed_definitions() {
    let lc = Lifecycle::new(&config());
    let mut stub = MockStub::new("ch");
    let listed = |stub: &mut MockStub| -> Vec<DefinitionJson> {
        serde_json::from_slice(&stub.invoke(&lc, "list", &[]).unwrap()).unwrap()
    };
    let genesis = listed(&mut stub);
    assert_eq!(genesis.len(), 1);
    assert_eq!(
        (genesis[0].name.as_str(), genesis[0].sequence),
        ("token", 1)
    );
    let d = def("notes", "1", 1, ORG1);
    approve(&mut stub, &lc, 1, &d).unwrap();
    approve(&mut stub, &lc, 2, &d).unwrap();
    stub.invoke(&lc, "commit", &[&d]).unwrap();
    let names: Vec<String> = listed(&mut stub).into_iter().map(|d| d.name).collect();
    assert_eq!(names, ["notes", "token"]);
    let err = stub.invoke(&lc, "definition", &["ghost"]).unwrap_err();
    assert_eq!(err.to_string(), "chaincode 'ghost' is not defined");
}

#[test]
fn a_differing_approval_names_every_field_that_differs() {
    let proposed = DefinitionJson::parse(def("notes", "1", 1, ORG1).as_bytes())
        .unwrap()
        .check(&["Org1MSP".to_owned(), "Org2MSP".to_owned()])
        .unwrap()
        .0;
    let mut approved = proposed.clone();
    assert!(definition::differences(&approved, &proposed).is_empty());
    approved.endorsement_policy = "OR('Org2MSP.peer')".into();
    approved.external = Some(consort_proto::ExternalChaincode {
        address: "cc:9999".into(),
        tls_root_pem: "pem".into(),
    });
    assert_eq!(
        definition::differences(&approved, &proposed),
        [
            "endorsement_policy 'OR('Org2MSP.peer')' (proposed 'OR('Org1MSP.peer')')",
            "external 'cc:9999' (proposed 'in process')",
        ]
    );
    let mut other_root = approved.clone();
    other_root.external = Some(consort_proto::ExternalChaincode {
        address: "cc:9999".into(),
        tls_root_pem: "other".into(),
    });
    assert_eq!(
        definition::differences(&other_root, &approved),
        ["external.tls_root_pem (a different certificate)"]
    );
}

#[test]
fn approving_an_in_process_chaincode_this_peer_lacks_warns() {
    let lc = Lifecycle::new(&config()).with_installed(["token".to_owned()]);
    let mut stub = MockStub::new("ch");
    let out = approve(&mut stub, &lc, 1, &def("notes", "1", 1, ORG1)).unwrap();
    let approved: Approved = serde_json::from_slice(&out).unwrap();
    assert_eq!(approved.definition.name, "notes");
    let warnings = Approved::warnings_of(&out);
    assert_eq!(warnings, approved.warnings);
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].contains("chaincode 'notes' is to run in process"),
        "{warnings:?}"
    );
    // The approval is recorded all the same.
    assert!(stub.state("approval/notes/1/Org1MSP").is_some());

    // Installed, or external: no warning, and the result is the bare definition.
    let token = "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')";
    let out = approve(&mut stub, &lc, 1, &def("token", "2", 2, token)).unwrap();
    assert!(Approved::warnings_of(&out).is_empty());
    assert!(serde_json::from_slice::<DefinitionJson>(&out).is_ok());
    let external = serde_json::to_string(&DefinitionJson {
        external: Some(crate::lifecycle::definition::ExternalJson {
            address: "notes.example:9999".into(),
            tls_root_pem: String::new(),
        }),
        ..DefinitionJson::parse(def("notes", "1", 1, ORG1).as_bytes()).unwrap()
    })
    .unwrap();
    let out = approve(&mut stub, &lc, 2, &external).unwrap();
    assert!(Approved::warnings_of(&out).is_empty());
    // A lifecycle that does not know what is installed never warns.
    let unknown = Lifecycle::new(&config());
    let out = approve(&mut stub, &unknown, 3, &def("notes", "1", 1, ORG1)).unwrap();
    assert!(Approved::warnings_of(&out).is_empty());
}

#[test]
fn approvals_too_complex_to_count_do_not_commit_and_say_why() {
    let (policy, orgs) = crate::policy::testing::paths_policy(16);
    let mut channel = config();
    channel.orgs = orgs
        .iter()
        .map(|msp_id| OrgConfig {
            msp_id: msp_id.clone(),
            ..Default::default()
        })
        .collect();
    let mut lc = Lifecycle::new(&channel);
    lc.policy = policy;
    let mut stub = MockStub::new("ch");
    let wanted = def("notes", "1", 1, "OR('P0a.peer')");
    for org in &orgs {
        stub.set_creator(Creator {
            msp_id: org.clone(),
            role: "admin".into(),
            subject: format!("admin@{org}"),
            cert_der: vec![],
            attributes: Default::default(),
        });
        stub.invoke(&lc, "approve", &[&wanted]).unwrap();
    }
    let err = stub.invoke(&lc, "commit", &[&wanted]).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("chaincode 'notes' sequence 1: approved by P0a, P0b, P0c, "),
        "{message}"
    );
    assert!(
        message.contains(
            "must be satisfied; whether these approvals satisfy it cannot be decided: \
             endorsement policy is too complex to evaluate"
        ),
        "{message}"
    );
    assert!(!message.contains("not approved by"), "{message}");
    assert!(stub.state("definition/notes").is_none());
}
