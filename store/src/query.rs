//! Requests a backend answers and the shapes it answers with: time windows, metric
//! aggregation and downsampling, log and incident filters, pages that say when they were cut.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::StoreError;
use crate::model::{ActionStatus, AnomalyType, Level, MetricType, Outcome};

/// The shortest and longest window a query accepts (SPEC: 1 s to 30 d).
pub const MIN_WINDOW_SECS: i64 = 1;
pub const MAX_WINDOW_SECS: i64 = 30 * 86_400;

/// A relative time window such as `15m`, matching `^[0-9]+(s|m|h|d)$`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    secs: i64,
}

impl Window {
    pub fn from_secs(secs: i64) -> Result<Window, StoreError> {
        if !(MIN_WINDOW_SECS..=MAX_WINDOW_SECS).contains(&secs) {
            return Err(StoreError::Invalid(format!(
                "window of {secs} s is out of range: use 1s to 30d"
            )));
        }
        Ok(Window { secs })
    }

    /// Parses `30s`, `15m`, `2h`, `7d`. Anything else is an error that says what fits.
    pub fn parse(text: &str) -> Result<Window, StoreError> {
        let bad = || {
            StoreError::Invalid(format!(
                "window {text:?} is not a duration like 30s, 15m, 2h or 7d (digits then s, m, h or d; 1s to 30d)"
            ))
        };
        let t = text.trim();
        if t.len() < 2 || t.len() > 12 {
            return Err(bad());
        }
        let (digits, unit) = t.split_at(t.len() - 1);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        let mult = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            _ => return Err(bad()),
        };
        let secs = n.checked_mul(mult).ok_or_else(bad)?;
        Window::from_secs(secs)
    }

    pub fn secs(self) -> i64 {
        self.secs
    }

    pub fn duration(self) -> Duration {
        Duration::seconds(self.secs)
    }

    /// `[now - window, now]`.
    pub fn range_ending(self, now: DateTime<Utc>) -> TimeRange {
        TimeRange {
            from: now - self.duration(),
            to: now,
        }
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.secs;
        if s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3_600 == 0 {
            write!(f, "{}h", s / 3_600)
        } else if s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

/// A closed time range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// How each downsampled bucket is reduced to one value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    #[default]
    Avg,
    Min,
    Max,
    Sum,
    Count,
    Last,
}

impl Aggregation {
    pub fn as_str(self) -> &'static str {
        match self {
            Aggregation::Avg => "avg",
            Aggregation::Min => "min",
            Aggregation::Max => "max",
            Aggregation::Sum => "sum",
            Aggregation::Count => "count",
            Aggregation::Last => "last",
        }
    }
}

/// The largest series a query may ask for.
pub const MAX_POINTS: usize = 2_000;

/// A metric query: one service, one metric type, one range.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricQuery {
    pub service: String,
    pub metric_type: MetricType,
    pub range: TimeRange,
    pub aggregation: Aggregation,
    /// At most this many points in the series (1..=MAX_POINTS); 0 for a summary only.
    pub max_points: usize,
}

/// The summary of a metric over a range. Empty ranges give `count: 0` and no figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricSummary {
    pub count: u64,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub avg: Option<f64>,
    pub p95: Option<f64>,
    pub first: Option<f64>,
    pub last: Option<f64>,
    pub last_at: Option<DateTime<Utc>>,
    /// Least-squares slope, units per minute.
    pub slope_per_min: Option<f64>,
}

/// One point of a downsampled series: the bucket's start and its reduced value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Point {
    pub t: DateTime<Utc>,
    pub v: f64,
}

/// Where a metric answer was computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Every stored sample.
    Raw,
    /// One-minute rollups (min, max, sum, count, last per minute); p95 is then the p95
    /// of the per-minute means, and says so here.
    Rollup1m,
    /// Evaluated by Prometheus at a fixed step (the scrape interval, or longer so a window
    /// stays within 11,000 points); the summary is over those points.
    PrometheusStep,
}

