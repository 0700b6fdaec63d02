//! The remediation runner: polls `remediation-actions-quantumstate` every 0.5 s, claims
//! one action at a time with a lease, runs it on Docker through the same guard as the
//! tools, and writes the status, the result document and the audit record.
//!
//! A drop-in for the original runner: same indices, same statuses, and an `executing`
//! document without `runner_started_at` (the original agents' hand-off) is picked up.
//! An action whose runner died is retried after its lease, or failed — never lost, never
//! run by two runners at once.

use std::time::Duration;

use chrono::Utc;
use quantumstate_store::{ActionKind, ActionStatus, Claim, RemediationAction, RemediationResult};
use serde_json::Value;

use crate::app::App;
use crate::error::{ToolError, ToolResult};
use crate::guard::{Caller, Kind, Request};
use crate::ops;

/// How often the queue is polled.
pub const POLL: Duration = Duration::from_millis(500);
/// Claims (including ones whose runner died) before an action is failed for good.
pub const MAX_ATTEMPTS: u32 = 3;

/// A runner id unique to this process.
pub fn runner_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{}-{}", host, quantumstate_store::new_id("runner"))
}

/// Runs until shutdown.
pub async fn run(app: App) {
    let id = runner_id();
    tracing::info!(runner = %id, store = %app.store_description(), "remediation runner started");
    let shutdown = app.shutdown().clone();
    let mut quiet_errors = 0u32;
    let mut ticks = 0u64;
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(POLL) => {}
        }
        ticks += 1;
        let store = match app.store().await {
            Ok(s) => s,
            Err(e) => {
                if quiet_errors.is_multiple_of(60) {
                    tracing::warn!(error = %e.message, "runner cannot reach the store; retrying");
                }
                quiet_errors += 1;
                continue;
            }
        };
        if ticks.is_multiple_of(10)
            && let Ok(depth) = store.queue_depth().await
        {
            app.telemetry().queue_depth(depth);
        }
        let claim = Claim {
            runner_id: id.clone(),
            now: Utc::now(),
            lease: chrono::Duration::seconds(app.config().runner_lease.as_secs() as i64),
            max_attempts: MAX_ATTEMPTS,
        };
        match store.claim_action(&claim).await {
            Ok(Some(action)) => {
                quiet_errors = 0;
                execute(&app, &id, action).await;
            }
            Ok(None) => quiet_errors = 0,
            Err(e) => {
                app.telemetry().store_error();
                if quiet_errors.is_multiple_of(60) {
                    tracing::warn!(error = %e, "runner could not poll the queue; retrying");
                }
                quiet_errors += 1;
            }
        }
    }
    tracing::info!(runner = %id, "remediation runner stopped");
}

/// Runs one claimed action to completion and records it.
pub async fn execute(app: &App, runner_id: &str, a: RemediationAction) {
    tracing::info!(exec_id = %a.exec_id, action = %a.action, service = %a.service, attempt = a.attempts, "executing");
    let started = a.runner_started_at.unwrap_or_else(Utc::now);
    let renew = keep_lease(app.clone(), a.exec_id.clone(), runner_id.to_string());
    let (outcome, docker_used) = perform(app, &a).await;
    renew.abort();
    let (status, output) = match outcome {
        Ok(out) => (ActionStatus::Executed, out),
        Err(e) => (ActionStatus::Failed, e.to_text()),
    };
    app.telemetry().runner_action(&a.action, status.as_str());
    let now = Utc::now();
    let result = RemediationResult {
        exec_id: a.exec_id.clone(),
        timestamp: now,
        incident_id: a.incident_id.clone(),
        service: a.service.clone(),
        action: a.action.clone(),
        status,
        runner_started_at: Some(started),
        runner_output: Some(output),
        executed_at: Some(now),
        docker_used,
    };
    match app.store().await {
        Ok(store) => match store.complete_action(runner_id, &result).await {
            Ok(true) => tracing::info!(exec_id = %a.exec_id, status = status.as_str(), "done"),
            Ok(false) => {
                tracing::warn!(exec_id = %a.exec_id, "lost the claim before finishing (lease expired); another attempt will follow")
            }
            Err(e) => {
                tracing::error!(exec_id = %a.exec_id, error = %e, "could not record the result; the lease will expire and it will be retried")
            }
        },
        Err(e) => {
            tracing::error!(exec_id = %a.exec_id, error = %e.message, "store unavailable to record the result")
        }
    }
}

