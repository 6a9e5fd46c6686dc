//! What a listener turned away and what it holds open: counters any task
//! bumps without locking, read by the summary line, by tests and by metrics.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why a connection was dropped before it reached gRPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The TLS handshake failed for another reason than the client's
    /// certificate: not TLS at all, a protocol error, the client closed the
    /// connection or refused the node's certificate.
    Handshake,
    /// The client presented no certificate, or one the member verifier
    /// refused (unknown CA, expired, revoked, no role).
    Certificate,
    /// The TLS handshake did not finish within the handshake timeout.
    HandshakeTimeout,
    /// The client completed the TLS handshake but did not send the HTTP/2
    /// client preface within the preface timeout.
    PrefaceTimeout,
    /// The client sent something other than the HTTP/2 client preface, or
    /// closed the connection before sending all of it.
    PrefaceInvalid,
    /// The node already held its maximum of open connections.
    ConnectionCap,
    /// The node already held its maximum of pending handshakes.
    HandshakeCap,
    /// Accepting a connection failed (e.g. the process is out of file
    /// descriptors); the listener backs off briefly.
    AcceptError,
}

/// How many connections were turned away, by reason; cumulative, or the
/// difference between two readings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefusalCounts {
    /// [`Refusal::Handshake`].
    pub handshakes_refused: u64,
    /// [`Refusal::Certificate`].
    pub certificates_refused: u64,
    /// [`Refusal::HandshakeTimeout`].
    pub handshake_timeouts: u64,
    /// [`Refusal::PrefaceTimeout`].
    pub preface_timeouts: u64,
    /// [`Refusal::PrefaceInvalid`].
    pub prefaces_invalid: u64,
    /// [`Refusal::ConnectionCap`].
    pub over_connection_cap: u64,
    /// [`Refusal::HandshakeCap`].
    pub over_handshake_cap: u64,
    /// [`Refusal::AcceptError`].
    pub accept_errors: u64,
}

impl RefusalCounts {
    /// The count of one reason.
    pub fn get(&self, reason: Refusal) -> u64 {
        match reason {
            Refusal::Handshake => self.handshakes_refused,
            Refusal::Certificate => self.certificates_refused,
            Refusal::HandshakeTimeout => self.handshake_timeouts,
            Refusal::PrefaceTimeout => self.preface_timeouts,
            Refusal::PrefaceInvalid => self.prefaces_invalid,
            Refusal::ConnectionCap => self.over_connection_cap,
            Refusal::HandshakeCap => self.over_handshake_cap,
            Refusal::AcceptError => self.accept_errors,
        }
    }

    fn get_mut(&mut self, reason: Refusal) -> &mut u64 {
        match reason {
            Refusal::Handshake => &mut self.handshakes_refused,
            Refusal::Certificate => &mut self.certificates_refused,
            Refusal::HandshakeTimeout => &mut self.handshake_timeouts,
            Refusal::PrefaceTimeout => &mut self.preface_timeouts,
            Refusal::PrefaceInvalid => &mut self.prefaces_invalid,
            Refusal::ConnectionCap => &mut self.over_connection_cap,
            Refusal::HandshakeCap => &mut self.over_handshake_cap,
            Refusal::AcceptError => &mut self.accept_errors,
        }
    }

    /// Adds one refusal.
    pub fn add(&mut self, reason: Refusal) {
        *self.get_mut(reason) += 1;
    }

    /// What was counted after `earlier`, a previous reading of the same counters.
    pub fn since(&self, earlier: &RefusalCounts) -> RefusalCounts {
        let mut d = RefusalCounts::default();
        for r in Refusal::ALL {
            *d.get_mut(r) = self.get(r).saturating_sub(earlier.get(r));
        }
        d
    }

    /// All refusals together.
    pub fn total(&self) -> u64 {
        Refusal::ALL.iter().map(|&r| self.get(r)).sum()
    }

