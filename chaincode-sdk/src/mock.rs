//! `MockStub`: an in-memory peer for unit-testing a chaincode, and the
//! chaincodes it calls.

mod tx;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::calls::{Invocation, Transaction};
use crate::query::KeyModification;
use crate::{Chaincode, ChaincodeError, Creator};
use tx::{MockWorld, Namespace, Registered};

/// The namespace of the chaincode passed to [`MockStub::invoke`]; no
/// registered chaincode can have this name.
const OWN: &str = "";

/// An in-memory stand-in for a peer running one chaincode on one channel,
/// plus any chaincodes it calls.
///
/// Each invocation runs against a transaction-local write buffer; when the
/// chaincode returns `Ok` the buffered writes and deletes are committed (and
/// recorded in each key's history) and its event is kept; when it returns
/// `Err` they are discarded. Queries and calls behave as on a peer: they
/// share the peer's implementation in [`crate::query`] and [`crate::calls`].
///
/// The chaincode passed to [`invoke`](MockStub::invoke) works on the stub's
/// own state ([`state`](MockStub::state)). Chaincodes registered with
/// [`register_chaincode`](MockStub::register_chaincode) can be called from
/// it through [`ChaincodeStub::invoke_chaincode`](crate::ChaincodeStub::invoke_chaincode),
/// as on a peer, each on its own namespace ([`state_of`](MockStub::state_of)).
#[derive(Debug, Clone)]
pub struct MockStub {
    /// The channel every invocation reports.
    channel_id: String,
    /// The identity every invocation reports.
    creator: Creator,
    /// Committed state and history by namespace; [`OWN`] is the invoked chaincode's.
    namespaces: BTreeMap<String, Namespace>,
    /// Chaincodes that can be called, by name.
    chaincodes: BTreeMap<String, Registered>,
    /// How many invocations have started.
    invocations: u64,
    /// A transaction id to use for the next invocation instead of a generated one.
    next_tx_id: Option<String>,
    /// The timestamp every invocation reports, ms since the Unix epoch.
    timestamp_ms: i64,
    /// Transient data for the next invocation only.
    next_transient: BTreeMap<String, Vec<u8>>,
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

/// The creator used until `set_creator` is called: `user1@org1`, client of
/// `Org1MSP`, as the network's generated identities are named (a chaincode
/// that names accounts `msp_id:subject` sees `Org1MSP:user1@org1`).
pub fn default_creator() -> Creator {
    Creator {
        msp_id: "Org1MSP".to_owned(),
        role: "client".to_owned(),
        subject: "user1@org1".to_owned(),
        cert_der: Vec::new(),
        attributes: BTreeMap::new(),
    }
}

impl MockStub {
    /// Creates an empty mock peer on `channel_id`, acting as client
    /// `user1@org1` of `Org1MSP` ([`default_creator`]).
    pub fn new(channel_id: &str) -> Self {
        Self {
            channel_id: channel_id.to_owned(),
            creator: default_creator(),
            namespaces: BTreeMap::new(),
            chaincodes: BTreeMap::new(),
            invocations: 0,
            next_tx_id: None,
            timestamp_ms: 0,
            next_transient: BTreeMap::new(),
            events: Vec::new(),
        }
    }

    /// Makes `cc` callable as `name`, with its own state namespace, as if
    /// it were defined on the channel; registering a name again replaces the
    /// chaincode and keeps its state. Names starting with `_` are system
    /// namespaces and cannot be called.
    pub fn register_chaincode(&mut self, name: &str, cc: impl Chaincode) {
        self.chaincodes
            .insert(name.to_owned(), Registered(Arc::new(cc)));
    }

    /// As [`register_chaincode`](MockStub::register_chaincode), for a
    /// chaincode already shared.
    pub fn register_chaincode_arc(&mut self, name: &str, cc: Arc<dyn Chaincode>) {
        self.chaincodes.insert(name.to_owned(), Registered(cc));
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
        self.run(OWN, cc, function, args)
    }

    /// Invokes `function` of the chaincode registered as `chaincode` directly
    /// (as a client would), on its namespace: e.g. to set up the state a
    /// caller needs. A name that is not registered is [`ChaincodeError::Call`].
    pub fn invoke_registered(
        &mut self,
        chaincode: &str,
        function: &str,
        args: &[&str],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let Some(Registered(cc)) = self.chaincodes.get(chaincode).cloned() else {
            return Err(ChaincodeError::Call {
                chaincode: chaincode.to_owned(),
                reason: "not registered on this mock stub".to_owned(),
            });
        };
        let args = args.iter().map(|arg| arg.as_bytes().to_vec()).collect();
        self.run(chaincode, cc.as_ref(), function, args)
    }

