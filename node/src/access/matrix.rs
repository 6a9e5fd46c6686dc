//! The authorisation matrix: for every gRPC method a node serves, who may
//! call it. ARCHITECTURE.md prints the same table; a test checks that every
//! method of `services.proto` has a row here.

use crate::identity::Role;

/// Who may call a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Any valid member identity whose role is listed.
    Members(&'static [Role]),
    /// Only an orderer of the channel's consenter set, recognised by the
    /// TLS certificate the channel config binds to it.
    Consenters,
}

/// The rule for one method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Who may call it.
    pub who: Who,
    /// A long-lived server stream, counted against the per-identity and
    /// per-organisation stream caps while it is open.
    pub stream: bool,
}

const APPS: &[Role] = &[Role::Client, Role::Admin, Role::Peer];
const ALL: &[Role] = &[Role::Client, Role::Admin, Role::Peer, Role::Orderer];
const PEERS: &[Role] = &[Role::Peer];
const BLOCK_READERS: &[Role] = &[Role::Peer, Role::Orderer, Role::Admin];

const fn unary(who: Who) -> Rule {
    Rule { who, stream: false }
}

const fn stream(who: Who) -> Rule {
    Rule { who, stream: true }
}

/// Every method a node serves, by gRPC path, with its rule.
pub const MATRIX: &[(&str, Rule)] = &[
    ("/consort.Gateway/Evaluate", unary(Who::Members(APPS))),
    ("/consort.Gateway/Endorse", unary(Who::Members(APPS))),
    ("/consort.Gateway/Submit", unary(Who::Members(APPS))),
    ("/consort.Gateway/CommitStatus", unary(Who::Members(APPS))),
    ("/consort.Gateway/BlockEvents", stream(Who::Members(APPS))),
    (
        "/consort.Gateway/ChaincodeEvents",
        stream(Who::Members(APPS)),
    ),
    ("/consort.Gateway/GetBlock", unary(Who::Members(APPS))),
    ("/consort.Gateway/GetTransaction", unary(Who::Members(APPS))),
    ("/consort.Gateway/PeerStatus", unary(Who::Members(APPS))),
    ("/consort.Gateway/Peers", unary(Who::Members(APPS))),
    (
        "/consort.Endorser/ProcessProposal",
        unary(Who::Members(PEERS)),
    ),
    (
        "/consort.AtomicBroadcast/Broadcast",
        unary(Who::Members(ALL)),
    ),
    (
        "/consort.AtomicBroadcast/Deliver",
        stream(Who::Members(BLOCK_READERS)),
    ),
    ("/consort.AtomicBroadcast/Status", unary(Who::Members(ALL))),
    ("/consort.Raft/AppendEntries", unary(Who::Consenters)),
    ("/consort.Raft/Vote", unary(Who::Consenters)),
    ("/consort.Raft/InstallSnapshot", unary(Who::Consenters)),
];

/// The rule for a gRPC path; `None` for a method no node serves.
pub fn rule(path: &str) -> Option<&'static Rule> {
    MATRIX.iter().find(|(p, _)| *p == path).map(|(_, r)| r)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `rpc` of every service in services.proto, as a gRPC path.
    fn proto_methods() -> Vec<String> {
        let text = include_str!("../../../proto/consort/services.proto");
        let mut service = "";
        let mut out = Vec::new();
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("service ") {
                service = rest.split_whitespace().next().unwrap_or_default();
            } else if let Some(rest) = line.strip_prefix("rpc ") {
                let name = rest.split('(').next().unwrap_or_default().trim();
                out.push(format!("/consort.{service}/{name}"));
            }
        }
        out
    }

    #[test]
    fn every_served_method_has_exactly_one_rule() {
        let methods = proto_methods();
        assert!(methods.len() >= 15, "{methods:?}");
        for m in &methods {
            assert!(rule(m).is_some(), "{m} has no rule in the matrix");
            assert_eq!(MATRIX.iter().filter(|(p, _)| p == m).count(), 1, "{m}");
        }
        for (p, _) in MATRIX {
            assert!(
                methods.contains(&p.to_string()),
                "{p} is not in services.proto"
            );
        }
        assert_eq!(rule("/consort.Raft/Unknown"), None);
    }

    #[test]
    fn raft_is_for_consenters_only_and_streams_are_counted() {
        for (p, r) in MATRIX {
            assert_eq!(
                p.starts_with("/consort.Raft/"),
                r.who == Who::Consenters,
                "{p}"
            );
            let streaming = p.ends_with("Events") || p.ends_with("/Deliver");
            assert_eq!(r.stream, streaming, "{p}");
        }
        // Clients may not endorse for an org nor read raw blocks from orderers.
        assert_eq!(
            rule("/consort.Endorser/ProcessProposal").map(|r| r.who),
            Some(Who::Members(&[Role::Peer]))
        );
        let Some(Who::Members(readers)) = rule("/consort.AtomicBroadcast/Deliver").map(|r| r.who)
        else {
            panic!("Deliver is for members");
        };
        assert!(!readers.contains(&Role::Client));
    }
}
