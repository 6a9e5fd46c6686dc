//! The `_lifecycle` system chaincode, registered in process on every peer.
//!
//! | function | arguments | does |
//! |---|---|---|
//! | `approve` | definition JSON | an org admin records its org's approval of exactly this definition for its sequence |
//! | `commit` | definition JSON | puts the definition in force once enough orgs approved exactly it |
//! | `definition` | name | the definition in force (JSON) |
//! | `list` | | every definition in force (JSON array, by name) |
//! | `approvals` | name, sequence | each member org's approved definition for that sequence, or `null` |

use super::definition::{self, approval_key, definition_key, DefinitionJson};
use super::key_policy;
use crate::policy::Policy;
use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub};
use consort_proto::{ChaincodeDefinition, ChannelConfig};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The lifecycle chaincode of one channel.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// Member orgs, in channel-config order.
    members: Vec<String>,
    /// Which approving orgs suffice to commit.
    policy: Policy,
    /// The genesis definitions (sequence 1 until a definition is committed).
    genesis: BTreeMap<String, ChaincodeDefinition>,
    /// The chaincodes installed in process on this peer, when known: an
    /// approval of an in-process definition for another name warns.
    installed: Option<BTreeSet<String>>,
}

/// What `approve` returns: the approved definition (its JSON fields) and,
/// only when there are some, `warnings` about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approved {
    /// The definition approved.
    #[serde(flatten)]
    pub definition: DefinitionJson,
    /// What may stop the definition from working once committed, e.g. a
    /// chaincode to run in process that the endorsing peer does not have.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl Approved {
    /// The warnings of an `approve` result; none if it holds none or is
    /// not an `approve` result.
    pub fn warnings_of(result: &[u8]) -> Vec<String> {
        #[derive(Deserialize)]
        struct Warnings {
            #[serde(default)]
            warnings: Vec<String>,
        }
        serde_json::from_slice::<Warnings>(result)
            .map(|w| w.warnings)
            .unwrap_or_default()
    }
}

/// Each member org's approval of one sequence, as `approvals(name, sequence)` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approvals {
    /// The chaincode.
    pub name: String,
    /// The sequence.
    pub sequence: u64,
    /// By MSP ID: the definition the org approved, or `None`.
    pub approvals: BTreeMap<String, Option<DefinitionJson>>,
}

