//! Blocks: hashing, building, and checking a block against its predecessor.
//! Pure functions over bytes; no I/O.

use crate::identity::Msp;
use crate::identity::Role;
use consort_proto::{Block, BlockHeader, BlockSignature, ChannelConfig};
use prost::Message;
use sha2::{Digest, Sha256};

/// A SHA-256 digest.
pub type Hash = [u8; 32];

/// Why a block was rejected.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// The header bytes do not decode.
    #[error("block header does not decode: {0}")]
    MalformedHeader(String),
    /// The block is not the next one.
    #[error("expected block {expected}, got block {got}")]
    WrongNumber {
        /// The number expected.
        expected: u64,
        /// The number received.
        got: u64,
    },
    /// `previous_hash` is not the hash of the previous header.
    #[error("block {0} does not link to the previous block's hash")]
    BrokenChain(u64),
    /// `data_hash` does not match the data.
    #[error("block {0}: data hash does not match its transactions")]
    DataHashMismatch(u64),
    /// The block belongs to another channel.
    #[error("block {number} is for channel '{got}', not '{expected}'")]
    WrongChannel {
        /// The block.
        number: u64,
        /// This node's channel.
        expected: String,
        /// The block's channel.
        got: String,
    },
    /// The block carries no orderer signature.
    #[error("block {0} is not signed")]
    Unsigned(u64),
    /// The signature is not a valid signature of a member orderer.
    #[error("block {number}: bad orderer signature: {reason}")]
    BadSignature {
        /// The block.
        number: u64,
        /// Why.
        reason: String,
    },
    /// The genesis block does not hold a channel config.
    #[error("genesis block: {0}")]
    BadGenesis(String),
}

/// SHA-256 of `bytes`.
pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

/// SHA-256 over the concatenated SHA-256 of each data item.
pub fn data_hash(data: &[Vec<u8>]) -> Hash {
    let mut h = Sha256::new();
    for d in data {
        h.update(Sha256::digest(d));
    }
    h.finalize().into()
}

/// The hash of a block: SHA-256 of its encoded header.
pub fn block_hash(block: &Block) -> Hash {
    sha256(&block.header)
}

/// Bytes allowed for a block's header, signature and framing.
const BLOCK_OVERHEAD: usize = 64 * 1024;

/// The largest message any node accepts under `config`: its
/// `max_message_bytes`, at least 64 KiB.
pub fn max_message_bytes(config: &ChannelConfig) -> usize {
    usize::try_from(config.max_message_bytes)
        .unwrap_or(usize::MAX)
        .max(64 * 1024)
}

/// The largest encoded block `config` lets the ordering service cut: a full
/// batch, or one envelope of the largest message size alone, whichever is
/// larger, plus framing per transaction, the header and the signature.
/// Blocks are refused beyond it wherever they are received.
pub fn max_block_bytes(config: &ChannelConfig) -> usize {
    let batch = config.batch.unwrap_or_default();
    let data = usize::try_from(batch.max_bytes)
        .unwrap_or(usize::MAX)
        .max(max_message_bytes(config));
    let framing = usize::try_from(batch.max_tx_count)
        .unwrap_or(usize::MAX)
        .saturating_mul(16);
    data.saturating_add(framing).saturating_add(BLOCK_OVERHEAD)
}

/// Builds an unsigned block.
pub fn build(
    channel_id: &str,
    number: u64,
    previous_hash: &[u8],
    timestamp_ms: i64,
    data: Vec<Vec<u8>>,
) -> Block {
    let header = BlockHeader {
        number,
        previous_hash: previous_hash.to_vec(),
        data_hash: data_hash(&data).to_vec(),
        channel_id: channel_id.to_string(),
        timestamp_ms,
    };
    Block {
        header: header.encode_to_vec(),
        data,
        signature: None,
    }
}

/// The genesis block (number 0) carrying the channel config.
pub fn genesis(config: &ChannelConfig) -> Block {
    build(&config.channel_id, 0, &[], 0, vec![config.encode_to_vec()])
}

/// Reads the channel config out of a genesis block.
pub fn genesis_config(block: &Block) -> Result<ChannelConfig, BlockError> {
    let header = decode_header(block)?;
    if header.number != 0 {
        return Err(BlockError::BadGenesis(format!(
            "number is {}",
            header.number
        )));
    }
    if header.data_hash != data_hash(&block.data) {
        return Err(BlockError::DataHashMismatch(0));
    }
    let [config] = block.data.as_slice() else {
        return Err(BlockError::BadGenesis(
            "expected exactly one data item".into(),
        ));
    };
    ChannelConfig::decode(config.as_slice()).map_err(|e| BlockError::BadGenesis(e.to_string()))
}

/// Decodes a block's header.
pub fn decode_header(block: &Block) -> Result<BlockHeader, BlockError> {
    BlockHeader::decode(block.header.as_slice())
        .map_err(|e| BlockError::MalformedHeader(e.to_string()))
}

