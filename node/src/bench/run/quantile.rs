//! Exact latency quantiles over every sample, by nearest rank on a sorted
//! vector: the reported value is always one that was measured.

use serde::Serialize;
use std::time::Duration;

/// The sample at quantile `permille / 1000` of `sorted` (ascending): the
/// smallest sample such that at least that share of the samples are at or
/// below it (nearest rank, `ceil(n · q)`, computed on integers). Zero when
/// there are no samples; `permille` above 1000 is the maximum.
pub fn quantile(sorted: &[Duration], permille: u32) -> Duration {
    let n = sorted.len();
    if n == 0 {
        return Duration::ZERO;
    }
    let rank = (n as u64 * u64::from(permille.min(1000))).div_ceil(1000);
    // Rank 0 only for permille 0: the minimum.
    let index = (rank.max(1) - 1) as usize;
    sorted[index.min(n - 1)]
}

/// p50, p95, p99 and the maximum of one set of latencies, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

impl LatencySummary {
    /// The summary of `samples`, which it sorts.
    pub fn of(samples: &mut [Duration]) -> Self {
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        LatencySummary {
            p50_ms: ms(quantile(samples, 500)),
            p95_ms: ms(quantile(samples, 950)),
            p99_ms: ms(quantile(samples, 990)),
            max_ms: ms(samples.last().copied().unwrap_or_default()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|&m| Duration::from_millis(m)).collect()
    }

    #[test]
    fn nearest_rank_picks_a_measured_sample() {
        let s = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(quantile(&s, 500), Duration::from_millis(50));
        assert_eq!(quantile(&s, 950), Duration::from_millis(95));
        assert_eq!(quantile(&s, 990), Duration::from_millis(99));
        assert_eq!(quantile(&s, 1000), Duration::from_millis(100));
        assert_eq!(quantile(&s, 0), Duration::from_millis(1));
        assert_eq!(quantile(&s, 5000), Duration::from_millis(100));
    }

    #[test]
    fn small_and_empty_sets() {
        assert_eq!(quantile(&[], 500), Duration::ZERO);
        let one = ms(&[7]);
        for q in [0, 500, 990, 1000] {
            assert_eq!(quantile(&one, q), Duration::from_millis(7));
        }
        // Four samples: the median is the 2nd (ceil(4 · 0.5) = 2), p99 the 4th.
        let four = ms(&[10, 20, 30, 40]);
        assert_eq!(quantile(&four, 500), Duration::from_millis(20));
        assert_eq!(quantile(&four, 990), Duration::from_millis(40));
        // Ten samples: ceil(10 · 0.95) = 10, no rounding down to the 9th.
        let ten = ms(&(1..=10).collect::<Vec<_>>());
        assert_eq!(quantile(&ten, 950), Duration::from_millis(10));
        assert_eq!(quantile(&ten, 500), Duration::from_millis(5));
    }

    #[test]
    fn summary_sorts_and_orders() {
        let mut s = ms(&[90, 10, 50, 30, 70, 20, 80, 60, 40, 100]);
        let sum = LatencySummary::of(&mut s);
        assert_eq!(sum.p50_ms, 50.0);
        assert_eq!(sum.p95_ms, 100.0);
        assert_eq!(sum.max_ms, 100.0);
        assert!(sum.p50_ms <= sum.p95_ms && sum.p95_ms <= sum.p99_ms && sum.p99_ms <= sum.max_ms);
        assert_eq!(LatencySummary::of(&mut []), LatencySummary::default());
    }
}
