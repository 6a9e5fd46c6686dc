//! The transaction simulator: the stub a chaincode runs against on a peer.
//! The call rules (frames, write layers, depth, system namespaces, the
//! invoked chaincode's event) are the SDK's [`chaincode_sdk::calls`], the
//! same code `MockStub` runs; this module is the peer's [`World`] under
//! them. It reads committed state, records every key read with the version
//! seen and every range scanned with the keys and versions it returned
//! ([`Recording`]); nothing touches the ledger until the transaction is
//! ordered and validated. Range and composite-key queries run the SDK's
//! shared [`Query`] over the ledger, as `MockStub` runs it over a map.
//!
//! A chaincode may call another
//! ([`chaincode_sdk::ChaincodeStub::invoke_chaincode`]): the
//! callee runs on the same simulator, in the same transaction, against its
//! own namespace, and what it reads and writes is recorded under that
//! namespace.

use super::callees::Callees;
use super::recording::Recording;
use crate::ledger::{Ledger, LedgerError};
use chaincode_sdk::calls::{Finished, Transaction, World};
use chaincode_sdk::query::{KeyValue, Query, QueryOutcome, SortedSource};
use chaincode_sdk::{Chaincode, ChaincodeError, KeyModification};
use consort_proto::{ChaincodeEvent, KvRead, RangeQueryInfo, TxReadWriteSet, Version};
use std::collections::HashMap;
use std::sync::Arc;

pub use chaincode_sdk::calls::Invocation;

/// A chaincode's view of one proposal: the SDK's [`Transaction`] over the
/// peer's ledger. Build it with `Simulator::new(PeerState::new(ledger),
/// namespace, invocation)`; [`SimulationResults::from`] ends it.
pub type Simulator = Transaction<PeerState>;

/// The peer under a [`Simulator`]: the ledger, the chaincodes a transaction
/// may call, and what the transaction read.
pub struct PeerState {
    ledger: Arc<Ledger>,
    callees: Arc<Callees>,
    recording: Recording,
}

impl PeerState {
    /// The ledger's current state, with no chaincode to call.
    pub fn new(ledger: Arc<Ledger>) -> Self {
        PeerState {
            ledger,
            callees: Arc::new(Callees::default()),
            recording: Recording::default(),
        }
    }

    /// The chaincodes this transaction may call.
    pub fn with_callees(mut self, callees: Arc<Callees>) -> Self {
        self.callees = callees;
        self
    }
}

/// What a simulation produced for the endorser to sign.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulationResults {
    /// Reads, range scans and writes, per namespace.
    pub rwset: TxReadWriteSet,
    /// The event the invoked chaincode set last, if any.
    pub event: Option<ChaincodeEvent>,
}

impl From<Simulator> for SimulationResults {
    /// The recorded read/write set (namespaces sorted by name, reads and
    /// writes sorted by key, range scans in the order made; the invoked
    /// chaincode's and every called chaincode's namespace present) and the
    /// invoked chaincode's event.
    fn from(sim: Simulator) -> Self {
        let Finished {
            world,
            namespace,
            writes,
            event,
            called,
        } = sim.finish();
        let mut recording = world.recording;
        recording.touch(&namespace);
        for callee in &called {
            recording.touch(callee);
        }
        SimulationResults {
            rwset: recording.into_rwset(writes),
            event: event.map(|e| ChaincodeEvent {
                chaincode: e.chaincode,
                name: e.name,
                payload: e.payload,
            }),
        }
    }
}

/// One namespace of the ledger as the shared query code reads it,
/// remembering the version of every entry it returns.
struct LedgerSource<'a> {
    ledger: &'a Ledger,
    namespace: &'a str,
    versions: HashMap<String, Version>,
}

impl SortedSource for LedgerSource<'_> {
    fn scan(
        &mut self,
        start: &str,
        end: &str,
        limit: usize,
    ) -> Result<Vec<KeyValue>, ChaincodeError> {
        let rows = self
            .ledger
            .range(self.namespace, start, end, limit)
            .map_err(state_err)?;
        Ok(rows
            .into_iter()
            .map(|(key, value)| {
                self.versions.insert(key.clone(), value.version);
                KeyValue {
                    key,
                    value: value.value,
                }
            })
            .collect())
    }
}

