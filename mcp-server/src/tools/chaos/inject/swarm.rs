//! Faults on a swarm service's tasks: `pause` or `kill` one task (default) or all of them,
//! through Docker on the tasks' containers. The fault is recorded before acting with the
//! containers it touches, so the reaper unpauses exactly those at its TTL; a killed task
//! swarm replaces by itself. Faults the service runs (`/faults`) and the other container
//! faults are refused on swarm services: their tasks publish no port of their own here.

use quantumstate_fleet::{ContainerDetail, SwarmService};
use serde_json::json;

use super::{Inject, Injected};
use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, PlanCx, Planned, TargetCx};

/// The kinds a swarm service's tasks take.
const KINDS: [&str; 2] = ["pause", "kill"];

/// `tasks`: `one` (default) or `all`; only for swarm services.
fn all_tasks(m: &Inject) -> ToolResult<bool> {
    match m.args.tasks.as_deref() {
        None | Some("one") => Ok(false),
        Some("all") => Ok(true),
        Some(other) => Err(ToolError::invalid(format!(
            "tasks must be one or all, not {:?}",
            crate::text::truncate(other, 20)
        ))),
    }
}

/// Refuses `tasks` on a service that is not a swarm service.
pub(super) fn only_for_swarm(m: &Inject) -> ToolResult<()> {
    match m.args.tasks {
        Some(_) => Err(ToolError::invalid(format!(
            "tasks applies to swarm services, and {} is a container",
            m.args.service
        ))),
        None => Ok(()),
    }
}

pub(super) async fn targets(
    m: &Inject,
    cx: &TargetCx<'_>,
    svc: &SwarmService,
) -> ToolResult<Vec<ContainerDetail>> {
    let kind = m.args.kind.as_str();
    if !KINDS.contains(&kind) {
        return Err(ToolError::invalid(format!(
            "{} is a swarm service: its tasks take pause or kill, not {kind}",
            svc.name
        ))
        .hint("tasks: one (default) or all; deploy_version and scale_service act on the whole service"));
    }
    let all = all_tasks(m)?;
    let mut tasks = cx.swarm_tasks(svc).await?;
    if tasks.is_empty() {
        return Err(ToolError::invalid(format!(
            "{} has no running task on host {} to break",
            svc.name, svc.host
        )));
    }
    if !all {
        tasks.truncate(1);
    }
    Ok(tasks)
}

fn ids(targets: &[ContainerDetail]) -> Vec<String> {
    targets.iter().map(|t| t.info.id.clone()).collect()
}

pub(super) fn plan(m: &Inject, cx: &PlanCx<'_>, svc: &SwarmService) -> ToolResult<Planned> {
    let (kind, ttl) = (m.args.kind.as_str(), m.args.ttl_seconds);
    let ids = ids(cx.targets);
    let undo = match kind {
        "pause" => json!({"op": "unpause", "tasks": ids}),
        _ => json!({"op": "swarm_replaces", "tasks": ids}),
    };
    let _ = m.undo.set((undo, None));
    let every = cx.targets.len() as u64 >= svc.desired;
    let after = match kind {
        "pause" => format!("QuantumState unpauses them after {ttl} s"),
        _ => "swarm replaces a killed task by itself".to_string(),
    };
    Ok(Planned {
        operations: vec![format!(
            "{kind} {} of {} task(s) of {} on host {} (containers {}) through Docker; {after}",
            cx.targets.len(),
            svc.desired,
            svc.name,
            svc.host,
            ids.join(", ")
        )],
        downtime_seconds: if every && kind == "pause" {
            ttl as u64
        } else {
            0
        },
        disrupts: if kind == "kill" {
            vec![svc.name.clone()]
        } else {
            Vec::new()
        },
        takes_capacity: true,
    })
}

pub(super) async fn apply(
    m: &Inject,
    cx: &ApplyCx<'_>,
    svc: &SwarmService,
) -> ToolResult<Injected> {
    let (mut rec, _) = m.record(&svc.name)?;
    let now = rec.started_at;
    // Recorded before acting: if this process dies mid-way, the reaper still undoes it.
    cx.store.put_fault(&rec).await?;
    for d in cx.targets {
        let t = d.target();
        let done = match m.args.kind.as_str() {
            "pause" => cx.ops.pause(&t).await,
            _ => cx.ops.kill(&t).await,
        };
        if let Err(e) = done {
            rec.detail = Some(format!("stopped at task {}: {}", t.id, e.message));
            cx.store.put_fault(&rec).await?;
            return Err(e);
        }
    }
    Ok(Injected {
        fault_id: rec.id,
        service: svc.name.clone(),
        kind: m.args.kind.clone(),
        level: "container".into(),
        started_at: now,
        expires_at: rec.expires_at,
        detail: json!({"host": svc.host, "tasks": ids(cx.targets)}),
    })
}
