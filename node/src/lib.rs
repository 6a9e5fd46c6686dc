//! Consort: a permissioned, Raft-ordered consortium blockchain.
//!
//! The transaction flow runs through these modules:
//! - [`client`] builds and signs a proposal;
//! - [`gateway`] collects endorsements from peers of enough orgs;
//! - [`endorsement`] simulates the chaincode ([`chaincode_host`]) and signs the result;
//! - [`ordering`] cuts transactions into blocks through an openraft cluster;
//! - [`peer`] receives blocks, [`validation`] checks them, [`ledger`] commits them to RocksDB.
//! - [`lifecycle`] keeps the chaincode definitions on the ledger (`_lifecycle`).
//!
//! [`identity`] (certificates, membership, TLS) and [`transport`] (gRPC over
//! mutual TLS) carry all of it; [`config`] and [`node`] start a node;
//! [`cryptogen`], [`localnet`] and [`demo`] make and run networks
//! ([`fsutil`] writes their private keys); [`crashpoint`] lets recovery
//! tests crash a node at a chosen point of its write paths; [`operations`]
//! serves a node's health, metrics, log level and version over HTTP.
#![warn(missing_docs)]

/// The client library, `consort-client`: the node's CLI, demo, load
/// generator and tests use it as applications do.
pub use consort_client as client;

pub mod access;
pub mod bench;
pub mod block;
pub mod chaincode_host;
pub mod config;
pub mod crashpoint;
pub mod cryptogen;
pub mod demo;
pub mod endorsement;
pub mod fsutil;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod gateway;
pub mod gossip;
pub mod identity;
pub mod ledger;
pub mod lifecycle;
pub mod loadgen;
pub mod localnet;
pub mod node;
pub mod operations;
pub mod ordering;
pub mod peer;
pub mod policy;
pub mod store_format;
pub mod transport;
pub mod validation;

#[cfg(test)]
pub(crate) mod testkit;
