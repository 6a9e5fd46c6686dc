//! The external-chaincode protocol's messages (`proto/consort/chaincode.proto`)
//! and their conversion to and from the SDK's types, shared by the chaincode
//! server ([`crate::serve`]) and the peer. No I/O: [`answer`] runs one
//! request against any [`ChaincodeStub`], which is all a peer does for an
//! external chaincode's stub calls.

use consort_proto::chaincode_failure::Kind;
use consort_proto::state_request::Request;
use consort_proto::state_response::Result as Answer;
use consort_proto::{
    Ack, ChaincodeCreator, ChaincodeFailure, ChaincodeInvoke, KeyChange, KeyHistory, QueryEntry,
    QueryPage, QueryResult, StateQuery, StateRequest, StateResponse, StateValue,
};

use crate::query::{Query, QueryOutcome, ScannedRange};
use crate::{ChaincodeError, ChaincodeStub, Creator, KeyModification, KeyValue, QueryMetadata};

/// A message that breaks the protocol.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("protocol violation: {0}")]
pub struct ProtocolError(pub String);

pub use crate::calls::Invocation;

impl Invocation {
    /// What `stub` says about its invocation.
    pub fn of_stub(stub: &dyn ChaincodeStub) -> Self {
        Self {
            function: stub.function().to_owned(),
            args: stub.args().to_vec(),
            tx_id: stub.tx_id().to_owned(),
            channel_id: stub.channel_id().to_owned(),
            creator: stub.creator().clone(),
            timestamp_ms: stub.tx_timestamp_ms(),
            transient: stub.transient().clone(),
        }
    }

    /// The `Invoke` message.
    pub fn to_proto(&self) -> ChaincodeInvoke {
        ChaincodeInvoke {
            function: self.function.clone(),
            args: self.args.clone(),
            tx_id: self.tx_id.clone(),
            channel_id: self.channel_id.clone(),
            creator: Some(ChaincodeCreator {
                msp_id: self.creator.msp_id.clone(),
                role: self.creator.role.clone(),
                subject: self.creator.subject.clone(),
                cert_der: self.creator.cert_der.clone(),
                attributes: self.creator.attributes.clone().into_iter().collect(),
            }),
            timestamp_ms: self.timestamp_ms,
            transient: self.transient.clone().into_iter().collect(),
        }
    }

    /// Reads an `Invoke` message; it must name a function and a creator.
    pub fn from_proto(invoke: ChaincodeInvoke) -> Result<Self, ProtocolError> {
        let creator = invoke
            .creator
            .ok_or_else(|| ProtocolError("the invoke message has no creator".to_owned()))?;
        if invoke.function.is_empty() {
            return Err(ProtocolError(
                "the invoke message names no function".to_owned(),
            ));
        }
        Ok(Self {
            function: invoke.function,
            args: invoke.args,
            tx_id: invoke.tx_id,
            channel_id: invoke.channel_id,
            creator: Creator {
                msp_id: creator.msp_id,
                role: creator.role,
                subject: creator.subject,
                cert_der: creator.cert_der,
                attributes: creator.attributes.into_iter().collect(),
            },
            timestamp_ms: invoke.timestamp_ms,
            transient: invoke.transient.into_iter().collect(),
        })
    }
}

/// A chaincode error on the wire.
pub fn error_to_proto(error: &ChaincodeError) -> ChaincodeFailure {
    let (kind, message, function) = match error {
        ChaincodeError::Business(message) => (Kind::Business, message.clone(), String::new()),
        ChaincodeError::UnknownFunction(name) => {
            (Kind::UnknownFunction, name.clone(), String::new())
        }
        ChaincodeError::InvalidArgs { function, reason } => {
            (Kind::InvalidArgs, reason.clone(), function.clone())
        }
        ChaincodeError::State(message) => (Kind::State, message.clone(), String::new()),
        ChaincodeError::BadRequest(message) => (Kind::BadRequest, message.clone(), String::new()),
        ChaincodeError::Call { chaincode, reason } => {
            (Kind::Call, reason.clone(), chaincode.clone())
        }
    };
    ChaincodeFailure {
        kind: kind as i32,
        message,
        function,
    }
}

