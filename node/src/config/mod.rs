//! Typed configuration: a node's config file, a client's profile, and the
//! network description `consort crypto generate` reads. Each loads from
//! TOML, takes `CONSORT_<FIELD>` environment overrides where it says so,
//! and is validated before use. The profile, `ConfigError` and the loading
//! rules they share come from the client library.

pub mod network;
pub mod node;

pub use consort_client::config::{profile, ClientProfile, ConfigError};
pub use network::NetworkSpec;
pub use node::{NodeConfig, NodeRole};

pub(crate) use consort_client::config::{apply_env, from_table, read_table, resolve};
