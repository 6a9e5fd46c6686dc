//! The chaincode definitions in force and the validation rules they give.
//!
//! [`DefinitionSet`] is one immutable snapshot: the genesis block's
//! definitions, overridden by every `definition/<name>` committed in
//! `_lifecycle`, with the endorsement policy of each (and the lifecycle
//! policy under `_lifecycle`) in its [`ChannelRules`]. [`Definitions`] is
//! the shared view: the committer, its only writer, moves it forward with
//! the writes of each block it commits, after the block is validated, so
//! block N is validated against the definitions as of block N-1, while the
//! endorser and the gateway read the latest snapshot.

use super::definition::{self, parse_key, LifecycleKey};
use super::{key_policy, NAMESPACE};
use crate::ledger::{Ledger, LedgerError, StateWrite};
use crate::policy::Policy;
use crate::validation::ChannelRules;
use consort_proto::ChaincodeDefinition;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// The definitions in force at one height.
#[derive(Debug, Clone)]
pub struct DefinitionSet {
    rules: ChannelRules,
    definitions: BTreeMap<String, ChaincodeDefinition>,
}

impl DefinitionSet {
    /// The set in force at block 0: `rules` (the genesis policies) and the
    /// genesis definitions, which are sequence 1 (a sequence of 0 counts as
    /// 1). Adds the lifecycle policy, a majority of the member orgs' peers,
    /// under `_lifecycle` unless `rules` has one.
    pub fn new(mut rules: ChannelRules, genesis: &[ChaincodeDefinition]) -> Self {
        rules
            .policies
            .entry(NAMESPACE.to_string())
            .or_insert_with(|| Arc::new(key_policy::majority(&rules.msp.msp_ids())));
        let definitions = genesis
            .iter()
            .map(|d| {
                let mut d = d.clone();
                d.sequence = d.sequence.max(1);
                (d.name.clone(), d)
            })
            .collect();
        DefinitionSet { rules, definitions }
    }

    /// The validation rules: every defined chaincode's policy, and the
    /// lifecycle policy under `_lifecycle`.
    pub fn rules(&self) -> &ChannelRules {
        &self.rules
    }

    /// The lifecycle policy.
    pub fn lifecycle_policy(&self) -> Arc<Policy> {
        self.rules
            .policies
            .get(NAMESPACE)
            .cloned()
            .unwrap_or_else(|| Arc::new(key_policy::majority(&self.rules.msp.msp_ids())))
    }

    /// The definition of `name` in force, if any.
    pub fn definition(&self, name: &str) -> Option<&ChaincodeDefinition> {
        self.definitions.get(name)
    }

    /// Every definition in force, by name.
    pub fn definitions(&self) -> &BTreeMap<String, ChaincodeDefinition> {
        &self.definitions
    }

    /// Applies the committed (valid) writes of one block; returns whether a
    /// definition changed. A stored definition that does not decode or whose
    /// policy does not parse cannot come from the lifecycle chaincode; it is
    /// logged and ignored.
    pub fn apply(&mut self, writes: &[StateWrite]) -> bool {
        let mut changed = false;
        for w in writes.iter().filter(|w| w.namespace == NAMESPACE) {
            let Some(LifecycleKey::Definition { name }) = parse_key(&w.key) else {
                continue;
            };
            let Some(value) = &w.value else {
                tracing::warn!(chaincode = name, "ignoring a deleted chaincode definition");
                continue;
            };
            match self.insert(value) {
                Ok(d) => {
                    tracing::info!(chaincode = %d.name, version = %d.version, sequence = d.sequence, policy = %d.endorsement_policy, "chaincode definition in force");
                    changed = true;
                }
                Err(reason) => {
                    tracing::warn!(chaincode = name, %reason, "ignoring a bad chaincode definition")
                }
            }
        }
        changed
    }

