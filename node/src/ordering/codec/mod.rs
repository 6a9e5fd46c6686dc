//! Encoding of openraft's types as protobuf messages ([`pb`]): the Raft log
//! entries, vote and state-machine records the orderer stores, and the Raft
//! RPC payloads between orderers.
//!
//! Each openraft type implements [`Codec`]: a conversion to its message and
//! back, where the way back checks that every field openraft needs is
//! present. [`to_payload`] and [`from_payload`] wrap an RPC message with
//! [`RAFT_WIRE_FORMAT`], so an orderer of another release is refused with
//! both format numbers instead of being misread.

mod convert;
pub mod pb;
mod rpc;

pub use rpc::ApiError;
#[cfg(test)]
mod tests;

use consort_proto::RaftPayload;
use prost::Message;

/// The format of the messages in a `RaftPayload`. Orderers refuse a
/// payload of any other format. Format 0 (no `format` field) was the
/// unversioned bincode encoding.
pub const RAFT_WIRE_FORMAT: u32 = 1;

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// The bytes are not a protobuf message of the expected type.
    #[error("message does not decode: {0}")]
    Decode(#[from] prost::DecodeError),
    /// A field openraft requires is absent.
    #[error("required field '{0}' is missing")]
    Missing(&'static str),
    /// A field holds a value the receiving type cannot take.
    #[error("invalid field '{0}': {1}")]
    Invalid(&'static str, String),
    /// The payload exceeds the receiver's limit.
    #[error("Raft message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The sender writes another Raft message format than this orderer.
    #[error(
        "Raft message format {found}{}, but this orderer speaks format {expected}: \
         run releases with the same Raft format on every orderer",
        if *found == 0 { " (a release from before Raft formats were versioned)" } else { "" }
    )]
    Format {
        /// The sender's format.
        found: u32,
        /// This orderer's format.
        expected: u32,
    },
}

/// An openraft type with a protobuf encoding.
pub trait Codec: Sized {
    /// Its message.
    type Message: Message + Default;
    /// The message for `self`.
    fn to_message(&self) -> Self::Message;
    /// The value of a decoded message, if it holds every required field.
    fn from_message(m: Self::Message) -> Result<Self, CodecError>;
}

/// Encodes `v`.
pub fn encode<T: Codec>(v: &T) -> Vec<u8> {
    v.to_message().encode_to_vec()
}

/// Decodes a `T`; never panics, whatever the bytes.
pub fn decode<T: Codec>(bytes: &[u8]) -> Result<T, CodecError> {
    T::from_message(T::Message::decode(bytes)?)
}

/// A Raft RPC payload holding `v` in [`RAFT_WIRE_FORMAT`].
pub fn to_payload<T: Codec>(v: &T) -> RaftPayload {
    RaftPayload {
        data: encode(v),
        format: RAFT_WIRE_FORMAT,
    }
}

/// Decodes a Raft RPC payload of at most `limit` bytes in [`RAFT_WIRE_FORMAT`].
pub fn from_payload<T: Codec>(p: &RaftPayload, limit: usize) -> Result<T, CodecError> {
    if p.format != RAFT_WIRE_FORMAT {
        return Err(CodecError::Format {
            found: p.format,
            expected: RAFT_WIRE_FORMAT,
        });
    }
    if p.data.len() > limit {
        return Err(CodecError::TooLarge {
            size: p.data.len(),
            limit,
        });
    }
    decode(&p.data)
}

/// The required message field `v`, named `name` in errors.
fn required<T>(v: Option<T>, name: &'static str) -> Result<T, CodecError> {
    v.ok_or(CodecError::Missing(name))
}
