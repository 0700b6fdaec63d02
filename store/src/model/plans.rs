//! Plans: what a dry run said a real call would do, bound to the tool, its arguments, the
//! resolved containers and the caller who asked, and — when the server's approval policy
//! says so — a human's decision on it. A plan is used at most once.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanStatus {
    /// Needs no approval; may be used once (`--require-plan`).
    Issued,
    /// Waits for an approver's decision.
    Pending,
    Approved,
    Denied,
    /// A real call ran on it.
    Used,
}

impl PlanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlanStatus::Issued => "issued",
            PlanStatus::Pending => "pending",
            PlanStatus::Approved => "approved",
            PlanStatus::Denied => "denied",
            PlanStatus::Used => "used",
        }
    }

    pub fn parse(s: &str) -> Option<PlanStatus> {
        [
            PlanStatus::Issued,
            PlanStatus::Pending,
            PlanStatus::Approved,
            PlanStatus::Denied,
            PlanStatus::Used,
        ]
        .into_iter()
        .find(|p| p.as_str() == s)
    }
}

/// A container a plan acts on, as it was resolved for the dry run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PlanTarget {
    pub host: String,
    pub service: String,
    pub container_id: String,
}

/// One plan (`plans-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct PlanRecord {
    /// The `plan_id` a real call quotes.
    pub id: String,
    #[serde(rename = "@timestamp")]
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub tool: String,
    /// The arguments without `dry_run` and `plan_id`: what the real call must repeat.
    pub arguments: Value,
    pub service: Option<String>,
    pub targets: Vec<PlanTarget>,
    /// Who asked (a token's name, `stdio`, `cli`).
    pub requester: String,
    /// What a real call would do, in order.
    pub operations: Vec<String>,
    pub expected_downtime_seconds: u64,
    /// True when it takes capacity away.
    pub takes_capacity: bool,
    pub status: PlanStatus,
    /// Who approved or denied it, when, and why.
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub note: Option<String>,
    pub used_at: Option<DateTime<Utc>>,
}

/// An approver's decision on a pending plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Deny,
}
