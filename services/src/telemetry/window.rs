//! The sliding 60 s window of business requests: one bucket per second holding a count,
//! an error count and a latency histogram; old seconds are overwritten as time moves on.

use std::time::Duration;

use super::histogram::LatencyHistogram;

/// Seconds the window spans (SPEC: error rate, p95 and rate "over the last 60 s").
pub const WINDOW_SECS: u64 = 60;

#[derive(Debug, Default, Clone)]
struct Bucket {
    /// The second (since the window's epoch) this bucket currently holds.
    sec: u64,
    requests: u64,
    errors: u64,
    latency: LatencyHistogram,
}

/// Figures over a span of recent seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowStats {
    pub requests: u64,
    pub errors: u64,
    /// p95 latency in ms, `None` when no request was seen.
    pub p95_ms: Option<f64>,
}

/// Per-second buckets; callers pass the current second so tests control time.
#[derive(Debug)]
pub struct RequestWindow {
    buckets: Vec<Bucket>,
}

impl Default for RequestWindow {
    fn default() -> Self {
        RequestWindow {
            buckets: vec![Bucket::default(); WINDOW_SECS as usize],
        }
    }
}

impl RequestWindow {
    pub fn record(&mut self, now_sec: u64, latency: Duration, error: bool) {
        let len = self.buckets.len() as u64;
        let Some(bucket) = self.buckets.get_mut((now_sec % len) as usize) else {
            return;
        };
        if bucket.sec != now_sec {
            bucket.sec = now_sec;
            bucket.requests = 0;
            bucket.errors = 0;
            bucket.latency.clear();
        }
        bucket.requests += 1;
        if error {
            bucket.errors += 1;
        }
        bucket.latency.record(latency);
    }

    /// Figures for the seconds in `(now_sec - span_secs, now_sec]`, span capped at the window.
    pub fn stats(&self, now_sec: u64, span_secs: u64) -> WindowStats {
        let span = span_secs.clamp(1, WINDOW_SECS);
        let oldest = (now_sec + 1).saturating_sub(span);
        let mut merged = LatencyHistogram::default();
        let (mut requests, mut errors) = (0, 0);
        for b in &self.buckets {
            // A bucket that was never written has sec 0 and no requests, so it adds nothing.
            if b.sec >= oldest && b.sec <= now_sec && b.requests > 0 {
                requests += b.requests;
                errors += b.errors;
                merged.merge(&b.latency);
            }
        }
        WindowStats {
            requests,
            errors,
            p95_ms: merged.quantile_ms(0.95),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_the_last_minute() {
        let mut w = RequestWindow::default();
        for sec in 0..120u64 {
            w.record(sec, Duration::from_millis(10), sec % 10 == 0);
        }
        let s = w.stats(119, WINDOW_SECS);
        assert_eq!(s.requests, 60);
        assert_eq!(s.errors, 6);
        let later = w.stats(200, WINDOW_SECS);
        assert_eq!(later.requests, 0);
        assert_eq!(later.p95_ms, None);
        let last_half = w.stats(119, 30);
        assert_eq!(last_half.requests, 30);
    }

    #[test]
    fn p95_over_many_seconds() {
        let mut w = RequestWindow::default();
        // 95 fast requests and 5 slow ones spread over 50 s: p95 is the fast value.
        for i in 0..100u64 {
            let ms = if i % 20 == 19 { 2_000 } else { 100 };
            w.record(1000 + i / 2, Duration::from_millis(ms), false);
        }
        let s = w.stats(1049, WINDOW_SECS);
        assert_eq!(s.requests, 100);
        let p95 = s.p95_ms.unwrap();
        assert!((p95 - 100.0).abs() < 5.0, "p95 {p95}");
        // One more slow request pushes p95 into the slow values.
        for _ in 0..5 {
            w.record(1049, Duration::from_millis(2_000), false);
        }
        let p95 = w.stats(1049, WINDOW_SECS).p95_ms.unwrap();
        assert!((p95 - 2000.0).abs() / 2000.0 < 0.05, "p95 {p95}");
    }

    #[test]
    fn a_reused_bucket_forgets_its_old_second() {
        let mut w = RequestWindow::default();
        w.record(5, Duration::from_millis(1), true);
        w.record(65, Duration::from_millis(1), false);
        let s = w.stats(65, WINDOW_SECS);
        assert_eq!((s.requests, s.errors), (1, 0));
    }
}