impl Lifecycle {
    /// The lifecycle of `config`'s channel with the default lifecycle
    /// policy, a majority of its member orgs.
    pub fn new(config: &ChannelConfig) -> Self {
        let members: Vec<String> = config.orgs.iter().map(|o| o.msp_id.clone()).collect();
        Lifecycle {
            policy: key_policy::majority(&members),
            members,
            genesis: config
                .chaincodes
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    d.sequence = d.sequence.max(1);
                    (d.name.clone(), d)
                })
                .collect(),
            installed: None,
        }
    }

    /// The same lifecycle on a peer whose in-process chaincodes are
    /// `installed`: approving a definition with no external service for a
    /// name not among them logs a warning and returns it with the approval.
    pub fn with_installed(mut self, installed: impl IntoIterator<Item = String>) -> Self {
        self.installed = Some(installed.into_iter().collect());
        self
    }

    /// Why `d` may not run once committed, as this peer sees it.
    fn warnings(&self, d: &ChaincodeDefinition) -> Vec<String> {
        match &self.installed {
            Some(installed) if d.external.is_none() && !installed.contains(&d.name) => {
                vec![format!(
                    "chaincode '{}' is to run in process, but the endorsing peer has no \
                     chaincode of that name installed; install it on the peers or give \
                     the definition an external service before committing",
                    d.name
                )]
            }
            _ => Vec::new(),
        }
    }

    /// The definition of `name` in force: committed in state, else genesis.
    fn committed(
        &self,
        stub: &mut dyn ChaincodeStub,
        name: &str,
    ) -> Result<Option<ChaincodeDefinition>, ChaincodeError> {
        match stub.get_state(&definition_key(name))? {
            Some(bytes) => Ok(Some(
                definition::decode(&bytes).map_err(|e| ChaincodeError::State(e.to_string()))?,
            )),
            None => Ok(self.genesis.get(name).cloned()),
        }
    }

    /// Parses and checks a definition argument.
    fn definition_arg(
        &self,
        function: &str,
        args: &[String],
    ) -> Result<ChaincodeDefinition, ChaincodeError> {
        let [json] = args else {
            return Err(ChaincodeError::InvalidArgs {
                function: function.into(),
                reason: format!("expected 1 argument (definition JSON), got {}", args.len()),
            });
        };
        let parsed =
            DefinitionJson::parse(json.as_bytes()).map_err(|e| ChaincodeError::InvalidArgs {
                function: function.into(),
                reason: e.to_string(),
            })?;
        let (d, _) = parsed
            .check(&self.members)
            .map_err(|e| ChaincodeError::business(e.to_string()))?;
        Ok(d)
    }

    fn approve(
        &self,
        stub: &mut dyn ChaincodeStub,
        args: &[String],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let creator = stub.creator().clone();
        if creator.role != "admin" || !self.members.contains(&creator.msp_id) {
            return Err(ChaincodeError::business(format!(
                "approve needs an admin of a member org; the creator is a {} of {}",
                creator.role, creator.msp_id
            )));
        }
        let d = self.definition_arg("approve", args)?;
        let committed = self.committed(stub, &d.name)?;
        let current = committed.as_ref().map_or(0, |c| c.sequence);
        let reapproval = committed.as_ref() == Some(&d);
        if d.sequence != current + 1 && !reapproval {
            return Err(ChaincodeError::business(format!(
                "chaincode '{}': cannot approve sequence {}: the committed sequence is {current}, \
                 so the next is {} (or {current} with the committed definition unchanged)",
                d.name,
                d.sequence,
                current + 1
            )));
        }
        stub.put_state(
            &approval_key(&d.name, d.sequence, &creator.msp_id),
            &definition::encode(&d),
        )?;
        tracing::debug!(chaincode = %d.name, sequence = d.sequence, org = %creator.msp_id, "approval recorded");
        let warnings = self.warnings(&d);
        for warning in &warnings {
            tracing::warn!(chaincode = %d.name, sequence = d.sequence, %warning, "approval warning");
        }
        to_json(&Approved {
            definition: DefinitionJson::from_proto(&d),
            warnings,
        })
    }

    fn commit(
        &self,
        stub: &mut dyn ChaincodeStub,
        args: &[String],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let d = self.definition_arg("commit", args)?;
        let current = self.committed(stub, &d.name)?.map_or(0, |c| c.sequence);
        if d.sequence != current + 1 {
            return Err(ChaincodeError::business(format!(
                "chaincode '{}': cannot commit sequence {}: the committed sequence is {current}, so the next is {}",
                d.name,
                d.sequence,
                current + 1
            )));
        }
        let wanted = definition::encode(&d);
        let mut approved = Vec::new();
        let mut missing = Vec::new();
        for org in &self.members {
            let key = approval_key(&d.name, d.sequence, org);
            match stub.get_state(&key)? {
                Some(stored) if stored == wanted => approved.push(org.clone()),
                Some(stored) => {
                    let other = definition::decode(&stored)
                        .map_err(|e| ChaincodeError::State(e.to_string()))?;
                    let differ = definition::differences(&other, &d).join(", ");
                    missing.push(format!("{org} (approved a different definition: {differ})"));
                }
                None => missing.push(org.clone()),
            }
        }
        // Approvals the lifecycle policy is too complex to decide on are not
        // enough to commit; the message says why.
        let verdict = self.policy.evaluate_org_peers(&approved);
        if verdict != Ok(true) {
            let need = match key_policy::required_orgs(&self.policy) {
                Some(k) => format!("{k} of {} orgs must approve", self.members.len()),
                None => format!("the lifecycle policy {} must be satisfied", self.policy),
            };
            let by = if approved.is_empty() {
                "no org".to_string()
            } else {
                approved.join(", ")
            };
            let undecided = match verdict {
                Err(e) => format!("; whether these approvals satisfy it cannot be decided: {e}"),
                Ok(_) => String::new(),
            };
            let not_by = if missing.is_empty() {
                String::new()
            } else {
                format!("; not approved by {}", missing.join(", "))
            };
            return Err(ChaincodeError::business(format!(
                "chaincode '{}' sequence {}: approved by {by}; {need}{undecided}{not_by}",
                d.name, d.sequence
            )));
        }
        stub.put_state(&definition_key(&d.name), &wanted)?;
        tracing::debug!(chaincode = %d.name, sequence = d.sequence, "definition committed");
        to_json(&DefinitionJson::from_proto(&d))
    }

    fn list(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let mut all: BTreeMap<String, ChaincodeDefinition> = self.genesis.clone();
        for kv in stub.get_state_by_range("definition/", "definition0")? {
            let d =
                definition::decode(&kv.value).map_err(|e| ChaincodeError::State(e.to_string()))?;
            all.insert(d.name.clone(), d);
        }
        let out: Vec<DefinitionJson> = all.values().map(DefinitionJson::from_proto).collect();
        to_json(&out)
    }

    fn approvals(
        &self,
        stub: &mut dyn ChaincodeStub,
        name: &str,
        sequence: &str,
    ) -> Result<Vec<u8>, ChaincodeError> {
        let sequence: u64 = sequence.parse().map_err(|_| ChaincodeError::InvalidArgs {
            function: "approvals".into(),
            reason: format!("sequence '{sequence}' is not a number"),
        })?;
        let mut approvals = BTreeMap::new();
        for org in &self.members {
            let approved = match stub.get_state(&approval_key(name, sequence, org))? {
                Some(b) => Some(DefinitionJson::from_proto(
                    &definition::decode(&b).map_err(|e| ChaincodeError::State(e.to_string()))?,
                )),
                None => None,
            };
            approvals.insert(org.clone(), approved);
        }
        to_json(&Approvals {
            name: name.into(),
            sequence,
            approvals,
        })
    }
}

fn to_json<T: Serialize>(value: &T) -> Result<Vec<u8>, ChaincodeError> {
    serde_json::to_vec(value).map_err(|e| ChaincodeError::State(e.to_string()))
}

impl Chaincode for Lifecycle {
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
        let function = stub.function().to_owned();
        let args = stub.string_args()?;
        let wrong = |expected: &str| ChaincodeError::InvalidArgs {
            function: function.clone(),
            reason: format!("expected {expected}, got {} arguments", args.len()),
        };
        match function.as_str() {
            "approve" => self.approve(stub, &args),
            "commit" => self.commit(stub, &args),
            "definition" => {
                let [name] = args.as_slice() else {
                    return Err(wrong("1 argument (name)"));
                };
                match self.committed(stub, name)? {
                    Some(d) => to_json(&DefinitionJson::from_proto(&d)),
                    None => Err(ChaincodeError::business(format!(
                        "chaincode '{name}' is not defined"
                    ))),
                }
            }
            "list" if args.is_empty() => self.list(stub),
            "list" => Err(wrong("no arguments")),
            "approvals" => {
                let [name, sequence] = args.as_slice() else {
                    return Err(wrong("2 arguments (name, sequence)"));
                };
                self.approvals(stub, name, sequence)
            }
            _ => Err(ChaincodeError::UnknownFunction(function)),
        }
    }
}

#[cfg(test)]
mod tests;
