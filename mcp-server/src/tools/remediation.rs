//! The remediation toolset: restart, stop, start, deploy, roll back, restart a dependency,
//! scale the cache — each through the guard, each with a dry run that returns the plan —
//! and the queue the runner executes (`remediate`, `get_remediation_action`).

use std::time::Duration;

use chrono::Utc;
use quantumstate_store::{ActionKind, ActionStatus, RemediationAction, RemediationResult};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::service::RequestContext;
use rmcp::{Json, RoleServer, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ToolError, ToolResult};
use crate::guard::{Caller, Kind, Plan, Request};
use crate::ops::{self, Deployed, Readiness, Restarted};
use crate::server::QsServer;

/// The answer of every mutating tool: the plan of a dry run, or what was done.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Mutation<T> {
    pub service: String,
    /// True when nothing was changed.
    pub dry_run: bool,
    /// What a real call would do (dry runs only); quote its plan_id in the real call.
    pub plan: Option<Plan>,
    /// What was done (real calls only).
    pub result: Option<T>,
}

impl<T> Mutation<T> {
    pub(crate) fn planned(service: String, plan: Plan) -> Mutation<T> {
        Mutation {
            service,
            dry_run: true,
            plan: Some(plan),
            result: None,
        }
    }

    pub(crate) fn done(service: String, result: T) -> Mutation<T> {
        Mutation {
            service,
            dry_run: false,
            plan: None,
            result: Some(result),
        }
    }
}

