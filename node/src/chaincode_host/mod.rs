//! The chaincode host: which runtime runs a chaincode, and running one
//! invocation safely. A definition with an `external` service runs on that
//! chaincode server ([`external`]), any other in process from the
//! [`ChaincodeRegistry`] by name ([`in_process`]). Either way the chaincode's
//! stub calls are served by the stub the caller passes (the endorser's
//! simulator), under the same execution timeout.

mod error;
pub mod external;
pub mod in_process;
mod registry;
mod runtime;

pub use error::HostError;
pub use external::ExternalConnector;
pub use in_process::execute;
pub use registry::ChaincodeRegistry;
pub use runtime::{ChaincodeHost, Runtime};

#[cfg(test)]
mod tests;
