//! Fault kinds, and ending a container-level fault: start a killed or stopped container,
//! unpause, reconnect a partitioned one, roll back a bad deploy. Used inside `apply` by
//! `reset_faults` and by the reaper's `UndoFault`, so both end a fault the same way and
//! record it once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quantumstate_store::{BudgetDecision, FaultRecord};
use serde_json::Value;

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned};
use crate::ops;

/// Faults the service itself runs (and ends at their TTL).
pub const SERVICE_FAULTS: [&str; 5] = [
    "memory_leak",
    "cpu_burn",
    "error_spike",
    "latency",
    "dependency_failure",
];
/// Faults done to the container through Docker (QuantumState ends them at their TTL).
pub const CONTAINER_FAULTS: [&str; 5] = [
    "kill",
    "pause",
    "network_partition",
    "cache_offline",
    "bad_deploy",
];
/// Every fault kind, for completions and schemas.
pub const FAULT_KINDS: [&str; 10] = [
    "memory_leak",
    "cpu_burn",
    "error_spike",
    "latency",
    "dependency_failure",
    "kill",
    "pause",
    "network_partition",
    "cache_offline",
    "bad_deploy",
];
/// The longest a fault may last.
pub const MAX_TTL: i64 = 3600;

/// Ends `f` on its container (one of `cx`'s targets) and records the outcome. At most
/// one process undoes a given fault in any 30-second slot; another one's turn is said so.
pub async fn undo(cx: &ApplyCx<'_>, f: &FaultRecord) -> ToolResult<String> {
    let now = Utc::now();
    let gate = format!("undo:{}:{}", f.id, now.timestamp() / 30);
    if let BudgetDecision::Exhausted { .. } = cx
        .store
        .take_budget(&gate, 1, chrono::Duration::seconds(60), now)
        .await?
    {
        return Ok(format!("{} is being undone by another process", f.id));
    }
    let result = apply(cx, f).await;
    let mut rec = f.clone();
    match &result {
        Ok(what) => {
            rec.state = "undone".into();
            rec.detail = Some(what.clone());
        }
        // Stays active: the next slot retries (Docker may be back by then).
        Err(e) => rec.detail = Some(format!("undo failed, will retry: {}", e.message)),
    }
    cx.store.put_fault(&rec).await?;
    result
}

async fn apply(cx: &ApplyCx<'_>, f: &FaultRecord) -> ToolResult<String> {
    let before = cx
        .targets
        .iter()
        .find(|t| t.info.name == f.service)
        .ok_or_else(|| ToolError::failed(format!("{} was not admitted", f.service)))?;
    let t = before.target();
    let svc = f.service.as_str();
    // The container as it is now: the fault may have been ended by hand meanwhile.
    let d = cx.reads.inspect_target(&t).await?;
    match f.undo.get("op").and_then(Value::as_str).unwrap_or("") {
        "start" => {
            if d.paused {
                cx.ops.unpause(&t).await?;
            }
            if !d.running && !d.paused {
                cx.ops.start(&t).await?;
            }
            Ok(format!("{} ended: {svc} started", f.kind))
        }
        "unpause" => {
            if d.paused {
                cx.ops.unpause(&t).await?;
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
            if !d.networks.iter().any(|n| n == net) {
                cx.ops.connect(&t, net, aliases).await?;
            }
            Ok(format!("{} ended: {svc} reconnected to {net}", f.kind))
        }
        "rollback" => {
            let Some(to) = f.undo.get("to_version").and_then(Value::as_str) else {
                return Err(ToolError::failed(format!(
                    "fault {} records no version to return to; roll {svc} back by hand",
                    f.id
                )));
            };
            if d.version.as_deref() == Some(to) {
                return Ok(format!("{} ended: {svc} already runs {to}", f.kind));
            }
            let reason = format!("{} fault {} expired", f.kind, f.id);
            ops::deploy(cx, &d, to, &reason, Duration::from_secs(30)).await?;
            Ok(format!("{} ended: {svc} rolled back to {to}", f.kind))
        }
        other => Err(ToolError::failed(format!(
            "fault {} has no known undo ({other:?})",
            f.id
        ))),
    }
}

/// The reaper's mutation: end one container fault whose TTL passed.
pub struct UndoFault {
    pub fault: FaultRecord,
}

#[async_trait]
impl Mutation for UndoFault {
    type Output = String;

    async fn plan(&self, _cx: &PlanCx<'_>) -> ToolResult<Planned> {
        Ok(Planned {
            operations: vec![format!(
                "undo {} on {} ({})",
                self.fault.kind, self.fault.service, self.fault.id
            )],
            ..Planned::default()
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<String> {
        undo(cx, &self.fault).await
    }

    fn summary(&self, what: &String) -> String {
        what.clone()
    }
}
