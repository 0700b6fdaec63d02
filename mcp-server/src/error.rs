//! The one error a tool returns: a code, a message saying what went wrong and a hint
//! saying what to try. It renders the same on every surface: an MCP tool error, the
//! direct route's `{"error": ...}` body with its HTTP status, and `call`'s stderr.

use std::time::Duration;

use rmcp::handler::server::tool::IntoCallToolResult;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use quantumstate_fleet::FleetError;
use quantumstate_store::StoreError;

/// Machine-readable error classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The arguments are wrong; the message says which and how.
    InvalidArgument,
    /// The named thing (incident, action, service) does not exist.
    NotFound,
    /// No token, or a wrong one.
    Unauthorized,
    /// A guardrail or the server's mode refused the call.
    Forbidden,
    /// A budget or rate limit is spent; retry after `retry_after_seconds`.
    RateLimited,
    /// Docker or the store cannot be reached right now.
    Unavailable,
    /// A check ran and did not pass (e.g. verify_recovery); details carry the measurements.
    CheckFailed,
    /// A check could not judge: the measurements it needs (e.g. request latency from
    /// served requests) did not arrive; details say what was missing.
    InsufficientEvidence,
    /// The operation was attempted and failed.
    Failed,
    /// The tool does not exist (or is hidden by the server's flags).
    UnknownTool,
    /// A human must approve this call first; the message says how.
    ApprovalRequired,
    /// An approver denied the plan.
    ApprovalDenied,
    /// The plan quoted was made for other arguments, containers, tool or caller.
    PlanMismatch,
    /// The plan quoted was already used once.
    PlanUsed,
    /// The plan quoted is past its lifetime.
    PlanExpired,
    /// The target is busy with something that excludes this call (e.g. its fault cap).
    Conflict,
}

impl ErrorCode {
    /// The direct route's HTTP status for this class (SPEC "Direct-route status codes").
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::InvalidArgument => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden | ErrorCode::ApprovalRequired | ErrorCode::ApprovalDenied => 403,
            ErrorCode::PlanMismatch | ErrorCode::PlanUsed | ErrorCode::Conflict => 409,
            ErrorCode::PlanExpired => 410,
            ErrorCode::NotFound | ErrorCode::UnknownTool => 404,
            ErrorCode::CheckFailed | ErrorCode::InsufficientEvidence => 422,
            ErrorCode::RateLimited => 429,
            ErrorCode::Failed => 500,
            ErrorCode::Unavailable => 503,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::CheckFailed => "check_failed",
            ErrorCode::InsufficientEvidence => "insufficient_evidence",
            ErrorCode::Failed => "failed",
            ErrorCode::UnknownTool => "unknown_tool",
            ErrorCode::ApprovalRequired => "approval_required",
            ErrorCode::ApprovalDenied => "approval_denied",
            ErrorCode::PlanMismatch => "plan_mismatch",
            ErrorCode::PlanUsed => "plan_used",
            ErrorCode::PlanExpired => "plan_expired",
        }
    }
}

/// A tool error the model can act on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ToolError {
    pub code: ErrorCode,
    pub message: String,
    /// What to try next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Seconds until a retry can succeed (rate limits and budgets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
    /// Measurements or other structured context (e.g. the recovery curve).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<Value>>,
}

/// The envelope every surface uses for errors: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    pub error: ToolError,
}

pub type ToolResult<T> = Result<T, ToolError>;