    /// Runs one transaction invoking `cc` on `namespace`.
    fn run(
        &mut self,
        namespace: &str,
        cc: &dyn Chaincode,
        function: &str,
        args: Vec<Vec<u8>>,
    ) -> Result<Vec<u8>, ChaincodeError> {
        self.invocations = self.invocations.saturating_add(1);
        let tx_id = self
            .next_tx_id
            .take()
            .unwrap_or_else(|| format!("mocktx-{}", self.invocations));
        let invocation = Invocation {
            function: function.to_owned(),
            args,
            tx_id: tx_id.clone(),
            channel_id: self.channel_id.clone(),
            creator: self.creator.clone(),
            timestamp_ms: self.timestamp_ms,
            transient: std::mem::take(&mut self.next_transient),
        };
        let world = MockWorld {
            namespaces: &self.namespaces,
            chaincodes: &self.chaincodes,
        };
        let mut tx = Transaction::new(world, namespace, invocation);
        let payload = cc.invoke(&mut tx)?;
        let finished = tx.finish();
        let (writes, event) = (finished.writes, finished.event);
        for ((namespace, key), change) in writes {
            let ns = self.namespaces.entry(namespace).or_default();
            ns.history
                .entry(key.clone())
                .or_default()
                .push(KeyModification {
                    tx_id: tx_id.clone(),
                    value: change.clone().unwrap_or_default(),
                    is_delete: change.is_none(),
                    timestamp_ms: self.timestamp_ms,
                });
            match change {
                Some(value) => ns.state.insert(key, value),
                None => ns.state.remove(&key),
            };
        }
        if let Some(event) = event {
            self.events.push(MockEvent {
                tx_id,
                name: event.name,
                payload: event.payload,
            });
        }
        Ok(payload)
    }

    /// The committed value of `key`, if any.
    pub fn state(&self, key: &str) -> Option<&[u8]> {
        self.state_of(OWN, key)
    }

    /// All committed keys, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.keys_of(OWN)
    }

    /// Every committed change of `key`, oldest first.
    pub fn history(&self, key: &str) -> &[KeyModification] {
        self.history_of(OWN, key)
    }

    /// The committed value of `key` in the namespace of the chaincode
    /// registered as `chaincode`, if any.
    pub fn state_of(&self, chaincode: &str, key: &str) -> Option<&[u8]> {
        self.namespaces
            .get(chaincode)
            .and_then(|ns| ns.state.get(key))
            .map(Vec::as_slice)
    }

