//! A chaincode definition as clients write it (JSON), its checks, its
//! canonical encoding, and the `_lifecycle` key layout.

use crate::policy::Policy;
use consort_proto::{ChaincodeDefinition, ExternalChaincode};
use prost::Message;
use serde::{Deserialize, Serialize};

/// Longest chaincode name.
const MAX_NAME: usize = 64;

/// Why a chaincode definition is refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DefinitionError {
    /// The argument is not a JSON chaincode definition.
    #[error("chaincode definition is not valid JSON: {0}")]
    Json(String),
    /// The name is empty, too long, reserved or has a character outside `A-Z a-z 0-9 - _`.
    #[error(
        "chaincode name '{0}' is invalid: 1 to 64 characters from A-Z a-z 0-9 - _, not starting with '_'"
    )]
    Name(String),
    /// The version is empty or has control characters.
    #[error("chaincode '{0}': version must be non-empty printable text")]
    Version(String),
    /// The sequence is 0.
    #[error("chaincode '{0}': sequence must be at least 1")]
    Sequence(String),
    /// The endorsement policy does not parse.
    #[error("chaincode '{name}': bad endorsement policy: {reason}")]
    Policy {
        /// The chaincode.
        name: String,
        /// The parser's message.
        reason: String,
    },
    /// The endorsement policy names an org that is not a channel member.
    #[error("chaincode '{name}': endorsement policy names '{org}', not a member of the channel")]
    UnknownOrg {
        /// The chaincode.
        name: String,
        /// The org.
        org: String,
    },
    /// The external service's address is not `host:port`.
    #[error("chaincode '{name}': external address '{address}' is not host:port")]
    External {
        /// The chaincode.
        name: String,
        /// The address given.
        address: String,
    },
    /// A stored definition does not decode.
    #[error("stored chaincode definition does not decode: {0}")]
    Decode(String),
}

/// Where an external chaincode runs, in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalJson {
    /// host:port of the chaincode server.
    pub address: String,
    /// PEM of the CA certificate(s) its TLS certificate chains to.
    #[serde(default)]
    pub tls_root_pem: String,
}

/// A chaincode definition as the `_lifecycle` functions take and return it:
/// `{"name", "version", "sequence", "endorsement_policy", "external"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionJson {
    /// Chaincode name.
    pub name: String,
    /// Version label.
    pub version: String,
    /// 1 for the first definition, one more for each upgrade.
    pub sequence: u64,
    /// Fabric policy syntax.
    pub endorsement_policy: String,
    /// Absent: in process on every peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<ExternalJson>,
}

impl DefinitionJson {
    /// Parses the JSON form.
    pub fn parse(json: &[u8]) -> Result<Self, DefinitionError> {
        serde_json::from_slice(json).map_err(|e| DefinitionError::Json(e.to_string()))
    }

    /// The JSON form of a definition.
    pub fn from_proto(d: &ChaincodeDefinition) -> Self {
        DefinitionJson {
            name: d.name.clone(),
            version: d.version.clone(),
            sequence: d.sequence,
            endorsement_policy: d.endorsement_policy.clone(),
            external: d.external.as_ref().map(|e| ExternalJson {
                address: e.address.clone(),
                tls_root_pem: e.tls_root_pem.clone(),
            }),
        }
    }

