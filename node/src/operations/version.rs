//! `/version`: the release and, when the build was given one, the commit.

use serde::Serialize;

/// The `/version` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Version {
    /// The crate version, e.g. `0.1.0`.
    pub version: &'static str,
    /// The commit the binary was built from (`CONSORT_COMMIT` at build
    /// time), or `unknown`.
    pub commit: &'static str,
}

/// This binary's version.
pub fn current() -> Version {
    Version {
        version: env!("CARGO_PKG_VERSION"),
        commit: option_env!("CONSORT_COMMIT").unwrap_or("unknown"),
    }
}
