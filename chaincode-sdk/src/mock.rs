//! `MockStub`: an in-memory peer for unit-testing one chaincode.

mod tx;

use std::collections::BTreeMap;

use crate::query::KeyModification;
use crate::{Chaincode, ChaincodeError, Creator};
use tx::{TxContext, TxStub};

/// An in-memory stand-in for a peer running one chaincode on one channel.
///
/// Each invocation runs against a transaction-local write buffer; when the
/// chaincode returns `Ok` the buffered writes and deletes are committed (and
/// recorded in each key's history) and its event is kept; when it returns
/// `Err` they are discarded. Queries behave as on a peer: they share the
/// peer's implementation in [`crate::query`].
#[derive(Debug, Clone)]
pub struct MockStub {
    /// The channel every invocation reports.
    channel_id: String,
    /// The identity every invocation reports.
    creator: Creator,
    /// The committed world state.
    state: BTreeMap<String, Vec<u8>>,
    /// How many invocations have started.
    invocations: u64,
    /// A transaction id to use for the next invocation instead of a generated one.
    next_tx_id: Option<String>,
    /// The timestamp every invocation reports, ms since the Unix epoch.
    timestamp_ms: i64,
    /// Transient data for the next invocation only.
    next_transient: BTreeMap<String, Vec<u8>>,
    /// Every committed change of every key, oldest first.
    history: BTreeMap<String, Vec<KeyModification>>,
    /// The events of committed invocations, in order.
    events: Vec<MockEvent>,
}

/// An event set by a committed invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockEvent {
    /// The invocation's transaction id.
    pub tx_id: String,
    /// The event's name.
    pub name: String,
    /// The event's payload.
    pub payload: Vec<u8>,
}

/// The creator used until `set_creator` is called.
fn default_creator() -> Creator {
    Creator {
        msp_id: "Org1MSP".to_owned(),
        role: "client".to_owned(),
        subject: "user1".to_owned(),
        cert_der: Vec::new(),
        attributes: BTreeMap::new(),
    }
}

impl MockStub {
    /// Creates an empty mock peer on `channel_id`, acting as client `user1` of `Org1MSP`.
    pub fn new(channel_id: &str) -> Self {
        Self {
            channel_id: channel_id.to_owned(),
            creator: default_creator(),
            state: BTreeMap::new(),
            invocations: 0,
            next_tx_id: None,
            timestamp_ms: 0,
            next_transient: BTreeMap::new(),
            history: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// Sets the timestamp (ms since the Unix epoch) all following invocations
    /// report and record in key history; it starts at 0.
    pub fn set_timestamp(&mut self, timestamp_ms: i64) {
        self.timestamp_ms = timestamp_ms;
    }

    /// Sets the transient data of the next invocation only.
    pub fn set_transient(&mut self, transient: BTreeMap<String, Vec<u8>>) {
        self.next_transient = transient;
    }

    /// Sets the identity that signs all following invocations.
    pub fn set_creator(&mut self, creator: Creator) {
        self.creator = creator;
    }

    /// Sets the transaction id of the next invocation only (otherwise the n-th invocation gets `mocktx-n`).
    pub fn set_tx_id(&mut self, tx_id: &str) {
        self.next_tx_id = Some(tx_id.to_owned());
    }

    /// Invokes `function` with UTF-8 string arguments; see [`MockStub::invoke_bytes`].
    pub fn invoke(
        &mut self,
        cc: &dyn Chaincode,
        function: &str,
        args: &[&str],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let args = args.iter().map(|arg| arg.as_bytes().to_vec()).collect();
        self.invoke_bytes(cc, function, args)
    }

    /// Invokes `function` with raw arguments, committing its writes only if it returns `Ok`.
    pub fn invoke_bytes(
        &mut self,
        cc: &dyn Chaincode,
        function: &str,
        args: Vec<Vec<u8>>,
    ) -> Result<Vec<u8>, ChaincodeError> {
        self.invocations = self.invocations.saturating_add(1);
        let tx_id = self
            .next_tx_id
            .take()
            .unwrap_or_else(|| format!("mocktx-{}", self.invocations));
        let context = TxContext {
            function,
            args,
            tx_id,
            channel_id: &self.channel_id,
            creator: &self.creator,
            timestamp_ms: self.timestamp_ms,
            transient: std::mem::take(&mut self.next_transient),
        };
        let tx_id = context.tx_id.clone();
        let mut stub = TxStub::new(context, &self.state, &self.history);
        let payload = cc.invoke(&mut stub)?;
        let (writes, event) = stub.into_parts();
        for (key, change) in writes {
            self.history
                .entry(key.clone())
                .or_default()
                .push(KeyModification {
                    tx_id: tx_id.clone(),
                    value: change.clone().unwrap_or_default(),
                    is_delete: change.is_none(),
                    timestamp_ms: self.timestamp_ms,
                });
            match change {
                Some(value) => self.state.insert(key, value),
                None => self.state.remove(&key),
            };
        }
        if let Some((name, payload)) = event {
            self.events.push(MockEvent {
                tx_id,
                name,
                payload,
            });
        }
        Ok(payload)
    }

    /// The committed value of `key`, if any.
    pub fn state(&self, key: &str) -> Option<&[u8]> {
        self.state.get(key).map(Vec::as_slice)
    }

    /// All committed keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.state.keys().cloned().collect()
    }

    /// Every committed change of `key`, oldest first.
    pub fn history(&self, key: &str) -> &[KeyModification] {
        self.history.get(key).map(Vec::as_slice).unwrap_or_default()
    }

    /// The events of committed invocations, oldest first (at most one per invocation).
    pub fn events(&self) -> &[MockEvent] {
        &self.events
    }
}

#[cfg(test)]
mod tests {
    use super::MockStub;
    use crate::{Chaincode, ChaincodeError, ChaincodeStub, Creator};
    use std::collections::BTreeMap;

