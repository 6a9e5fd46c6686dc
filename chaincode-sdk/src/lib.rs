//! The Consort chaincode SDK.
//!
//! A chaincode is a type implementing [`Chaincode`]. The peer calls
//! [`Chaincode::invoke`] once per transaction proposal, handing it a
//! [`ChaincodeStub`] that tells the chaincode which function was asked for,
//! with which arguments and by whom, and gives it access to the channel's world
//! state: point reads and writes, range and composite-key queries with
//! pagination, key history, transient data and events. [`query`] holds the
//! semantics of ranges, pages, bookmarks and composite keys that every stub
//! shares, and [`calls`] the rules of calls between chaincodes (frames,
//! write layers, depth, system namespaces, events). [`Router`] dispatches to functions with typed arguments and
//! results. [`MockStub`] runs a chaincode in memory for unit tests, and
//! [`samples`] holds complete examples; `README.md` is the author's guide.
//! With the `server` feature, `serve` runs a chaincode as an external
//! service that peers dial over mutual TLS.
//!
//! ```
//! use chaincode_sdk::{Chaincode, ChaincodeError, ChaincodeStub, MockStub};
//!
//! /// Stores one note per name.
//! struct Notes;
//!
//! impl Chaincode for Notes {
//!     fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError> {
//!         let function = stub.function().to_owned();
//!         let args = stub.string_args()?;
//!         match (function.as_str(), args.as_slice()) {
//!             ("write", [name, text]) => {
//!                 stub.put_state(&format!("note/{name}"), text.as_bytes())?;
//!                 Ok(Vec::new())
//!             }
//!             ("read", [name]) => stub
//!                 .get_state(&format!("note/{name}"))?
//!                 .ok_or_else(|| ChaincodeError::business(format!("no note called '{name}'"))),
//!             ("write" | "read", _) => Err(ChaincodeError::InvalidArgs {
//!                 function,
//!                 reason: format!("unexpected argument count {}", args.len()),
//!             }),
//!             _ => Err(ChaincodeError::UnknownFunction(function)),
//!         }
//!     }
//! }
//!
//! let mut stub = MockStub::new("mychannel");
//! stub.invoke(&Notes, "write", &["todo", "ship it"])?;
//! assert_eq!(stub.invoke(&Notes, "read", &["todo"])?, b"ship it");
//! assert_eq!(stub.state("note/todo"), Some(&b"ship it"[..]));
//!
//! let missing = stub.invoke(&Notes, "read", &["done"]).unwrap_err();
//! assert_eq!(missing.to_string(), "no note called 'done'");
//! # Ok::<(), ChaincodeError>(())
//! ```

#![warn(missing_docs)]

pub mod calls;
pub mod error;
pub mod mock;
pub mod query;
pub mod router;
pub mod samples;
#[cfg(feature = "server")]
pub mod server;
pub mod stub;
#[cfg(feature = "server")]
pub mod wire;

pub use error::ChaincodeError;
pub use mock::{MockEvent, MockStub};
pub use query::{
    create_composite_key, split_composite_key, KeyModification, KeyValue, QueryMetadata,
};
pub use router::Router;
#[cfg(feature = "server")]
pub use server::{serve, serve_blocking, serve_on, serve_with_shutdown, ServeConfig, ServeError};
pub use stub::{ChaincodeStub, Creator, JsonState};

/// The examples of `README.md`, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The trait a chaincode implements.
pub trait Chaincode: Send + Sync + 'static {
    /// Runs one invocation; `stub.function()` and `stub.args()` say what was asked. Ok(payload) or an error whose message goes back to the client; on error nothing the invocation wrote is kept.
    fn invoke(&self, stub: &mut dyn ChaincodeStub) -> Result<Vec<u8>, ChaincodeError>;
}
