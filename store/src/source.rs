//! Where metric figures are read from: the store's own samples (what the scraper wrote),
//! or the user's Prometheus through its HTTP API. The tools read every figure through a
//! `MetricsSource`; logs, incidents, runbooks, audit and the queue stay in the store.
//! Either source answers with the same shapes and the same server-side summaries.

pub mod prometheus;
pub mod promql;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::model::MetricType;
use crate::query::{Aggregation, MetricQuery, MetricSeries, MetricSummary, Point, TimeRange};
use crate::rules::{empty_summary, slope};
use crate::{Result, Store};

/// The reads the metric tools make.
#[async_trait]
pub trait MetricsSource: Send + Sync + 'static {
    /// `store` or `prometheus`.
    fn kind(&self) -> &'static str;
    /// `store sqlite:/path` or `prometheus http://host:9090` (no secrets).
    fn describe(&self) -> String;
    /// Where one figure of one service is read from (the PromQL's origin, or the store).
    fn origin(&self, service: &str, mt: MetricType) -> String;
    async fn query_metrics(&self, q: &MetricQuery) -> Result<MetricSeries>;
    /// Samples in time order, at most `limit` (the newest when more match).
    async fn metric_samples(
        &self,
        service: &str,
        mt: MetricType,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Point>>;
    /// Services with any figure since `since`, with their newest sample time, by name.
    async fn metric_services(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>>;
}

/// The store's own samples.
pub struct StoreSource(pub Arc<dyn Store>);

#[async_trait]
impl MetricsSource for StoreSource {
    fn kind(&self) -> &'static str {
        "store"
    }
    fn describe(&self) -> String {
        format!("store {}", self.0.describe())
    }
    fn origin(&self, _service: &str, _mt: MetricType) -> String {
        "store".into()
    }
    async fn query_metrics(&self, q: &MetricQuery) -> Result<MetricSeries> {
        self.0.query_metrics(q).await
    }
    async fn metric_samples(
        &self,
        service: &str,
        mt: MetricType,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Point>> {
        self.0.metric_samples(service, mt, range, limit).await
    }
    async fn metric_services(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        self.0.metric_services(since).await
    }
}

/// The summary of points in time order, as the store computes it over its samples
/// (p95 by nearest rank, slope in units per minute from the first point's minute).
pub fn summarise(points: &[Point], from: DateTime<Utc>) -> MetricSummary {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return empty_summary();
    };
    let n = points.len() as f64;
    let (mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0);
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    for p in points {
        let x = (p.t - from).num_milliseconds() as f64 / 60_000.0;
        sx += x;
        sy += p.v;
        sxx += x * x;
        sxy += x * p.v;
        min = min.min(p.v);
        max = max.max(p.v);
    }
    let mut sorted: Vec<f64> = points.iter().map(|p| p.v).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = ((n * 0.95).ceil() as usize).saturating_sub(1);
    MetricSummary {
        count: points.len() as u64,
        min: Some(min),
        max: Some(max),
        avg: Some(sy / n),
        p95: sorted.get(rank).copied(),
        first: Some(first.v),
        last: Some(last.v),
        last_at: Some(last.t),
        slope_per_min: slope(n, sx, sy, sxx, sxy),
    }
}

/// Points cut into epoch-aligned buckets of `bucket_ms`, each reduced by `a`.
pub fn bucketed(points: &[Point], bucket_ms: i64, a: Aggregation) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    let mut i = 0;
    while i < points.len() {
        let key = points[i].t.timestamp_millis().div_euclid(bucket_ms);
        let mut j = i;
        while j < points.len() && points[j].t.timestamp_millis().div_euclid(bucket_ms) == key {
            j += 1;
        }
        let vs = points[i..j].iter().map(|p| p.v);
        let v = match a {
            Aggregation::Avg => vs.sum::<f64>() / (j - i) as f64,
            Aggregation::Min => vs.fold(f64::INFINITY, f64::min),
            Aggregation::Max => vs.fold(f64::NEG_INFINITY, f64::max),
            Aggregation::Sum => vs.sum(),
            Aggregation::Count => (j - i) as f64,
            Aggregation::Last => points[j - 1].v,
        };
        if let Some(t) = DateTime::from_timestamp_millis(key * bucket_ms) {
            out.push(Point { t, v });
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn pts(vs: &[f64]) -> Vec<Point> {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        vs.iter()
            .enumerate()
            .map(|(i, v)| Point {
                t: t0 + chrono::Duration::seconds(30 * i as i64),
                v: *v,
            })
            .collect()
    }

    #[test]
    fn summaries_and_buckets_of_a_line() {
        let p = pts(&[1.0, 2.0, 3.0, 4.0]);
        let s = summarise(&p, p[0].t);
        assert_eq!(
            (s.count, s.min, s.max, s.avg),
            (4, Some(1.0), Some(4.0), Some(2.5))
        );
        assert_eq!((s.first, s.last, s.p95), (Some(1.0), Some(4.0), Some(4.0)));
        assert!((s.slope_per_min.unwrap() - 2.0).abs() < 1e-9);
        let b = bucketed(&p, 60_000, Aggregation::Avg);
        assert_eq!(b.iter().map(|p| p.v).collect::<Vec<_>>(), vec![1.5, 3.5]);
        let b = bucketed(&p, 60_000, Aggregation::Last);
        assert_eq!(b.iter().map(|p| p.v).collect::<Vec<_>>(), vec![2.0, 4.0]);
        assert_eq!(summarise(&[], p[0].t).count, 0);
    }
}