    /// A scriptable chaincode: each function exercises one stub behaviour.
    struct Probe;

    impl Chaincode for Probe {
        fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
            let function = stub.function().to_owned();
            let args = stub.string_args()?;
            match (function.as_str(), args.as_slice()) {
                ("put", [key, value]) => {
                    stub.put_state(key, value.as_bytes())?;
                    Ok(Vec::new())
                }
                ("del", [key]) => {
                    stub.del_state(key)?;
                    Ok(Vec::new())
                }
                ("get", [key]) => Ok(stub.get_state(key)?.unwrap_or_default()),
                ("put_then_get", [key, value]) => {
                    stub.put_state(key, value.as_bytes())?;
                    Ok(stub.get_state(key)?.unwrap_or_default())
                }
                ("del_then_get", [key]) => {
                    stub.del_state(key)?;
                    match stub.get_state(key)? {
                        None => Ok(b"none".to_vec()),
                        Some(value) => Ok(value),
                    }
                }
                ("put_then_fail", [key, value]) => {
                    stub.put_state(key, value.as_bytes())?;
                    Err(ChaincodeError::business("refused after writing"))
                }
                ("del_then_fail", [key]) => {
                    stub.del_state(key)?;
                    Err(ChaincodeError::business("refused after deleting"))
                }
                ("whoami", []) => {
                    let creator = stub.creator();
                    Ok(format!(
                        "{}|{}|{}|{}|{}|{}",
                        stub.channel_id(),
                        stub.tx_id(),
                        creator.msp_id,
                        creator.role,
                        creator.subject,
                        creator.attribute("team").unwrap_or("-")
                    )
                    .into_bytes())
                }
                ("args", _) => Ok(args.join(",").into_bytes()),
                (other, _) => Err(ChaincodeError::UnknownFunction(other.to_owned())),
            }
        }
    }

    fn text(payload: Vec<u8>) -> String {
        String::from_utf8(payload).unwrap()
    }

    #[test]
    fn commits_writes_of_a_successful_invoke() {
        let mut stub = MockStub::new("ch1");
        stub.invoke(&Probe, "put", &["b", "2"]).unwrap();
        stub.invoke(&Probe, "put", &["a", "1"]).unwrap();
        assert_eq!(stub.state("a"), Some(&b"1"[..]));
        assert_eq!(stub.state("b"), Some(&b"2"[..]));
        assert_eq!(stub.state("c"), None);
        assert_eq!(stub.keys(), vec!["a".to_owned(), "b".to_owned()]);
        assert_eq!(text(stub.invoke(&Probe, "get", &["a"]).unwrap()), "1");
    }

    #[test]
    fn reads_see_own_writes() {
        let mut stub = MockStub::new("ch1");
        stub.invoke(&Probe, "put", &["k", "old"]).unwrap();
        let seen = stub.invoke(&Probe, "put_then_get", &["k", "new"]).unwrap();
        assert_eq!(text(seen), "new");
        assert_eq!(stub.state("k"), Some(&b"new"[..]));
    }