    /// Loads the definitions committed in `ledger`'s `_lifecycle` state.
    pub fn load(&mut self, ledger: &Ledger) -> Result<(), LedgerError> {
        // "definition0" is the first key after every "definition/…".
        for (key, value) in ledger.range(NAMESPACE, "definition/", "definition0", usize::MAX)? {
            if let Err(reason) = self.insert(&value.value) {
                tracing::warn!(%key, %reason, "ignoring a bad chaincode definition");
            }
        }
        Ok(())
    }

    fn insert(&mut self, bytes: &[u8]) -> Result<ChaincodeDefinition, String> {
        let d = definition::decode(bytes).map_err(|e| e.to_string())?;
        let policy: Policy = d
            .endorsement_policy
            .parse()
            .map_err(|e: crate::policy::PolicyError| e.to_string())?;
        self.rules.policies.insert(d.name.clone(), Arc::new(policy));
        self.definitions.insert(d.name.clone(), d.clone());
        Ok(d)
    }
}

/// The shared, current [`DefinitionSet`]. Cloning shares it.
#[derive(Debug, Clone)]
pub struct Definitions {
    // A std lock: held only to swap or clone an `Arc`, never across `.await`.
    current: Arc<RwLock<Arc<DefinitionSet>>>,
}

impl Definitions {
    /// A view starting at `set`.
    pub fn new(set: DefinitionSet) -> Self {
        Definitions {
            current: Arc::new(RwLock::new(Arc::new(set))),
        }
    }

    /// The latest snapshot.
    pub fn current(&self) -> Arc<DefinitionSet> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Moves the view forward by one committed block's writes (the
    /// committer's job); returns whether a definition changed.
    pub fn apply(&self, writes: &[StateWrite]) -> bool {
        let touches = writes
            .iter()
            .any(|w| w.namespace == NAMESPACE && w.key.starts_with("definition/"));
        if !touches {
            return false;
        }
        let mut next = (*self.current()).clone();
        let changed = next.apply(writes);
        if changed {
            let mut g = match self.current.write() {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
            *g = Arc::new(next);
        }
        changed
    }
}

/// A fixed set of rules with no genesis definitions (tests and tools).
impl From<ChannelRules> for Definitions {
    fn from(rules: ChannelRules) -> Self {
        Definitions::new(DefinitionSet::new(rules, &[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::Consortium;

    fn write(key: &str, value: Option<Vec<u8>>) -> StateWrite {
        StateWrite {
            namespace: NAMESPACE.into(),
            key: key.into(),
            value,
            tx_num: 0,
            tx_id: "t".into(),
        }
    }

    #[test]
    fn genesis_definitions_are_sequence_one_and_writes_override_them() {
        let c = Consortium::new(3);
        let mut genesis = c.config.chaincodes.clone();
        genesis[0].sequence = 0;
        let defs = Definitions::new(DefinitionSet::new(c.rules(), &genesis));
        let now = defs.current();
        assert_eq!(now.definition("token").unwrap().sequence, 1);
        assert_eq!(
            now.rules().policies[NAMESPACE].to_string(),
            "OutOf(2, 'Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')"
        );

        let upgraded = ChaincodeDefinition {
            name: "token".into(),
            version: "2".into(),
            endorsement_policy: "AND('Org1MSP.peer', 'Org2MSP.peer', 'Org3MSP.peer')".into(),
            sequence: 2,
            external: None,
        };
        // Approvals and other namespaces change nothing.
        assert!(!defs.apply(&[write("approval/token/2/Org1MSP", Some(vec![1]))]));
        assert!(defs.apply(&[
            write("definition/bad", Some(b"\xff\xff".to_vec())),
            write("definition/token", Some(definition::encode(&upgraded))),
        ]));
        let after = defs.current();
        assert_eq!(after.definition("token"), Some(&upgraded));
        assert_eq!(after.definition("bad"), None);
        assert_eq!(
            after.rules().policies["token"].to_string(),
            upgraded.endorsement_policy
        );
        // The earlier snapshot is unchanged: whoever holds it keeps its view.
        assert_eq!(now.definition("token").unwrap().version, "1");
        assert!(!defs.apply(&[write("definition/token", None)]));
    }
}
