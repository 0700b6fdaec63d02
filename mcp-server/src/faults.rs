//! Fault kinds, and ending a container-level fault: start a killed or stopped container,
//! unpause, reconnect a partitioned one, roll back a bad deploy (on swarm tasks: unpause
//! them; a killed task swarm replaces itself). Used inside `apply` by
//! `reset_faults` and by the reaper's `UndoFault`, so both end a fault the same way and
//! record it once.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use quantumstate_fleet::ContainerDetail;
use quantumstate_store::{BudgetDecision, FaultRecord};
use serde_json::Value;

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};
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

/// The task containers a fault on a swarm service was done to (none for a container's).
pub fn task_ids(undo: &Value) -> Option<Vec<String>> {
    let ids = undo.get("tasks")?.as_array()?;
    Some(
        ids.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
    )
}

/// Ends a fault on swarm tasks: unpauses those still paused; a killed task swarm has
/// replaced itself. A task swarm removed meanwhile has nothing left to undo.
async fn apply_tasks(cx: &ApplyCx<'_>, f: &FaultRecord, ids: &[String]) -> ToolResult<String> {
    let svc = f.service.as_str();
    match f.undo.get("op").and_then(Value::as_str).unwrap_or("") {
        "unpause" => {
            let mut n = 0;
            for before in cx.targets.iter().filter(|t| ids.contains(&t.info.id)) {
                let t = before.target();
                if cx.reads.inspect_target(&t).await?.paused {
                    cx.ops.unpause(&t).await?;
                    n += 1;
                }
            }
            Ok(format!("{} ended: {n} task(s) of {svc} unpaused", f.kind))
        }
        "swarm_replaces" => Ok(format!(
            "{} ended: swarm replaced the task(s) of {svc}",
            f.kind
        )),
        other => Err(ToolError::failed(format!(
            "fault {} has no known undo on swarm tasks ({other:?})",
            f.id
        ))),
    }
}

async fn apply(cx: &ApplyCx<'_>, f: &FaultRecord) -> ToolResult<String> {
    if let Some(ids) = task_ids(&f.undo) {
        return apply_tasks(cx, f, &ids).await;
    }
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

    /// A fault on swarm tasks: those of its tasks still running (none when swarm has
    /// replaced them all).
    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        let Some(ids) = task_ids(&self.fault.undo) else {
            return Ok(vec![cx.service().await?]);
        };
        let Some(svc) = cx.swarm_service().await? else {
            return Ok(Vec::new());
        };
        let tasks = cx.swarm_tasks(&svc).await?;
        Ok(tasks
            .into_iter()
            .filter(|d| ids.contains(&d.info.id))
            .collect())
    }

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