fn state_err(e: LedgerError) -> ChaincodeError {
    ChaincodeError::State(e.to_string())
}

impl World for PeerState {
    fn get_state(&mut self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        let current = self.ledger.get_state(namespace, key).map_err(state_err)?;
        self.recording
            .read(namespace, key, current.as_ref().map(|v| v.version));
        Ok(current.map(|v| v.value))
    }

    fn query(&mut self, namespace: &str, query: &Query) -> Result<QueryOutcome, ChaincodeError> {
        let mut source = LedgerSource {
            ledger: &self.ledger,
            namespace,
            versions: HashMap::new(),
        };
        let outcome = query.run(&mut source)?;
        let reads = outcome
            .entries
            .iter()
            .map(|entry| KvRead {
                key: entry.key.clone(),
                version: source.versions.get(&entry.key).copied(),
            })
            .collect();
        self.recording.range(
            namespace,
            RangeQueryInfo {
                start_key: outcome.scanned.start_key.clone(),
                end_key: outcome.scanned.end_key.clone(),
                itr_exhausted: outcome.scanned.exhausted,
                reads,
            },
        );
        Ok(outcome)
    }

    fn history(
        &mut self,
        namespace: &str,
        key: &str,
    ) -> Result<Vec<KeyModification>, ChaincodeError> {
        let history = self.ledger.history(namespace, key).map_err(state_err)?;
        Ok(history
            .into_iter()
            .map(|(_, record)| KeyModification {
                tx_id: record.tx_id,
                value: record.value,
                is_delete: record.is_delete,
                timestamp_ms: record.timestamp_ms,
            })
            .collect())
    }

