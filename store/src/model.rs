//! The records of QuantumState's nine collections, as stored and as returned by tools.
//! Field names follow seed 001 and the original runner so an existing index keeps working.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The nine collections, named as the original's Elasticsearch indices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Collection {
    Metrics,
    Logs,
    Incidents,
    Decisions,
    Actions,
    Results,
    Runbooks,
    Deployments,
    Audit,
}

impl Collection {
    pub const ALL: [Collection; 9] = [
        Collection::Metrics,
        Collection::Logs,
        Collection::Incidents,
        Collection::Decisions,
        Collection::Actions,
        Collection::Results,
        Collection::Runbooks,
        Collection::Deployments,
        Collection::Audit,
    ];

    /// The collection's index name (SPEC "Store").
    pub fn name(self) -> &'static str {
        match self {
            Collection::Metrics => "metrics-quantumstate",
            Collection::Logs => "logs-quantumstate",
            Collection::Incidents => "incidents-quantumstate",
            Collection::Decisions => "agent-decisions-quantumstate",
            Collection::Actions => "remediation-actions-quantumstate",
            Collection::Results => "remediation-results-quantumstate",
            Collection::Runbooks => "runbooks-quantumstate",
            Collection::Deployments => "deployments-quantumstate",
            Collection::Audit => "audit-quantumstate",
        }
    }
}

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

/// A failure pattern, in SPEC's vocabulary.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyType {
    MemoryLeakProgressive,
    ErrorSpikeSudden,
    DeploymentRegression,
    CpuSaturation,
    LatencyDegradation,
    ServiceDown,
}

impl AnomalyType {
    pub const ALL: [AnomalyType; 6] = [
        AnomalyType::MemoryLeakProgressive,
        AnomalyType::ErrorSpikeSudden,
        AnomalyType::DeploymentRegression,
        AnomalyType::CpuSaturation,
        AnomalyType::LatencyDegradation,
        AnomalyType::ServiceDown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyType::MemoryLeakProgressive => "memory_leak_progressive",
            AnomalyType::ErrorSpikeSudden => "error_spike_sudden",
            AnomalyType::DeploymentRegression => "deployment_regression",
            AnomalyType::CpuSaturation => "cpu_saturation",
            AnomalyType::LatencyDegradation => "latency_degradation",
            AnomalyType::ServiceDown => "service_down",
        }
    }

    pub fn parse(s: &str) -> Option<AnomalyType> {
        AnomalyType::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Words for full-text matching ("memory leak progressive").
    pub fn words(self) -> String {
        self.as_str().replace('_', " ")
    }
}

impl std::fmt::Display for AnomalyType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A past or open incident (`incidents-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    pub id: String,
    /// When the incident started.
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub service: String,
    pub region: String,
    pub anomaly_type: AnomalyType,
    /// One line a human would put in a pager title.
    pub title: String,
    /// What was observed.
    #[serde(default)]
    pub description: String,
    pub root_cause: String,
    pub actions_taken: String,
    pub resolved_at: Option<DateTime<Utc>>,
    pub mttr_seconds: Option<u64>,
    /// `resolved` or `open`.
    pub status: String,
    /// `seed` for seeded history, `agent` or a token name for recorded ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One agent decision (`agent-decisions-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Decision {
    pub id: String,
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub agent: String,
    pub decision: String,
    /// 0–100.
    pub confidence: u8,
    pub service: String,
    /// The input the agent acted on, as free JSON.
    pub context: Value,
}

/// Remediation queue status; `executing` without `runner_started_at` is unclaimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Pending,
    Executing,
    Executed,
    Failed,
}

impl ActionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ActionStatus::Pending => "pending",
            ActionStatus::Executing => "executing",
            ActionStatus::Executed => "executed",
            ActionStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<ActionStatus> {
        match s {
            "pending" => Some(ActionStatus::Pending),
            "executing" => Some(ActionStatus::Executing),
            "executed" => Some(ActionStatus::Executed),
            "failed" => Some(ActionStatus::Failed),
            _ => None,
        }
    }
}

/// The actions the runner knows (the original runner's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    RestartService,
    RollbackDeployment,
    ScaleCache,
    RestartDependency,
}

