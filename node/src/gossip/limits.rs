//! Per-peer rate limits: a token bucket per remote peer.

use libp2p::PeerId;
use std::collections::HashMap;
use std::time::Instant;

/// Allows each peer `rate` events per second on average, in bursts of up
/// to `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<PeerId, (f64, Instant)>,
}

impl RateLimiter {
    /// A limiter of `rate` per second with bursts of `burst`.
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter {
            rate,
            burst,
            buckets: HashMap::new(),
        }
    }

    /// Takes one token of `peer`'s bucket at `now`; false when it is empty.
    pub fn allow(&mut self, peer: &PeerId, now: Instant) -> bool {
        let (tokens, last) = self.buckets.entry(*peer).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Drops `peer`'s bucket (it disconnected).
    pub fn forget(&mut self, peer: &PeerId) {
        self.buckets.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn allows_a_burst_then_the_rate() {
        let p = PeerId::random();
        let mut r = RateLimiter::new(10.0, 5.0);
        let t = Instant::now();
        assert_eq!((0..10).filter(|_| r.allow(&p, t)).count(), 5);
        assert!(!r.allow(&p, t));
        assert!(r.allow(&p, t + Duration::from_millis(100)));
        assert!(!r.allow(&p, t + Duration::from_millis(100)));
        assert!(r.allow(&PeerId::random(), t), "buckets are per peer");
    }
}
