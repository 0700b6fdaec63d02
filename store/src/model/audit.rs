//! Accountability: the audit record of every mutation attempt, and the container faults
//! the reaper must undo.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// Who asked: the token's name, or "stdio", "cli", "runner", "reaper".
    pub who: String,
    /// Who approved it, when a human's approval was needed (an approver's token name,
    /// `cli:<user>`, or `client:<who>` when the client asked its user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    pub tool: String,
    pub arguments: Value,
    pub dry_run: bool,
    pub outcome: Outcome,
    /// The service acted on, when there is one.
    pub service: Option<String>,
    /// The Docker engine(s) of its targets, comma-separated (absent before they resolve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The plan id a dry run returned, or the one a real call quoted.
    pub plan_id: Option<String>,
    /// Why it was refused or failed, or what it did.
    pub detail: Option<String>,
    pub duration_ms: u64,
    /// How many identical refusals this record stands for (same caller, tool, service and
    /// reason within a minute); `@timestamp` is then the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<u64>,
    /// When the first of those repeats came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<DateTime<Utc>>,
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