    /// Checks the definition against the channel's member orgs and returns
    /// its canonical form (policy text as the parser prints it) with the
    /// parsed policy. Two definitions are the same when their canonical
    /// encodings ([`encode`]) are equal.
    pub fn check(
        &self,
        members: &[String],
    ) -> Result<(ChaincodeDefinition, Policy), DefinitionError> {
        let name = &self.name;
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && !name.starts_with('_')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            return Err(DefinitionError::Name(name.clone()));
        }
        if self.version.trim().is_empty() || self.version.chars().any(char::is_control) {
            return Err(DefinitionError::Version(name.clone()));
        }
        if self.sequence == 0 {
            return Err(DefinitionError::Sequence(name.clone()));
        }
        let policy: Policy =
            self.endorsement_policy
                .parse()
                .map_err(|e: crate::policy::PolicyError| DefinitionError::Policy {
                    name: name.clone(),
                    reason: e.to_string(),
                })?;
        if let Some(org) = policy.msp_ids().into_iter().find(|o| !members.contains(o)) {
            return Err(DefinitionError::UnknownOrg {
                name: name.clone(),
                org,
            });
        }
        let external = match &self.external {
            None => None,
            Some(e) => {
                let ok = e
                    .address
                    .rsplit_once(':')
                    .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
                if !ok {
                    return Err(DefinitionError::External {
                        name: name.clone(),
                        address: e.address.clone(),
                    });
                }
                Some(ExternalChaincode {
                    address: e.address.clone(),
                    tls_root_pem: e.tls_root_pem.clone(),
                })
            }
        };
        let definition = ChaincodeDefinition {
            name: name.clone(),
            version: self.version.clone(),
            endorsement_policy: canonical_policy(&policy, &self.endorsement_policy),
            sequence: self.sequence,
            external,
        };
        Ok((definition, policy))
    }
}

/// The policy as the parser prints it, when that text parses back to the
/// same policy; otherwise the text as given, trimmed.
fn canonical_policy(policy: &Policy, text: &str) -> String {
    let printed = policy.to_string();
    match printed.parse::<Policy>() {
        Ok(p) if &p == policy => printed,
        _ => text.trim().to_string(),
    }
}

/// The canonical encoding of a definition, stored in `_lifecycle` state.
pub fn encode(d: &ChaincodeDefinition) -> Vec<u8> {
    d.encode_to_vec()
}

/// Decodes a stored definition.
pub fn decode(bytes: &[u8]) -> Result<ChaincodeDefinition, DefinitionError> {
    ChaincodeDefinition::decode(bytes).map_err(|e| DefinitionError::Decode(e.to_string()))
}

/// The fields in which an `approved` definition differs from the
/// `proposed` one, each as `field 'approved' (proposed 'proposed')`; empty
/// when they are the same definition. A TLS root is named, not quoted.
pub fn differences(approved: &ChaincodeDefinition, proposed: &ChaincodeDefinition) -> Vec<String> {
    let mut out = Vec::new();
    let mut differ = |field: &str, approved: &str, proposed: &str| {
        if approved != proposed {
            out.push(format!("{field} '{approved}' (proposed '{proposed}')"));
        }
    };
    differ("name", &approved.name, &proposed.name);
    differ("version", &approved.version, &proposed.version);
    differ(
        "sequence",
        &approved.sequence.to_string(),
        &proposed.sequence.to_string(),
    );
    differ(
        "endorsement_policy",
        &approved.endorsement_policy,
        &proposed.endorsement_policy,
    );
    let address = |d: &ChaincodeDefinition| {
        d.external
            .as_ref()
            .map_or_else(|| "in process".to_owned(), |e| e.address.clone())
    };
    differ("external", &address(approved), &address(proposed));
    let root = |d: &ChaincodeDefinition| d.external.as_ref().map(|e| e.tls_root_pem.clone());
    if let (Some(a), Some(p)) = (root(approved), root(proposed)) {
        if a != p {
            out.push("external.tls_root_pem (a different certificate)".to_owned());
        }
    }
    out
}

/// The key of `msp`'s approval of `name` at `sequence`.
pub fn approval_key(name: &str, sequence: u64, msp: &str) -> String {
    format!("approval/{name}/{sequence}/{msp}")
}

/// The key of `name`'s committed definition.
pub fn definition_key(name: &str) -> String {
    format!("definition/{name}")
}

/// A `_lifecycle` key, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LifecycleKey<'a> {
    /// `approval/<name>/<sequence>/<msp>`.
    Approval {
        /// Chaincode.
        name: &'a str,
        /// Sequence approved.
        sequence: u64,
        /// The approving org.
        msp: &'a str,
    },
    /// `definition/<name>`.
    Definition {
        /// Chaincode.
        name: &'a str,
    },
}

