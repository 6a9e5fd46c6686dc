//! Raft messages between orderers, carried by the `Raft` gRPC service over
//! mutual TLS. Requests and results are openraft's own types, encoded as
//! protobuf messages of [`super::codec::RAFT_WIRE_FORMAT`] by
//! [`super::codec`].

use super::codec::{self, Codec};
use super::types::{NodeId, TypeConfig};
use crate::transport::Dialer;
use consort_proto::raft_client::RaftClient;
use openraft::error::{
    InstallSnapshotError, NetworkError, PayloadTooLarge, RPCError, RaftError, RemoteError,
    Unreachable,
};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;
use std::sync::Arc;
use tonic::transport::Channel;

/// Makes Raft clients to other orderers.
#[derive(Clone)]
pub struct Network {
    dialer: Arc<Dialer>,
    max_message_bytes: usize,
}

impl Network {
    /// A network dialing with `dialer`, sending messages of at most
    /// `max_message_bytes` (the receivers' limit).
    pub fn new(dialer: Arc<Dialer>, max_message_bytes: usize) -> Self {
        Network {
            dialer,
            max_message_bytes,
        }
    }
}

/// A connection to one orderer.
pub struct Connection {
    target: NodeId,
    max_message_bytes: usize,
    client: Option<RaftClient<Channel>>,
    error: Option<String>,
}

impl RaftNetworkFactory<TypeConfig> for Network {
    type Network = Connection;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> Connection {
        match self.dialer.channel(&node.addr) {
            Ok(ch) => Connection {
                target,
                max_message_bytes: self.max_message_bytes,
                client: Some(
                    RaftClient::new(ch)
                        .max_decoding_message_size(self.max_message_bytes)
                        .max_encoding_message_size(self.max_message_bytes),
                ),
                error: None,
            },
            Err(e) => Connection {
                target,
                max_message_bytes: self.max_message_bytes,
                client: None,
                error: Some(e.to_string()),
            },
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Msg(String);

/// Which RPC to call.
#[derive(Clone, Copy)]
enum Rpc {
    Append,
    Vote,
    Snapshot,
}

impl Connection {
    async fn call<Req, Resp, E>(
        &mut self,
        rpc: Rpc,
        req: &Req,
        entries: usize,
    ) -> Result<Resp, RPCError<NodeId, BasicNode, E>>
    where
        Req: Codec,
        Result<Resp, E>: Codec,
        E: std::error::Error,
    {
        let Some(client) = self.client.as_mut() else {
            let msg = self.error.clone().unwrap_or_default();
            return Err(RPCError::Unreachable(Unreachable::new(&Msg(msg))));
        };
        let payload = codec::to_payload(req);
        let data = &payload.data;
        if data.len() > self.max_message_bytes {
            // openraft sends fewer entries when told the payload is too large.
            if entries > 1 {
                return Err(RPCError::PayloadTooLarge(
                    PayloadTooLarge::new_entries_hint((entries / 2) as u64),
                ));
            }
            return Err(RPCError::Network(NetworkError::new(&Msg(format!(
                "Raft message of {} bytes exceeds the limit of {}",
                data.len(),
                self.max_message_bytes
            )))));
        }
        let reply = match rpc {
            Rpc::Append => client.append_entries(payload).await,
            Rpc::Vote => client.vote(payload).await,
            Rpc::Snapshot => client.install_snapshot(payload).await,
        };
        let reply =
            reply.map_err(|s| RPCError::Unreachable(Unreachable::new(&Msg(s.to_string()))))?;
        let result: Result<Resp, E> =
            codec::from_payload(&reply.into_inner(), self.max_message_bytes)
                .map_err(|e| RPCError::Network(NetworkError::new(&e)))?;
        result.map_err(|e| RPCError::RemoteError(RemoteError::new(self.target, e)))
    }
}

impl RaftNetwork<TypeConfig> for Connection {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let entries = rpc.entries.len();
        self.call(Rpc::Append, &rpc, entries).await
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        self.call(Rpc::Snapshot, &rpc, 1).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        self.call(Rpc::Vote, &rpc, 1).await
    }
}
