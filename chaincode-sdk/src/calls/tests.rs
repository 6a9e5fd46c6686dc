use std::collections::BTreeMap;
use std::sync::Arc;

use super::conformance::{steps, Script};
use super::*;

/// A world with one committed key per namespace, counting the reads that
/// reach it.
#[derive(Default)]
struct Counting {
    reads: Vec<(String, String)>,
}

impl World for Counting {
    fn get_state(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        self.reads.push((namespace.to_owned(), key.to_owned()));
        Ok((key == "committed").then(|| namespace.as_bytes().to_vec()))
    }

    fn query(&mut self, _: &str, query: &Query) -> Result<QueryOutcome, ChaincodeError> {
        query.run(&mut &BTreeMap::new())
    }

    fn history(&mut self, _: &str, _: &str) -> Result<Vec<KeyModification>, ChaincodeError> {
        Ok(Vec::new())
    }

    fn callee(&self, chaincode: &str) -> Result<Arc<dyn Chaincode>, String> {
        match chaincode {
            "b" | "c" => Ok(Arc::new(Script)),
            _ => Err("not defined on the channel".to_owned()),
        }
    }
}

fn invocation(program: &str) -> Invocation {
    Invocation {
        function: "run".into(),
        args: steps(program),
        tx_id: "tx1".into(),
        channel_id: "ch".into(),
        creator: Creator::default(),
        timestamp_ms: 7,
        transient: BTreeMap::new(),
    }
}

fn run(program: &str) -> (Result<Vec<u8>, ChaincodeError>, Finished<Counting>) {
    let mut tx = Transaction::new(Counting::default(), "a", invocation(program));
    let result = Script.invoke(&mut tx);
    (result, tx.finish())
}

fn key(namespace: &str, key: &str) -> (String, String) {
    (namespace.to_owned(), key.to_owned())
}

#[test]
fn pending_writes_are_read_without_reaching_the_world() {
    let (result, finished) = run("put k 1 ; get k ; get committed ; call b get committed");
    assert_eq!(result.unwrap(), b"ok,1,a,b");
    assert_eq!(
        finished.world.reads,
        [key("a", "committed"), key("b", "committed")]
    );
}

#[test]
fn finishing_hands_back_kept_writes_the_event_and_every_callee() {
    let (result, finished) =
        run("event done 1 ; put k 1 ; call b put k 2 ; try c put k 3 ;; fail no ; call b del gone");
    assert_eq!(result.unwrap(), b"ok,ok,ok,err: no,ok");
    let writes: Vec<_> = finished.writes.into_iter().collect();
    assert_eq!(
        writes,
        [
            (key("a", "k"), Some(b"1".to_vec())),
            (key("b", "gone"), None),
            (key("b", "k"), Some(b"2".to_vec())),
        ]
    );
    assert_eq!(
        finished.event,
        Some(Event {
            chaincode: "a".into(),
            name: "done".into(),
            payload: b"1".to_vec(),
        })
    );
    assert_eq!(
        finished.called.into_iter().collect::<Vec<_>>(),
        ["b", "c"],
        "a failed callee is still a namespace the transaction touched"
    );
}

#[test]
fn refused_calls_name_the_chaincode_and_touch_nothing() {
    let mut tx = Transaction::new(Counting::default(), "a", invocation("get k"));
    for (name, reason) in [
        ("", "not defined on the channel"),
        ("nope", "not defined on the channel"),
        ("_lifecycle", "system namespaces cannot be called"),
    ] {
        assert_eq!(
            tx.invoke_chaincode(name, "run", &[]),
            Err(ChaincodeError::Call {
                chaincode: name.into(),
                reason: reason.into(),
            })
        );
    }
    assert_eq!((tx.depth(), tx.namespace()), (0, "a"));
    assert!(tx.finish().called.is_empty());
    assert!(is_system_namespace("_x") && !is_system_namespace("x_"));
}

#[test]
fn empty_event_names_and_bad_keys_are_bad_requests() {
    let mut tx = Transaction::new(Counting::default(), "a", invocation("get k"));
    assert!(matches!(
        tx.set_event("", b""),
        Err(ChaincodeError::BadRequest(_))
    ));
    for bad in ["", "a\0b"] {
        assert!(matches!(
            tx.get_state(bad),
            Err(ChaincodeError::BadRequest(_))
        ));
        assert!(matches!(
            tx.get_history_for_key(bad),
            Err(ChaincodeError::BadRequest(_))
        ));
    }
    assert!(tx.finish().world.reads.is_empty());
}