    fn callee(&self, chaincode: &str) -> Result<Arc<dyn Chaincode>, String> {
        let resolved = self.callees.resolve(chaincode);
        if let Err(reason) = &resolved {
            tracing::debug!(callee = chaincode, %reason, "chaincode call refused");
        }
        resolved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{BlockUpdate, StateWrite};
    use crate::testkit::{temp_ledger, version};
    use chaincode_sdk::{ChaincodeStub, Creator};
    use consort_proto::{CommittedBlock, TxRwSet};

    fn simulator(ledger: &Arc<Ledger>) -> Simulator {
        Simulator::new(
            PeerState::new(ledger.clone()),
            "token",
            Invocation {
                function: "f".into(),
                args: vec![b"x".to_vec()],
                tx_id: "tx1".into(),
                channel_id: "ch".into(),
                creator: Creator {
                    msp_id: "Org1MSP".into(),
                    role: "client".into(),
                    subject: "user1".into(),
                    cert_der: vec![],
                    attributes: Default::default(),
                },
                timestamp_ms: 1_700_000_000_000,
                transient: [("secret".to_string(), b"s3".to_vec())].into(),
            },
        )
    }

    /// Commits the next block writing `(namespace, key, value)` as transaction 0, 1, ...
    fn seed(ledger: &Ledger, writes: &[(&str, &str, &str)]) {
        let number = ledger.height();
        ledger
            .commit(&BlockUpdate {
                block: CommittedBlock::default(),
                number,
                hash: [number as u8; 32],
                timestamp_ms: 0,
                writes: writes
                    .iter()
                    .enumerate()
                    .map(|(i, (ns, k, v))| StateWrite {
                        namespace: ns.to_string(),
                        key: k.to_string(),
                        value: Some(v.as_bytes().to_vec()),
                        tx_num: i as u64,
                        tx_id: format!("seed{number}-{i}"),
                    })
                    .collect(),
                txs: vec![],
            })
            .unwrap();
    }

    /// The only namespace of a transaction that ran "token" alone.
    fn token_rw(rw: TxReadWriteSet) -> TxRwSet {
        assert_eq!(rw.ns_rwsets.len(), 1, "{rw:?}");
        let ns = rw.ns_rwsets.into_iter().next().unwrap();
        assert_eq!(ns.namespace, "token");
        ns
    }

    fn reads(rw: &TxRwSet) -> Vec<(&str, Option<Version>)> {
        rw.reads
            .iter()
            .map(|r| (r.key.as_str(), r.version))
            .collect()
    }

    fn writes(rw: &TxRwSet) -> Vec<(&str, Option<&[u8]>)> {
        rw.writes
            .iter()
            .map(|w| (w.key.as_str(), (!w.is_delete).then_some(w.value.as_slice())))
            .collect()
    }

    #[test]
    fn reads_are_recorded_with_the_version_seen() {
        let (_d, ledger) = temp_ledger();
        seed(
            &ledger,
            &[
                ("token", "a", "1"),
                ("token", "b", "2"),
                ("other", "c", "x"),
            ],
        );
        let mut sim = simulator(&ledger);
        assert_eq!(sim.function(), "f");
        assert_eq!(sim.args(), &[b"x".to_vec()]);
        assert_eq!((sim.tx_id(), sim.channel_id()), ("tx1", "ch"));
        assert_eq!(sim.creator().msp_id, "Org1MSP");

        assert_eq!(sim.get_state("b").unwrap(), Some(b"2".to_vec()));
        assert_eq!(sim.get_state("missing").unwrap(), None);
        assert_eq!(sim.get_state("a").unwrap(), Some(b"1".to_vec()));
        // Another namespace's key is not visible.
        assert_eq!(sim.get_state("c").unwrap(), None);
        let rw = token_rw(SimulationResults::from(sim).rwset);
        assert_eq!(rw.namespace, "token");
        assert_eq!(
            reads(&rw),
            vec![
                ("a", Some(version(0, 0))),
                ("b", Some(version(0, 1))),
                ("c", None),
                ("missing", None),
            ]
        );
        assert!(rw.writes.is_empty());
    }

    #[test]
    fn the_first_read_of_a_key_wins() {
        let (_d, ledger) = temp_ledger();
        seed(&ledger, &[("token", "a", "1")]);
        let mut sim = simulator(&ledger);
        assert_eq!(sim.get_state("a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(sim.get_state("new").unwrap(), None);
        // A block commits between two reads of the same keys.
        seed(&ledger, &[("token", "a", "2"), ("token", "new", "3")]);
        sim.get_state("a").unwrap();
        sim.get_state("new").unwrap();
        assert_eq!(
            reads(&token_rw(SimulationResults::from(sim).rwset)),
            vec![("a", Some(version(0, 0))), ("new", None)]
        );
    }

    #[test]
    fn reads_see_own_writes_and_deletes() {
        let (_d, ledger) = temp_ledger();
        seed(
            &ledger,
            &[
                ("token", "a", "1"),
                ("token", "b", "2"),
                ("token", "d", "4"),
            ],
        );
        let mut sim = simulator(&ledger);
        // Written before any read: served from the buffer, no read recorded.
        sim.put_state("a", b"new").unwrap();
        assert_eq!(sim.get_state("a").unwrap(), Some(b"new".to_vec()));
        // Read, then written: the read keeps the committed version.
        assert_eq!(sim.get_state("b").unwrap(), Some(b"2".to_vec()));
        sim.put_state("b", b"22").unwrap();
        assert_eq!(sim.get_state("b").unwrap(), Some(b"22".to_vec()));
        // Deleting a committed key hides it.
        sim.del_state("d").unwrap();
        assert_eq!(sim.get_state("d").unwrap(), None);
        // Put then delete is a delete; delete then put is a put.
        sim.put_state("x", b"x").unwrap();
        sim.del_state("x").unwrap();
        assert_eq!(sim.get_state("x").unwrap(), None);
        sim.del_state("y").unwrap();
        sim.put_state("y", b"y").unwrap();
        assert_eq!(sim.get_state("y").unwrap(), Some(b"y".to_vec()));
        // Nothing reached the ledger.
        assert_eq!(ledger.get_state("token", "a").unwrap().unwrap().value, b"1");
        assert!(ledger.get_state("token", "d").unwrap().is_some());

        let rw = token_rw(SimulationResults::from(sim).rwset);
        assert_eq!(reads(&rw), vec![("b", Some(version(0, 1)))]);
        assert_eq!(
            writes(&rw),
            vec![
                ("a", Some(&b"new"[..])),
                ("b", Some(&b"22"[..])),
                ("d", None),
                ("x", None),
                ("y", Some(&b"y"[..])),
            ]
        );
        let deleted = rw.writes.iter().find(|w| w.key == "d").unwrap();
        assert!(deleted.value.is_empty());
    }

    #[test]
    fn the_rwset_is_sorted_by_key() {
        let (_d, ledger) = temp_ledger();
        let mut sim = simulator(&ledger);
        for k in ["c", "a", "b"] {
            sim.put_state(k, k.as_bytes()).unwrap();
        }
        for k in ["z", "m", "y"] {
            sim.get_state(k).unwrap();
        }
        let rw = token_rw(SimulationResults::from(sim).rwset);
        let read_keys: Vec<&str> = rw.reads.iter().map(|r| r.key.as_str()).collect();
        let write_keys: Vec<&str> = rw.writes.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(read_keys, vec!["m", "y", "z"]);
        assert_eq!(write_keys, vec!["a", "b", "c"]);
    }

    /// Commits the next block with `writes` as `(key, value)` of namespace
    /// "token" (`None` deletes), all by transaction 0.
    fn commit_token(ledger: &Ledger, writes: &[(String, Option<Vec<u8>>)]) {
        let number = ledger.height();
        ledger
            .commit(&BlockUpdate {
                block: CommittedBlock::default(),
                number,
                hash: [number as u8; 32],
                timestamp_ms: 1_000 * number as i64,
                writes: writes
                    .iter()
                    .map(|(k, v)| StateWrite {
                        namespace: "token".into(),
                        key: k.clone(),
                        value: v.clone(),
                        tx_num: 0,
                        tx_id: format!("block{number}"),
                    })
                    .collect(),
                txs: vec![],
            })
            .unwrap();
    }

    #[test]
    fn queries_pass_the_conformance_table() {
        let (_d, ledger) = temp_ledger();
        let seed: Vec<(String, Option<Vec<u8>>)> = chaincode_sdk::query::conformance::seed()
            .into_iter()
            .map(|(k, v)| (k, Some(v)))
            .collect();
        commit_token(&ledger, &seed);
        // The same keys in neighbouring namespaces stay out of every result.
        for ns in ["tok", "token2", "a"] {
            seed_ns(&ledger, ns);
        }
        let mut sim = simulator(&ledger);
        chaincode_sdk::query::conformance::check_stub(&mut sim);
    }

    /// Commits a block writing "a", "b" and "zz" into another namespace.
    fn seed_ns(ledger: &Ledger, ns: &str) {
        seed(
            ledger,
            &[(ns, "a", "other"), (ns, "b", "other"), (ns, "zz", "other")],
        );
    }

    fn range_reads(info: &RangeQueryInfo) -> Vec<(&str, Option<Version>)> {
        info.reads
            .iter()
            .map(|r| (r.key.as_str(), r.version))
            .collect()
    }

    #[test]
    fn range_scans_are_recorded_with_keys_and_versions() {
        let (_d, ledger) = temp_ledger();
        seed(
            &ledger,
            &[
                ("token", "a", "1"),
                ("token", "b", "2"),
                ("token", "c", "3"),
            ],
        );
        seed(&ledger, &[("token", "b", "22"), ("token", "d", "4")]);
        let mut sim = simulator(&ledger);
        sim.put_state("bb", b"own").unwrap();
        let all = sim.get_state_by_range("", "").unwrap();
        assert_eq!(all.len(), 4);
        let (page, meta) = sim
            .get_state_by_range_with_pagination("b", "", 2, "")
            .unwrap();
        assert_eq!(page.len(), 2);
        let (last, last_meta) = sim
            .get_state_by_range_with_pagination("b", "", 2, &meta.bookmark)
            .unwrap();
        assert_eq!((last.len(), last_meta.bookmark.as_str()), (1, ""));
        let rw = token_rw(SimulationResults::from(sim).rwset);
        assert!(rw.reads.is_empty(), "range results are not point reads");
        assert_eq!(rw.range_queries.len(), 3);
        let (full, first, second) = (
            &rw.range_queries[0],
            &rw.range_queries[1],
            &rw.range_queries[2],
        );
        assert_eq!(
            (
                full.start_key.as_str(),
                full.end_key.as_str(),
                full.itr_exhausted
            ),
            ("\u{2}", "", true)
        );
        assert_eq!(
            range_reads(full),
            vec![
                ("a", Some(version(0, 0))),
                ("b", Some(version(1, 0))),
                ("c", Some(version(0, 2))),
                ("d", Some(version(1, 1))),
            ]
        );
        // A page that did not reach the end covers up to its last key only.
        assert_eq!(
            (first.start_key.as_str(), first.itr_exhausted),
            ("b", false)
        );
        assert_eq!(
            range_reads(first),
            vec![("b", Some(version(1, 0))), ("c", Some(version(0, 2)))]
        );
        assert_eq!(
            (second.start_key.as_str(), second.itr_exhausted),
            ("d", true)
        );
        assert_eq!(range_reads(second), vec![("d", Some(version(1, 1)))]);
    }

    #[test]
    fn a_recorded_page_is_rechecked_against_the_ledger() {
        use crate::validation::{validate_block, CheckedTx};
        use consort_proto::TxValidationCode as Code;
        let (_d, ledger) = temp_ledger();
        seed(
            &ledger,
            &[
                ("token", "a", "1"),
                ("token", "c", "3"),
                ("token", "e", "5"),
            ],
        );
        let mut sim = simulator(&ledger);
        sim.get_state_by_range_with_pagination("", "", 2, "")
            .unwrap();
        let rwset = SimulationResults::from(sim).rwset;
        let code = |ledger: &Ledger| {
            let tx = CheckedTx {
                tx_id: "scan".into(),
                rwset: rwset.clone(),
            };
            validate_block(ledger, vec![Ok(tx)]).unwrap().codes
        };
        assert_eq!(code(&ledger), vec![Code::Valid]);
        // Beyond the page (after "c"): still valid.
        commit_token(&ledger, &[("d".into(), Some(b"4".to_vec()))]);
        assert_eq!(code(&ledger), vec![Code::Valid]);
        // Inside the page: a phantom.
        commit_token(&ledger, &[("b".into(), Some(b"2".to_vec()))]);
        assert_eq!(code(&ledger), vec![Code::PhantomReadConflict]);
    }

    #[test]
    fn history_timestamp_transient_and_event() {
        let (_d, ledger) = temp_ledger();
        commit_token(&ledger, &[("k".into(), Some(b"1".to_vec()))]);
        commit_token(&ledger, &[("k".into(), Some(b"2".to_vec()))]);
        commit_token(&ledger, &[("k".into(), None)]);
        let mut sim = simulator(&ledger);
        sim.put_state("k", b"pending").unwrap();
        let history: Vec<(String, Vec<u8>, bool, i64)> = sim
            .get_history_for_key("k")
            .unwrap()
            .into_iter()
            .map(|m| (m.tx_id, m.value, m.is_delete, m.timestamp_ms))
            .collect();
        assert_eq!(
            history,
            vec![
                ("block0".into(), b"1".to_vec(), false, 0),
                ("block1".into(), b"2".to_vec(), false, 1_000),
                ("block2".into(), vec![], true, 2_000),
            ]
        );
        assert!(sim.get_history_for_key("never").unwrap().is_empty());
        assert!(sim.get_history_for_key("").is_err());
        assert_eq!(sim.tx_timestamp_ms(), 1_700_000_000_000);
        assert_eq!(sim.transient().get("secret"), Some(&b"s3".to_vec()));
        assert!(sim.set_event("", b"x").is_err());
        sim.set_event("first", b"1").unwrap();
        sim.set_event("second", b"2").unwrap();
        let results = SimulationResults::from(sim);
        assert_eq!(
            results.event,
            Some(ChaincodeEvent {
                chaincode: "token".into(),
                name: "second".into(),
                payload: b"2".to_vec(),
            })
        );
        let rw = token_rw(results.rwset);
        assert!(rw.reads.is_empty() && rw.range_queries.is_empty());
    }

    #[test]
    fn empty_and_nul_keys_are_refused() {
        let (_d, ledger) = temp_ledger();
        let mut sim = simulator(&ledger);
        for key in ["", "a\0b", "\0"] {
            assert!(
                matches!(sim.put_state(key, b"v"), Err(ChaincodeError::BadRequest(_))),
                "put {key:?}"
            );
            assert!(
                matches!(sim.del_state(key), Err(ChaincodeError::BadRequest(_))),
                "del {key:?}"
            );
        }
        let rw = token_rw(SimulationResults::from(sim).rwset);
        assert!(rw.writes.is_empty() && rw.reads.is_empty());
    }

    /// The shared call table on a fresh ledger per case, with the table's
    /// chaincode defined and installed as `a`, `b` and `c`.
    struct PeerNetwork {
        _dir: tempfile::TempDir,
        ledger: Arc<Ledger>,
        callees: Arc<Callees>,
    }

    impl PeerNetwork {
        fn new() -> Self {
            use chaincode_sdk::calls::conformance;
            let (dir, ledger) = temp_ledger();
            let mut registry = crate::chaincode_host::ChaincodeRegistry::default();
            for (name, cc) in conformance::chaincodes() {
                registry.register(name, cc);
            }
            let defined = conformance::CHAINCODES.map(str::to_owned);
            PeerNetwork {
                _dir: dir,
                ledger,
                callees: Arc::new(Callees::new(defined, registry)),
            }
        }
    }

    impl chaincode_sdk::calls::conformance::Network for PeerNetwork {
        fn submit(
            &mut self,
            chaincode: &str,
            steps: &[Vec<u8>],
        ) -> Result<(Vec<u8>, Option<chaincode_sdk::calls::Event>), ChaincodeError> {
            let number = self.ledger.height();
            let tx_id = format!("tx{number}");
            let mut sim = Simulator::new(
                PeerState::new(self.ledger.clone()).with_callees(self.callees.clone()),
                chaincode,
                Invocation {
                    function: "run".into(),
                    args: steps.to_vec(),
                    tx_id: tx_id.clone(),
                    channel_id: "ch".into(),
                    creator: Creator::default(),
                    timestamp_ms: 1_700_000_000_000,
                    transient: [("secret".to_owned(), b"s".to_vec())].into(),
                },
            );
            let cc = self
                .callees
                .resolve(chaincode)
                .unwrap_or_else(|reason| panic!("{chaincode}: {reason}"));
            let result = cc.invoke(&mut sim);
            let results = SimulationResults::from(sim);
            let payload = result?;
            let writes = results
                .rwset
                .ns_rwsets
                .iter()
                .flat_map(|ns| {
                    ns.writes.iter().map(|w| StateWrite {
                        namespace: ns.namespace.clone(),
                        key: w.key.clone(),
                        value: (!w.is_delete).then(|| w.value.clone()),
                        tx_num: 0,
                        tx_id: tx_id.clone(),
                    })
                })
                .collect();
            self.ledger
                .commit(&BlockUpdate {
                    block: CommittedBlock::default(),
                    number,
                    hash: [number as u8; 32],
                    timestamp_ms: 0,
                    writes,
                    txs: vec![],
                })
                .unwrap();
            let event = results.event.map(|e| chaincode_sdk::calls::Event {
                chaincode: e.chaincode,
                name: e.name,
                payload: e.payload,
            });
            Ok((payload, event))
        }

        fn state(&mut self, chaincode: &str, key: &str) -> Option<Vec<u8>> {
            self.ledger
                .get_state(chaincode, key)
                .unwrap()
                .map(|v| v.value)
        }
    }

    #[test]
    fn calls_pass_the_conformance_table() {
        chaincode_sdk::calls::conformance::check(&mut PeerNetwork::new);
    }
}
