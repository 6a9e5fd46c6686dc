//! Following the ledger: committed blocks ([`BlockEvents`]) and one
//! chaincode's events ([`ChaincodeEvents`]), resumable from a [`Checkpoint`].

use crate::codes;
use crate::error::{ClientError, Operation};
use consort_proto::{
    Block, BlockHeader, ChaincodeEventsResponse, CommittedBlock, TxValidationCode,
};
use prost::Message;
use std::collections::VecDeque;

/// Where an application is in a chaincode's event stream: the last event it
/// handled. Save it (e.g. as JSON) after each event; after a restart,
/// [`Client::chaincode_events`](crate::Client::chaincode_events) from it
/// delivers every later event once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The block of the last event handled.
    pub block: u64,
    /// Its transaction's index in that block.
    pub tx_number: u64,
}

impl Checkpoint {
    /// The checkpoint just after `event`.
    pub fn after(event: &ChaincodeEventItem) -> Self {
        Checkpoint {
            block: event.block,
            tx_number: event.tx_number,
        }
    }

    /// Whether an event committed at (`block`, `tx_number`) comes after
    /// this checkpoint, i.e. has not been handled yet.
    pub fn is_before(&self, block: u64, tx_number: u64) -> bool {
        (block, tx_number) > (self.block, self.tx_number)
    }
}

/// One chaincode event with where it was committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChaincodeEventItem {
    /// The block it was committed in.
    pub block: u64,
    /// The transaction's index in the block.
    pub tx_number: u64,
    /// The transaction.
    pub tx_id: String,
    /// The event's name.
    pub name: String,
    /// Its payload.
    pub payload: Vec<u8>,
}

/// The events of one block's response that come after `after`, in order.
pub(crate) fn events_after(
    resp: ChaincodeEventsResponse,
    after: Option<Checkpoint>,
) -> impl Iterator<Item = ChaincodeEventItem> {
    let block = resp.block_number;
    resp.events
        .into_iter()
        .filter(move |r| after.is_none_or(|c| c.is_before(block, r.tx_number)))
        .map(move |r| {
            let event = r.event.unwrap_or_default();
            ChaincodeEventItem {
                block,
                tx_number: r.tx_number,
                tx_id: r.tx_id,
                name: event.name,
                payload: event.payload,
            }
        })
}

/// A chaincode's events, in commit order.
pub struct ChaincodeEvents {
    pub(crate) stream: tonic::Streaming<ChaincodeEventsResponse>,
    pub(crate) endpoint: String,
    pub(crate) after: Option<Checkpoint>,
    pub(crate) pending: VecDeque<ChaincodeEventItem>,
}

impl std::fmt::Debug for ChaincodeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChaincodeEvents")
            .field("endpoint", &self.endpoint)
            .field("after", &self.after)
            .finish()
    }
}

impl ChaincodeEvents {
    /// The next event, waiting for it to commit; `None` when the gateway
    /// ends the stream. After an error, open a new stream from the
    /// [`Checkpoint`] of the last event handled.
    pub async fn next(&mut self) -> Result<Option<ChaincodeEventItem>, ClientError> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Ok(Some(e));
            }
            let Some(resp) = self
                .stream
                .message()
                .await
                .map_err(|s| ClientError::rpc(Operation::ChaincodeEvents, &self.endpoint, s))?
            else {
                return Ok(None);
            };
            self.pending.extend(events_after(resp, self.after));
        }
    }
}

/// One committed block, as the gateway's peer committed it.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockEvent {
    /// The block's number.
    pub number: u64,
    /// The block (header, transactions, orderer's signature).
    pub block: Block,
    /// Each transaction's validation code, in block order.
    pub codes: Vec<TxValidationCode>,
}

