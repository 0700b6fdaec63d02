//! A log-linear latency histogram: buckets grow by 4 %, so any quantile read back from a
//! bucket's geometric midpoint is within ±2 % of the true value (SPEC asks ±5 % for p95).

use std::time::Duration;

/// Ratio between consecutive bucket bounds.
const GROWTH: f64 = 1.04;
/// Buckets from 1 µs to 1.04^480 µs (about 2.3 minutes); slower requests land in the last.
pub const BUCKETS: usize = 480;

/// Bucket index for a latency in microseconds.
pub fn bucket_of(micros: f64) -> usize {
    if micros <= 1.0 {
        return 0;
    }
    let idx = (micros.ln() / GROWTH.ln()).floor();
    if idx >= (BUCKETS - 1) as f64 {
        BUCKETS - 1
    } else {
        idx as usize
    }
}

/// Representative latency of a bucket, in milliseconds (its geometric midpoint).
pub fn bucket_value_ms(idx: usize) -> f64 {
    GROWTH.powf(idx as f64 + 0.5) / 1000.0
}

/// Counts per bucket. Cheap to merge, which is how the 60 s window is read.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    counts: Vec<u32>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; BUCKETS],
            total: 0,
        }
    }
}

impl LatencyHistogram {
    pub fn record(&mut self, latency: Duration) {
        let idx = bucket_of(latency.as_secs_f64() * 1_000_000.0);
        if let Some(c) = self.counts.get_mut(idx) {
            *c = c.saturating_add(1);
        }
        self.total += 1;
    }

    pub fn clear(&mut self) {
        self.counts.iter_mut().for_each(|c| *c = 0);
        self.total = 0;
    }

    pub fn merge(&mut self, other: &LatencyHistogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `q` quantile (0 < q ≤ 1) in milliseconds, or `None` when empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        // Nearest-rank: the smallest value with at least q·n observations at or below it.
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0u64;
        for (idx, count) in self.counts.iter().enumerate() {
            seen += u64::from(*count);
            if seen >= rank {
                return Some(bucket_value_ms(idx));
            }
        }
        Some(bucket_value_ms(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_within_five_percent() {
        let mut h = LatencyHistogram::default();
        // 1..=1000 ms uniformly: the true p95 is 950 ms.
        for ms in 1..=1000u64 {
            h.record(Duration::from_millis(ms));
        }
        let p95 = h.quantile_ms(0.95).unwrap();
        assert!((p95 - 950.0).abs() / 950.0 < 0.05, "p95 {p95}");
        let p50 = h.quantile_ms(0.5).unwrap();
        assert!((p50 - 500.0).abs() / 500.0 < 0.05, "p50 {p50}");
    }

    #[test]
    fn every_value_reads_back_within_two_percent() {
        for micros in [3.0, 150.0, 2_500.0, 80_000.0, 1_234_567.0, 30_000_000.0] {
            let ms = bucket_value_ms(bucket_of(micros));
            let truth = micros / 1000.0;
            assert!(
                (ms - truth).abs() / truth <= 0.021,
                "{micros} µs read as {ms} ms"
            );
        }
    }

    #[test]
    fn empty_and_extremes() {
        let mut h = LatencyHistogram::default();
        assert_eq!(h.quantile_ms(0.95), None);
        h.record(Duration::from_secs(100_000));
        assert!(h.quantile_ms(0.95).unwrap() > 100_000.0);
        h.record(Duration::ZERO);
        assert_eq!(h.total(), 2);
        h.clear();
        assert_eq!(h.total(), 0);
    }
}
