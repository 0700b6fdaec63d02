//! The reaper: undoes container-level faults whose TTL has passed — on startup and then
//! as they expire — and never touches a drill still running. Faults live in the store, so
//! a restarted (or `kill -9`ed) server still finds them. Each undo takes the mutation
//! road as the reaper (audited as `undo_fault`). Hourly, it also deletes audit records
//! past `--audit-retention-days`.

use std::time::Duration;

use chrono::Utc;
use quantumstate_store::FaultRecord;

use crate::app::App;
use crate::caller::Caller;
use crate::error::ToolResult;
use crate::faults::UndoFault;
use crate::mutation::{Client, Request};

/// How often the reaper looks for expired faults.
const TICK: Duration = Duration::from_secs(1);

/// How often audit records past their retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes audit records older than `--audit-retention-days` (best effort).
pub async fn prune_audit(app: &App) {
    let cutoff = Utc::now() - app.config().audit_retention;
    match app.store().await {
        Ok(s) => match s.delete_audit_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "audit records past their retention deleted"),
            Err(e) => tracing::warn!(error = %e, "could not apply the audit's retention"),
        },
        Err(e) => tracing::warn!(error = %e.message, "could not apply the audit's retention"),
    }
}

/// Undoes one fault now, on the road as `by`.
pub async fn undo(app: &App, f: &FaultRecord, by: &str) -> ToolResult<String> {
    let req = Request {
        tool: "undo_fault",
        arguments: serde_json::json!({"fault_id": f.id, "kind": f.kind, "service": f.service, "undo": f.undo}),
        service: Some(f.service.clone()),
        dry_run: false,
        plan_id: None,
    };
    let m = UndoFault { fault: f.clone() };
    let out = app
        .road()
        .run(&Caller::reaper(by), req, &m, Client::none())
        .await?;
    Ok(out.result.unwrap_or_default())
}

/// Undoes every fault past its TTL; returns how many it handled.
pub async fn sweep(app: &App) -> usize {
    let Ok(store) = app.store().await else {
        return 0;
    };
    let Ok(open) = store.active_faults().await else {
        return 0;
    };
    let now = Utc::now();
    let mut n = 0;
    for f in open.into_iter().filter(|f| f.expires_at <= now) {
        match undo(app, &f, "reaper").await {
            Ok(what) => tracing::info!(fault = %f.id, "{what}"),
            Err(e) => {
                tracing::warn!(fault = %f.id, error = %e.message, "could not undo an expired fault; will retry")
            }
        }
        n += 1;
    }
    n
}

/// Runs until shutdown: a sweep at once (faults that expired while no server ran), then
/// one per second.
pub async fn run(app: App) {
    let shutdown = app.shutdown().clone();
    let mut pruned: Option<tokio::time::Instant> = None;
    loop {
        sweep(&app).await;
        if pruned.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            prune_audit(&app).await;
            pruned = Some(tokio::time::Instant::now());
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}
