//! The remediation runner: polls `remediation-actions-quantumstate` every 0.5 s, claims
//! one action at a time with a lease, runs it on the same mutation road as the tools
//! (audited there), and writes the status and the result document.
//!
//! A drop-in for the original runner: same indices, same statuses, and an `executing`
//! document without `runner_started_at` (the original agents' hand-off) is picked up.
//! An action whose runner died is retried after its lease, or failed — never lost, never
//! run by two runners at once, and its side effect never repeated: each claim is a fence
//! (`claim`), and a retry first looks whether the earlier attempt had already acted.

mod claim;
mod drill;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use quantumstate_store::{ActionStatus, AuditRecord, Claim, RemediationAction, RemediationResult};

use crate::app::App;
use crate::caller::Caller;
use crate::error::{ToolError, ToolResult};
use crate::mutation::{Client, Fence, Mutation, Outcome, Request, Stage};
use crate::tools::remediation::queue::RunnerAction;

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
    let mut claims = 0u64;
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
        // Every claim has its own id: the fence a stale attempt of this same process
        // cannot pass either.
        let claim = Claim {
            runner_id: format!("{id}/{}", claims + 1),
            now: Utc::now(),
            lease: chrono::Duration::seconds(app.config().runner_lease.as_secs() as i64),
            max_attempts: MAX_ATTEMPTS,
        };
        match store.claim_action(&claim).await {
            Ok(Some(action)) => {
                quiet_errors = 0;
                claims += 1;
                execute(&app, &claim.runner_id, action).await;
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

/// Runs one claimed action to completion and records it. An action an earlier claim
/// began to act on (its intent is recorded) is first looked at: if the change shows on
/// the targets, only the bookkeeping is finished.
pub async fn execute(app: &App, runner_id: &str, a: RemediationAction) {
    tracing::info!(exec_id = %a.exec_id, action = %a.action, service = %a.service, attempt = a.attempts, "executing");
    drill::pause(drill::Step::Claimed).await;
    let started = a.runner_started_at.unwrap_or_else(Utc::now);
    let fence = Arc::new(claim::ClaimFence::new(
        app.clone(),
        &a.exec_id,
        runner_id,
        a.attempts,
    ));
    let renew = keep_lease(
        app.clone(),
        a.exec_id.clone(),
        runner_id.to_string(),
        fence.lost_flag(),
    );
    let earlier = match &a.intent {
        Some(intent) => Some(claim::effect_of(app, intent).await),
        None => None,
    };
    let (outcome, docker_used) = match earlier {
        Some(Ok(Some(what))) => {
            let line = format!(
                "completed without acting again: attempt {} had already acted ({what})",
                a.intent
                    .as_ref()
                    .and_then(|i| i["attempt"].as_u64())
                    .unwrap_or(0)
            );
            audit_settled(app, &a, &line).await;
            (Ok(line), true)
        }
        Some(Err(e)) => (Err(e), false),
        Some(Ok(None)) | None => {
            let (outcome, stage) = perform(app, &a, fence.clone()).await;
            (outcome, stage == Stage::Applied)
        }
    };
    drill::pause(drill::Step::Applied).await;
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
        // Only an action that reached its apply step (or found its earlier attempt's
        // change) can have used Docker.
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

/// The audit record of an action finished without acting again (the earlier attempt's
/// own record stays `started`: it never learnt its outcome).
async fn audit_settled(app: &App, a: &RemediationAction, line: &str) {
    let Ok(store) = app.store().await else {
        return;
    };
    let tool = RunnerAction::of(a)
        .map(|(k, _)| k.as_str().to_string())
        .unwrap_or_else(|_| a.action.clone());
    // The earlier attempt may have recorded its outcome before it died: one `ok` only.
    let earlier = store
        .list_audit(&quantumstate_store::AuditFilter {
            tool: Some(tool.clone()),
            service: Some(a.service.clone()),
            limit: 200,
            ..Default::default()
        })
        .await;
    if earlier.is_ok_and(|p| {
        p.items.iter().any(|r| {
            r.outcome == quantumstate_store::Outcome::Ok
                && r.arguments["exec_id"] == a.exec_id.as_str()
        })
    }) {
        return;
    }
    let rec = AuditRecord {
        id: quantumstate_store::new_id("aud"),
        timestamp: Utc::now(),
        who: Caller::runner(a.requested_by.as_deref()).name,
        approved_by: None,
        tool,
        arguments: serde_json::json!({"exec_id": a.exec_id, "service": a.service, "action": a.action}),
        dry_run: false,
        outcome: quantumstate_store::Outcome::Ok,
        service: Some(a.service.clone()),
        plan_id: None,
        host: None,
        detail: Some(line.to_string()),
        duration_ms: 0,
        repeats: None,
        first_seen: None,
    };
    if let Err(e) = store.put_audit(&rec).await {
        tracing::error!(exec_id = %a.exec_id, error = %e, "could not audit the finished action");
    }
}

/// Renews the lease every quarter lease while the action runs. A renewal that finds the
/// claim gone, or that cannot confirm it for half a lease, marks it lost: the fence then
/// stops the action before its next side effect.
fn keep_lease(
    app: App,
    exec_id: String,
    runner_id: String,
    lost: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let lease = app.config().runner_lease;
    tokio::spawn(async move {
        let mut confirmed = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(lease / 4).await;
            let until = Utc::now() + chrono::Duration::milliseconds(lease.as_millis() as i64);
            let renewed = match app.store().await {
                Ok(store) => store.renew_lease(&exec_id, &runner_id, until).await.ok(),
                Err(_) => None,
            };
            match renewed {
                Some(true) => confirmed = tokio::time::Instant::now(),
                Some(false) => {
                    tracing::warn!(%exec_id, "the claim is gone; stopping before the next change");
                    lost.store(true, Ordering::SeqCst);
                    break;
                }
                None if confirmed.elapsed() > lease / 2 => {
                    tracing::warn!(%exec_id, "cannot renew the claim; stopping before the next change");
                    lost.store(true, Ordering::SeqCst);
                    break;
                }
                None => {}
            }
        }
    })
}

/// Runs the action's mutation on the road, as the runner on behalf of who queued it;
/// returns its output line and how far it got.
async fn perform(
    app: &App,
    a: &RemediationAction,
    fence: Arc<claim::ClaimFence>,
) -> (ToolResult<String>, Stage) {
    let (kind, action) = match RunnerAction::of(a) {
        Ok(x) => x,
        Err(e) => return (Err(e), Stage::Refused),
    };
    let caller = Caller::runner(a.requested_by.as_deref());
    let req = Request {
        tool: kind.as_str(),
        arguments: serde_json::json!({"exec_id": a.exec_id, "service": a.service, "action": a.action, "params": a.params}),
        service: Some(a.service.clone()),
        dry_run: false,
        plan_id: None,
    };
    let road = app.road();
    let client = Client {
        fence: Some(fence as Arc<dyn Fence>),
        ..Client::none()
    };
    match action {
        RunnerAction::Restart(m) => summarise(road.run_staged(&caller, req, &m, client).await, &m),
        RunnerAction::RestartDependency(m) => {
            summarise(road.run_staged(&caller, req, &m, client).await, &m)
        }
        RunnerAction::Rollback(m) => summarise(road.run_staged(&caller, req, &m, client).await, &m),
        RunnerAction::ScaleCache(m) => {
            summarise(road.run_staged(&caller, req, &m, client).await, &m)
        }
    }
}

fn summarise<M: Mutation>(
    (r, stage): (ToolResult<Outcome<M::Output>>, Stage),
    m: &M,
) -> (ToolResult<String>, Stage) {
    let line = r.and_then(|o| {
        o.result
            .map(|out| m.summary(&out))
            .ok_or_else(|| ToolError::failed("the action returned no result"))
    });
    (line, stage)
}
