//! The peer: commits blocks it receives from the ordering service
//! ([`committer`], [`deliver`]) and endorses proposals.

pub mod committer;
pub mod deliver;

pub use committer::{CommitError, Committer};
pub use deliver::DeliverError;
