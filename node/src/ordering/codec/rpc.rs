//! [`Codec`] for the Raft RPCs between orderers: AppendEntries, Vote and
//! InstallSnapshot requests, and their replies (openraft's response or the
//! remote Raft's error).

use super::convert::{log_id_opt, opt_log_id, vote_of};
use super::{pb, required, Codec, CodecError};
use crate::ordering::types::{NodeId, TypeConfig};
use openraft::error::Infallible;
use openraft::error::{Fatal, InstallSnapshotError, RaftError, SnapshotMismatch};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::{
    AnyError, Entry, ErrorSubject, ErrorVerb, SnapshotMeta, SnapshotSegmentId, StorageError,
    StorageIOError,
};

impl Codec for AppendEntriesRequest<TypeConfig> {
    type Message = pb::AppendEntriesRequest;

    fn to_message(&self) -> pb::AppendEntriesRequest {
        pb::AppendEntriesRequest {
            vote: Some(self.vote.to_message()),
            prev_log_id: opt_log_id(&self.prev_log_id),
            entries: self.entries.iter().map(Codec::to_message).collect(),
            leader_commit: opt_log_id(&self.leader_commit),
        }
    }

    fn from_message(m: pb::AppendEntriesRequest) -> Result<Self, CodecError> {
        Ok(AppendEntriesRequest {
            vote: vote_of(m.vote)?,
            prev_log_id: log_id_opt(m.prev_log_id)?,
            entries: m
                .entries
                .into_iter()
                .map(Entry::from_message)
                .collect::<Result<_, _>>()?,
            leader_commit: log_id_opt(m.leader_commit)?,
        })
    }
}

impl Codec for VoteRequest<NodeId> {
    type Message = pb::VoteRequest;

    fn to_message(&self) -> pb::VoteRequest {
        pb::VoteRequest {
            vote: Some(self.vote.to_message()),
            last_log_id: opt_log_id(&self.last_log_id),
        }
    }

    fn from_message(m: pb::VoteRequest) -> Result<Self, CodecError> {
        Ok(VoteRequest {
            vote: vote_of(m.vote)?,
            last_log_id: log_id_opt(m.last_log_id)?,
        })
    }
}

impl Codec for InstallSnapshotRequest<TypeConfig> {
    type Message = pb::InstallSnapshotRequest;

    fn to_message(&self) -> pb::InstallSnapshotRequest {
        pb::InstallSnapshotRequest {
            vote: Some(self.vote.to_message()),
            meta: Some(self.meta.to_message()),
            offset: self.offset,
            data: self.data.clone(),
            done: self.done,
        }
    }

    fn from_message(m: pb::InstallSnapshotRequest) -> Result<Self, CodecError> {
        Ok(InstallSnapshotRequest {
            vote: vote_of(m.vote)?,
            meta: SnapshotMeta::from_message(required(m.meta, "meta")?)?,
            offset: m.offset,
            data: m.data,
            done: m.done,
        })
    }
}

/// The API error a Raft RPC can return besides `Fatal`.
pub trait ApiError: Sized {
    /// Its message, if it has one.
    fn to_kind(&self) -> pb::RaftErrorKind;
    /// The error of a snapshot mismatch, if this RPC can return one.
    fn from_mismatch(m: SnapshotMismatch) -> Result<Self, CodecError>;
}

impl ApiError for Infallible {
    fn to_kind(&self) -> pb::RaftErrorKind {
        match *self {}
    }

    fn from_mismatch(_: SnapshotMismatch) -> Result<Self, CodecError> {
        Err(CodecError::Invalid(
            "error",
            "a snapshot mismatch in a reply that cannot carry one".into(),
        ))
    }
}

impl ApiError for InstallSnapshotError {
    fn to_kind(&self) -> pb::RaftErrorKind {
        let InstallSnapshotError::SnapshotMismatch(m) = self;
        let seg = |s: &SnapshotSegmentId| pb::SnapshotSegmentId {
            id: s.id.clone(),
            offset: s.offset,
        };
        pb::RaftErrorKind::SnapshotMismatch(pb::SnapshotMismatch {
            expect: Some(seg(&m.expect)),
            got: Some(seg(&m.got)),
        })
    }

    fn from_mismatch(m: SnapshotMismatch) -> Result<Self, CodecError> {
        Ok(InstallSnapshotError::SnapshotMismatch(m))
    }
}

impl<E: ApiError> Codec for RaftError<NodeId, E> {
    type Message = pb::RaftError;

    fn to_message(&self) -> pb::RaftError {
        let kind = match self {
            RaftError::APIError(e) => e.to_kind(),
            RaftError::Fatal(Fatal::Stopped) => pb::RaftErrorKind::Stopped(pb::Empty {}),
            RaftError::Fatal(Fatal::Panicked) => pb::RaftErrorKind::Panicked(pb::Empty {}),
            RaftError::Fatal(Fatal::StorageError(e)) => pb::RaftErrorKind::Storage(e.to_string()),
        };
        pb::RaftError { kind: Some(kind) }
    }