/// The chaincode error a `ChaincodeFailure` carries; an unknown kind is a state error.
pub fn error_from_proto(failure: ChaincodeFailure) -> ChaincodeError {
    match Kind::try_from(failure.kind) {
        Ok(Kind::Business) => ChaincodeError::Business(failure.message),
        Ok(Kind::UnknownFunction) => ChaincodeError::UnknownFunction(failure.message),
        Ok(Kind::InvalidArgs) => ChaincodeError::InvalidArgs {
            function: failure.function,
            reason: failure.message,
        },
        Ok(Kind::State) => ChaincodeError::State(failure.message),
        Ok(Kind::BadRequest) => ChaincodeError::BadRequest(failure.message),
        Ok(Kind::Call) => ChaincodeError::Call {
            chaincode: failure.function,
            reason: failure.message,
        },
        Err(_) => ChaincodeError::State(format!(
            "unknown error kind {}: {}",
            failure.kind, failure.message
        )),
    }
}

/// A query on the wire.
pub fn query_to_proto(query: &Query) -> StateQuery {
    StateQuery {
        start_key: query.start().to_owned(),
        end_key: query.end().to_owned(),
        page: query.page().map(|(size, from)| QueryPage {
            size,
            from_key: from.map(str::to_owned),
        }),
    }
}

/// The query a `StateQuery` describes, checked as [`Query::from_parts`] does.
pub fn query_from_proto(query: &StateQuery) -> Result<Query, ChaincodeError> {
    let page = query
        .page
        .as_ref()
        .map(|page| (page.size, page.from_key.as_deref()));
    Query::from_parts(&query.start_key, &query.end_key, page)
}

/// A query's outcome on the wire.
pub fn outcome_to_proto(outcome: QueryOutcome) -> QueryResult {
    QueryResult {
        entries: outcome
            .entries
            .into_iter()
            .map(|entry| QueryEntry {
                key: entry.key,
                value: entry.value,
            })
            .collect(),
        fetched_records: outcome.metadata.fetched_records,
        bookmark: outcome.metadata.bookmark,
        scanned_start_key: outcome.scanned.start_key,
        scanned_end_key: outcome.scanned.end_key,
        scanned_exhausted: outcome.scanned.exhausted,
    }
}

/// The outcome a `QueryResult` carries.
pub fn outcome_from_proto(result: QueryResult) -> QueryOutcome {
    QueryOutcome {
        entries: result
            .entries
            .into_iter()
            .map(|entry| KeyValue {
                key: entry.key,
                value: entry.value,
            })
            .collect(),
        metadata: QueryMetadata {
            fetched_records: result.fetched_records,
            bookmark: result.bookmark,
        },
        scanned: ScannedRange {
            start_key: result.scanned_start_key,
            end_key: result.scanned_end_key,
            exhausted: result.scanned_exhausted,
        },
    }
}

/// A key's history on the wire.
pub fn history_to_proto(history: Vec<KeyModification>) -> KeyHistory {
    KeyHistory {
        changes: history
            .into_iter()
            .map(|change| KeyChange {
                tx_id: change.tx_id,
                value: change.value,
                is_delete: change.is_delete,
                timestamp_ms: change.timestamp_ms,
            })
            .collect(),
    }
}

/// The history a `KeyHistory` carries.
pub fn history_from_proto(history: KeyHistory) -> Vec<KeyModification> {
    history
        .changes
        .into_iter()
        .map(|change| KeyModification {
            tx_id: change.tx_id,
            value: change.value,
            is_delete: change.is_delete,
            timestamp_ms: change.timestamp_ms,
        })
        .collect()
}