    #[test]
    fn deleted_key_reads_as_none_and_delete_commits() {
        let mut stub = MockStub::new("ch1");
        stub.invoke(&Probe, "put", &["k", "v"]).unwrap();
        let seen = stub.invoke(&Probe, "del_then_get", &["k"]).unwrap();
        assert_eq!(text(seen), "none");
        assert_eq!(stub.state("k"), None);
        assert!(stub.keys().is_empty());
    }

    #[test]
    fn failing_invoke_writes_nothing() {
        let mut stub = MockStub::new("ch1");
        stub.invoke(&Probe, "put", &["k", "v"]).unwrap();
        let err = stub
            .invoke(&Probe, "put_then_fail", &["other", "x"])
            .unwrap_err();
        assert_eq!(err, ChaincodeError::business("refused after writing"));
        stub.invoke(&Probe, "del_then_fail", &["k"]).unwrap_err();
        assert_eq!(stub.keys(), vec!["k".to_owned()]);
        assert_eq!(stub.state("k"), Some(&b"v"[..]));
    }

    #[test]
    fn refuses_empty_and_nul_keys() {
        let mut stub = MockStub::new("ch1");
        for function in ["put", "del"] {
            let mut args = vec![""];
            if function == "put" {
                args.push("v");
            }
            let err = stub.invoke(&Probe, function, &args).unwrap_err();
            assert!(
                matches!(&err, ChaincodeError::State(m) if m.contains("must not be empty")),
                "{err}"
            );
            args[0] = "a\0b";
            let err = stub.invoke(&Probe, function, &args).unwrap_err();
            assert!(
                matches!(&err, ChaincodeError::State(m) if m.contains("0x00")),
                "{err}"
            );
        }
        assert!(stub.keys().is_empty());
    }

    #[test]
    fn reports_channel_creator_and_generated_tx_ids() {
        let mut stub = MockStub::new("trade");
        let first = text(stub.invoke(&Probe, "whoami", &[]).unwrap());
        assert_eq!(first, "trade|mocktx-1|Org1MSP|client|user1|-");
        stub.set_creator(Creator {
            msp_id: "Org2MSP".into(),
            role: "admin".into(),
            subject: "boss".into(),
            cert_der: vec![1, 2, 3],
            attributes: BTreeMap::from([("team".to_owned(), "audit".to_owned())]),
        });
        let second = text(stub.invoke(&Probe, "whoami", &[]).unwrap());
        assert_eq!(second, "trade|mocktx-2|Org2MSP|admin|boss|audit");
    }

    #[test]
    fn set_tx_id_applies_to_the_next_invoke_only() {
        let mut stub = MockStub::new("ch1");
        stub.set_tx_id("custom-7");
        let first = text(stub.invoke(&Probe, "whoami", &[]).unwrap());
        assert!(first.contains("|custom-7|"), "{first}");
        let second = text(stub.invoke(&Probe, "whoami", &[]).unwrap());
        assert!(second.contains("|mocktx-2|"), "{second}");
    }

    #[test]
    fn passes_arguments_and_rejects_non_utf8() {
        let mut stub = MockStub::new("ch1");
        let echoed = stub.invoke(&Probe, "args", &["x", "y"]).unwrap();
        assert_eq!(text(echoed), "x,y");
        let err = stub
            .invoke_bytes(&Probe, "args", vec![b"ok".to_vec(), vec![0xff, 0xfe]])
            .unwrap_err();
        assert_eq!(
            err,
            ChaincodeError::InvalidArgs {
                function: "args".into(),
                reason: "argument 1 is not valid UTF-8".into(),
            }
        );
    }

    /// A chaincode that runs one function pointer, whatever is asked.
    struct Script(fn(&mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError>);

    impl Chaincode for Script {
        fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
            (self.0)(stub)
        }
    }

    #[test]
    fn queries_pass_the_conformance_table() {
        let mut stub = MockStub::new("ch1");
        stub.invoke(
            &Script(|stub| {
                for (key, value) in crate::query::conformance::seed() {
                    stub.put_state(&key, &value)?;
                }
                Ok(Vec::new())
            }),
            "seed",
            &[],
        )
        .unwrap();
        stub.invoke(
            &Script(|stub| {
                crate::query::conformance::check_stub(stub);
                Ok(Vec::new())
            }),
            "check",
            &[],
        )
        .unwrap();
    }

