//! The rules every backend follows, written once: when a query reads rollups instead of
//! raw samples, how a window is cut into at most `max_points` buckets, the least-squares
//! slope, what makes a metric query valid, and how similarity hits are scored and ranked.
//! Each backend only translates them into its own query language.

use crate::model::{AnomalyType, Incident, Runbook};
use crate::query::{MAX_POINTS, MetricQuery, MetricSummary};
use crate::similar::{Scored, SimilarQuery, Why};
use crate::{Result, StoreError, text};

/// Windows longer than this are answered from the one-minute rollups.
pub const RAW_MAX_WINDOW_MS: i64 = 6 * 3_600_000;
/// One rollup bucket.
pub const MINUTE_MS: i64 = 60_000;

/// Weight of the text match, the service match and the anomaly-type match in a score.
/// The outcome boost (verified fixes) is small: it breaks ties, it does not outvote the
/// text. The four weights sum to 1, so a score stays in 0..1.
pub const W_TEXT: f64 = 0.57;
pub const W_SERVICE: f64 = 0.25;
pub const W_ANOMALY: f64 = 0.13;
pub const W_OUTCOME: f64 = 0.05;
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

/// The service boost: full for the service a query is mainly about (the first of
/// `services`), half for the others it names.
fn service_boost(services: &[String], service: &str) -> f64 {
    match services.iter().position(|s| s == service) {
        Some(0) => W_SERVICE,
        Some(_) => W_SERVICE / 2.0,
        None => 0.0,
    }
}

/// An incident's score: its text match (0..1: BM25 alone, or fused with the vectors) plus
/// the service, anomaly-type and outcome boosts, each recorded in `why`.
pub fn incident_score(
    text_unit: f64,
    why: &mut Why,
    inc: &Incident,
    services: &[String],
    q: &SimilarQuery,
) -> f64 {
    why.service = service_boost(services, &inc.service);
    why.anomaly = if q.anomaly_type == Some(inc.anomaly_type) {
        W_ANOMALY
    } else {
        0.0
    };
    why.outcome = if inc.verified == Some(true) {
        W_OUTCOME
    } else {
        0.0
    };
    W_TEXT * text_unit + why.service + why.anomaly + why.outcome
}

/// A runbook's score: its text match plus the boosts (half the service boost for a
/// runbook that applies to any service; the outcome boost grows with its verified
/// successes, `n / (n + 1)` of [`W_OUTCOME`]).
pub fn runbook_score(
    text_unit: f64,
    why: &mut Why,
    rb: &Runbook,
    services: &[String],
    anomaly: Option<AnomalyType>,
    verified_successes: u64,
) -> f64 {
    why.service = if rb.service == "any" && !services.iter().any(|s| s == "any") {
        W_SERVICE / 2.0
    } else {
        service_boost(services, &rb.service)
    };
    why.anomaly = match anomaly {
        Some(a) if rb.anomaly_types.contains(&a) => W_ANOMALY,
        _ => 0.0,
    };
    let n = verified_successes as f64;
    why.outcome = W_OUTCOME * n / (n + 1.0);
    W_TEXT * text_unit + why.service + why.anomaly + why.outcome
}

/// Best first: by score, then newest, then id; at most `limit`.
pub fn rank<T>(mut v: Vec<(f64, i64, String, Why, T)>, limit: usize) -> Vec<Scored<T>> {
    v.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    v.into_iter()
        .take(limit)
        .map(|(score, _, _, why, item)| Scored {
            score: text::round3(score),
            why: Why {
                lexical: text::round3(why.lexical),
                semantic: why.semantic.map(text::round3),
                outcome: text::round3(why.outcome),
                service: text::round3(why.service),
                anomaly: text::round3(why.anomaly),
            },
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
