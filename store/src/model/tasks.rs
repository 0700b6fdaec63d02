//! Tasks: long tool calls (a mutation waiting for approval, a restart waiting for health,
//! a recovery check) that a client polls instead of waiting on, kept in the store so they
//! outlive the process that started them.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Where a task stands (the MCP Tasks extension's statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Working,
    InputRequired,
    Completed,
    Failed,
    Cancelled,
}

impl TaskState {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Working => "working",
            TaskState::InputRequired => "input_required",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Cancelled => "cancelled",
        }
    }

    /// Completed, failed or cancelled: nothing more will happen.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Cancelled
        )
    }
}

/// One task (`tasks-quantumstate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct TaskRecord {
    pub id: String,
    #[serde(rename = "@timestamp")]
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Milliseconds after creation the task may be discarded.
    pub ttl_ms: u64,
    pub tool: String,
    pub arguments: Value,
    /// The caller it runs as: name, scopes (`read+operate`...) and surface.
    pub caller: String,
    pub scopes: String,
    pub surface: String,
    pub status: TaskState,
    pub status_message: Option<String>,
    /// The plan it waits on while an approver decides.
    pub plan_id: Option<String>,
    /// Set by `tasks/cancel`; the task stops at its next step.
    pub cancel_requested: bool,
    /// True once the call itself began (its effects may have happened).
    pub started_acting: bool,
    /// The final `CallToolResult` (completed) or JSON-RPC error (failed).
    pub result: Option<Value>,
    pub error: Option<Value>,
}