/// Renews the lease every quarter lease while the action runs.
fn keep_lease(app: App, exec_id: String, runner_id: String) -> tokio::task::JoinHandle<()> {
    let lease = app.config().runner_lease;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(lease / 4).await;
            let until = Utc::now() + chrono::Duration::milliseconds(lease.as_millis() as i64);
            if let Ok(store) = app.store().await
                && let Ok(false) = store.renew_lease(&exec_id, &runner_id, until).await
            {
                break;
            }
        }
    })
}

/// Does the action; returns its output and whether Docker was used.
async fn perform(app: &App, a: &RemediationAction) -> (ToolResult<String>, bool) {
    let Some(kind) = ActionKind::parse(&a.action) else {
        return (
            Err(ToolError::invalid(format!(
                "unknown action {:?}: the runner knows restart_service, rollback_deployment, scale_cache, restart_dependency",
                a.action
            ))),
            false,
        );
    };
    let service = match app.check_service(&a.service).await {
        Ok(s) => s,
        Err(e) => return (Err(e), false),
    };
    let param = |k: &str| a.params.get(k).cloned().unwrap_or(Value::Null);
    // Work out the target before asking the guard, so the audit names it.
    let target = match kind {
        ActionKind::RestartDependency => {
            match ops::pick_dependency(app, &service, param("dependency").as_str()).await {
                Ok(d) => d,
                Err(e) => return (Err(e), false),
            }
        }
        _ => service.clone(),
    };
    let caller = Caller::runner(a.requested_by.as_deref());
    let restarts = match kind {
        ActionKind::RestartService | ActionKind::RestartDependency => vec![target.clone()],
        _ => Vec::new(),
    };
    let ticket = match app
        .guard()
        .admit(app, &caller, Request {
            tool: kind.as_str(),
            arguments: serde_json::json!({"exec_id": a.exec_id, "service": a.service, "action": a.action, "params": a.params}),
            service: Some(service.clone()),
            targets: vec![target.clone()],
            restarts,
            dry_run: false,
            plan_id: None,
            kind: Kind::Operate,
        })
        .await
    {
        Ok(t) => t,
        Err(e) => return (Err(e), false),
    };
    let wait = Duration::from_secs(60);
    let result: ToolResult<String> = match kind {
        ActionKind::RestartService | ActionKind::RestartDependency => ops::restart(
            app,
            &target,
            Some(wait),
            |_| async {},
        )
        .await
        .map(|r| {
            format!(
                "restarted {target} via Docker: started {} → {}; health {}; restart count {}",
                r.started_at_before
                    .map(|t| t.format("%H:%M:%S%.3f").to_string())
                    .unwrap_or_default(),
                r.started_at_after
                    .map(|t| t.format("%H:%M:%S%.3f").to_string())
                    .unwrap_or_default(),
                r.readiness
                    .as_ref()
                    .map(|x| x.health.as_str())
                    .unwrap_or("?"),
                r.restart_count
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "?".into())
            )
        }),
        ActionKind::RollbackDeployment => {
            let to = match param("to_version").as_str() {
                Some(v) => ops::check_version(v).map(|v| (None, v)),
                None => ops::rollback_target(app, &service).await,
            };
            match to {
                Ok((_, to)) => ops::deploy(
                    app,
                    &service,
                    &to,
                    &caller.name,
                    &format!("remediation {}", a.exec_id),
                    wait,
                    |_| async {},
                )
                .await
                .map(|d| {
                    format!(
                        "rolled back {service} from {:?} to {} via Docker; health {}",
                        d.from_version, d.to_version, d.readiness.health
                    )
                }),
                Err(e) => Err(e),
            }
        }
        ActionKind::ScaleCache => match param("memory_mb").as_i64() {
            None => Err(ToolError::invalid("scale_cache needs params.memory_mb")),
            Some(mb) => match ops::cache_limit(app, &service, mb).await {
                Ok((_, bytes)) => app
                    .fleet()
                    .set_memory_limit(&service, bytes)
                    .await
                    .map(|_| {
                        format!("raised {service}'s memory limit to {mb} MB via docker update")
                    })
                    .map_err(ToolError::from),
                Err(e) => Err(e),
            },
        },
    };
    let docker_used = true;
    ticket.finish(&result, result.as_ref().ok().cloned()).await;
    (result, docker_used)
}