/// Parses a `_lifecycle` key; `None` for any key outside the layout.
pub fn parse_key(key: &str) -> Option<LifecycleKey<'_>> {
    let mut parts = key.split('/');
    let kind = parts.next()?;
    let name = parts.next().filter(|n| !n.is_empty())?;
    match kind {
        "definition" if parts.next().is_none() => Some(LifecycleKey::Definition { name }),
        "approval" => {
            let sequence = parts.next()?.parse().ok()?;
            let msp = parts.next().filter(|m| !m.is_empty())?;
            parts.next().is_none().then_some(LifecycleKey::Approval {
                name,
                sequence,
                msp,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<String> {
        vec!["Org1MSP".into(), "Org2MSP".into()]
    }

    fn json(policy: &str) -> DefinitionJson {
        DefinitionJson {
            name: "notes".into(),
            version: "1.0".into(),
            sequence: 1,
            endorsement_policy: policy.into(),
            external: None,
        }
    }

    #[test]
    fn check_canonicalises_the_policy_so_spelling_does_not_matter() {
        let (a, _) = json("OutOf(2,'Org1MSP.peer','Org2MSP.peer')")
            .check(&members())
            .unwrap();
        let (b, _) = json(" AND( 'Org1MSP.peer', 'Org2MSP.peer' ) ")
            .check(&members())
            .unwrap();
        assert_eq!(encode(&a), encode(&b));
        assert_eq!(a.endorsement_policy, "AND('Org1MSP.peer', 'Org2MSP.peer')");
        assert_eq!(decode(&encode(&a)).unwrap(), a);
    }

    #[test]
    fn check_refuses_bad_definitions() {
        let m = members();
        let mut d = json("OR('Org1MSP.peer')");
        d.name = "_lifecycle".into();
        assert!(matches!(d.check(&m), Err(DefinitionError::Name(_))));
        d.name = "a/b".into();
        assert!(matches!(d.check(&m), Err(DefinitionError::Name(_))));
        let mut d = json("OR('Org1MSP.peer')");
        d.sequence = 0;
        assert!(matches!(d.check(&m), Err(DefinitionError::Sequence(_))));
        let mut d = json("OR('Org1MSP.peer')");
        d.version = " ".into();
        assert!(matches!(d.check(&m), Err(DefinitionError::Version(_))));
        assert!(matches!(
            json("OR(").check(&m),
            Err(DefinitionError::Policy { .. })
        ));
        assert_eq!(
            json("OR('Org9MSP.peer')")
                .check(&m)
                .unwrap_err()
                .to_string(),
            "chaincode 'notes': endorsement policy names 'Org9MSP', not a member of the channel"
        );
        let mut d = json("OR('Org1MSP.peer')");
        d.external = Some(ExternalJson {
            address: "nohost".into(),
            tls_root_pem: String::new(),
        });
        assert!(matches!(d.check(&m), Err(DefinitionError::External { .. })));
        assert!(matches!(
            DefinitionJson::parse(br#"{"name":"x"}"#),
            Err(DefinitionError::Json(_))
        ));
    }

    #[test]
    fn json_round_trips_through_the_proto() {
        let mut d = json("OR('Org1MSP.peer')");
        d.external = Some(ExternalJson {
            address: "cc.example:9999".into(),
            tls_root_pem: "PEM".into(),
        });
        let (proto, _) = d.check(&members()).unwrap();
        assert_eq!(DefinitionJson::from_proto(&proto), d);
        let text = serde_json::to_vec(&d).unwrap();
        assert_eq!(DefinitionJson::parse(&text).unwrap(), d);
    }

    #[test]
    fn keys_parse_back() {
        assert_eq!(
            parse_key(&approval_key("notes", 2, "Org1MSP")),
            Some(LifecycleKey::Approval {
                name: "notes",
                sequence: 2,
                msp: "Org1MSP"
            })
        );
        assert_eq!(
            parse_key(&definition_key("notes")),
            Some(LifecycleKey::Definition { name: "notes" })
        );
        for bad in [
            "",
            "definition/",
            "definition/a/b",
            "approval/a/x/Org1MSP",
            "approval/a/1",
            "approval/a/1/",
            "approval/a/1/Org1MSP/x",
            "other/a",
        ] {
            assert_eq!(parse_key(bad), None, "{bad}");
        }
    }
}