    /// All committed keys of `chaincode`'s namespace, sorted.
    pub fn keys_of(&self, chaincode: &str) -> Vec<String> {
        self.namespaces
            .get(chaincode)
            .map(|ns| ns.state.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Every committed change of `key` in `chaincode`'s namespace, oldest first.
    pub fn history_of(&self, chaincode: &str, key: &str) -> &[KeyModification] {
        self.namespaces
            .get(chaincode)
            .and_then(|ns| ns.history.get(key))
            .map(Vec::as_slice)
            .unwrap_or_default()
    }

    /// The events of committed invocations, oldest first (at most one per
    /// invocation; an event set by a called chaincode is dropped, as on a peer).
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
                matches!(&err, ChaincodeError::BadRequest(m) if m.contains("must not be empty")),
                "{err}"
            );
            args[0] = "a\0b";
            let err = stub.invoke(&Probe, function, &args).unwrap_err();
            assert!(
                matches!(&err, ChaincodeError::BadRequest(m) if m.contains("0x00")),
                "{err}"
            );
        }
        assert!(stub.keys().is_empty());
    }

    #[test]
    fn reports_channel_creator_and_generated_tx_ids() {
        let mut stub = MockStub::new("trade");
        let first = text(stub.invoke(&Probe, "whoami", &[]).unwrap());
        assert_eq!(first, "trade|mocktx-1|Org1MSP|client|user1@org1|-");
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

    /// Pays with the token sample: `pay(from, to, amount)` calls
    /// `token.transfer` and records the balances it returns; `try_pay`
    /// records a failed payment instead of failing; `call(chaincode)` calls
    /// `chaincode.f`; `recurse` calls itself as `shop`.
    struct Shop;

    impl Chaincode for Shop {
        fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
            let function = stub.function().to_owned();
            let args = stub.string_args()?;
            match (function.as_str(), args.as_slice()) {
                ("pay" | "try_pay", [from, to, amount]) => {
                    stub.set_event("paid", amount.as_bytes())?;
                    stub.put_state("attempts", b"1")?;
                    let transfer: Vec<Vec<u8>> = ["GOLD", from, to, amount, "shop"]
                        .iter()
                        .map(|a| a.as_bytes().to_vec())
                        .collect();
                    match stub.invoke_chaincode("token", "transfer", &transfer) {
                        Ok(balances) => {
                            stub.put_state("last", &balances)?;
                            Ok(balances)
                        }
                        Err(e) if function == "try_pay" => {
                            stub.put_state("failed", e.to_string().as_bytes())?;
                            Ok(Vec::new())
                        }
                        Err(e) => Err(e),
                    }
                }
                ("call", [chaincode]) => stub.invoke_chaincode(chaincode, "f", &[]),
                ("recurse", []) => stub.invoke_chaincode("shop", "recurse", &[]),
                (other, _) => Err(ChaincodeError::UnknownFunction(other.to_owned())),
            }
        }
    }

    /// A stub with `token` registered, GOLD created and 100 issued to the caller (`Org1MSP:user1@org1`).
    fn with_token() -> MockStub {
        let mut stub = MockStub::new("ch1");
        stub.register_chaincode("token", crate::samples::token::Token);
        stub.invoke_registered("token", "create", &["GOLD", "1000"])
            .unwrap();
        stub.invoke_registered("token", "issue", &["GOLD", "Org1MSP:user1@org1", "100", ""])
            .unwrap();
        stub
    }

    #[test]
    fn a_called_chaincode_works_on_its_own_namespace() {
        let mut stub = with_token();
        let balances = stub
            .invoke(&Shop, "pay", &["Org1MSP:user1@org1", "bob", "30"])
            .unwrap();
        assert_eq!(text(balances), r#"{"from":70,"to":30}"#);
        assert_eq!(
            stub.state_of("token", "balance/GOLD/Org1MSP:user1@org1"),
            Some(&b"70"[..])
        );
        assert_eq!(stub.state_of("token", "balance/GOLD/bob"), Some(&b"30"[..]));
        assert_eq!(stub.keys(), ["attempts", "last"]);
        assert_eq!(stub.state("balance/GOLD/bob"), None);
        assert_eq!(
            stub.state_of("shop", "last"),
            None,
            "the caller's state is the stub's own"
        );
        assert_eq!(
            stub.keys_of("token"),
            [
                "balance/GOLD/Org1MSP:user1@org1",
                "balance/GOLD/bob",
                "token/GOLD"
            ]
        );
        let bob = stub.history_of("token", "balance/GOLD/bob");
        assert_eq!((bob.len(), bob[0].tx_id.as_str()), (1, "mocktx-3"));
        assert_eq!(stub.events().len(), 1);
        assert_eq!(stub.events()[0].name, "paid");
    }

    #[test]
    fn a_callee_error_fails_the_call_and_its_writes_are_discarded() {
        let mut stub = with_token();
        let err = stub
            .invoke(&Shop, "pay", &["Org1MSP:user1@org1", "bob", "500"])
            .unwrap_err();
        assert!(err.to_string().contains("insufficient balance"), "{err}");
        assert!(stub.keys().is_empty());
        assert_eq!(stub.events().len(), 0);

        // A callee that wrote before failing: the caller recovers, the
        // callee's writes are gone, the caller's stay.
        stub.register_chaincode(
            "writer",
            Script(|stub| {
                stub.put_state("w", b"lost")?;
                stub.set_event("callee", b"")?;
                Err(ChaincodeError::business("writer refused"))
            }),
        );
        stub.invoke(&Shop, "try_pay", &["Org1MSP:user1@org1", "bob", "500"])
            .unwrap();
        assert_eq!(
            stub.state("failed").map(<[u8]>::to_vec),
            Some(err.to_string().into_bytes())
        );
        let err = stub.invoke(&Shop, "call", &["writer"]).unwrap_err();
        assert_eq!(err, ChaincodeError::business("writer refused"));
        assert!(stub.keys_of("writer").is_empty());
        assert_eq!(
            stub.state_of("token", "balance/GOLD/Org1MSP:user1@org1"),
            Some(&b"100"[..])
        );
    }

    #[test]
    fn a_callee_event_is_dropped() {
        let mut stub = MockStub::new("ch1");
        stub.register_chaincode(
            "noisy",
            Script(|stub| {
                stub.set_event("callee", b"")?;
                stub.put_state("k", b"v")?;
                Ok(b"done".to_vec())
            }),
        );
        assert_eq!(
            text(stub.invoke(&Shop, "call", &["noisy"]).unwrap()),
            "done"
        );
        assert_eq!(stub.state_of("noisy", "k"), Some(&b"v"[..]));
        assert!(stub.events().is_empty());
    }

    #[test]
    fn undefined_system_and_too_deep_calls_are_refused() {
        let mut stub = MockStub::new("ch1");
        stub.register_chaincode("shop", Shop);
        let call_error = |chaincode: &str, reason: &str| ChaincodeError::Call {
            chaincode: chaincode.into(),
            reason: reason.into(),
        };
        assert_eq!(
            stub.invoke(&Shop, "call", &["nope"]).unwrap_err(),
            call_error("nope", "not defined on the channel")
        );
        assert_eq!(
            stub.invoke(&Shop, "call", &[""]).unwrap_err(),
            call_error("", "not defined on the channel")
        );
        assert_eq!(
            stub.invoke(&Shop, "call", &["_lifecycle"]).unwrap_err(),
            call_error("_lifecycle", "system namespaces cannot be called")
        );
        assert_eq!(
            stub.invoke(&Shop, "recurse", &[]).unwrap_err(),
            call_error("shop", "chaincode calls nest deeper than 8")
        );
        assert_eq!(
            stub.invoke_registered("nope", "f", &[]).unwrap_err(),
            call_error("nope", "not registered on this mock stub")
        );
    }

    /// The shared call table, on a fresh mock stub per case.
    struct MockNetwork(MockStub);

    impl crate::calls::conformance::Network for MockNetwork {
        fn submit(
            &mut self,
            chaincode: &str,
            steps: &[Vec<u8>],
        ) -> Result<(Vec<u8>, Option<crate::calls::Event>), ChaincodeError> {
            let events = self.0.events().len();
            let steps: Vec<String> = steps
                .iter()
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect();
            let steps: Vec<&str> = steps.iter().map(String::as_str).collect();
            let payload = self.0.invoke_registered(chaincode, "run", &steps)?;
            let event = self.0.events().get(events).map(|e| crate::calls::Event {
                chaincode: chaincode.to_owned(),
                name: e.name.clone(),
                payload: e.payload.clone(),
            });
            Ok((payload, event))
        }

        fn state(&mut self, chaincode: &str, key: &str) -> Option<Vec<u8>> {
            self.0.state_of(chaincode, key).map(<[u8]>::to_vec)
        }
    }

    #[test]
    fn calls_pass_the_conformance_table() {
        crate::calls::conformance::check(&mut || {
            let mut stub = MockStub::new("ch1");
            for (name, cc) in crate::calls::conformance::chaincodes() {
                stub.register_chaincode_arc(name, cc);
            }
            MockNetwork(stub)
        });
    }

    #[test]
    fn json_values_round_trip_and_a_foreign_value_names_its_key() {
        use crate::JsonState;
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Lot {
            step: String,
            count: u32,
        }
        let mut stub = MockStub::new("ch1");
        stub.invoke(
            &Script(|stub| {
                stub.put_json(
                    "lot/1",
                    &Lot {
                        step: "harvested".into(),
                        count: 3,
                    },
                )?;
                stub.put_state("lot/2", b"not json")?;
                let lot: Option<Lot> = stub.get_json("lot/1")?;
                assert_eq!(lot.map(|l| l.count), Some(3), "own write, decoded");
                let none: Option<Lot> = stub.get_json("lot/3")?;
                assert!(none.is_none());
                Ok(Vec::new())
            }),
            "write",
            &[],
        )
        .unwrap();
        assert_eq!(
            stub.state("lot/1"),
            Some(&br#"{"step":"harvested","count":3}"#[..])
        );
        let err = stub
            .invoke(
                &Script(|stub| stub.get_json::<Lot>("lot/2").map(|_| Vec::new())),
                "read",
                &[],
            )
            .unwrap_err();
        assert!(
            matches!(&err, ChaincodeError::Business(m) if m.contains("\"lot/2\"")),
            "{err}"
        );
        let err = stub
            .invoke(
                &Script(|stub| stub.put_json("", &1).map(|()| Vec::new())),
                "write",
                &[],
            )
            .unwrap_err();
        assert!(matches!(err, ChaincodeError::BadRequest(_)), "{err}");
    }

    #[test]
    fn the_default_creator_is_named_as_on_a_network() {
        let mut stub = MockStub::new("ch1");
        // The token sample names the caller's account `msp_id:subject`, as
        // a peer names the generated client `user1@org1` of Org1MSP.
        let account = stub
            .invoke(&crate::samples::token::Token, "account", &[])
            .unwrap();
        assert_eq!(text(account), r#""Org1MSP:user1@org1""#);
    }
}
