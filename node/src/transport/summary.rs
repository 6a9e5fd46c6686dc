//! When to log a summary of refused connections: at most one line per
//! interval, each with the counts since the previous line. Pure: the caller
//! passes the time and the counters in.

use super::stats::RefusalCounts;
use std::time::{Duration, Instant};

/// One summary line to log: what was refused since the previous line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    /// Refusals since the previous line (or since the start).
    pub(crate) counts: RefusalCounts,
    /// How long that was.
    pub(crate) window: Duration,
}

/// Decides when a summary line is due.
#[derive(Debug)]
pub(crate) struct SummaryGate {
    interval: Duration,
    last_line: Instant,
    reported: RefusalCounts,
}

impl SummaryGate {
    /// A gate that emits its first line no earlier than `interval` after `start`.
    pub(crate) fn new(start: Instant, interval: Duration) -> Self {
        SummaryGate {
            interval,
            last_line: start,
            reported: RefusalCounts::default(),
        }
    }

    /// The line to log at `now` given the cumulative `counts`: `None` when
    /// nothing new was refused or the previous line is less than an interval
    /// old (its counts then go into the next line).
    pub(crate) fn poll(&mut self, now: Instant, counts: RefusalCounts) -> Option<Summary> {
        if now.saturating_duration_since(self.last_line) < self.interval {
            return None;
        }
        self.flush(now, counts)
    }

    /// The line for whatever was not reported yet, however recent the
    /// previous line (when the listener stops).
    pub(crate) fn flush(&mut self, now: Instant, counts: RefusalCounts) -> Option<Summary> {
        let new = counts.since(&self.reported);
        if new.total() == 0 {
            return None;
        }
        let line = Summary {
            counts: new,
            window: now.saturating_duration_since(self.last_line),
        };
        self.last_line = now;
        self.reported = counts;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::stats::Refusal;

    const TEN_S: Duration = Duration::from_secs(10);

    /// Which reason the `i`-th event of a flood has: a mix of all of them.
    fn reason(i: u64) -> Refusal {
        Refusal::ALL[(i % Refusal::ALL.len() as u64) as usize]
    }

    #[test]
    fn a_flood_of_45000_refusals_in_25_s_gives_three_lines_with_exact_counts() {
        let start = Instant::now();
        let mut gate = SummaryGate::new(start, TEN_S);
        let mut counts = RefusalCounts::default();
        let mut lines = Vec::new();
        let n: u64 = 45_000;
        let span = Duration::from_secs(25);
        // The worst case for the gate: it is asked after every single event.
        for i in 0..n {
            let at = start + span.mul_f64(i as f64 / n as f64);
            counts.add(reason(i));
            lines.extend(gate.poll(at, counts));
        }
        // The listener's next periodic poll, an interval after the flood,
        // reports the rest.
        lines.extend(gate.poll(start + span + TEN_S, counts));
        assert_eq!(lines.len(), 3, "{lines:#?}");
        let mut reported = RefusalCounts::default();
        for line in &lines {
            assert!(line.window >= TEN_S, "{line:?}");
            for r in Refusal::ALL {
                for _ in 0..line.counts.get(r) {
                    reported.add(r);
                }
            }
        }
        assert_eq!(reported, counts);
        assert_eq!(reported.total(), n);
        // Nothing new: no further line, however late.
        assert_eq!(gate.poll(start + Duration::from_secs(3600), counts), None);
    }

    #[test]
    fn the_first_line_waits_for_a_whole_interval_after_the_start() {
        let start = Instant::now();
        let mut gate = SummaryGate::new(start, TEN_S);
        let mut counts = RefusalCounts::default();
        counts.add(Refusal::Certificate);
        assert_eq!(gate.poll(start, counts), None);
        assert_eq!(
            gate.poll(start + Duration::from_millis(9_999), counts),
            None
        );
        let line = gate.poll(start + TEN_S, counts).unwrap();
        assert_eq!(line.counts.certificates_refused, 1);
        assert_eq!(line.window, TEN_S);
    }

    #[test]
    fn a_quiet_node_logs_nothing_and_the_next_refusal_is_reported_at_the_next_poll() {
        let start = Instant::now();
        let mut gate = SummaryGate::new(start, TEN_S);
        let mut counts = RefusalCounts::default();
        for s in (10..=100).step_by(10) {
            assert_eq!(gate.poll(start + Duration::from_secs(s), counts), None);
        }
        counts.add(Refusal::PrefaceTimeout);
        let line = gate.poll(start + Duration::from_secs(105), counts).unwrap();
        assert_eq!(line.counts.preface_timeouts, 1);
        assert_eq!(line.counts.total(), 1);
        assert_eq!(line.window, Duration::from_secs(105));
    }

    #[test]
    fn refusals_right_after_a_line_wait_for_the_next_one() {
        let start = Instant::now();
        let mut gate = SummaryGate::new(start, TEN_S);
        let mut counts = RefusalCounts::default();
        counts.add(Refusal::Handshake);
        assert!(gate.poll(start + TEN_S, counts).is_some());
        counts.add(Refusal::ConnectionCap);
        let soon = start + TEN_S + Duration::from_secs(1);
        assert_eq!(gate.poll(soon, counts), None);
        let line = gate.poll(start + 2 * TEN_S, counts).unwrap();
        assert_eq!(line.counts.over_connection_cap, 1);
        assert_eq!(line.counts.handshakes_refused, 0);
    }

    #[test]
    fn flush_reports_the_rest_at_once_and_only_once() {
        let start = Instant::now();
        let mut gate = SummaryGate::new(start, TEN_S);
        let mut counts = RefusalCounts::default();
        counts.add(Refusal::HandshakeCap);
        counts.add(Refusal::HandshakeCap);
        let at = start + Duration::from_secs(1);
        let line = gate.flush(at, counts).unwrap();
        assert_eq!(line.counts.over_handshake_cap, 2);
        assert!(line.counts.shows_exhaustion());
        assert_eq!(gate.flush(at, counts), None);
    }
}
