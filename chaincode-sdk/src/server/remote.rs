//! The stub an external chaincode runs against: every state call goes to the
//! peer over the invocation's stream, and the chaincode's thread blocks until
//! the peer answers.

use std::collections::BTreeMap;

use consort_proto::chaincode_to_peer::Message as Outbound;
use consort_proto::peer_to_chaincode::Message as Inbound;
use consort_proto::state_request::Request;
use consort_proto::state_response::Result as Answer;
use consort_proto::{ChaincodeToPeer, InvokeChaincode, PeerToChaincode, PutState, SetEvent};
use consort_proto::{StateRequest, StateResponse};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tonic::{Status, Streaming};

use crate::query::{Query, QueryOutcome};
use crate::wire::{self, Invocation};
use crate::{ChaincodeError, ChaincodeStub, Creator, KeyModification};

/// The stub of one invocation on a chaincode server. Runs on a blocking
/// thread: each call sends a request and waits for the peer's answer.
pub(super) struct RemoteStub {
    invocation: Invocation,
    outbound: mpsc::Sender<Result<ChaincodeToPeer, Status>>,
    inbound: Streaming<PeerToChaincode>,
    runtime: Handle,
}

fn lost(reason: &str) -> ChaincodeError {
    ChaincodeError::State(format!("the peer's stream ended: {reason}"))
}

fn unexpected(what: &str) -> ChaincodeError {
    ChaincodeError::State(format!(
        "protocol violation: the peer answered {what} with something else"
    ))
}

impl RemoteStub {
    pub(super) fn new(
        invocation: Invocation,
        outbound: mpsc::Sender<Result<ChaincodeToPeer, Status>>,
        inbound: Streaming<PeerToChaincode>,
        runtime: Handle,
    ) -> Self {
        Self {
            invocation,
            outbound,
            inbound,
            runtime,
        }
    }

    /// Sends `request` and waits for the answer; an error answer is returned as the error.
    fn call(&mut self, request: Request) -> Result<Answer, ChaincodeError> {
        let message = ChaincodeToPeer {
            message: Some(Outbound::Request(StateRequest {
                request: Some(request),
            })),
        };
        self.outbound
            .blocking_send(Ok(message))
            .map_err(|_| lost("the peer stopped listening"))?;
        let reply = self
            .runtime
            .block_on(self.inbound.message())
            .map_err(|status| lost(status.message()))?
            .ok_or_else(|| lost("the peer closed it"))?;
        match reply.message {
            Some(Inbound::Response(StateResponse {
                result: Some(Answer::Error(failure)),
            })) => Err(wire::error_from_proto(failure)),
            Some(Inbound::Response(StateResponse {
                result: Some(answer),
            })) => Ok(answer),
            _ => Err(ChaincodeError::State(
                "protocol violation: expected a state response".to_owned(),
            )),
        }
    }

    fn call_ack(&mut self, what: &str, request: Request) -> Result<(), ChaincodeError> {
        match self.call(request)? {
            Answer::Ack(_) => Ok(()),
            _ => Err(unexpected(what)),
        }
    }
}

impl ChaincodeStub for RemoteStub {
    fn function(&self) -> &str {
        &self.invocation.function
    }

    fn args(&self) -> &[Vec<u8>] {
        &self.invocation.args
    }

    fn tx_id(&self) -> &str {
        &self.invocation.tx_id
    }

    fn channel_id(&self) -> &str {
        &self.invocation.channel_id
    }

    fn creator(&self) -> &Creator {
        &self.invocation.creator
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ChaincodeError> {
        match self.call(Request::GetState(key.to_owned()))? {
            Answer::Value(value) => Ok(value.value),
            _ => Err(unexpected("get_state")),
        }
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ChaincodeError> {
        let put = PutState {
            key: key.to_owned(),
            value: value.to_vec(),
        };
        self.call_ack("put_state", Request::PutState(put))
    }

    fn del_state(&mut self, key: &str) -> Result<(), ChaincodeError> {
        self.call_ack("del_state", Request::DelState(key.to_owned()))
    }

    fn tx_timestamp_ms(&self) -> i64 {
        self.invocation.timestamp_ms
    }

    fn transient(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.invocation.transient
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), ChaincodeError> {
        let event = SetEvent {
            name: name.to_owned(),
            payload: payload.to_vec(),
        };
        self.call_ack("set_event", Request::SetEvent(event))
    }

    fn execute_query(&mut self, query: &Query) -> Result<QueryOutcome, ChaincodeError> {
        match self.call(Request::ExecuteQuery(wire::query_to_proto(query)))? {
            Answer::Query(result) => Ok(wire::outcome_from_proto(result)),
            _ => Err(unexpected("execute_query")),
        }
    }

    fn get_history_for_key(&mut self, key: &str) -> Result<Vec<KeyModification>, ChaincodeError> {
        match self.call(Request::GetHistoryForKey(key.to_owned()))? {
            Answer::History(history) => Ok(wire::history_from_proto(history)),
            _ => Err(unexpected("get_history_for_key")),
        }
    }

    fn invoke_chaincode(
        &mut self,
        chaincode: &str,
        function: &str,
        args: &[Vec<u8>],
    ) -> Result<Vec<u8>, ChaincodeError> {
        let call = InvokeChaincode {
            chaincode: chaincode.to_owned(),
            function: function.to_owned(),
            args: args.to_vec(),
        };
        match self.call(Request::InvokeChaincode(call))? {
            Answer::Payload(payload) => Ok(payload),
            _ => Err(unexpected("invoke_chaincode")),
        }
    }
}
