//! The reaper: undoes container-level faults whose TTL has passed — on startup and then
//! as they expire — and never touches a drill still running. Faults live in the store, so
//! a restarted (or `kill -9`ed) server still finds them. Each undo takes the mutation
//! road as the reaper (audited as `undo_fault`).

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
    loop {
        sweep(&app).await;
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(TICK) => {}
        }
    }
}