impl ActionKind {
    pub const ALL: [ActionKind; 4] = [
        ActionKind::RestartService,
        ActionKind::RollbackDeployment,
        ActionKind::ScaleCache,
        ActionKind::RestartDependency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::RestartService => "restart_service",
            ActionKind::RollbackDeployment => "rollback_deployment",
            ActionKind::ScaleCache => "scale_cache",
            ActionKind::RestartDependency => "restart_dependency",
        }
    }

    pub fn parse(s: &str) -> Option<ActionKind> {
        ActionKind::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A queued remediation (`remediation-actions-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RemediationAction {
    pub exec_id: String,
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub incident_id: Option<String>,
    pub service: String,
    /// `restart_service`, `rollback_deployment`, `scale_cache` or `restart_dependency`.
    /// Kept as text so a document from another writer with an unknown action is
    /// recorded as failed rather than unreadable.
    pub action: String,
    pub status: ActionStatus,
    pub runner_started_at: Option<DateTime<Utc>>,
    pub runner_output: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    /// Who asked for it (token name, "stdio", or the writing agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
    /// Claims so far; a claim whose lease ran out counts.
    #[serde(default)]
    pub attempts: u32,
    /// The runner holding the current claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner_id: Option<String>,
    /// When the current claim's lease runs out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    /// Action parameters (e.g. `memory_mb` for scale_cache).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub params: Value,
}

/// The outcome of one executed action (`remediation-results-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RemediationResult {
    pub exec_id: String,
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    pub incident_id: Option<String>,
    pub service: String,
    pub action: String,
    pub status: ActionStatus,
    pub runner_started_at: Option<DateTime<Utc>>,
    pub runner_output: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    /// True when the outcome came from a real Docker operation.
    pub docker_used: bool,
}

/// A runbook (`runbooks-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Runbook {
    pub id: String,
    pub title: String,
    /// The service it is written for, or `any`.
    pub service: String,
    pub anomaly_types: Vec<AnomalyType>,
    /// What an operator sees when this runbook applies.
    pub symptoms: String,
    /// How to confirm the diagnosis before acting.
    pub diagnosis: String,
    /// Ordered steps, in words, naming the QuantumState tools to call.
    pub steps: Vec<String>,
    /// The remediation this runbook ends in (a runner action name).
    pub action: ActionKind,
    /// What must hold afterwards.
    pub verification: String,
}

/// A version change of one service (`deployments-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Deployment {
    pub id: String,
    pub service: String,
    pub from_version: Option<String>,
    pub to_version: String,
    pub image: String,
    pub at: DateTime<Utc>,
    /// A token name, "stdio", "scraper" (seen outside our tools) or "scenario".
    pub by: String,
    pub reason: String,
}

/// What became of an audited call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Started, not finished (a crash leaves this behind, honestly).
    Started,
    Ok,
    Refused,
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Started => "started",
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        match s {
            "started" => Some(Outcome::Started),
            "ok" => Some(Outcome::Ok),
            "refused" => Some(Outcome::Refused),
            "error" => Some(Outcome::Error),
            _ => None,
        }
    }
}

/// One audited mutation attempt (`audit-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AuditRecord {
    pub id: String,
    #[serde(rename = "@timestamp")]
    pub timestamp: DateTime<Utc>,
    /// The token's name, or "stdio", "cli", "runner", "reaper".
    pub who: String,
    pub tool: String,
    pub arguments: Value,
    pub dry_run: bool,
    pub outcome: Outcome,
    /// The service acted on, when there is one.
    pub service: Option<String>,
    /// The plan id a dry run returned, or the one a real call quoted.
    pub plan_id: Option<String>,
    /// Why it was refused or failed, or what it did.
    pub detail: Option<String>,
    pub duration_ms: u64,
}

/// A container-level fault the server must undo at its TTL (kept in the store so a
/// restarted server's reaper finds it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FaultRecord {
    pub id: String,
    pub service: String,
    pub kind: String,
    pub started_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// What the reaper needs to undo it (e.g. the network name, the previous version).
    pub undo: Value,
    /// `active`, `undone` or `failed`.
    pub state: String,
    pub detail: Option<String>,
}
