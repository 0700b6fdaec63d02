//! The reaper: undoes container-level faults whose TTL has passed — on startup and then
//! as they expire — and never touches a drill still running. Faults live in the store, so
//! a restarted (or `kill -9`ed) server still finds them.

use std::time::Duration;

use chrono::Utc;
use quantumstate_store::{BudgetDecision, FaultRecord};
use serde_json::Value;

use crate::app::App;
use crate::error::{ToolError, ToolResult};
use crate::guard::{Caller, Kind, Request};
use crate::ops;

/// How often the reaper looks for expired faults.
const TICK: Duration = Duration::from_secs(1);

/// Undoes one fault now (through the guard, audited as `by`) and records the outcome.
/// At most one process undoes a given fault in any 30-second slot.
pub async fn undo(app: &App, f: &FaultRecord, by: &str) -> ToolResult<String> {
    let store = app.store().await?;
    let now = Utc::now();
    let gate = format!("undo:{}:{}", f.id, now.timestamp() / 30);
    if let BudgetDecision::Exhausted { .. } = store
        .take_budget(&gate, 1, chrono::Duration::seconds(60), now)
        .await?
    {
        return Ok(format!("{} is being undone by another process", f.id));
    }
    let caller = Caller {
        name: by.to_string(),
        ..Caller::reaper()
    };
    let ticket = app
        .guard()
        .admit(app, &caller, Request {
            tool: "undo_fault",
            arguments: serde_json::json!({"fault_id": f.id, "kind": f.kind, "service": f.service, "undo": f.undo}),
            service: Some(f.service.clone()),
            targets: vec![f.service.clone()],
            restarts: Vec::new(),
            dry_run: false,
            plan_id: None,
            kind: Kind::Operate,
        })
        .await?;
    let result = apply(app, f).await;
    ticket.finish(&result, result.as_ref().ok().cloned()).await;
    let mut rec = f.clone();
    match &result {
        Ok(what) => {
            rec.state = "undone".into();
            rec.detail = Some(what.clone());
        }
        // Stays active: the next slot retries (Docker may be back by then).
        Err(e) => rec.detail = Some(format!("undo failed, will retry: {}", e.message)),
    }
    store.put_fault(&rec).await?;
    result
}

async fn apply(app: &App, f: &FaultRecord) -> ToolResult<String> {
    let fleet = app.fleet();
    let svc = f.service.as_str();
    match f.undo.get("op").and_then(Value::as_str).unwrap_or("") {
        "start" => {
            let d = fleet.inspect(svc).await?;
            if d.paused {
                fleet.unpause(svc).await?;
            }
            if !d.running && !d.paused {
                fleet.start(svc).await?;
            }
            Ok(format!("{} ended: {svc} started", f.kind))
        }
        "unpause" => {
            let d = fleet.inspect(svc).await?;
            if d.paused {
                fleet.unpause(svc).await?;
            }
            Ok(format!("{} ended: {svc} unpaused", f.kind))
        }
        "connect" => {
            let net = f
                .undo
                .get("network")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let aliases: Vec<String> = f
                .undo
                .get("aliases")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let d = fleet.inspect(svc).await?;
            if !d.networks.iter().any(|n| n == net) {
                fleet.connect(svc, net, aliases).await?;
            }
            Ok(format!("{} ended: {svc} reconnected to {net}", f.kind))
        }
        "rollback" => {
            let to = f
                .undo
                .get("to_version")
                .and_then(Value::as_str)
                .unwrap_or("1.0.0");
            let d = fleet.inspect(svc).await?;
            if d.version.as_deref() == Some(to) {
                return Ok(format!("{} ended: {svc} already runs {to}", f.kind));
            }
            ops::deploy(
                app,
                svc,
                to,
                "reaper",
                &format!("{} fault {} expired", f.kind, f.id),
                Duration::from_secs(30),
                |_| async {},
            )
            .await?;
            Ok(format!("{} ended: {svc} rolled back to {to}", f.kind))
        }
        other => Err(ToolError::failed(format!(
            "fault {} has no known undo ({other:?})",
            f.id
        ))),
    }
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