/// Runs one state request against `stub` and returns the answer; a stub
/// error is answered as an error. A request with nothing in it is a
/// protocol violation.
pub fn answer(
    stub: &mut dyn ChaincodeStub,
    request: StateRequest,
) -> Result<StateResponse, ProtocolError> {
    let request = request
        .request
        .ok_or_else(|| ProtocolError("an empty state request".to_owned()))?;
    let ack = |done: Result<(), ChaincodeError>| done.map(|()| Answer::Ack(Ack {}));
    let result = match request {
        Request::GetState(key) => stub
            .get_state(&key)
            .map(|value| Answer::Value(StateValue { value })),
        Request::PutState(put) => ack(stub.put_state(&put.key, &put.value)),
        Request::DelState(key) => ack(stub.del_state(&key)),
        Request::SetEvent(event) => ack(stub.set_event(&event.name, &event.payload)),
        Request::ExecuteQuery(query) => query_from_proto(&query)
            .and_then(|query| stub.execute_query(&query))
            .map(|outcome| Answer::Query(outcome_to_proto(outcome))),
        Request::GetHistoryForKey(key) => stub
            .get_history_for_key(&key)
            .map(|history| Answer::History(history_to_proto(history))),
        Request::InvokeChaincode(call) => stub
            .invoke_chaincode(&call.chaincode, &call.function, &call.args)
            .map(Answer::Payload),
    };
    let result = result.unwrap_or_else(|error| Answer::Error(error_to_proto(&error)));
    Ok(StateResponse {
        result: Some(result),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_wire() {
        for error in [
            ChaincodeError::business("no"),
            ChaincodeError::UnknownFunction("fly".into()),
            ChaincodeError::InvalidArgs {
                function: "put".into(),
                reason: "expected 2".into(),
            },
            ChaincodeError::State("disk".into()),
            ChaincodeError::bad_request("empty key"),
            ChaincodeError::Call {
                chaincode: "bank".into(),
                reason: "not defined on the channel".into(),
            },
        ] {
            assert_eq!(error_from_proto(error_to_proto(&error)), error);
        }
        let unknown = ChaincodeFailure {
            kind: 99,
            message: "x".into(),
            function: String::new(),
        };
        assert!(matches!(
            error_from_proto(unknown),
            ChaincodeError::State(_)
        ));
    }

    #[test]
    fn invocations_survive_the_wire() {
        let invocation = Invocation {
            function: "f".into(),
            args: vec![b"a".to_vec(), vec![0xff]],
            tx_id: "tx".into(),
            channel_id: "ch".into(),
            creator: Creator {
                msp_id: "Org1MSP".into(),
                role: "client".into(),
                subject: "user1".into(),
                cert_der: vec![1, 2],
                attributes: [("department".to_owned(), "audit".to_owned())].into(),
            },
            timestamp_ms: 42,
            transient: [("secret".to_owned(), b"s".to_vec())].into(),
        };
        assert_eq!(
            Invocation::from_proto(invocation.to_proto()).unwrap(),
            invocation
        );
        let mut no_creator = invocation.to_proto();
        no_creator.creator = None;
        assert!(Invocation::from_proto(no_creator).is_err());
    }

    #[test]
    fn answers_requests_from_the_stub() {
        let mut stub = crate::MockStub::new("ch");
        struct Check;
        impl crate::Chaincode for Check {
            fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
                let put = StateRequest {
                    request: Some(Request::PutState(consort_proto::PutState {
                        key: "k".into(),
                        value: b"v".to_vec(),
                    })),
                };
                let answered = answer(stub, put).unwrap();
                assert_eq!(answered.result, Some(Answer::Ack(Ack {})));
                let get = StateRequest {
                    request: Some(Request::GetState("k".into())),
                };
                let answered = answer(stub, get).unwrap();
                assert_eq!(
                    answered.result,
                    Some(Answer::Value(StateValue {
                        value: Some(b"v".to_vec())
                    }))
                );
                let bad = StateRequest {
                    request: Some(Request::DelState(String::new())),
                };
                let Some(Answer::Error(failure)) = answer(stub, bad).unwrap().result else {
                    panic!("an empty key is refused");
                };
                assert!(error_from_proto(failure).to_string().contains("empty"));
                assert!(answer(stub, StateRequest { request: None }).is_err());
                Ok(Vec::new())
            }
        }
        stub.invoke(&Check, "check", &[]).unwrap();
        assert_eq!(stub.state("k"), Some(&b"v"[..]));
    }
}
