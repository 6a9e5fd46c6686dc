//! The transaction simulator: the stub a chaincode runs against on a peer.
//! It reads committed state, records every key read with the version seen,
//! and buffers writes; nothing touches the ledger until the transaction is
//! ordered and validated.

use crate::ledger::{Ledger, LedgerError};
use chaincode_sdk::{ChaincodeError, ChaincodeStub, Creator};
use consort_proto::{KvRead, KvWrite, TxRwSet, Version};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A chaincode's view of one proposal.
pub struct Simulator {
    ledger: Arc<Ledger>,
    namespace: String,
    function: String,
    args: Vec<Vec<u8>>,
    tx_id: String,
    channel_id: String,
    creator: Creator,
    reads: BTreeMap<String, Option<Version>>,
    writes: BTreeMap<String, Option<Vec<u8>>>,
}

/// What the simulator needs to start.
#[derive(Debug, Clone)]
pub struct SimulationInput {
    /// The chaincode (its state namespace).
    pub namespace: String,
    /// Function name.
    pub function: String,
    /// Arguments.
    pub args: Vec<Vec<u8>>,
    /// Transaction ID.
    pub tx_id: String,
    /// Channel.
    pub channel_id: String,
    /// Who proposed.
    pub creator: Creator,
}

fn check_key(key: &str) -> Result<(), ChaincodeError> {
    if key.is_empty() {
        return Err(ChaincodeError::State("empty key".into()));
    }
    if key.contains('\0') {
        return Err(ChaincodeError::State(format!(
            "key {key:?} contains a NUL byte"
        )));
    }
    Ok(())
}

fn state_err(e: LedgerError) -> ChaincodeError {
    ChaincodeError::State(e.to_string())
}

impl Simulator {
    /// A simulator over the ledger's current state.
    pub fn new(ledger: Arc<Ledger>, input: SimulationInput) -> Self {
        Simulator {
            ledger,
            namespace: input.namespace,
            function: input.function,
            args: input.args,
            tx_id: input.tx_id,
            channel_id: input.channel_id,
            creator: input.creator,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
        }
    }

    /// The recorded reads and writes, sorted by key.
    pub fn into_rwset(self) -> TxRwSet {
        TxRwSet {
            namespace: self.namespace,
            reads: self
                .reads
                .into_iter()
                .map(|(key, version)| KvRead { key, version })
                .collect(),
            writes: self
                .writes
                .into_iter()
                .map(|(key, value)| KvWrite {
                    key,
                    is_delete: value.is_none(),
                    value: value.unwrap_or_default(),
                })
                .collect(),
            range_queries: vec![],
        }
    }
}

impl ChaincodeStub for Simulator {
    fn function(&self) -> &str {
        &self.function
    }
    fn args(&self) -> &[Vec<u8>] {
        &self.args
    }
    fn tx_id(&self) -> &str {
        &self.tx_id
    }
    fn channel_id(&self) -> &str {
        &self.channel_id
    }
    fn creator(&self) -> &Creator {
        &self.creator
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        if let Some(w) = self.writes.get(key) {
            return Ok(w.clone());
        }
        let current = self
            .ledger
            .get_state(&self.namespace, key)
            .map_err(state_err)?;
        self.reads
            .entry(key.to_string())
            .or_insert_with(|| current.as_ref().map(|v| v.version));
        Ok(current.map(|v| v.value))
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError> {
        check_key(key)?;
        self.writes.insert(key.to_string(), Some(value.to_vec()));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        check_key(key)?;
        self.writes.insert(key.to_string(), None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{BlockUpdate, StateWrite};
    use crate::testkit::{temp_ledger, version};
    use consort_proto::CommittedBlock;

    fn simulator(ledger: &Arc<Ledger>) -> Simulator {
        Simulator::new(
            ledger.clone(),
            SimulationInput {
                namespace: "token".into(),
                function: "f".into(),
                args: vec![b"x".to_vec()],
                tx_id: "tx1".into(),
                channel_id: "ch".into(),
                creator: Creator {
                    msp_id: "Org1MSP".into(),
                    role: "client".into(),
                    subject: "user1".into(),
                    cert_der: vec![],
                },
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
        let rw = sim.into_rwset();
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
            reads(&sim.into_rwset()),
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

        let rw = sim.into_rwset();
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
        let rw = sim.into_rwset();
        let read_keys: Vec<&str> = rw.reads.iter().map(|r| r.key.as_str()).collect();
        let write_keys: Vec<&str> = rw.writes.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(read_keys, vec!["m", "y", "z"]);
        assert_eq!(write_keys, vec!["a", "b", "c"]);
    }

    #[test]
    fn empty_and_nul_keys_are_refused() {
        let (_d, ledger) = temp_ledger();
        let mut sim = simulator(&ledger);
        for key in ["", "a\0b", "\0"] {
            assert!(
                matches!(sim.put_state(key, b"v"), Err(ChaincodeError::State(_))),
                "put {key:?}"
            );
            assert!(
                matches!(sim.del_state(key), Err(ChaincodeError::State(_))),
                "del {key:?}"
            );
        }
        let rw = sim.into_rwset();
        assert!(rw.writes.is_empty() && rw.reads.is_empty());
    }
}
