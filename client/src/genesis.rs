//! The channel's genesis block as a client reads it: the channel ID and the
//! TLS CAs to trust come from the `ChannelConfig` that is its one data item.

use consort_proto::{Block, BlockHeader, ChannelConfig};
use prost::Message;
use std::path::Path;

/// Why a genesis block could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GenesisError {
    /// The file could not be read.
    #[error("cannot read genesis block {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The bytes are not a genesis block carrying a channel config.
    #[error("genesis block {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Reads a genesis block file: the block and its channel config.
pub fn load_genesis(path: &Path) -> Result<(Block, ChannelConfig), GenesisError> {
    let bytes = std::fs::read(path).map_err(|source| GenesisError::Read {
        path: path.display().to_string(),
        source,
    })?;
    decode_genesis(&bytes).map_err(|reason| GenesisError::Invalid {
        path: path.display().to_string(),
        reason,
    })
}

/// Decodes a genesis block: block number 0 whose single data item is the
/// encoded `ChannelConfig` of the channel its header names.
pub fn decode_genesis(bytes: &[u8]) -> Result<(Block, ChannelConfig), String> {
    let block = Block::decode(bytes).map_err(|e| format!("not a block: {e}"))?;
    let header = BlockHeader::decode(block.header.as_slice())
        .map_err(|e| format!("malformed header: {e}"))?;
    if header.number != 0 {
        return Err(format!("number is {}, not 0", header.number));
    }
    let [config] = block.data.as_slice() else {
        return Err(format!(
            "expected exactly one data item, found {}",
            block.data.len()
        ));
    };
    let config = ChannelConfig::decode(config.as_slice())
        .map_err(|e| format!("data item is not a channel config: {e}"))?;
    if config.channel_id != header.channel_id {
        return Err(format!(
            "the header names channel '{}', the config '{}'",
            header.channel_id, config.channel_id
        ));
    }
    Ok((block, config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis(number: u64, data: Vec<Vec<u8>>) -> Vec<u8> {
        Block {
            header: BlockHeader {
                number,
                channel_id: "ch".into(),
                ..Default::default()
            }
            .encode_to_vec(),
            data,
            signature: None,
        }
        .encode_to_vec()
    }

    fn config(channel: &str) -> Vec<u8> {
        ChannelConfig {
            channel_id: channel.into(),
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn a_genesis_block_gives_its_channel_config() {
        let (_, c) = decode_genesis(&genesis(0, vec![config("ch")])).unwrap();
        assert_eq!(c.channel_id, "ch");
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        let cases = [
            (genesis(1, vec![config("ch")]), "number is 1"),
            (genesis(0, vec![]), "found 0"),
            (genesis(0, vec![config("ch"), config("ch")]), "found 2"),
            (genesis(0, vec![config("other")]), "config 'other'"),
            (genesis(0, vec![vec![0xff; 3]]), "not a channel config"),
            (vec![0xff; 5], "not a block"),
        ];
        for (bytes, want) in cases {
            let e = decode_genesis(&bytes).unwrap_err();
            assert!(e.contains(want), "{e} should contain {want}");
        }
        let missing = load_genesis(Path::new("/nonexistent/genesis.block")).unwrap_err();
        assert!(matches!(missing, GenesisError::Read { .. }), "{missing}");
    }
}