    #[test]
    fn history_records_committed_changes_oldest_first() {
        let mut stub = MockStub::new("ch1");
        stub.set_timestamp(1_000);
        stub.invoke(&Probe, "put", &["k", "1"]).unwrap();
        stub.set_timestamp(2_000);
        stub.invoke(&Probe, "put", &["k", "2"]).unwrap();
        stub.invoke(&Probe, "put_then_fail", &["k", "lost"])
            .unwrap_err();
        stub.set_tx_id("deleter");
        stub.invoke(&Probe, "del", &["k"]).unwrap();
        let changes: Vec<(&str, &[u8], bool, i64)> = stub
            .history("k")
            .iter()
            .map(|m| {
                (
                    m.tx_id.as_str(),
                    m.value.as_slice(),
                    m.is_delete,
                    m.timestamp_ms,
                )
            })
            .collect();
        assert_eq!(
            changes,
            vec![
                ("mocktx-1", &b"1"[..], false, 1_000),
                ("mocktx-2", &b"2"[..], false, 2_000),
                ("deleter", &b""[..], true, 2_000),
            ]
        );
        assert!(stub.history("never").is_empty());
        // The chaincode sees the same history, without its own pending write.
        let seen = stub
            .invoke(
                &Script(|stub| {
                    stub.put_state("k", b"pending")?;
                    let history = stub.get_history_for_key("k")?;
                    Ok(history.len().to_string().into_bytes())
                }),
                "history",
                &[],
            )
            .unwrap();
        assert_eq!(text(seen), "3");
        assert_eq!(stub.history("k").len(), 4);
    }

    #[test]
    fn timestamp_and_transient_reach_the_chaincode() {
        let report = Script(|stub| {
            let transient: Vec<String> = stub
                .transient()
                .iter()
                .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
                .collect();
            Ok(format!("{}|{}", stub.tx_timestamp_ms(), transient.join(",")).into_bytes())
        });
        let mut stub = MockStub::new("ch1");
        assert_eq!(text(stub.invoke(&report, "f", &[]).unwrap()), "0|");
        stub.set_timestamp(1_700_000_000_000);
        stub.set_transient([("secret".to_owned(), b"s3".to_vec())].into());
        let first = text(stub.invoke(&report, "f", &[]).unwrap());
        assert_eq!(first, "1700000000000|secret=s3");
        // Transient data applies to one invocation; the timestamp stays.
        let second = text(stub.invoke(&report, "f", &[]).unwrap());
        assert_eq!(second, "1700000000000|");
        assert!(stub.keys().is_empty());
    }

    #[test]
    fn the_last_event_of_a_committed_invocation_is_kept() {
        let mut stub = MockStub::new("ch1");
        let two_events = Script(|stub| {
            stub.set_event("first", b"1")?;
            stub.set_event("second", b"2")?;
            Ok(Vec::new())
        });
        stub.invoke(&two_events, "f", &[]).unwrap();
        stub.invoke(
            &Script(|stub| {
                stub.set_event("lost", b"x")?;
                Err(ChaincodeError::business("refused"))
            }),
            "f",
            &[],
        )
        .unwrap_err();
        stub.invoke(&Probe, "put", &["k", "v"]).unwrap();
        let err = stub
            .invoke(
                &Script(|stub| stub.set_event("", b"").map(|_| Vec::new())),
                "f",
                &[],
            )
            .unwrap_err();
        assert!(err.to_string().contains("event name"), "{err}");
        assert_eq!(
            stub.events(),
            &[super::MockEvent {
                tx_id: "mocktx-1".into(),
                name: "second".into(),
                payload: b"2".to_vec(),
            }]
        );
    }

    #[test]
    fn composite_keys_are_stored_and_malformed_ones_refused() {
        let mut stub = MockStub::new("ch1");
        let key = crate::create_composite_key("asset", &["blue", "1"]).unwrap();
        stub.invoke(&Probe, "put", &[&key, "v"]).unwrap();
        assert_eq!(stub.state(&key), Some(&b"v"[..]));
        let err = stub.invoke(&Probe, "put", &["\u{1}bare", "v"]).unwrap_err();
        assert!(err.to_string().contains("not a composite key"), "{err}");
    }

    #[test]
    fn unknown_function_is_reported() {
        let mut stub = MockStub::new("ch1");
        let err = stub.invoke(&Probe, "fly", &[]).unwrap_err();
        assert_eq!(err, ChaincodeError::UnknownFunction("fly".into()));
    }
}
