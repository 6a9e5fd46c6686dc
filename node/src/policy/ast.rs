//! The policy syntax tree and the signers it is evaluated against.

use super::{MAX_DEPTH, MAX_PRINCIPALS};

/// Role a principal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PrincipalRole {
    /// Any identity of the org, whatever its role.
    Member,
    /// An admin identity of the org.
    Admin,
    /// A peer identity of the org.
    Peer,
    /// An orderer identity of the org.
    Orderer,
    /// A client identity of the org.
    Client,
}

/// An org and the role required of its signer, e.g. 'Org1MSP.peer'.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    /// The MSP ID of the org.
    pub msp_id: String,
    /// The role the signer must hold.
    pub role: PrincipalRole,
}

/// A parsed policy. AND(a,b,..) is OutOf(n, ..) with n = count, OR(..) is OutOf(1, ..).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Policy {
    /// Satisfied by one signature from the principal.
    SignedBy(Principal),
    /// Satisfied when at least `n` of `rules` are satisfied.
    OutOf {
        /// How many of the rules must be satisfied.
        n: usize,
        /// The sub-policies.
        rules: Vec<Policy>,
    },
}

/// The role an actual signer holds (from its certificate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignerRole {
    /// An admin identity.
    Admin,
    /// A peer identity.
    Peer,
    /// An orderer identity.
    Orderer,
    /// A client identity.
    Client,
}

impl From<crate::identity::Role> for SignerRole {
    /// The signer role of the policy language that a certificate's role gives.
    fn from(role: crate::identity::Role) -> Self {
        use crate::identity::Role;
        match role {
            Role::Admin => SignerRole::Admin,
            Role::Peer => SignerRole::Peer,
            Role::Orderer => SignerRole::Orderer,
            Role::Client => SignerRole::Client,
        }
    }
}

/// Who signed: the signer's org and the SHA-256 of its certificate's signed
/// part ([`crate::identity::CertInfo::cert_hash`]). Signatures by one
/// `SignerId` count as one signer, however the identity was encoded.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignerId {
    /// The MSP ID of the signer's org.
    pub msp_id: String,
    /// SHA-256 of the signer's certificate (its `TBSCertificate`).
    pub cert_hash: [u8; 32],
}

/// One verified signer: who it is and the role its certificate gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Signer {
    /// Its org and certificate.
    pub id: SignerId,
    /// The role from the signer's certificate.
    pub role: SignerRole,
}

impl Policy {
    /// All principals in the policy, in order of appearance.
    pub(super) fn principals(&self) -> Vec<&Principal> {
        let mut out = Vec::new();
        let mut stack = vec![self];
        while let Some(policy) = stack.pop() {
            match policy {
                Policy::SignedBy(p) => out.push(p),
                Policy::OutOf { rules, .. } => stack.extend(rules.iter().rev()),
            }
        }
        out
    }

    /// True when nesting and principal count are within the parser's limits.
    pub(super) fn within_limits(&self) -> bool {
        fn check(policy: &Policy, depth: usize, principals: &mut usize) -> bool {
            match policy {
                Policy::SignedBy(_) => {
                    *principals += 1;
                    *principals <= MAX_PRINCIPALS
                }
                Policy::OutOf { rules, .. } => {
                    depth < MAX_DEPTH && rules.iter().all(|r| check(r, depth + 1, principals))
                }
            }
        }
        check(self, 0, &mut 0)
    }
}
