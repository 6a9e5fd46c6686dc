//! [`Codec`] for openraft's storage types: log IDs, votes, memberships,
//! log entries and snapshot metadata.

use super::{pb, required, Codec, CodecError};
use crate::ordering::types::{NodeId, RaftBlock, TypeConfig};
use openraft::{
    BasicNode, CommittedLeaderId, Entry, EntryPayload, LeaderId, LogId, Membership, SnapshotMeta,
    StoredMembership, Vote,
};
use std::collections::{BTreeMap, BTreeSet};

impl Codec for LogId<NodeId> {
    type Message = pb::LogId;

    fn to_message(&self) -> pb::LogId {
        pb::LogId {
            term: self.leader_id.term,
            node_id: self.leader_id.node_id,
            index: self.index,
        }
    }

    fn from_message(m: pb::LogId) -> Result<Self, CodecError> {
        Ok(LogId::new(
            CommittedLeaderId::new(m.term, m.node_id),
            m.index,
        ))
    }
}

/// The message of an optional log ID.
pub(super) fn opt_log_id(v: &Option<LogId<NodeId>>) -> Option<pb::LogId> {
    v.as_ref().map(Codec::to_message)
}

/// The optional log ID of a message.
pub(super) fn log_id_opt(m: Option<pb::LogId>) -> Result<Option<LogId<NodeId>>, CodecError> {
    m.map(LogId::from_message).transpose()
}

impl Codec for Option<LogId<NodeId>> {
    type Message = pb::OptionalLogId;

    fn to_message(&self) -> pb::OptionalLogId {
        pb::OptionalLogId {
            log_id: opt_log_id(self),
        }
    }

    fn from_message(m: pb::OptionalLogId) -> Result<Self, CodecError> {
        log_id_opt(m.log_id)
    }
}

impl Codec for Vote<NodeId> {
    type Message = pb::Vote;

    fn to_message(&self) -> pb::Vote {
        pb::Vote {
            term: self.leader_id.term,
            node_id: self.leader_id.node_id,
            committed: self.committed,
        }
    }

    fn from_message(m: pb::Vote) -> Result<Self, CodecError> {
        Ok(Vote {
            leader_id: LeaderId::new(m.term, m.node_id),
            committed: m.committed,
        })
    }
}

/// The required vote of a message.
pub(super) fn vote_of(m: Option<pb::Vote>) -> Result<Vote<NodeId>, CodecError> {
    Vote::from_message(required(m, "vote")?)
}

impl Codec for Membership<NodeId, BasicNode> {
    type Message = pb::Membership;

    fn to_message(&self) -> pb::Membership {
        pb::Membership {
            configs: self
                .get_joint_config()
                .iter()
                .map(|c| pb::NodeSet {
                    ids: c.iter().copied().collect(),
                })
                .collect(),
            nodes: self
                .nodes()
                .map(|(id, n)| pb::Node {
                    id: *id,
                    addr: n.addr.clone(),
                })
                .collect(),
        }
    }

    fn from_message(m: pb::Membership) -> Result<Self, CodecError> {
        let configs: Vec<BTreeSet<NodeId>> = m
            .configs
            .into_iter()
            .map(|c| c.ids.into_iter().collect())
            .collect();
        let nodes: BTreeMap<NodeId, BasicNode> = m
            .nodes
            .into_iter()
            .map(|n| (n.id, BasicNode::new(n.addr)))
            .collect();
        Ok(Membership::new(configs, nodes))
    }
}

impl Codec for StoredMembership<NodeId, BasicNode> {
    type Message = pb::StoredMembership;

    fn to_message(&self) -> pb::StoredMembership {
        pb::StoredMembership {
            log_id: opt_log_id(self.log_id()),
            membership: Some(self.membership().to_message()),
        }
    }

    fn from_message(m: pb::StoredMembership) -> Result<Self, CodecError> {
        Ok(StoredMembership::new(
            log_id_opt(m.log_id)?,
            Membership::from_message(required(m.membership, "membership")?)?,
        ))
    }
}

/// The required stored membership of a message.
pub(super) fn stored_membership_of(
    m: Option<pb::StoredMembership>,
    name: &'static str,
) -> Result<StoredMembership<NodeId, BasicNode>, CodecError> {
    StoredMembership::from_message(required(m, name)?)
}

impl Codec for Entry<TypeConfig> {
    type Message = pb::Entry;

    fn to_message(&self) -> pb::Entry {
        let payload = match &self.payload {
            EntryPayload::Blank => pb::EntryPayload::Blank(pb::Empty {}),
            EntryPayload::Normal(b) => pb::EntryPayload::Normal(b.0.clone()),
            EntryPayload::Membership(m) => pb::EntryPayload::Membership(m.to_message()),
        };
        pb::Entry {
            log_id: Some(self.log_id.to_message()),
            payload: Some(payload),
        }
    }

    fn from_message(m: pb::Entry) -> Result<Self, CodecError> {
        let payload = match required(m.payload, "entry payload")? {
            pb::EntryPayload::Blank(_) => EntryPayload::Blank,
            pb::EntryPayload::Normal(b) => EntryPayload::Normal(RaftBlock(b)),
            pb::EntryPayload::Membership(m) => {
                EntryPayload::Membership(Membership::from_message(m)?)
            }
        };
        Ok(Entry {
            log_id: LogId::from_message(required(m.log_id, "entry log_id")?)?,
            payload,
        })
    }
}

impl Codec for SnapshotMeta<NodeId, BasicNode> {
    type Message = pb::SnapshotMeta;

    fn to_message(&self) -> pb::SnapshotMeta {
        pb::SnapshotMeta {
            last_log_id: opt_log_id(&self.last_log_id),
            last_membership: Some(self.last_membership.to_message()),
            snapshot_id: self.snapshot_id.clone(),
        }
    }

    fn from_message(m: pb::SnapshotMeta) -> Result<Self, CodecError> {
        Ok(SnapshotMeta {
            last_log_id: log_id_opt(m.last_log_id)?,
            last_membership: stored_membership_of(m.last_membership, "last_membership")?,
            snapshot_id: m.snapshot_id,
        })
    }
}
