//! The rules every backend follows, written once: when a query reads rollups instead of
//! raw samples, how a window is cut into at most `max_points` buckets, the least-squares
//! slope, what makes a metric query valid, and how similarity hits are scored and ranked.
//! Each backend only translates them into its own query language.

use crate::model::{AnomalyType, Incident, Runbook};
use crate::query::{MAX_POINTS, MetricQuery, MetricSummary, Scored, SimilarQuery};
use crate::{Result, StoreError, text};

/// Windows longer than this are answered from the one-minute rollups.
pub const RAW_MAX_WINDOW_MS: i64 = 6 * 3_600_000;
/// One rollup bucket.
pub const MINUTE_MS: i64 = 60_000;

/// Weight of the text match, the service match and the anomaly-type match in a score.
pub const W_TEXT: f64 = 0.6;
pub const W_SERVICE: f64 = 0.25;
pub const W_ANOMALY: f64 = 0.15;
/// Candidates read from the text index before re-ranking.
pub const CANDIDATES: usize = 200;

/// Refuses a metric query no backend can answer sensibly.
pub fn validate_metric_query(q: &MetricQuery) -> Result<()> {
    if q.range.to < q.range.from {
        return Err(StoreError::Invalid(
            "the range ends before it starts".into(),
        ));
    }
    if q.max_points > MAX_POINTS {
        return Err(StoreError::Invalid(format!(
            "max_points {} is too many: use 1 to {MAX_POINTS}",
            q.max_points
        )));
    }
    Ok(())
}

/// True when a window of `span_ms` is read from the rollups.
pub fn reads_rollups(span_ms: i64) -> bool {
    span_ms > RAW_MAX_WINDOW_MS
}

/// Bucket width (ms) so that an epoch-aligned series over `span_ms` has at most `n`
/// points, in whole granules (so buckets never split a rollup minute or a second).
pub fn bucket_ms(span_ms: i64, n: usize, granule: i64) -> i64 {
    let raw = if n <= 1 {
        span_ms + 1
    } else {
        (span_ms + (n as i64 - 2)) / (n as i64 - 1)
    };
    let raw = raw.max(granule);
    (raw + granule - 1) / granule * granule
}

/// Least-squares slope from sums over n points of x (minutes) and y.
pub fn slope(n: f64, sx: f64, sy: f64, sxx: f64, sxy: f64) -> Option<f64> {
    if n < 2.0 {
        return None;
    }
    let den = n * sxx - sx * sx;
    if den.abs() < 1e-12 {
        return None;
    }
    Some((n * sxy - sx * sy) / den)
}

/// The summary of a window without samples.
pub fn empty_summary() -> MetricSummary {
    MetricSummary {
        count: 0,
        min: None,
        max: None,
        avg: None,
        p95: None,
        first: None,
        last: None,
        last_at: None,
        slope_per_min: None,
    }
}

/// An incident's score: its text match (0..1) plus the service and anomaly-type boosts.
pub fn incident_score(
    text_unit: f64,
    inc: &Incident,
    services: &[String],
    q: &SimilarQuery,
) -> f64 {
    let mut s = W_TEXT * text_unit;
    if services.contains(&inc.service) {
        s += W_SERVICE;
    }
    if q.anomaly_type == Some(inc.anomaly_type) {
        s += W_ANOMALY;
    }
    s
}

/// A runbook's score: its text match plus the boosts (half the service boost for a
/// runbook that applies to any service).
pub fn runbook_score(
    text_unit: f64,
    rb: &Runbook,
    services: &[String],
    anomaly: Option<AnomalyType>,
) -> f64 {
    let mut s = W_TEXT * text_unit;
    if services.contains(&rb.service) {
        s += W_SERVICE;
    } else if rb.service == "any" {
        s += W_SERVICE / 2.0;
    }
    if let Some(a) = anomaly
        && rb.anomaly_types.contains(&a)
    {
        s += W_ANOMALY;
    }
    s
}

/// Best first: by score, then newest, then id; at most `limit`.
pub fn rank<T>(mut v: Vec<(f64, i64, String, T)>, limit: usize) -> Vec<Scored<T>> {
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    v.into_iter()
        .take(limit)
        .map(|(score, _, _, item)| Scored {
            score: text::round3(score),
            item,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_never_exceed_max_points_and_stay_whole() {
        for span in [0_i64, 999, 60_000, 3_600_000, 86_400_000, 2_592_000_000] {
            for n in [1_usize, 2, 7, 100, 2000] {
                let b = bucket_ms(span, n, 1000);
                let worst = span / b + 1;
                assert!(
                    worst as usize <= n.max(1),
                    "span {span} n {n} b {b} gives {worst}"
                );
                assert_eq!(b % 1000, 0);
            }
        }
    }

    #[test]
    fn long_windows_read_rollups() {
        assert!(reads_rollups(RAW_MAX_WINDOW_MS + 1) && !reads_rollups(RAW_MAX_WINDOW_MS));
    }

    #[test]
    fn slope_of_a_line() {
        // y = 2x + 1 at x = 0..4
        let xs = [0.0, 1.0, 2.0, 3.0, 4.0];
        let (n, sx, sy, sxx, sxy) = xs.iter().fold((0.0, 0.0, 0.0, 0.0, 0.0), |a, &x| {
            let y = 2.0 * x + 1.0;
            (a.0 + 1.0, a.1 + x, a.2 + y, a.3 + x * x, a.4 + x * y)
        });
        assert!((slope(n, sx, sy, sxx, sxy).unwrap() - 2.0).abs() < 1e-9);
        assert_eq!(slope(1.0, 0.0, 1.0, 0.0, 0.0), None);
    }
}
