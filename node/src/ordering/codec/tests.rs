use super::*;
use crate::ordering::types::{NodeId, RaftBlock, TypeConfig};
use openraft::error::Infallible;
use openraft::error::{Fatal, InstallSnapshotError, RaftError, SnapshotMismatch};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{
    BasicNode, CommittedLeaderId, Entry, EntryPayload, LeaderId, LogId, Membership, SnapshotMeta,
    SnapshotSegmentId, StoredMembership, Vote,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;

fn round_trip<T: Codec + PartialEq + Debug>(v: &T) {
    let bytes = encode(v);
    let back: T = decode(&bytes).unwrap();
    assert_eq!(&back, v);
    let back: T = from_payload(&to_payload(v), usize::MAX).unwrap();
    assert_eq!(&back, v);
}

/// Random values of openraft's types, from a seeded generator.
struct Gen(StdRng);

impl Gen {
    fn new(seed: u64) -> Self {
        Gen(StdRng::seed_from_u64(seed))
    }

    /// Small, edge or huge numbers alike.
    fn u64(&mut self) -> u64 {
        match self.0.gen_range(0..4) {
            0 => 0,
            1 => u64::MAX,
            2 => self.0.gen_range(0..100),
            _ => self.0.gen(),
        }
    }

    fn log_id(&mut self) -> LogId<NodeId> {
        LogId::new(CommittedLeaderId::new(self.u64(), self.u64()), self.u64())
    }

    fn opt_log_id(&mut self) -> Option<LogId<NodeId>> {
        self.0.gen_bool(0.7).then(|| self.log_id())
    }

    fn vote(&mut self) -> Vote<NodeId> {
        Vote {
            leader_id: LeaderId::new(self.u64(), self.u64()),
            committed: self.0.gen(),
        }
    }

    fn bytes(&mut self) -> Vec<u8> {
        let n = self.0.gen_range(0..64);
        (0..n).map(|_| self.0.gen()).collect()
    }

    fn membership(&mut self) -> Membership<NodeId, BasicNode> {
        let configs: Vec<BTreeSet<NodeId>> = (0..self.0.gen_range(1..3))
            .map(|_| (0..self.0.gen_range(0..5)).map(|_| self.u64()).collect())
            .collect();
        let mut nodes: BTreeMap<NodeId, BasicNode> = BTreeMap::new();
        for id in configs.iter().flatten() {
            nodes.insert(*id, BasicNode::new(format!("orderer{id}:7050")));
        }
        for _ in 0..self.0.gen_range(0..2) {
            nodes.insert(self.u64(), BasicNode::new("learner:1"));
        }
        Membership::new(configs, nodes)
    }

    fn stored_membership(&mut self) -> StoredMembership<NodeId, BasicNode> {
        StoredMembership::new(self.opt_log_id(), self.membership())
    }

    fn entry(&mut self) -> Entry<TypeConfig> {
        let payload = match self.0.gen_range(0..3) {
            0 => EntryPayload::Blank,
            1 => EntryPayload::Normal(RaftBlock(self.bytes())),
            _ => EntryPayload::Membership(self.membership()),
        };
        Entry {
            log_id: self.log_id(),
            payload,
        }
    }

    fn snapshot_meta(&mut self) -> SnapshotMeta<NodeId, BasicNode> {
        SnapshotMeta {
            last_log_id: self.opt_log_id(),
            last_membership: self.stored_membership(),
            snapshot_id: format!("{}-{}", self.u64(), self.u64()),
        }
    }

    fn fatal(&mut self) -> Fatal<NodeId> {
        if self.0.gen() {
            Fatal::Stopped
        } else {
            Fatal::Panicked
        }
    }
}

#[test]
fn openraft_types_round_trip_over_many_values() {
    let mut g = Gen::new(0x5eed);
    for _ in 0..500 {
        round_trip(&g.log_id());
        round_trip(&g.opt_log_id());
        round_trip(&g.vote());
        round_trip(&g.membership());
        round_trip(&g.stored_membership());
        round_trip(&g.entry());
        round_trip(&g.snapshot_meta());
    }
}

#[test]
fn raft_requests_and_replies_round_trip_over_many_values() {
    let mut g = Gen::new(42);
    for _ in 0..300 {
        let n = g.0.gen_range(0..5);
        // AppendEntriesRequest has no PartialEq: compare its fields.
        let append = AppendEntriesRequest::<TypeConfig> {
            vote: g.vote(),
            prev_log_id: g.opt_log_id(),
            entries: (0..n).map(|_| g.entry()).collect(),
            leader_commit: g.opt_log_id(),
        };
        let back: AppendEntriesRequest<TypeConfig> =
            from_payload(&to_payload(&append), usize::MAX).unwrap();
        assert_eq!(back.vote, append.vote);
        assert_eq!(back.prev_log_id, append.prev_log_id);
        assert_eq!(back.entries, append.entries);
        assert_eq!(back.leader_commit, append.leader_commit);
        round_trip(&VoteRequest {
            vote: g.vote(),
            last_log_id: g.opt_log_id(),
        });
        round_trip(&InstallSnapshotRequest::<TypeConfig> {
            vote: g.vote(),
            meta: g.snapshot_meta(),
            offset: g.u64(),
            data: g.bytes(),
            done: g.0.gen(),
        });

        let append: Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>> =
            match g.0.gen_range(0..5) {
                0 => Ok(AppendEntriesResponse::Success),
                1 => Ok(AppendEntriesResponse::PartialSuccess(g.opt_log_id())),
                2 => Ok(AppendEntriesResponse::Conflict),
                3 => Ok(AppendEntriesResponse::HigherVote(g.vote())),
                _ => Err(RaftError::Fatal(g.fatal())),
            };
        round_trip(&append);
        let vote: Result<VoteResponse<NodeId>, RaftError<NodeId>> = if g.0.gen_bool(0.8) {
            Ok(VoteResponse {
                vote: g.vote(),
                vote_granted: g.0.gen(),
                last_log_id: g.opt_log_id(),
            })
        } else {
            Err(RaftError::Fatal(g.fatal()))
        };
        round_trip(&vote);
        let seg = |g: &mut Gen| SnapshotSegmentId {
            id: format!("{}", g.u64()),
            offset: g.u64(),
        };
        let snap: Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> =
            match g.0.gen_range(0..3) {
                0 => Ok(InstallSnapshotResponse { vote: g.vote() }),
                1 => Err(RaftError::APIError(InstallSnapshotError::SnapshotMismatch(
                    SnapshotMismatch {
                        expect: seg(&mut g),
                        got: seg(&mut g),
                    },
                ))),
                _ => Err(RaftError::Fatal(g.fatal())),
            };
        round_trip(&snap);
    }
}

#[test]
fn a_remote_storage_error_keeps_its_description() {
    let e: RaftError<NodeId> = RaftError::Fatal(Fatal::StorageError(
        openraft::StorageIOError::<NodeId>::new(
            openraft::ErrorSubject::Logs,
            openraft::ErrorVerb::Write,
            openraft::AnyError::error("disk full"),
        )
        .into(),
    ));
    let back: RaftError<NodeId> = decode(&encode(&e)).unwrap();
    assert!(matches!(back, RaftError::Fatal(Fatal::StorageError(_))));
    assert!(back.to_string().contains("disk full"), "{back}");
}

#[test]
fn a_snapshot_mismatch_in_an_append_reply_is_refused() {
    let mismatch = pb::RaftError {
        kind: Some(pb::RaftErrorKind::SnapshotMismatch(pb::SnapshotMismatch {
            expect: Some(pb::SnapshotSegmentId::default()),
            got: Some(pb::SnapshotSegmentId::default()),
        })),
    };
    assert!(matches!(
        RaftError::<NodeId, Infallible>::from_message(mismatch),
        Err(CodecError::Invalid(..))
    ));
}

#[test]
fn messages_without_required_fields_are_refused() {
    use prost::Message;
    assert_eq!(
        decode::<VoteRequest<NodeId>>(&[]),
        Err(CodecError::Missing("vote"))
    );
    assert_eq!(
        decode::<Entry<TypeConfig>>(&pb::Entry::default().encode_to_vec()),
        Err(CodecError::Missing("entry payload"))
    );
    let no_log_id = pb::Entry {
        log_id: None,
        payload: Some(pb::EntryPayload::Blank(pb::Empty {})),
    };
    assert_eq!(
        decode::<Entry<TypeConfig>>(&no_log_id.encode_to_vec()),
        Err(CodecError::Missing("entry log_id"))
    );
    assert_eq!(
        decode::<Result<VoteResponse<NodeId>, RaftError<NodeId>>>(&[]),
        Err(CodecError::Missing("result"))
    );
}

#[test]
fn garbage_never_panics() {
    let mut g = Gen::new(7);
    let valid = encode(&AppendEntriesRequest::<TypeConfig> {
        vote: g.vote(),
        prev_log_id: g.opt_log_id(),
        entries: (0..4).map(|_| g.entry()).collect(),
        leader_commit: g.opt_log_id(),
    });
    for i in 0..2000 {
        let mut bytes = if i % 2 == 0 { valid.clone() } else { g.bytes() };
        if !bytes.is_empty() {
            let n = g.0.gen_range(0..bytes.len());
            bytes[n] ^= g.0.gen::<u8>() | 1;
            bytes.truncate(g.0.gen_range(0..=bytes.len()));
        }
        let _ = decode::<AppendEntriesRequest<TypeConfig>>(&bytes);
        let _ = decode::<InstallSnapshotRequest<TypeConfig>>(&bytes);
        let _ = decode::<Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>>(&bytes);
    }
    assert!(matches!(
        decode::<VoteRequest<NodeId>>(&[0xff, 0xff]),
        Err(CodecError::Decode(_))
    ));
}

#[test]
fn a_payload_of_another_format_is_refused_naming_both() {
    let req = VoteRequest {
        vote: Vote::new(3, 1),
        last_log_id: None,
    };
    let mut p = to_payload(&req);
    assert_eq!(p.format, RAFT_WIRE_FORMAT);
    p.format = 0;
    let e = from_payload::<VoteRequest<NodeId>>(&p, usize::MAX).unwrap_err();
    assert_eq!(
        e,
        CodecError::Format {
            found: 0,
            expected: RAFT_WIRE_FORMAT
        }
    );
    let msg = e.to_string();
    assert!(msg.contains("format 0 (a release from before"), "{msg}");
    assert!(
        msg.contains(&format!("speaks format {RAFT_WIRE_FORMAT}")),
        "{msg}"
    );
    p.format = RAFT_WIRE_FORMAT + 1;
    assert!(from_payload::<VoteRequest<NodeId>>(&p, usize::MAX)
        .unwrap_err()
        .to_string()
        .contains(&format!("format {}", RAFT_WIRE_FORMAT + 1)));
}

#[test]
fn a_payload_over_the_limit_is_refused_before_decoding() {
    let req = InstallSnapshotRequest::<TypeConfig> {
        vote: Vote::new_committed(1, 1),
        meta: SnapshotMeta::default(),
        offset: 0,
        data: vec![7; 1000],
        done: true,
    };
    let p = to_payload(&req);
    let size = p.data.len();
    assert_eq!(
        from_payload::<InstallSnapshotRequest<TypeConfig>>(&p, 999).unwrap_err(),
        CodecError::TooLarge { size, limit: 999 }
    );
    assert!(from_payload::<InstallSnapshotRequest<TypeConfig>>(&p, size).is_ok());
}