    /// Whether the node turned connections away for lack of room (caps or
    /// accept errors) rather than because of what the clients did: a sign
    /// that legitimate clients may have been refused too.
    pub fn shows_exhaustion(&self) -> bool {
        self.over_connection_cap + self.over_handshake_cap + self.accept_errors > 0
    }
}

impl Refusal {
    /// Every reason, in the order the summary line lists them.
    pub const ALL: [Refusal; 8] = [
        Refusal::Handshake,
        Refusal::Certificate,
        Refusal::HandshakeTimeout,
        Refusal::PrefaceTimeout,
        Refusal::PrefaceInvalid,
        Refusal::ConnectionCap,
        Refusal::HandshakeCap,
        Refusal::AcceptError,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// The counters of one listener, shared by its tasks through an `Arc`.
#[derive(Debug, Default)]
pub struct TransportStats {
    refused: [AtomicU64; Refusal::ALL.len()],
    served: AtomicU64,
    open: AtomicUsize,
    pending: AtomicUsize,
}

impl TransportStats {
    /// Counts one refused connection.
    pub fn record(&self, reason: Refusal) {
        self.refused[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The refusals so far, by reason.
    pub fn refusals(&self) -> RefusalCounts {
        let mut c = RefusalCounts::default();
        for r in Refusal::ALL {
            *c.get_mut(r) = self.refused[r.index()].load(Ordering::Relaxed);
        }
        c
    }

    /// Connections handed to gRPC so far (handshake and preface done).
    pub fn connections_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    /// Connections open now, in any phase.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Connections in the TLS handshake or waiting for the preface now.
    pub fn pending_handshakes(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    pub(super) fn served(&self) {
        self.served.fetch_add(1, Ordering::Relaxed);
    }

    fn gauge(&self, gauge: Gauge) -> &AtomicUsize {
        match gauge {
            Gauge::Open => &self.open,
            Gauge::Pending => &self.pending,
        }
    }
}

/// Which gauge a [`Slot`] counts in.
#[derive(Debug, Clone, Copy)]
pub(super) enum Gauge {
    /// [`TransportStats::open_connections`].
    Open,
    /// [`TransportStats::pending_handshakes`].
    Pending,
}

/// One place under a cap: a semaphore permit, counted in a gauge while held.
/// Dropping it gives the place back and lowers the gauge.
#[derive(Debug)]
pub(super) struct Slot {
    _permit: OwnedSemaphorePermit,
    stats: Arc<TransportStats>,
    gauge: Gauge,
}

impl Slot {
    /// A place under `cap` at once, or `None` when all are taken (never waits).
    pub(super) fn try_take(
        cap: &Arc<Semaphore>,
        stats: &Arc<TransportStats>,
        gauge: Gauge,
    ) -> Option<Slot> {
        let permit = cap.clone().try_acquire_owned().ok()?;
        stats.gauge(gauge).fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            _permit: permit,
            stats: stats.clone(),
            gauge,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.stats.gauge(self.gauge).fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_has_its_own_counter() {
        let stats = TransportStats::default();
        for (i, r) in Refusal::ALL.into_iter().enumerate() {
            for _ in 0..=i {
                stats.record(r);
            }
        }
        let c = stats.refusals();
        for (i, r) in Refusal::ALL.into_iter().enumerate() {
            assert_eq!(c.get(r), i as u64 + 1, "{r:?}");
        }
        assert_eq!(c.total(), (1..=8).sum::<u64>());
        assert_eq!(c.since(&c), RefusalCounts::default());
    }

    #[test]
    fn a_slot_is_counted_while_held_and_its_place_given_back() {
        let stats = Arc::new(TransportStats::default());
        let cap = Arc::new(Semaphore::new(1));
        let slot = Slot::try_take(&cap, &stats, Gauge::Open).unwrap();
        assert_eq!(stats.open_connections(), 1);
        assert!(Slot::try_take(&cap, &stats, Gauge::Open).is_none());
        assert_eq!(stats.open_connections(), 1);
        drop(slot);
        assert_eq!(stats.open_connections(), 0);
        assert!(Slot::try_take(&cap, &stats, Gauge::Pending).is_some());
    }
}
