//! Chaincode events out of committed blocks: pure functions over a block
//! and its validation codes.

use consort_proto::{
    ChaincodeEventRecord, CommittedBlock, Envelope, ProposalHeader, ProposalResponsePayload,
    Transaction, TxValidationCode as Code,
};
use prost::Message;

/// The events `chaincode` set in the VALID transactions of `block`, in
/// transaction order. Invalid transactions' events are never delivered.
pub fn chaincode_events(block: &CommittedBlock, chaincode: &str) -> Vec<ChaincodeEventRecord> {
    let Some(b) = block.block.as_ref() else {
        return Vec::new();
    };
    b.data
        .iter()
        .zip(&block.validation_codes)
        .enumerate()
        .filter(|(_, (_, code))| **code == Code::Valid as i32)
        .filter_map(|(i, (bytes, _))| {
            let env = Envelope::decode(bytes.as_slice()).ok()?;
            let tx = Transaction::decode(env.payload.as_slice()).ok()?;
            let prp = ProposalResponsePayload::decode(tx.response_payload.as_slice()).ok()?;
            let event = prp.event.filter(|e| e.chaincode == chaincode)?;
            let header = ProposalHeader::decode(tx.header.as_slice()).ok()?;
            Some(ChaincodeEventRecord {
                tx_id: header.tx_id,
                tx_number: i as u64,
                event: Some(event),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{self, block_after, Consortium};
    use consort_proto::{ChaincodeEvent, ProposalResponsePayload};

    /// An envelope whose response payload carries `event`.
    fn with_event(c: &Consortium, event: Option<ChaincodeEvent>) -> (Vec<u8>, String) {
        let (bytes, tx_id) = testkit::endorsed_envelope(
            &c.orgs[0].client,
            "testchannel",
            testkit::rwset("token", &[], &[("k", Some("v"))]),
            &[&c.orgs[0].peer],
        );
        let mut env = Envelope::decode(bytes.as_slice()).unwrap();
        let mut tx = Transaction::decode(env.payload.as_slice()).unwrap();
        let mut prp = ProposalResponsePayload::decode(tx.response_payload.as_slice()).unwrap();
        prp.event = event;
        tx.response_payload = prp.encode_to_vec();
        env.payload = tx.encode_to_vec();
        (env.encode_to_vec(), tx_id)
    }

    fn event(cc: &str, name: &str) -> Option<ChaincodeEvent> {
        Some(ChaincodeEvent {
            chaincode: cc.into(),
            name: name.into(),
            payload: name.as_bytes().to_vec(),
        })
    }

    #[test]
    fn only_valid_transactions_events_of_the_chaincode_are_delivered() {
        let c = Consortium::new(1);
        let txs = [
            (with_event(&c, event("token", "first")), Code::Valid),
            (
                with_event(&c, event("token", "invalid")),
                Code::MvccReadConflict,
            ),
            (with_event(&c, None), Code::Valid),
            (with_event(&c, event("other", "elsewhere")), Code::Valid),
            (with_event(&c, event("token", "second")), Code::Valid),
        ];
        let genesis = crate::block::genesis(&c.config);
        let b = block_after(
            "testchannel",
            1,
            &genesis,
            txs.iter().map(|((bytes, _), _)| bytes.clone()).collect(),
            Some(&c.orgs[0].orderer),
        );
        let committed = CommittedBlock {
            block: Some(b),
            validation_codes: txs.iter().map(|(_, code)| *code as i32).collect(),
        };
        let got = chaincode_events(&committed, "token");
        let names: Vec<(&str, u64)> = got
            .iter()
            .map(|r| (r.event.as_ref().unwrap().name.as_str(), r.tx_number))
            .collect();
        assert_eq!(names, vec![("first", 0), ("second", 4)]);
        assert_eq!(got[0].tx_id, txs[0].0 .1);
        assert_eq!(chaincode_events(&committed, "other").len(), 1);
        assert!(chaincode_events(&committed, "none").is_empty());
        assert!(chaincode_events(&CommittedBlock::default(), "token").is_empty());
    }
}
