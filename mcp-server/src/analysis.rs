//! Anomaly maths: pure functions from a service's recent samples (and deployments and
//! error-log counts) to anomalies in SPEC's vocabulary, with the evidence behind each.
//!
//! No I/O here: tools gather the data, these functions judge it (`assess`), tests feed
//! recorded series.

mod assess;
#[cfg(test)]
mod tests;

pub use assess::assess;

use chrono::{DateTime, Duration, Utc};
use quantumstate_store::{AnomalyType, Deployment, LogCount, Point};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Seed 001's alarm levels.
pub const MEMORY_ALARM: f64 = 80.0;
pub const CPU_ALARM: f64 = 85.0;
pub const ERRORS_ALARM: f64 = 10.0;
pub const LATENCY_ALARM_MS: f64 = 1000.0;
/// "Critical approaching 90 %": what time-to-critical counts down to.
pub const MEMORY_CRITICAL: f64 = 90.0;
/// Upper ends of seed 001's healthy ranges: a deviation must also leave the healthy range.
pub const MEMORY_HEALTHY_MAX: f64 = 65.0;
pub const CPU_HEALTHY_MAX: f64 = 50.0;
pub const ERRORS_HEALTHY_MAX: f64 = 2.5;
pub const LATENCY_HEALTHY_MAX_MS: f64 = 400.0;

/// Recovery bars (SPEC "Analysis rules", verify_recovery).
pub const RECOVERY_MEMORY: f64 = 65.0;
pub const RECOVERY_ERRORS: f64 = 2.5;
pub const RECOVERY_LATENCY_MS: f64 = 400.0;

/// The baseline is the median of the 30 minutes before the last 2, from ≥ 10 samples.
pub const BASELINE_SPAN: Duration = Duration::minutes(30);
pub const RECENT_SPAN: Duration = Duration::minutes(2);
pub const BASELINE_MIN_SAMPLES: usize = 10;
/// How long before an error or latency jump a deployment still explains it.
pub const DEPLOY_LOOKBACK: Duration = Duration::minutes(30);

/// One service's data for one assessment.
#[derive(Debug, Clone, Default)]
pub struct ServiceData {
    pub service: String,
    pub now: Option<DateTime<Utc>>,
    /// Samples of the last 32 minutes, oldest first.
    pub memory: Vec<Point>,
    pub cpu: Vec<Point>,
    pub errors: Vec<Point>,
    pub latency: Vec<Point>,
    pub up: Vec<Point>,
    /// Deployments of this service in the last hour or so.
    pub deployments: Vec<Deployment>,
    /// ERROR and CRITICAL log counts of the last few minutes.
    pub error_logs: Vec<LogCount>,
    /// True when any of the samples came from `seed --scenario`.
    pub scenario: bool,
    /// Expected seconds between samples; None to infer from the data.
    pub interval_secs: Option<f64>,
}

/// What an assessment concludes about a service as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceStatus {
    Healthy,
    Anomalous,
    /// No data, or none fresh: never reported healthy.
    Unknown,
}

/// How bad an anomaly is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Past the service's own baseline, below the alarm level.
    Warning,
    /// Past seed 001's alarm level, or down.
    Critical,
}

/// An error code seen in the service's logs, with its count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CodeCount {
    pub error_code: String,
    pub count: u64,
    /// The latest such line, as the service wrote it: untrusted data (escapes and control
    /// characters removed, capped at 300 characters).
    #[serde(rename = "last_message_untrusted")]
    pub last_message: String,
}

/// A deployment that may explain a jump.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DeployEvidence {
    pub from_version: Option<String>,
    pub to_version: String,
    pub at: DateTime<Utc>,
    /// Minutes between the deployment and the first abnormal sample.
    pub minutes_before_jump: f64,
    pub by: String,
}

/// The numbers behind an anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evidence {
    /// The metric that tripped (`memory_percent`, `error_rate`...).
    pub metric: String,
    pub current: f64,
    /// Median of the 30 minutes before the last 2, when there were ≥ 10 samples.
    pub baseline: Option<f64>,
    /// The alarm level for this metric.
    pub alarm_threshold: f64,
    /// When the metric first left its normal range in this episode.
    pub since: Option<DateTime<Utc>>,
    /// Least-squares slope over the episode, metric units per minute.
    pub slope_per_min: Option<f64>,
    /// Memory only: minutes until 90 % at the current slope.
    pub minutes_to_critical: Option<f64>,
    /// Samples the judgement rests on.
    pub samples: usize,
    pub error_codes: Vec<CodeCount>,
    pub deployment: Option<DeployEvidence>,
}

/// One anomaly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Anomaly {
    pub service: String,
    pub anomaly_type: AnomalyType,
    pub severity: Severity,
    /// 0–100.
    pub confidence: u8,
    /// One sentence for a human.
    pub summary: String,
    pub evidence: Evidence,
    /// `measured`, or `scenario` when the data came from `seed --scenario`.
    pub source: String,
}

/// The verdict on one service.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub status: ServiceStatus,
    pub last_sample_at: Option<DateTime<Utc>>,
    /// Why the status is unknown, when it is.
    pub reason: Option<String>,
    pub anomalies: Vec<Anomaly>,
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Median of the values; None when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

/// Least-squares slope of the points in units per minute; None for < 2 points or no spread.
pub fn slope_per_min(points: &[Point]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let t0 = points[0].t;
    let xs: Vec<f64> = points
        .iter()
        .map(|p| (p.t - t0).num_milliseconds() as f64 / 60_000.0)
        .collect();
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = points.iter().map(|p| p.v).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (x, p) in xs.iter().zip(points) {
        sxy += (x - mx) * (p.v - my);
        sxx += (x - mx) * (x - mx);
    }
    if sxx < 1e-12 {
        return None;
    }
    Some(sxy / sxx)
}

/// Minutes until `critical` at `slope` per minute from `current`; None when not rising.
pub fn minutes_to(current: f64, critical: f64, slope: Option<f64>) -> Option<f64> {
    match slope {
        Some(s) if s > 1e-6 && current < critical => Some(round2((critical - current) / s)),
        Some(_) if current >= critical => Some(0.0),
        _ => None,
    }
}

/// The median of the baseline span (30 minutes ending 2 minutes ago), with ≥ 10 samples.
pub fn baseline(points: &[Point], now: DateTime<Utc>) -> Option<f64> {
    let end = now - RECENT_SPAN;
    let start = end - BASELINE_SPAN;
    let vals: Vec<f64> = points
        .iter()
        .filter(|p| p.t >= start && p.t < end)
        .map(|p| p.v)
        .collect();
    if vals.len() < BASELINE_MIN_SAMPLES {
        return None;
    }
    median(&vals)
}

/// Median spacing of the last samples in seconds.
pub fn infer_interval(points: &[Point]) -> Option<f64> {
    let tail = &points[points.len().saturating_sub(11)..];
    let gaps: Vec<f64> = tail
        .windows(2)
        .map(|w| (w[1].t - w[0].t).num_milliseconds() as f64 / 1000.0)
        .filter(|g| *g > 0.0)
        .collect();
    median(&gaps)
}
