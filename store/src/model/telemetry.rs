//! What the scraper writes: metric samples by type, and application log lines.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What a metric document measures.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum MetricType {
    /// Process memory against the container limit, percent (from `/health`).
    MemoryPercent,
    /// Process CPU, percent of one core (from `/health`).
    CpuPercent,
    /// Failed requests per minute over the last 60 s (from `/health`).
    ErrorRate,
    /// p95 request latency over the last 60 s, ms (from `/health`).
    RequestLatencyMs,
    /// Requests per minute over the last 60 s (from `/health`).
    RequestsPerMin,
    /// Container memory use (minus page cache) against its limit, percent (from Docker).
    ContainerMemoryPercent,
    /// Container CPU as `docker stats` computes it, percent (from Docker).
    ContainerCpuPercent,
    /// 1 when the service answered its health probe, 0 when it did not.
    Up,
}

impl MetricType {
    pub const ALL: [MetricType; 8] = [
        MetricType::MemoryPercent,
        MetricType::CpuPercent,
        MetricType::ErrorRate,
        MetricType::RequestLatencyMs,
        MetricType::RequestsPerMin,
        MetricType::ContainerMemoryPercent,
        MetricType::ContainerCpuPercent,
        MetricType::Up,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MetricType::MemoryPercent => "memory_percent",
            MetricType::CpuPercent => "cpu_percent",
            MetricType::ErrorRate => "error_rate",
            MetricType::RequestLatencyMs => "request_latency_ms",
            MetricType::RequestsPerMin => "requests_per_min",
            MetricType::ContainerMemoryPercent => "container_memory_percent",
            MetricType::ContainerCpuPercent => "container_cpu_percent",
            MetricType::Up => "up",
        }
    }

    /// The unit seed 001 gives this metric.
    pub fn unit(self) -> &'static str {
        match self {
            MetricType::MemoryPercent
            | MetricType::CpuPercent
            | MetricType::ContainerMemoryPercent
            | MetricType::ContainerCpuPercent => "percent",
            MetricType::ErrorRate => "errors_per_min",
            MetricType::RequestLatencyMs => "ms",
            MetricType::RequestsPerMin => "requests_per_min",
            MetricType::Up => "boolean",
        }
    }

    pub fn parse(s: &str) -> Option<MetricType> {
        MetricType::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

impl std::fmt::Display for MetricType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One measurement (`metrics-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Metric {
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub service: String,
    pub region: String,
    pub metric_type: MetricType,
    pub value: f64,
    pub unit: String,
    /// Absent for measurements; `scenario` for documents written by `seed --scenario`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Metric {
    pub fn measured(
        timestamp: DateTime<Utc>,
        service: &str,
        region: &str,
        metric_type: MetricType,
        value: f64,
    ) -> Metric {
        Metric {
            timestamp,
            service: service.to_string(),
            region: region.to_string(),
            metric_type,
            value,
            unit: metric_type.unit().to_string(),
            source: None,
        }
    }
}

/// Log severity, as seed 001 spells it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Info,
    Warn,
    Error,
    Critical,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Info, Level::Warn, Level::Error, Level::Critical];

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
            Level::Critical => "CRITICAL",
        }
    }

    /// Accepts the usual spellings (`warn`, `WARNING`, `err`, `fatal`...).
    pub fn parse(s: &str) -> Option<Level> {
        match s.trim().to_ascii_uppercase().as_str() {
            "INFO" | "DEBUG" | "TRACE" => Some(Level::Info),
            "WARN" | "WARNING" => Some(Level::Warn),
            "ERROR" | "ERR" => Some(Level::Error),
            "CRITICAL" | "CRIT" | "FATAL" | "PANIC" => Some(Level::Critical),
            _ => None,
        }
    }

    pub fn rank(self) -> u8 {
        self as u8
    }
}

/// One application log line (`logs-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LogLine {
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub service: String,
    pub region: String,
    pub level: Level,
    pub message: String,
    pub trace_id: Option<String>,
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}
