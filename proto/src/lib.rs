//! Consort's wire format: every protobuf message and gRPC service, generated
//! at build time from `proto/consort/*.proto`.
#![allow(missing_docs, clippy::all)]

/// Messages and services of package `consort`.
pub mod consort {
    tonic::include_proto!("consort");
}

pub use consort::*;
