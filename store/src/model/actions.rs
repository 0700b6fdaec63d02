//! The remediation queue: action kinds, statuses, queued actions and their results
//! (the original runner's documents).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// Written by the claim's runner just before its first side effect: when, by which
    /// claim, and the targets as they were. A later claim that finds it looks at the
    /// targets before acting again (the side effect may already have happened).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intent: Option<Value>,
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
