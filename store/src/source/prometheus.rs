//! The user's Prometheus as a metrics source: `/api/v1/query_range` for series (step the
//! scrape interval, or longer so a window stays within Prometheus's 11,000 points),
//! `/api/v1/query` for the service list. Every request has a bounded timeout; an
//! unreachable, slow or failing Prometheus is an `unavailable` error naming its URL, never
//! a fallback to the store. Points Prometheus gives as NaN (a quantile with no requests)
//! are missing figures, not values.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::promql::{PromQl, Template};
use super::{MetricsSource, bucketed, summarise};
use crate::model::MetricType;
use crate::query::{MetricQuery, MetricSeries, Point, Resolution, TimeRange};
use crate::rules::{bucket_ms, validate_metric_query};
use crate::{Result, StoreError};

/// Prometheus refuses a range query of more points than this per series.
const MAX_RESOLUTION: i64 = 11_000;

/// A Prometheus HTTP API endpoint and the mapping to read it with.
pub struct Prometheus {
    url: String,
    http: reqwest::Client,
    timeout: Duration,
    promql: PromQl,
}

impl Prometheus {
    /// `url` is the server's base (`http://127.0.0.1:9090`); every request gives up after
    /// `timeout`.
    pub fn new(url: &str, timeout: Duration, promql: PromQl) -> Result<Prometheus> {
        let url = url.trim_end_matches('/').to_string();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(StoreError::Invalid(format!(
                "prometheus={url}: the URL must start with http:// or https://"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(2)))
            .build()
            .map_err(|e| StoreError::Invalid(format!("prometheus={url}: {e}")))?;
        Ok(Prometheus {
            url,
            http,
            timeout,
            promql,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn template(&self, service: &str, mt: MetricType) -> Option<Template> {
        self.promql.render(service, mt)
    }

    /// Seconds between points for a window of `span_ms` read as at most `n` points.
    fn step_for(&self, span_ms: i64, n: i64) -> i64 {
        let floor = self.promql.step_seconds as i64;
        let need = (span_ms / 1000 + n - 1) / n.max(1);
        need.max(floor).max(1)
    }

    async fn get(&self, path: &str, params: &[(&str, String)]) -> Result<Value> {
        let url = format!("{}{path}", self.url);
        let sent = self.http.get(&url).query(params).send().await;
        let r = sent.map_err(|e| {
            let why = if e.is_timeout() {
                format!("did not answer within {} s", self.timeout.as_secs_f64())
            } else if e.is_connect() {
                "refused the connection or could not be reached".into()
            } else {
                e.to_string()
            };
            StoreError::SourceUnavailable(format!("Prometheus at {} {why}", self.url))
        })?;
        let status = r.status().as_u16();
        let body: Value = r.json().await.map_err(|e| {
            StoreError::SourceUnavailable(format!(
                "Prometheus at {} answered {path} with HTTP {status} and no JSON: {e}",
                self.url
            ))
        })?;
        if body["status"] == "success" {
            return Ok(body["data"].clone());
        }
        let detail = format!(
            "Prometheus at {} answered {path} with HTTP {status}: {} {}",
            self.url,
            body["errorType"].as_str().unwrap_or("error"),
            body["error"].as_str().unwrap_or("(no message)")
        );
        Err(match status {
            400 | 422 => StoreError::SourceRefused(detail),
            _ => StoreError::SourceUnavailable(detail),
        })
    }

    /// One series over a window; none when the expression has no data there.
    async fn range(&self, t: &Template, from: i64, to: i64, step: i64) -> Result<Vec<Point>> {
        let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
        let data = self
            .get(
                "/api/v1/query_range",
                &[
                    ("query", t.expr.clone()),
                    ("start", secs(from)),
                    ("end", secs(to)),
                    ("step", step.to_string()),
                ],
            )
            .await?;
        let series = data["result"].as_array().cloned().unwrap_or_default();
        if series.len() > 1 {
            return Err(StoreError::SourceRefused(format!(
                "the PromQL from {} gives {} series where one is needed (aggregate it, e.g. max(...)): {}",
                t.origin,
                series.len(),
                t.expr
            )));
        }
        Ok(series
            .first()
            .and_then(|s| s["values"].as_array())
            .into_iter()
            .flatten()
            .filter_map(point)
            .collect())
    }
}

/// `[unix seconds, "value"]` as a point; NaN and infinities are no point.
fn point(pair: &Value) -> Option<Point> {
    let t = pair.get(0)?.as_f64()?;
    let v: f64 = pair.get(1)?.as_str()?.parse().ok()?;
    let t = DateTime::from_timestamp_millis((t * 1000.0).round() as i64)?;
    v.is_finite().then_some(Point { t, v })
}

#[async_trait]
impl MetricsSource for Prometheus {
    fn kind(&self) -> &'static str {
        "prometheus"
    }

    fn describe(&self) -> String {
        format!("prometheus {}", self.url)
    }

    fn origin(&self, service: &str, mt: MetricType) -> String {
        match self.template(service, mt) {
            Some(t) => format!("prometheus ({})", t.origin),
            None => "prometheus (not mapped)".into(),
        }
    }

    async fn query_metrics(&self, q: &MetricQuery) -> Result<MetricSeries> {
        validate_metric_query(q)?;
        let Some(t) = self.template(&q.service, q.metric_type) else {
            return Err(StoreError::Invalid(format!(
                "no PromQL maps {} for {}: add it to the --promql file",
                q.metric_type.as_str(),
                q.service
            )));
        };
        let (from, to) = (
            q.range.from.timestamp_millis(),
            q.range.to.timestamp_millis(),
        );
        // Past six hours the store reads one-minute rollups; Prometheus is asked for the
        // same resolution (at most one point a minute), not ten thousand raw points.
        let mut step = self.step_for(to - from, MAX_RESOLUTION);
        if crate::rules::reads_rollups(to - from) {
            step = step.max(60);
        }
        let pts = self.range(&t, from, to, step).await?;
        let summary = summarise(&pts, q.range.from);
        let (points, bucket_seconds) = if q.max_points == 0 || pts.is_empty() {
            (Vec::new(), 0)
        } else {
            let b = bucket_ms(to - from, q.max_points, step * 1000);
            (bucketed(&pts, b, q.aggregation), b / 1000)
        };
        Ok(MetricSeries {
            summary,
            points,
            bucket_seconds,
            resolution: Resolution::PrometheusStep,
            includes_scenario_data: false,
        })
    }

    async fn metric_samples(
        &self,
        service: &str,
        mt: MetricType,
        range: TimeRange,
        limit: usize,
    ) -> Result<Vec<Point>> {
        let Some(t) = self.template(service, mt) else {
            return Ok(Vec::new());
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (from, to) = (range.from.timestamp_millis(), range.to.timestamp_millis());
        let n = (limit as i64).min(MAX_RESOLUTION);
        let mut pts = self
            .range(&t, from, to, self.step_for(to - from, n))
            .await?;
        let extra = pts.len().saturating_sub(limit);
        pts.drain(..extra);
        Ok(pts)
    }

    async fn metric_services(&self, since: DateTime<Utc>) -> Result<Vec<(String, DateTime<Utc>)>> {
        let span = (Utc::now() - since).num_seconds().max(1);
        let step = self.promql.step_seconds;
        let label = &self.promql.service_label;
        let expr = format!(
            "max by ({label}) (max_over_time(timestamp({})[{span}s:{step}s]))",
            self.promql.services
        );
        let data = self.get("/api/v1/query", &[("query", expr)]).await?;
        let mut out: Vec<(String, DateTime<Utc>)> = data["result"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| {
                let name = s["metric"][label.as_str()].as_str()?;
                let t: f64 = s["value"].get(1)?.as_str()?.parse().ok()?;
                let t = DateTime::from_timestamp_millis((t * 1000.0).round() as i64)?;
                (!name.is_empty()).then(|| (name.to_string(), t))
            })
            .collect();
        out.sort();
        Ok(out)
    }
}