/// Checks that `block` is the block after one with `prev_number` and
/// `prev_hash` on `channel_id`, and that its data hash is right.
pub fn check_link(
    block: &Block,
    channel_id: &str,
    expected_number: u64,
    prev_hash: &[u8],
) -> Result<BlockHeader, BlockError> {
    let header = decode_header(block)?;
    if header.number != expected_number {
        return Err(BlockError::WrongNumber {
            expected: expected_number,
            got: header.number,
        });
    }
    if header.channel_id != channel_id {
        return Err(BlockError::WrongChannel {
            number: header.number,
            expected: channel_id.to_string(),
            got: header.channel_id,
        });
    }
    if header.previous_hash != prev_hash {
        return Err(BlockError::BrokenChain(header.number));
    }
    if header.data_hash != data_hash(&block.data) {
        return Err(BlockError::DataHashMismatch(header.number));
    }
    Ok(header)
}

/// The checks a block passes on its own, before it is known where it goes
/// in the chain: header, channel, data hash and a configured orderer's
/// signature. Returns its header. A peer runs them on a block from another
/// peer before it passes the block on.
pub fn check_standalone(
    block: &Block,
    channel_id: &str,
    msp: &Msp,
) -> Result<BlockHeader, BlockError> {
    let header = decode_header(block)?;
    if header.channel_id != channel_id {
        return Err(BlockError::WrongChannel {
            number: header.number,
            expected: channel_id.to_string(),
            got: header.channel_id,
        });
    }
    if header.data_hash != data_hash(&block.data) {
        return Err(BlockError::DataHashMismatch(header.number));
    }
    check_signature(block, header.number, msp)?;
    Ok(header)
}

/// Checks that the block is signed by one of the channel's configured
/// orderers (its consenter set): the signer must be a valid member identity
/// with the orderer role *and* the certificate the channel config binds to
/// one of its orderers. Returns that orderer's Raft ID.
pub fn check_signature(block: &Block, number: u64, msp: &Msp) -> Result<u64, BlockError> {
    let sig = block
        .signature
        .as_ref()
        .ok_or(BlockError::Unsigned(number))?;
    let bad = |reason: String| BlockError::BadSignature { number, reason };
    let signer = msp.validate(&sig.signer).map_err(|e| bad(e.to_string()))?;
    if signer.role != Role::Orderer {
        return Err(bad(format!(
            "signer '{}' is a {}, not an orderer",
            signer.subject, signer.role
        )));
    }
    let consenter = msp
        .consenters()
        .by_signing_cert(&signer.msp_id, &signer.cert_der)
        .ok_or_else(|| {
            bad(format!(
                "signer '{}' ({}) is not one of the channel's orderers",
                signer.subject, signer.msp_id
            ))
        })?;
    signer
        .verify(&block.header, &sig.signature)
        .map_err(|e| bad(e.to_string()))?;
    Ok(consenter.id)
}

/// Signs a block's header as an orderer.
pub fn sign(
    block: &mut Block,
    orderer: &crate::identity::SigningIdentity,
) -> Result<(), crate::identity::SignerError> {
    block.signature = Some(BlockSignature {
        signer: orderer.serialized().to_vec(),
        signature: orderer.sign(&block.header)?,
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_hash_covers_order_and_content() {
        let a = vec![b"a".to_vec(), b"b".to_vec()];
        let b = vec![b"b".to_vec(), b"a".to_vec()];
        assert_ne!(data_hash(&a), data_hash(&b));
        assert_eq!(data_hash(&a), data_hash(&a.clone()));
        // Concatenation ambiguity: ["ab"] vs ["a","b"] must differ.
        assert_ne!(data_hash(&[b"ab".to_vec()]), data_hash(&a));
    }

    #[test]
    fn chain_links_and_detects_tampering() {
        let g = genesis(&ChannelConfig {
            channel_id: "ch".into(),
            ..Default::default()
        });
        assert_eq!(genesis_config(&g).unwrap().channel_id, "ch");
        let h0 = block_hash(&g);
        let b1 = build("ch", 1, &h0, 5, vec![b"tx1".to_vec()]);
        assert!(check_link(&b1, "ch", 1, &h0).is_ok());
        assert_eq!(
            check_link(&b1, "ch", 2, &h0),
            Err(BlockError::WrongNumber {
                expected: 2,
                got: 1
            })
        );
        assert_eq!(
            check_link(&b1, "ch", 1, &[0u8; 32]),
            Err(BlockError::BrokenChain(1))
        );
        assert!(matches!(
            check_link(&b1, "other", 1, &h0),
            Err(BlockError::WrongChannel { .. })
        ));
        let mut tampered = b1.clone();
        tampered.data[0] = b"tx2".to_vec();
        assert_eq!(
            check_link(&tampered, "ch", 1, &h0),
            Err(BlockError::DataHashMismatch(1))
        );
        let mut bad_header = b1.clone();
        bad_header.header = vec![0xff, 0xff];
        assert!(matches!(
            check_link(&bad_header, "ch", 1, &h0),
            Err(BlockError::MalformedHeader(_))
        ));
    }

    #[test]
    fn block_hash_is_header_hash() {
        let b = build("ch", 3, &[1; 32], 0, vec![]);
        assert_eq!(block_hash(&b), sha256(&b.header));
        let c = build("ch", 3, &[2; 32], 0, vec![]);
        assert_ne!(block_hash(&b), block_hash(&c));
    }
}
