//! The remediation toolset: restart, stop, start, deploy, roll back, restart a dependency,
//! scale the cache or a swarm service — each a `Mutation` on the one road, each with a dry run that returns
//! the plan — and the queue the runner executes (`remediate`, `get_remediation_action`).

pub mod args;
pub mod capacity;
pub mod lifecycle;
pub mod queue;
pub mod versions;

use quantumstate_store::{RemediationAction, RemediationResult};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::ToolError;
use crate::mutation::{Outcome, Request};
use crate::ops::swarm::Rolled;
use crate::ops::{Deployed, Restarted};
use crate::server::QsServer;
use crate::tools::args::{opt_text, text};
use args::*;
use capacity::{ScaleCache, ScaleService, Scaled};
use lifecycle::{
    DependencyRestarted, Restart, RestartDependency, Start, Started, Stop, Stopped, wait_secs,
};
use queue::{Enqueue, Enqueued};
use versions::{Deploy, Rollback};

#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionState {
    pub action: RemediationAction,
    /// Present once the runner finished it.
    pub result: Option<RemediationResult>,
}

fn request<A: Serialize>(
    tool: &'static str,
    a: &A,
    service: &str,
    dry_run: bool,
    plan_id: &Option<String>,
) -> Request {
    Request::new(tool, a, Some(service), dry_run, plan_id.as_deref())
}

#[tool_router(router = remediation_tools, vis = "pub(crate)")]
impl QsServer {
    #[tool(
        description = "Restart a service's container (on swarm: a rolling restart) and wait until it is healthy. Uses the restart budget. Clears leaks and stuck states, not a bad release (use rollback_deployment)."
    )]
    pub async fn restart_container(
        &self,
        Parameters(a): Parameters<RestartArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Restarted>>, ToolError> {
        let wait = match a.wait_healthy.unwrap_or(true) {
            true => Some(wait_secs(a.timeout_seconds)?),
            false => None,
        };
        let req = request("restart_container", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, Restart { wait }).await
    }

    #[tool(
        description = "Stop a service's container; it stays down until start_container. Removes capacity."
    )]
    pub async fn stop_container(
        &self,
        Parameters(a): Parameters<StopStartArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Stopped>>, ToolError> {
        let req = request("stop_container", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, Stop).await
    }

    #[tool(
        description = "Start a stopped service's container and wait until it answers (after stop_container, or when list_services shows it exited)."
    )]
    pub async fn start_container(
        &self,
        Parameters(a): Parameters<StopStartArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Started>>, ToolError> {
        let req = request("start_container", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, Start).await
    }

    #[tool(
        description = "Deploy another version of a service (same image and settings, new SERVICE_VERSION), recorded for rollback_deployment; waits until it answers."
    )]
    pub async fn deploy_version(
        &self,
        Parameters(a): Parameters<DeployArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Deployed>>, ToolError> {
        let m = Deploy {
            version: crate::ops::check_version(&a.version)?,
            reason: opt_text(a.reason.as_deref(), "reason", 500)?
                .unwrap_or_else(|| "deploy_version".into()),
        };
        let req = request("deploy_version", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, m).await
    }

    #[tool(
        description = "Roll a service back to its version before the last deployment (or to_version). The fix for a deployment_regression or a leak that began with a deploy."
    )]
    pub async fn rollback_deployment(
        &self,
        Parameters(a): Parameters<RollbackArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Deployed>>, ToolError> {
        let reason = opt_text(a.reason.as_deref(), "reason", 500)?
            .unwrap_or_else(|| "rollback_deployment".into());
        let m = Rollback::new(a.to_version.as_deref(), reason)?;
        let req = request("rollback_deployment", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, m).await
    }

    #[tool(
        description = "Restart what a service depends on, e.g. auth-cache when auth-service logins fail with CACHE_OFFLINE. Uses the dependency's restart budget."
    )]
    pub async fn restart_dependency(
        &self,
        Parameters(a): Parameters<RestartDependencyArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<DependencyRestarted>>, ToolError> {
        let m = RestartDependency {
            dependency: a.dependency.clone(),
        };
        let req = request("restart_dependency", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, m).await
    }

    #[tool(
        description = "Raise a cache's memory limit (upward only, 64–2048 MB) when traffic puts it under memory pressure."
    )]
    pub async fn scale_cache(
        &self,
        Parameters(a): Parameters<ScaleCacheArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Scaled>>, ToolError> {
        let m = ScaleCache {
            memory_mb: a.memory_mb,
        };
        let req = Request::new(
            "scale_cache",
            &a,
            a.service.as_deref(),
            a.dry_run,
            a.plan_id.as_deref(),
        );
        self.mutate(&ctx, req, m).await
    }

    #[tool(
        description = "Set a swarm service's replicas (1–20) and wait until that many run. Swarm services only (list_services: swarm_services)."
    )]
    pub async fn scale_service(
        &self,
        Parameters(a): Parameters<ScaleServiceArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Rolled>>, ToolError> {
        let m = ScaleService::new(a.replicas, wait_secs(a.timeout_seconds)?)?;
        let req = request("scale_service", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, m).await
    }

    #[tool(
        description = "Queue a remediation for the runner (same guardrails); returns an exec_id at once. Poll get_remediation_action."
    )]
    pub async fn remediate(
        &self,
        Parameters(a): Parameters<RemediateArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Outcome<Enqueued>>, ToolError> {
        let m = Enqueue::new(
            a.action,
            a.incident_id.clone(),
            a.memory_mb,
            a.to_version.as_deref(),
        )?;
        let req = request("remediate", &a, &a.service, a.dry_run, &a.plan_id);
        self.mutate(&ctx, req, m).await
    }

    #[tool(
        description = "A queued remediation by exec_id: pending, executing, executed or failed, with its result."
    )]
    pub async fn get_remediation_action(
        &self,
        Parameters(a): Parameters<ActionArgs>,
    ) -> Result<Json<ActionState>, ToolError> {
        let id = text(&a.exec_id, "exec_id", 200)?;
        let store = self.app.store().await?;
        let action = store.get_action(&id).await?.ok_or_else(|| {
            ToolError::not_found(format!("no remediation action {id:?}"))
                .hint("remediate returns the exec_id")
        })?;
        let result = store.get_result(&id).await?;
        Ok(Json(ActionState { action, result }))
    }
}