fn wait_secs(v: Option<i64>) -> ToolResult<Duration> {
    match v {
        None => Ok(Duration::from_secs(60)),
        Some(n) if (5..=300).contains(&n) => Ok(Duration::from_secs(n as u64)),
        Some(n) => Err(ToolError::invalid(format!(
            "timeout_seconds must be 5 to 300 (got {n})"
        ))),
    }
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartArgs {
    /// The service to restart, e.g. payment-service.
    pub service: String,
    /// Wait until it answers healthy again (default true).
    #[serde(default)]
    pub wait_healthy: Option<bool>,
    /// How long to wait for health, 5–300 s (default 60).
    #[serde(default)]
    pub timeout_seconds: Option<i64>,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
    /// The plan_id of the matching dry run (required when the server runs with --require-plan).
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopStartArgs {
    /// The service, e.g. payment-service.
    pub service: String,
    /// Return the plan without changing anything.
    #[serde(default)]
    pub dry_run: bool,
    /// The plan_id of the matching dry run.
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployArgs {
    /// The service, e.g. checkout-service.
    pub service: String,
    /// The SERVICE_VERSION to run, e.g. 1.1.0.
    pub version: String,
    /// Why (recorded with the deployment).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackArgs {
    /// The service to roll back, e.g. checkout-service.
    pub service: String,
    /// The version to return to; default the one it ran before the last deployment.
    #[serde(default)]
    pub to_version: Option<String>,
    /// Why (recorded with the deployment).
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestartDependencyArgs {
    /// The service whose dependency misbehaves, e.g. auth-service.
    pub service: String,
    /// Which dependency to restart (e.g. auth-cache); default its only one, or its only unhealthy one.
    #[serde(default)]
    pub dependency: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScaleCacheArgs {
    /// The new memory limit in MB, 64–2048, above the current one.
    pub memory_mb: i64,
    /// The cache container (default auth-cache).
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemediateArgs {
    /// The service to act on.
    pub service: String,
    /// restart_service, rollback_deployment, scale_cache or restart_dependency.
    pub action: ActionKind,
    /// The incident this remediates, if recorded.
    #[serde(default)]
    pub incident_id: Option<String>,
    /// memory_mb for scale_cache.
    #[serde(default)]
    pub memory_mb: Option<i64>,
    /// to_version for rollback_deployment.
    #[serde(default)]
    pub to_version: Option<String>,
    #[serde(default)]
    pub dry_run: bool,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionArgs {
    /// The exec_id remediate returned.
    pub exec_id: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Stopped {
    pub service: String,
    pub state: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Started {
    pub service: String,
    pub readiness: Readiness,
    pub restart_count: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Scaled {
    pub service: String,
    pub previous_limit_mb: Option<i64>,
    pub new_limit_mb: i64,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DependencyRestarted {
    /// The dependency that was restarted.
    pub dependency: String,
    pub restart: Restarted,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Enqueued {
    pub exec_id: String,
    pub status: ActionStatus,
    pub action: ActionKind,
    /// What to call next.
    pub next: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ActionState {
    pub action: RemediationAction,
    /// Present once the runner finished it.
    pub result: Option<RemediationResult>,
}

fn args_json<T: Serialize>(a: &T) -> Value {
    serde_json::to_value(a).unwrap_or(Value::Null)
}

impl QsServer {
    /// Checks the service a mutating tool names; a refusal here (not managed, unknown) is
    /// audited like any other.
    pub(crate) async fn target(
        &self,
        ctx: &RequestContext<RoleServer>,
        tool: &'static str,
        args: &Value,
        service: &str,
    ) -> ToolResult<String> {
        match self.app.check_service(service).await {
            Ok(s) => Ok(s),
            Err(e) => {
                self.app
                    .guard()
                    .refuse(
                        &self.app,
                        &Caller::from_ctx(ctx),
                        tool,
                        args.clone(),
                        Some(service.to_string()),
                        &e,
                    )
                    .await;
                Err(e)
            }
        }
    }

    /// Asks the user to confirm a destructive call made without a plan, when the client can
    /// ask (elicitation). Clients that cannot are not blocked: the guard and audit still apply.
    pub(crate) async fn confirm(
        &self,
        ctx: &RequestContext<RoleServer>,
        plan_id: Option<&str>,
        what: &str,
    ) -> ToolResult<()> {
        use rmcp::model::*;
        if plan_id.is_some() {
            return Ok(());
        }
        let can = ctx
            .client_capabilities()
            .and_then(|c| c.elicitation)
            .is_some()
            && ctx
                .protocol_version()
                .is_some_and(|v| v < ProtocolVersion::V_2026_07_28);
        if !can {
            return Ok(());
        }
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"confirm": {"type": "boolean", "title": "Go ahead", "description": what}},
            "required": ["confirm"]
        });
        let Some(obj) = schema.as_object().cloned() else {
            return Ok(());
        };
        let schema = ElicitationSchema::from_json_schema(obj)
            .map_err(|e| ToolError::failed(e.to_string()))?;
        let req = ElicitRequest::new(ElicitRequestParams::FormElicitationParams {
            meta: None,
            message: format!("QuantumState wants to: {what}. Confirm?"),
            requested_schema: schema,
        });
        match ctx
            .peer
            .send_request(ServerRequest::ElicitRequest(req))
            .await
        {
            Ok(ClientResult::ElicitResult(r))
                if matches!(r.action, ElicitationAction::Accept)
                    && r.content
                        .as_ref()
                        .and_then(|c| c.get("confirm"))
                        .and_then(Value::as_bool)
                        == Some(true) =>
            {
                Ok(())
            }
            Ok(_) => Err(ToolError::forbidden(format!("the user declined: {what}"))),
            // A client that advertised elicitation but failed to answer: do not act.
            Err(e) => Err(ToolError::forbidden(format!(
                "could not get the user's confirmation ({e}); nothing was changed"
            ))
            .hint("run a dry run and quote its plan_id to act without a prompt")),
        }
    }
}

#[tool_router(router = remediation_tools, vis = "pub(crate)")]
impl QsServer {
    #[tool(
        description = "Restart a service's container (SIGTERM, 10 s grace) and wait until it answers healthy again, sending progress. Counts against the restart budget (default 3 per service per 300 s). Clears leaks and stuck states; it does not fix a bad release (use rollback_deployment). Call with dry_run true first; afterwards call verify_recovery.",
        annotations(
            title = "Restart container",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn restart_container(
        &self,
        Parameters(a): Parameters<RestartArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Restarted>>, ToolError> {
        let service = self
            .target(&ctx, "restart_container", &args_json(&a), &a.service)
            .await?;
        let wait = if a.wait_healthy.unwrap_or(true) {
            Some(wait_secs(a.timeout_seconds)?)
        } else {
            None
        };
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "restart_container",
                    arguments: args_json(&a),
                    service: Some(service.clone()),
                    targets: vec![service.clone()],
                    restarts: vec![service.clone()],
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        if a.dry_run {
            let mut ops = vec![format!(
                "docker restart {service} (SIGTERM, then SIGKILL after {} s)",
                ops::STOP_GRACE.as_secs()
            )];
            if let Some(w) = wait {
                ops.push(format!(
                    "wait up to {} s until {service} answers /health",
                    w.as_secs()
                ));
            }
            let plan = ticket.plan(vec![service.clone()], ops, 3);
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        #[allow(deprecated)]
        self.log(
            &ctx,
            rmcp::model::LoggingLevel::Notice,
            serde_json::json!({"restarting": service, "by": caller.name}),
        )
        .await;
        let mut n = 0.0;
        let result = ops::restart(&self.app, &service, wait, |m| {
            n += 1.0;
            let p = n;
            let ctx = &ctx;
            async move { self.progress(ctx, p, None, m).await }
        })
        .await;
        let detail = result.as_ref().ok().map(|r| {
            format!(
                "restarted; restart count {}; {}",
                r.restart_count
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "?".into()),
                r.readiness
                    .as_ref()
                    .map(|x| format!("health {}", x.health))
                    .unwrap_or_default()
            )
        });
        ticket.finish(&result, detail).await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Stop a service's container (it stays stopped until start_container). Takes capacity away: hidden by --disable-destructive; asks the user to confirm when the client supports it and no plan_id is given.",
        annotations(
            title = "Stop container",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn stop_container(
        &self,
        Parameters(a): Parameters<StopStartArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Stopped>>, ToolError> {
        let service = self
            .target(&ctx, "stop_container", &args_json(&a), &a.service)
            .await?;
        let caller = Caller::from_ctx(&ctx);
        let req = Request {
            tool: "stop_container",
            arguments: args_json(&a),
            service: Some(service.clone()),
            targets: vec![service.clone()],
            restarts: Vec::new(),
            dry_run: a.dry_run,
            plan_id: a.plan_id.clone(),
            kind: Kind::Destructive,
        };
        if !a.dry_run {
            self.confirm(&ctx, a.plan_id.as_deref(), &format!("stop {service}"))
                .await?;
        }
        let ticket = self.app.guard().admit(&self.app, &caller, req).await?;
        if a.dry_run {
            let plan = ticket.plan(
                vec![service.clone()],
                vec![format!(
                    "docker stop {service} (it stays down until start_container)"
                )],
                0,
            );
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        let result: ToolResult<Stopped> = async {
            self.app.fleet().stop(&service, ops::STOP_GRACE).await?;
            let d = self.app.fleet().inspect(&service).await?;
            Ok(Stopped {
                service: service.clone(),
                state: d.info.state,
            })
        }
        .await;
        ticket.finish(&result, Some("stopped".into())).await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Start a stopped service's container and wait until it answers. Use after stop_container, or when list_services shows a service exited.",
        annotations(
            title = "Start container",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn start_container(
        &self,
        Parameters(a): Parameters<StopStartArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Started>>, ToolError> {
        let service = self
            .target(&ctx, "start_container", &args_json(&a), &a.service)
            .await?;
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "start_container",
                    arguments: args_json(&a),
                    service: Some(service.clone()),
                    targets: vec![service.clone()],
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        if a.dry_run {
            let plan = ticket.plan(
                vec![service.clone()],
                vec![
                    format!("docker start {service}"),
                    "wait up to 60 s until it answers".into(),
                ],
                0,
            );
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        let result: ToolResult<Started> = async {
            let before = self.app.fleet().inspect(&service).await?.started_at;
            self.app.fleet().start(&service).await?;
            let mut n = 0.0;
            let readiness = ops::wait_ready(&self.app, &service, Duration::from_secs(60), |m| {
                n += 1.0;
                let p = n;
                let ctx = &ctx;
                async move { self.progress(ctx, p, None, m).await }
            })
            .await;
            let count = ops::count_start(&self.app, &service, before, readiness.started_at).await;
            Ok(Started {
                service: service.clone(),
                readiness,
                restart_count: count,
            })
        }
        .await;
        ticket.finish(&result, Some("started".into())).await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Deploy another version of a service: recreates its container from the same image with a new SERVICE_VERSION, keeping name, ports, labels, limits and networks, records the previous version (for rollback_deployment) and a deployment record, then waits until it answers.",
        annotations(
            title = "Deploy version",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn deploy_version(
        &self,
        Parameters(a): Parameters<DeployArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Deployed>>, ToolError> {
        let service = self
            .target(&ctx, "deploy_version", &args_json(&a), &a.service)
            .await?;
        let version = ops::check_version(&a.version)?;
        let reason = super::opt_text(a.reason.as_deref(), "reason", 500)?
            .unwrap_or_else(|| "deploy_version".into());
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "deploy_version",
                    arguments: args_json(&a),
                    service: Some(service.clone()),
                    targets: vec![service.clone()],
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        if a.dry_run {
            let cur = self
                .app
                .fleet()
                .inspect(&service)
                .await
                .ok()
                .and_then(|d| d.version);
            let plan = ticket.plan(
                vec![service.clone()],
                vec![
                    format!("stop {service} (running {})", cur.as_deref().unwrap_or("unknown version")),
                    format!("create {service} from the same image with SERVICE_VERSION={version}, same ports, labels, limits, networks"),
                    "start it, remove the old container, record the deployment".into(),
                    "wait up to 60 s until it answers".into(),
                ],
                3,
            );
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        let mut n = 0.0;
        let result = ops::deploy(
            &self.app,
            &service,
            &version,
            &caller.name,
            &reason,
            Duration::from_secs(60),
            |m| {
                n += 1.0;
                let p = n;
                let ctx = &ctx;
                async move { self.progress(ctx, p, None, m).await }
            },
        )
        .await;
        ticket
            .finish(
                &result,
                result
                    .as_ref()
                    .ok()
                    .map(|d| format!("{:?} → {}", d.from_version, d.to_version)),
            )
            .await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Roll a service back to the version it ran before its last deployment (or to_version): recreates the container with that SERVICE_VERSION and records the deployment. The fix for a deployment_regression or a leak that started after a deploy. Dry run first; then verify_recovery.",
        annotations(
            title = "Roll back deployment",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn rollback_deployment(
        &self,
        Parameters(a): Parameters<RollbackArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Deployed>>, ToolError> {
        let service = self
            .target(&ctx, "rollback_deployment", &args_json(&a), &a.service)
            .await?;
        let reason = super::opt_text(a.reason.as_deref(), "reason", 500)?
            .unwrap_or_else(|| "rollback_deployment".into());
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "rollback_deployment",
                    arguments: args_json(&a),
                    service: Some(service.clone()),
                    targets: vec![service.clone()],
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        let target: ToolResult<(Option<String>, String)> = match a.to_version.as_deref() {
            Some(v) => match ops::check_version(v) {
                Ok(v) => Ok((
                    self.app
                        .fleet()
                        .inspect(&service)
                        .await
                        .ok()
                        .and_then(|d| d.version),
                    v,
                )),
                Err(e) => Err(e),
            },
            None => ops::rollback_target(&self.app, &service).await,
        };
        let (from, to) = match target {
            Ok(t) => t,
            Err(e) => {
                ticket.finish::<()>(&Err(e.clone()), None).await;
                return Err(e);
            }
        };
        if a.dry_run {
            let plan = ticket.plan(
                vec![service.clone()],
                vec![
                    format!("stop {service} (running {})", from.as_deref().unwrap_or("unknown version")),
                    format!("recreate it with SERVICE_VERSION={to}, keeping ports, labels, limits and networks"),
                    "record the deployment, wait up to 60 s until it answers".into(),
                ],
                3,
            );
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        let mut n = 0.0;
        let result = ops::deploy(
            &self.app,
            &service,
            &to,
            &caller.name,
            &reason,
            Duration::from_secs(60),
            |m| {
                n += 1.0;
                let p = n;
                let ctx = &ctx;
                async move { self.progress(ctx, p, None, m).await }
            },
        )
        .await;
        ticket
            .finish(&result, Some(format!("rolled back {from:?} → {to}")))
            .await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Restart what a service depends on (from its DEPENDS_ON), e.g. auth-cache for auth-service when logins fail with CACHE_OFFLINE. Counts against the dependency's restart budget. Dry run first; then verify_recovery on the service.",
        annotations(
            title = "Restart dependency",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn restart_dependency(
        &self,
        Parameters(a): Parameters<RestartDependencyArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<DependencyRestarted>>, ToolError> {
        let service = self
            .target(&ctx, "restart_dependency", &args_json(&a), &a.service)
            .await?;
        let dep = ops::pick_dependency(&self.app, &service, a.dependency.as_deref()).await?;
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "restart_dependency",
                    arguments: args_json(&a),
                    service: Some(service.clone()),
                    targets: vec![dep.clone()],
                    restarts: vec![dep.clone()],
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        if a.dry_run {
            let plan = ticket.plan(
                vec![dep.clone()],
                vec![
                    format!(
                        "docker restart {dep} (a dependency of {service}), or start it if stopped"
                    ),
                    format!("wait up to 60 s until {dep} answers"),
                ],
                3,
            );
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        let mut n = 0.0;
        let result = ops::restart(&self.app, &dep, Some(Duration::from_secs(60)), |m| {
            n += 1.0;
            let p = n;
            let ctx = &ctx;
            async move { self.progress(ctx, p, None, m).await }
        })
        .await
        .map(|r| DependencyRestarted {
            dependency: dep.clone(),
            restart: r,
        });
        ticket
            .finish(&result, Some(format!("restarted {dep}")))
            .await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Raise the session cache's memory limit (docker update, bounded 64–2048 MB, only upward) when it is under memory pressure from traffic. Default target auth-cache.",
        annotations(
            title = "Scale cache",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn scale_cache(
        &self,
        Parameters(a): Parameters<ScaleCacheArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Scaled>>, ToolError> {
        let service = self
            .target(
                &ctx,
                "scale_cache",
                &args_json(&a),
                a.service.as_deref().unwrap_or("auth-cache"),
            )
            .await?;
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "scale_cache",
                    arguments: args_json(&a),
                    service: Some(service.clone()),
                    targets: vec![service.clone()],
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        let (cur, bytes) = match ops::cache_limit(&self.app, &service, a.memory_mb).await {
            Ok(x) => x,
            Err(e) => {
                ticket.finish::<()>(&Err(e.clone()), None).await;
                return Err(e);
            }
        };
        let mb = |b: i64| b / (1024 * 1024);
        if a.dry_run {
            let plan = ticket.plan(
                vec![service.clone()],
                vec![format!(
                    "docker update {service} --memory {}m (from {})",
                    a.memory_mb,
                    cur.map(|c| format!("{}m", mb(c)))
                        .unwrap_or_else(|| "unlimited".into())
                )],
                0,
            );
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        let result = self
            .app
            .fleet()
            .set_memory_limit(&service, bytes)
            .await
            .map_err(ToolError::from)
            .map(|_| Scaled {
                service: service.clone(),
                previous_limit_mb: cur.map(mb),
                new_limit_mb: a.memory_mb,
            });
        ticket
            .finish(&result, Some(format!("memory limit {} MB", a.memory_mb)))
            .await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Queue a remediation for the runner (the original pipeline's remediation-actions queue): restart_service, rollback_deployment, scale_cache (with memory_mb) or restart_dependency. Returns the exec_id at once; the runner claims it within a second, runs it through the same guardrails and writes the result. Poll get_remediation_action.",
        annotations(
            title = "Remediate (queue)",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    pub async fn remediate(
        &self,
        Parameters(a): Parameters<RemediateArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<Json<Mutation<Enqueued>>, ToolError> {
        let service = self
            .target(&ctx, "remediate", &args_json(&a), &a.service)
            .await?;
        if a.action == ActionKind::ScaleCache && a.memory_mb.is_none() {
            return Err(ToolError::invalid("scale_cache needs memory_mb"));
        }
        if let Some(v) = &a.to_version {
            ops::check_version(v)?;
        }
        let caller = Caller::from_ctx(&ctx);
        let ticket = self
            .app
            .guard()
            .admit(
                &self.app,
                &caller,
                Request {
                    tool: "remediate",
                    arguments: args_json(&a),
                    service: Some(service.clone()),
                    targets: vec![service.clone()],
                    restarts: Vec::new(),
                    dry_run: a.dry_run,
                    plan_id: a.plan_id.clone(),
                    kind: Kind::Operate,
                },
            )
            .await?;
        if a.dry_run {
            let plan = ticket.plan(
                vec![service.clone()],
                vec![
                    format!(
                        "queue {} for {service} in remediation-actions-quantumstate",
                        a.action.as_str()
                    ),
                    "the runner claims it within a second and executes it through the guardrails"
                        .into(),
                ],
                0,
            );
            ticket.finish::<()>(&Ok(()), Some("dry run".into())).await;
            return Ok(Json(Mutation::planned(service, plan)));
        }
        let mut params = serde_json::Map::new();
        if let Some(m) = a.memory_mb {
            params.insert("memory_mb".into(), m.into());
        }
        if let Some(v) = &a.to_version {
            params.insert("to_version".into(), v.clone().into());
        }
        let action = RemediationAction {
            exec_id: quantumstate_store::new_id("exec"),
            timestamp: Utc::now(),
            incident_id: a.incident_id.clone(),
            service: service.clone(),
            action: a.action.as_str().into(),
            status: ActionStatus::Pending,
            runner_started_at: None,
            runner_output: None,
            executed_at: None,
            requested_by: Some(caller.name.clone()),
            attempts: 0,
            runner_id: None,
            lease_until: None,
            params: if params.is_empty() {
                Value::Null
            } else {
                Value::Object(params)
            },
        };
        let result: ToolResult<Enqueued> = async {
            self.app.store().await?.enqueue_action(&action).await?;
            Ok(Enqueued {
                exec_id: action.exec_id.clone(),
                status: ActionStatus::Pending,
                action: a.action,
                next: format!("get_remediation_action with exec_id {}", action.exec_id),
            })
        }
        .await;
        ticket
            .finish(&result, Some(format!("queued {}", action.exec_id)))
            .await;
        Ok(Json(Mutation::done(service, result?)))
    }

    #[tool(
        description = "Read a queued remediation by exec_id: pending, executing (claimed by a runner), executed or failed, with the runner's output and result.",
        annotations(
            title = "Get remediation action",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    pub async fn get_remediation_action(
        &self,
        Parameters(a): Parameters<ActionArgs>,
    ) -> Result<Json<ActionState>, ToolError> {
        let id = super::text(&a.exec_id, "exec_id", 200)?;
        let store = self.app.store().await?;
        let action = store.get_action(&id).await?.ok_or_else(|| {
            ToolError::not_found(format!("no remediation action {id:?}"))
                .hint("remediate returns the exec_id")
        })?;
        let result = store.get_result(&id).await?;
        Ok(Json(ActionState { action, result }))
    }
}
