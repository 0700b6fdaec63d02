//! The remediation queue (the original pipeline's `remediation-actions-quantumstate`):
//! `remediate` puts an action on it through the road; the runner turns each claimed
//! action back into the same mutation a tool would run (`RunnerAction`).

use async_trait::async_trait;
use chrono::Utc;
use quantumstate_store::{ActionKind, ActionStatus, RemediationAction};
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::Value;

use super::capacity::ScaleCache;
use super::lifecycle::{DEFAULT_WAIT, Restart, RestartDependency};
use super::versions::Rollback;
use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned};
use crate::ops;

#[derive(Debug, Serialize, JsonSchema)]
pub struct Enqueued {
    pub exec_id: String,
    pub status: ActionStatus,
    pub action: ActionKind,
    /// What to call next.
    pub next: String,
}

/// Queues `action` for the named service.
pub struct Enqueue {
    pub action: ActionKind,
    pub incident_id: Option<String>,
    pub params: Value,
}

impl Enqueue {
    pub fn new(
        action: ActionKind,
        incident_id: Option<String>,
        memory_mb: Option<i64>,
        to_version: Option<&str>,
    ) -> ToolResult<Enqueue> {
        if action == ActionKind::ScaleCache && memory_mb.is_none() {
            return Err(ToolError::invalid("scale_cache needs memory_mb"));
        }
        let mut params = serde_json::Map::new();
        if let Some(m) = memory_mb {
            params.insert("memory_mb".into(), m.into());
        }
        if let Some(v) = to_version {
            params.insert("to_version".into(), ops::check_version(v)?.into());
        }
        Ok(Enqueue {
            action,
            incident_id,
            params: if params.is_empty() {
                Value::Null
            } else {
                Value::Object(params)
            },
        })
    }
}

#[async_trait]
impl Mutation for Enqueue {
    type Output = Enqueued;

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        let service = &cx.target()?.info.name;
        Ok(Planned {
            operations: vec![
                format!(
                    "queue {} for {service} in remediation-actions-quantumstate",
                    self.action.as_str()
                ),
                "the runner claims it within a second and executes it through the guardrails"
                    .into(),
            ],
            ..Planned::default()
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Enqueued> {
        let action = RemediationAction {
            exec_id: quantumstate_store::new_id("exec"),
            timestamp: Utc::now(),
            incident_id: self.incident_id.clone(),
            service: cx.target()?.info.name.clone(),
            action: self.action.as_str().into(),
            status: ActionStatus::Pending,
            runner_started_at: None,
            runner_output: None,
            executed_at: None,
            requested_by: Some(cx.caller.name.clone()),
            attempts: 0,
            runner_id: None,
            lease_until: None,
            params: self.params.clone(),
            intent: None,
        };
        cx.store.enqueue_action(&action).await?;
        Ok(Enqueued {
            next: format!("get_remediation_action with exec_id {}", action.exec_id),
            exec_id: action.exec_id,
            status: ActionStatus::Pending,
            action: self.action,
        })
    }

    fn summary(&self, e: &Enqueued) -> String {
        format!("queued {}", e.exec_id)
    }
}

/// A claimed action as the mutation the runner runs on the road.
pub enum RunnerAction {
    Restart(Restart),
    RestartDependency(RestartDependency),
    Rollback(Rollback),
    ScaleCache(ScaleCache),
}

impl RunnerAction {
    /// The mutation for a queued action, or why the action cannot be run.
    pub fn of(a: &RemediationAction) -> ToolResult<(ActionKind, RunnerAction)> {
        let kind = ActionKind::parse(&a.action).ok_or_else(|| {
            ToolError::invalid(format!(
                "unknown action {:?}: the runner knows restart_service, rollback_deployment, scale_cache, restart_dependency",
                a.action
            ))
        })?;
        let param = |k: &str| a.params.get(k).cloned().unwrap_or(Value::Null);
        let m = match kind {
            ActionKind::RestartService => RunnerAction::Restart(Restart {
                wait: Some(DEFAULT_WAIT),
            }),
            ActionKind::RestartDependency => RunnerAction::RestartDependency(RestartDependency {
                dependency: param("dependency").as_str().map(str::to_string),
            }),
            ActionKind::RollbackDeployment => RunnerAction::Rollback(Rollback::new(
                param("to_version").as_str(),
                format!("remediation {}", a.exec_id),
            )?),
            ActionKind::ScaleCache => match param("memory_mb").as_i64() {
                Some(memory_mb) => RunnerAction::ScaleCache(ScaleCache { memory_mb }),
                None => return Err(ToolError::invalid("scale_cache needs params.memory_mb")),
            },
        };
        Ok((kind, m))
    }
}
