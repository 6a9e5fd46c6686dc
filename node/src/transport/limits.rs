//! How much a listener lets any one peer, member or not, hold of a node.

use std::time::Duration;
use tokio::sync::Semaphore;

/// The limits a node's listener enforces on incoming connections.
///
/// A connection goes through three phases: the TLS handshake, the HTTP/2
/// client preface, then gRPC. The first two are bounded in time and in
/// number, so that neither an outsider nor a member can exhaust the node by
/// opening connections and never speaking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// How long the TLS handshake may take from the moment the connection
    /// is accepted; a slower (or silent) client is disconnected.
    pub handshake_timeout: Duration,
    /// How long a client that completed the TLS handshake may take to send
    /// the 24-byte HTTP/2 client preface; a slower (or silent) client is
    /// disconnected, and so is one that sends anything else.
    pub preface_timeout: Duration,
    /// How many connections may be open at once, in any phase; a connection
    /// beyond that is closed as soon as it is accepted.
    pub max_connections: usize,
    /// How many connections may be between acceptance and a received
    /// preface (TLS handshake or preface phase) at once; a connection beyond
    /// that is closed as soon as it is accepted.
    pub max_pending_handshakes: usize,
    /// At most one summary line of refused connections is logged per this
    /// interval; single refusals are logged at `debug` only.
    pub summary_interval: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        ServeLimits {
            handshake_timeout: Duration::from_secs(10),
            preface_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_pending_handshakes: 256,
            summary_interval: Duration::from_secs(10),
        }
    }
}

/// Why a set of [`ServeLimits`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitsError {
    /// A timeout or interval is zero: every connection would be dropped (or
    /// every event logged).
    #[error("serve limit '{field}' must be greater than zero")]
    ZeroDuration {
        /// The field's name.
        field: &'static str,
    },
    /// A connection cap is zero: every connection would be refused.
    #[error("serve limit '{field}' must be at least 1")]
    ZeroCap {
        /// The field's name.
        field: &'static str,
    },
    /// A connection cap is beyond what a semaphore can count.
    #[error("serve limit '{field}' must be at most {max}")]
    CapTooLarge {
        /// The field's name.
        field: &'static str,
        /// The largest value allowed.
        max: usize,
    },
}

impl ServeLimits {
    /// The limits, if every one of them admits some connection.
    pub fn validate(self) -> Result<ServeLimits, LimitsError> {
        for (field, d) in [
            ("handshake_timeout", self.handshake_timeout),
            ("preface_timeout", self.preface_timeout),
            ("summary_interval", self.summary_interval),
        ] {
            if d.is_zero() {
                return Err(LimitsError::ZeroDuration { field });
            }
        }
        for (field, n) in [
            ("max_connections", self.max_connections),
            ("max_pending_handshakes", self.max_pending_handshakes),
        ] {
            if n == 0 {
                return Err(LimitsError::ZeroCap { field });
            }
            if n > Semaphore::MAX_PERMITS {
                return Err(LimitsError::CapTooLarge {
                    field,
                    max: Semaphore::MAX_PERMITS,
                });
            }
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        let d = ServeLimits::default();
        assert_eq!(d.validate(), Ok(d));
    }

    #[test]
    fn a_zero_limit_is_refused_naming_the_field() {
        let zero_preface = ServeLimits {
            preface_timeout: Duration::ZERO,
            ..Default::default()
        };
        assert_eq!(
            zero_preface.validate(),
            Err(LimitsError::ZeroDuration {
                field: "preface_timeout"
            })
        );
        let zero_pending = ServeLimits {
            max_pending_handshakes: 0,
            ..Default::default()
        };
        assert_eq!(
            zero_pending.validate(),
            Err(LimitsError::ZeroCap {
                field: "max_pending_handshakes"
            })
        );
        let unbounded = ServeLimits {
            max_connections: usize::MAX,
            ..Default::default()
        };
        assert!(matches!(
            unbounded.validate(),
            Err(LimitsError::CapTooLarge {
                field: "max_connections",
                ..
            })
        ));
    }
}