impl ToolError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ToolError {
        ToolError {
            code,
            message: message.into(),
            hint: None,
            retry_after_seconds: None,
            details: None,
        }
    }

    pub fn invalid(message: impl Into<String>) -> ToolError {
        ToolError::new(ErrorCode::InvalidArgument, message)
    }

    pub fn not_found(message: impl Into<String>) -> ToolError {
        ToolError::new(ErrorCode::NotFound, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> ToolError {
        ToolError::new(ErrorCode::Unauthorized, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ToolError {
        ToolError::new(ErrorCode::Forbidden, message)
    }

    pub fn unavailable(message: impl Into<String>) -> ToolError {
        ToolError::new(ErrorCode::Unavailable, message)
    }

    pub fn failed(message: impl Into<String>) -> ToolError {
        ToolError::new(ErrorCode::Failed, message)
    }

    pub fn hint(mut self, hint: impl Into<String>) -> ToolError {
        self.hint = Some(hint.into());
        self
    }

    pub fn details(mut self, details: Value) -> ToolError {
        self.details = Some(Box::new(details));
        self
    }

    /// The same error, its message prefixed (e.g. with where in the input it was found).
    pub fn prefixed(mut self, prefix: &str) -> ToolError {
        self.message = format!("{prefix}{}", self.message);
        self
    }

    pub fn retry_after(mut self, d: Duration) -> ToolError {
        self.retry_after_seconds = Some(d.as_secs().max(1));
        self
    }

    /// One line for humans and for the text block of an MCP tool error.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}: {}", self.code.as_str(), self.message);
        if let Some(h) = &self.hint {
            s.push_str("\nHint: ");
            s.push_str(h);
        }
        if let Some(r) = self.retry_after_seconds {
            s.push_str(&format!("\nRetry after: {r} s"));
        }
        s
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.clone(),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self.body()).unwrap_or(Value::Null)
    }
}

impl std::fmt::Display for ToolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_text())
    }
}

impl std::error::Error for ToolError {}

impl From<StoreError> for ToolError {
    fn from(e: StoreError) -> ToolError {
        let msg = e.to_string();
        match e {
            StoreError::Invalid(_) => ToolError::invalid(msg),
            StoreError::NotFound { .. } => ToolError::not_found(msg),
            StoreError::Conflict(_) => ToolError::invalid(msg),
            StoreError::Locked { .. } => ToolError::unavailable(msg)
                .hint("another process holds the store's write lock; retry in a few seconds")
                .retry_after(Duration::from_secs(5)),
            StoreError::ReadOnly { .. } | StoreError::Open { .. } | StoreError::Unavailable(_) => {
                ToolError::unavailable(msg).hint(
                    "the store cannot be used right now; check the file's permissions and free disk, \
                     or point QS_STORE elsewhere",
                )
            }
            StoreError::Corrupt { .. } => ToolError::unavailable(msg).hint(
                "move the damaged file aside and run `quantumstate-mcp seed` to start a fresh store",
            ),
            StoreError::Backend(_) => ToolError::failed(msg),
            StoreError::SourceUnavailable(_) => ToolError::unavailable(msg)
                .hint(
                    "check that Prometheus runs and that --metrics-source names it; the next call \
                     asks it again (nothing is read from the store instead)",
                )
                .retry_after(Duration::from_secs(5)),
            StoreError::SourceRefused(_) => ToolError::failed(msg)
                .hint("fix the template in the --promql file (or pick another profile)"),
        }
    }
}

impl From<FleetError> for ToolError {
    fn from(e: FleetError) -> ToolError {
        let msg = e.to_string();
        match e {
            FleetError::Unavailable(_) => ToolError::unavailable(msg).hint(
                "start the Docker daemon (or fix DOCKER_HOST / --docker-host and socket permissions); \
                 the server keeps running and recovers on its own",
            ),
            FleetError::NotFound(_) => {
                ToolError::not_found(msg).hint("call list_services to see the fleet")
            }
            FleetError::NotManaged { .. } => ToolError::forbidden(msg).hint(
                "QuantumState only acts on containers labelled quantumstate.managed=true (and never on quantumstate.role=infra)",
            ),
            FleetError::Ambiguous { choices, .. } => ToolError::invalid(msg)
                .hint(format!("qualify the service with its host: {}", choices.join(" or "))),
            FleetError::Failed(_) => ToolError::failed(msg),
        }
    }
}

/// An MCP tool error: the text block for the model, and the `{"error": ...}` envelope as
/// structured content so scripts read the same shape as on the direct route.
impl IntoCallToolResult for ToolError {
    fn into_call_tool_result(self) -> Result<CallToolResponse, rmcp::ErrorData> {
        let mut r = CallToolResult::error(vec![ContentBlock::text(self.to_text())]);
        r.structured_content = Some(self.to_json());
        Ok(r.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_one_envelope() {
        let e = ToolError::invalid("confidence must be 0 to 100 (got 140)")
            .hint("pass an integer percentage");
        assert_eq!(
            e.to_json(),
            serde_json::json!({"error": {"code": "invalid_argument", "message": "confidence must be 0 to 100 (got 140)", "hint": "pass an integer percentage"}})
        );
        assert_eq!(e.code.http_status(), 400);
        assert!(e.to_text().contains("Hint: pass"));
    }
}
