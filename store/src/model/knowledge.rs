//! What is remembered: anomaly types, incidents, agent decisions, runbooks and
//! deployments.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::actions::ActionKind;

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
    /// `seed` for seeded history, `agent` or a token name for recorded ones,
    /// `alertmanager` for incidents opened by an alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The alert that opened it (incidents from Alertmanager's webhook only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<Box<AlertInfo>>,
    /// Whether the fix was verified to work: `record_incident` sets it from the server's
    /// own record (a `verify_recovery` of the service that passed after the incident
    /// began), never from the caller's say-so. Verified fixes rank higher in searches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// The runbook that was followed, when one was (its verified successes count for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runbook_id: Option<String>,
}

/// What an Alertmanager alert said, and what QuantumState made of it on arrival.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertInfo {
    /// Alertmanager's fingerprint of the label set (stable across notifications).
    pub fingerprint: String,
    pub alertname: String,
    pub starts_at: DateTime<Utc>,
    /// When Alertmanager said it ended (resolved alerts only).
    pub ends_at: Option<DateTime<Utc>>,
    pub labels: BTreeMap<String, String>,
    /// Text from the alert rule's templates (summary, description, runbook_url ...).
    pub annotations: BTreeMap<String, String>,
    pub generator_url: Option<String>,
    /// Whether the alert names a service QuantumState manages (only then is any action
    /// queued).
    pub managed: bool,
    /// How `anomaly_type` was chosen: `label`, `alertname`, `detection` or `default`.
    pub type_from: String,
    /// What `detect_anomalies` found for the service when the alert arrived (its
    /// anomalies), or why it could not look.
    pub evidence: Value,
    /// The best matching runbook, when one matched.
    pub runbook: Option<AlertRunbook>,
    /// What `--on-alert queue` did: the queued action's exec_id, or why nothing was queued.
    pub queued: Option<String>,
    pub received_at: DateTime<Utc>,
}

/// The runbook chosen for an alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertRunbook {
    pub id: String,
    pub title: String,
    pub action: ActionKind,
    pub score: f64,
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