    /// A remote storage error arrives as its description only; it is
    /// rebuilt as an I/O error on no particular subject.
    fn from_message(m: pb::RaftError) -> Result<Self, CodecError> {
        Ok(match required(m.kind, "error kind")? {
            pb::RaftErrorKind::Stopped(_) => RaftError::Fatal(Fatal::Stopped),
            pb::RaftErrorKind::Panicked(_) => RaftError::Fatal(Fatal::Panicked),
            pb::RaftErrorKind::Storage(msg) => {
                RaftError::Fatal(Fatal::StorageError(StorageError::from(
                    StorageIOError::new(ErrorSubject::None, ErrorVerb::Read, AnyError::error(msg)),
                )))
            }
            pb::RaftErrorKind::SnapshotMismatch(m) => {
                let seg = |s: Option<pb::SnapshotSegmentId>, name| {
                    required(s, name).map(|s| SnapshotSegmentId {
                        id: s.id,
                        offset: s.offset,
                    })
                };
                RaftError::APIError(E::from_mismatch(SnapshotMismatch {
                    expect: seg(m.expect, "expect")?,
                    got: seg(m.got, "got")?,
                })?)
            }
        })
    }
}

impl Codec for Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>> {
    type Message = pb::AppendEntriesReply;

    fn to_message(&self) -> pb::AppendEntriesReply {
        use pb::AppendEntriesResult as R;
        let result = match self {
            Ok(AppendEntriesResponse::Success) => R::Success(pb::Empty {}),
            Ok(AppendEntriesResponse::PartialSuccess(l)) => R::PartialSuccess(l.to_message()),
            Ok(AppendEntriesResponse::Conflict) => R::Conflict(pb::Empty {}),
            Ok(AppendEntriesResponse::HigherVote(v)) => R::HigherVote(v.to_message()),
            Err(e) => R::Error(e.to_message()),
        };
        pb::AppendEntriesReply {
            result: Some(result),
        }
    }

    fn from_message(m: pb::AppendEntriesReply) -> Result<Self, CodecError> {
        use pb::AppendEntriesResult as R;
        Ok(match required(m.result, "result")? {
            R::Success(_) => Ok(AppendEntriesResponse::Success),
            R::PartialSuccess(l) => Ok(AppendEntriesResponse::PartialSuccess(
                Option::from_message(l)?,
            )),
            R::Conflict(_) => Ok(AppendEntriesResponse::Conflict),
            R::HigherVote(v) => Ok(AppendEntriesResponse::HigherVote(Codec::from_message(v)?)),
            R::Error(e) => Err(RaftError::from_message(e)?),
        })
    }
}

impl Codec for Result<VoteResponse<NodeId>, RaftError<NodeId>> {
    type Message = pb::VoteReply;

    fn to_message(&self) -> pb::VoteReply {
        let result = match self {
            Ok(r) => pb::VoteResult::Response(pb::VoteResponse {
                vote: Some(r.vote.to_message()),
                vote_granted: r.vote_granted,
                last_log_id: opt_log_id(&r.last_log_id),
            }),
            Err(e) => pb::VoteResult::Error(e.to_message()),
        };
        pb::VoteReply {
            result: Some(result),
        }
    }

    fn from_message(m: pb::VoteReply) -> Result<Self, CodecError> {
        Ok(match required(m.result, "result")? {
            pb::VoteResult::Response(r) => Ok(VoteResponse {
                vote: vote_of(r.vote)?,
                vote_granted: r.vote_granted,
                last_log_id: log_id_opt(r.last_log_id)?,
            }),
            pb::VoteResult::Error(e) => Err(RaftError::from_message(e)?),
        })
    }
}

impl Codec for Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>> {
    type Message = pb::InstallSnapshotReply;

    fn to_message(&self) -> pb::InstallSnapshotReply {
        let result = match self {
            Ok(r) => pb::InstallSnapshotResult::Vote(r.vote.to_message()),
            Err(e) => pb::InstallSnapshotResult::Error(e.to_message()),
        };
        pb::InstallSnapshotReply {
            result: Some(result),
        }
    }

    fn from_message(m: pb::InstallSnapshotReply) -> Result<Self, CodecError> {
        Ok(match required(m.result, "result")? {
            pb::InstallSnapshotResult::Vote(v) => Ok(InstallSnapshotResponse {
                vote: Codec::from_message(v)?,
            }),
            pb::InstallSnapshotResult::Error(e) => Err(RaftError::from_message(e)?),
        })
    }
}