impl BlockEvent {
    /// Decodes a committed block from the gateway.
    pub fn decode(committed: CommittedBlock) -> Result<Self, ClientError> {
        let block = committed.block.unwrap_or_default();
        let header =
            BlockHeader::decode(block.header.as_slice()).map_err(|e| ClientError::Malformed {
                what: "block header from the gateway".into(),
                reason: e.to_string(),
            })?;
        Ok(BlockEvent {
            number: header.number,
            codes: committed
                .validation_codes
                .into_iter()
                .map(codes::from_i32)
                .collect(),
            block,
        })
    }
}

/// Committed blocks in order. To resume after handling block `n`, open a
/// new stream from `n + 1`.
pub struct BlockEvents {
    pub(crate) stream: tonic::Streaming<CommittedBlock>,
    pub(crate) endpoint: String,
}

impl std::fmt::Debug for BlockEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockEvents")
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl BlockEvents {
    /// The next block, waiting for it to commit; `None` when the gateway
    /// ends the stream.
    pub async fn next(&mut self) -> Result<Option<BlockEvent>, ClientError> {
        match self.stream.message().await {
            Ok(Some(b)) => BlockEvent::decode(b).map(Some),
            Ok(None) => Ok(None),
            Err(s) => Err(ClientError::rpc(Operation::BlockEvents, &self.endpoint, s)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consort_proto::{ChaincodeEvent, ChaincodeEventRecord};

    fn response(block: u64, txs: &[u64]) -> ChaincodeEventsResponse {
        ChaincodeEventsResponse {
            block_number: block,
            events: txs
                .iter()
                .map(|&n| ChaincodeEventRecord {
                    tx_id: format!("tx{block}.{n}"),
                    tx_number: n,
                    event: Some(ChaincodeEvent {
                        chaincode: "token".into(),
                        name: "Transfer".into(),
                        payload: vec![n as u8],
                    }),
                })
                .collect(),
        }
    }

    fn ids(it: impl Iterator<Item = ChaincodeEventItem>) -> Vec<String> {
        it.map(|e| e.tx_id).collect()
    }

    #[test]
    fn a_checkpoint_skips_what_was_handled_and_nothing_else() {
        assert_eq!(
            ids(events_after(response(5, &[0, 2, 3]), None)),
            ["tx5.0", "tx5.2", "tx5.3"]
        );
        let c = Checkpoint {
            block: 5,
            tx_number: 2,
        };
        assert_eq!(
            ids(events_after(response(5, &[0, 2, 3]), Some(c))),
            ["tx5.3"]
        );
        assert_eq!(
            ids(events_after(response(6, &[0, 1]), Some(c))),
            ["tx6.0", "tx6.1"]
        );
        assert!(ids(events_after(response(4, &[9]), Some(c))).is_empty());
    }

    #[test]
    fn a_checkpoint_round_trips_and_follows_its_event() {
        let e = events_after(response(9, &[4]), None).next().unwrap();
        let c = Checkpoint::after(&e);
        assert_eq!((c.block, c.tx_number), (9, 4));
        assert!(!c.is_before(9, 4));
        assert!(c.is_before(9, 5));
        assert!(c.is_before(10, 0));
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), c);
    }

    #[test]
    fn a_block_event_decodes_number_and_codes() {
        let block = Block {
            header: BlockHeader {
                number: 12,
                ..Default::default()
            }
            .encode_to_vec(),
            data: vec![vec![1], vec![2]],
            signature: None,
        };
        let e = BlockEvent::decode(CommittedBlock {
            block: Some(block),
            validation_codes: vec![0, 11],
        })
        .unwrap();
        assert_eq!(e.number, 12);
        assert_eq!(
            e.codes,
            [TxValidationCode::Valid, TxValidationCode::MvccReadConflict]
        );
        let bad = BlockEvent::decode(CommittedBlock {
            block: Some(Block {
                header: vec![0xff; 4],
                ..Default::default()
            }),
            validation_codes: vec![],
        })
        .unwrap_err();
        assert!(matches!(bad, ClientError::Malformed { .. }), "{bad}");
    }
}
