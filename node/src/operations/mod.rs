//! The operations listener: a plain HTTP port per node, apart from the
//! gRPC port, for the people and tools that run it.
//!
//! - `/healthz`: [`health`], cheap checks of the node's dependencies;
//! - `/metrics`: [`metrics`], Prometheus text from the `metrics` facade;
//! - `/logspec`: [`logspec`], the log filter, read and changed at run time;
//! - `/version`: [`version`].
//!
//! The instrumented code calls [`metrics`]' functions; [`grpc`] is the
//! tower layer that counts gRPC calls, [`raft`] the task that follows an
//! orderer's Raft view, [`certs`] the certificate expiry gauges.

pub mod certs;
pub mod client;
pub mod explorer;
pub mod grpc;
pub mod health;
mod listener;
pub mod logspec;
pub mod metrics;
pub mod raft;
mod server;
pub mod tls;
pub mod version;

pub use server::{router, LogSpecBody, Operations, OperationsError, OperationsState};
