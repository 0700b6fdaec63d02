//! The health report and its status rule: unhealthy at ≥ 90 % memory or > 10 errors/min;
//! degraded at ≥ 80 % memory, > 1 error/min, p95 > 1000 ms or a dependency down.

use serde::Serialize;

use crate::deps::DependencyView;
use crate::faults::FaultView;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// The figures the rule looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusInputs {
    pub memory_percent: f64,
    pub error_rate: f64,
    pub p95_ms: f64,
    pub dependency_down: bool,
}

pub fn evaluate(i: &StatusInputs) -> Status {
    if i.memory_percent >= 90.0 || i.error_rate > 10.0 {
        Status::Unhealthy
    } else if i.memory_percent >= 80.0
        || i.error_rate > 1.0
        || i.p95_ms > 1000.0
        || i.dependency_down
    {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

/// `GET /health`.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub service: String,
    pub version: String,
    pub status: Status,
    pub uptime_seconds: f64,
    pub memory_percent: f64,
    pub memory_rss_mb: f64,
    pub cpu_percent: f64,
    /// Errors per minute over the last 60 s.
    pub error_rate: f64,
    /// p95 latency of business requests over the last 60 s, ms; null when none were
    /// served (no requests is no measurement, not a fast one).
    pub request_latency_ms: Option<f64>,
    pub requests_per_min: f64,
    pub dependencies: Vec<DependencyView>,
    pub active_faults: Vec<FaultView>,
    pub region: String,
    pub role: String,
    pub memory_limit_mb: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(memory_percent: f64, error_rate: f64, p95_ms: f64, dependency_down: bool) -> Status {
        evaluate(&StatusInputs {
            memory_percent,
            error_rate,
            p95_ms,
            dependency_down,
        })
    }

    #[test]
    fn status_rule() {
        assert_eq!(inputs(40.0, 0.0, 100.0, false), Status::Healthy);
        assert_eq!(inputs(79.9, 1.0, 1000.0, false), Status::Healthy);
        assert_eq!(inputs(80.0, 0.0, 0.0, false), Status::Degraded);
        assert_eq!(inputs(10.0, 1.5, 0.0, false), Status::Degraded);
        assert_eq!(inputs(10.0, 0.0, 1000.1, false), Status::Degraded);
        assert_eq!(inputs(10.0, 0.0, 0.0, true), Status::Degraded);
        assert_eq!(inputs(90.0, 0.0, 0.0, false), Status::Unhealthy);
        assert_eq!(inputs(10.0, 10.0, 0.0, false), Status::Degraded);
        assert_eq!(inputs(10.0, 10.5, 0.0, true), Status::Unhealthy);
    }
}