/// The answer to a `MetricQuery`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MetricSeries {
    pub summary: MetricSummary,
    pub points: Vec<Point>,
    /// Seconds per bucket in `points`.
    pub bucket_seconds: i64,
    pub resolution: Resolution,
    /// True when any document in range was written by `seed --scenario`, not measured.
    pub includes_scenario_data: bool,
}

/// A log search.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LogQuery {
    pub service: Option<String>,
    /// Only this level and above.
    pub min_level: Option<Level>,
    pub error_code: Option<String>,
    /// Full-text terms (all must match).
    pub text: Option<String>,
    pub range: Option<TimeRange>,
    pub limit: usize,
}

/// Counts of log lines per (level, error code), newest first by count.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogCount {
    pub service: String,
    pub level: Level,
    pub error_code: Option<String>,
    pub count: u64,
    pub last_at: DateTime<Utc>,
    pub last_message: String,
}

/// A bounded list that says whether more matched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub truncated: bool,
}

impl<T> Page<T> {
    pub fn new(mut items: Vec<T>, limit: usize) -> Page<T> {
        let truncated = items.len() > limit;
        items.truncate(limit);
        Page { items, truncated }
    }
}

/// Filters for `list_incidents`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IncidentFilter {
    pub service: Option<String>,
    pub anomaly_type: Option<AnomalyType>,
    pub status: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// Filters for `list_decisions`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DecisionFilter {
    pub service: Option<String>,
    pub agent: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// Filters for `list_audit`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AuditFilter {
    pub service: Option<String>,
    pub tool: Option<String>,
    pub who: Option<String>,
    pub outcome: Option<Outcome>,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// Filters for remediation actions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionFilter {
    pub service: Option<String>,
    pub status: Option<ActionStatus>,
    pub since: Option<DateTime<Utc>>,
    pub limit: usize,
}

/// Filters for deployments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeploymentFilter {
    pub service: Option<String>,
    pub range: Option<TimeRange>,
    pub limit: usize,
}

/// A claim on a queued action: who holds it and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub runner_id: String,
    pub now: DateTime<Utc>,
    pub lease: Duration,
    /// An action already claimed this many times is marked failed instead of retried.
    pub max_attempts: u32,
}

/// The outcome of taking one unit of a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetDecision {
    Granted {
        used: u32,
        max: u32,
    },
    /// Refused; the oldest counted use leaves the window at `retry_at`.
    Exhausted {
        max: u32,
        retry_at: DateTime<Utc>,
    },
}

/// What retention removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub struct RetentionReport {
    pub raw_metrics_deleted: u64,
    pub rollups_deleted: u64,
    pub logs_deleted: u64,
}

/// How long raw metrics, rollups and logs are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    pub raw: Duration,
    pub rollups: Duration,
    pub logs: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            raw: Duration::hours(24),
            rollups: Duration::days(30),
            logs: Duration::days(7),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_parse_and_reject() {
        assert_eq!(Window::parse("15m").unwrap().secs(), 900);
        assert_eq!(Window::parse("1s").unwrap().secs(), 1);
        assert_eq!(Window::parse("30d").unwrap().secs(), 30 * 86_400);
        assert_eq!(Window::parse("720h").unwrap().to_string(), "30d");
        for bad in [
            "",
            "m",
            "-5m",
            "5",
            "5y",
            "99y",
            "31d",
            "0s",
            "1.5h",
            "5 m",
            "１m",
            "99999999999999d",
        ] {
            let err = Window::parse(bad).unwrap_err().to_string();
            assert!(err.contains("window"), "{bad}: {err}");
        }
    }

    #[test]
    fn pages_say_when_truncated() {
        let p = Page::new(vec![1, 2, 3], 2);
        assert_eq!(p.items, vec![1, 2]);
        assert!(p.truncated);
        assert!(!Page::new(vec![1, 2], 2).truncated);
    }
}
