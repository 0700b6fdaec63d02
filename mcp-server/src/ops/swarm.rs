//! Swarm services on the road: the plan of a change swarm rolls out itself (how many
//! replicas at a time, in which order, the capacity kept meanwhile), and applying it — one
//! update, then following swarm until the update settles (or, for a scale, until the
//! replicas match), sending progress and keeping the fewest replicas seen running.

use std::time::{Duration, Instant};

use chrono::Utc;
use quantumstate_fleet::{ContainerDetail, SwarmChange, SwarmService};
use quantumstate_store::Deployment;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Planned, TargetCx};

/// How often a rollout is looked at again.
const POLL: Duration = Duration::from_millis(250);
/// The most replicas `scale_service` sets.
pub const MAX_REPLICAS: u64 = 20;

/// What swarm did with a change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Rolled {
    pub service: String,
    pub host: String,
    /// restart, version, scale or rollback.
    pub change: String,
    /// Swarm's update state at the end (completed, paused, rollback_completed ...), or
    /// `scaled`; `timed out` when it had not settled within the wait.
    pub state: String,
    pub message: Option<String>,
    pub version_before: Option<String>,
    pub version_after: Option<String>,
    pub desired: u64,
    pub running: u64,
    /// The fewest replicas seen running while it rolled out (looked at every 250 ms).
    pub min_running_seen: u64,
    /// True when it settled as asked and every desired replica runs.
    pub ready: bool,
    pub took_ms: u64,
    /// The deployment recorded for a version change or rollback.
    pub deployment_id: Option<String>,
}

fn word(change: &SwarmChange) -> &'static str {
    match change {
        SwarmChange::Restart => "restart",
        SwarmChange::Version { .. } => "version",
        SwarmChange::Scale(_) => "scale",
        SwarmChange::Rollback => "rollback",
    }
}

/// How swarm rolls a change out over `svc`'s replicas, and the capacity it keeps.
fn rollout(svc: &SwarmService, wait: Duration) -> (Vec<String>, u64, bool) {
    let n = svc.desired;
    let p = svc.update_parallelism.min(n.max(1));
    let start_first = svc.update_order == "start-first";
    let capacity = if start_first {
        format!(
            "all {n} replicas keep serving (up to {} run during the update)",
            n + p
        )
    } else {
        format!(
            "at least {} of {n} replicas serve throughout",
            n.saturating_sub(p)
        )
    };
    let all_down = !start_first && n <= p;
    let ops = vec![
        format!(
            "{p} of {n} replicas at a time, {}, {} s between batches, on failure: {}",
            svc.update_order, svc.update_delay_seconds, svc.update_failure_action
        ),
        format!("expected capacity: {capacity}"),
        format!(
            "wait up to {} s until swarm reports the update completed and {n} replicas run",
            wait.as_secs()
        ),
    ];
    (ops, if all_down { 5 } else { 0 }, all_down)
}

/// The plan of `change` on `svc`; `tasks` are its running tasks' containers.
pub fn plan(
    svc: &SwarmService,
    tasks: &[ContainerDetail],
    change: &SwarmChange,
    wait: Duration,
) -> ToolResult<Planned> {
    let at = format!("{} on host {}", svc.name, svc.host);
    let (first, rolled) = match change {
        SwarmChange::Restart => (
            format!(
                "rolling restart of {at}: docker service update --force (every task replaced, same spec)"
            ),
            true,
        ),
        SwarmChange::Version { to, from } => {
            if svc.version.as_deref() == Some(to.as_str()) {
                return Err(
                    ToolError::invalid(format!("{} already runs {to}", svc.name))
                        .hint("restart_container on it is a rolling restart"),
                );
            }
            (
                format!(
                    "docker service update --env-add SERVICE_VERSION={to} {at} (from {}), rolled out task by task",
                    from.as_deref().unwrap_or("an unknown version")
                ),
                true,
            )
        }
        SwarmChange::Rollback => (
            format!(
                "docker service rollback {at}: swarm returns to its previous spec (version {})",
                svc.previous_version
                    .as_deref()
                    .unwrap_or("not recorded by QuantumState")
            ),
            true,
        ),
        SwarmChange::Scale(n) => {
            if *n == svc.desired {
                return Err(ToolError::invalid(format!(
                    "{} already wants {n} replicas",
                    svc.name
                )));
            }
            let op = format!(
                "docker service scale {}={n} on host {} (from {} replicas)",
                svc.name, svc.host, svc.desired
            );
            let wait_op = format!("wait up to {} s until {n} replicas run", wait.as_secs());
            return Ok(Planned {
                operations: vec![op, wait_op],
                downtime_seconds: 0,
                disrupts: Vec::new(),
                takes_capacity: *n < svc.desired,
            });
        }
    };
    let (mut rest, downtime, all_down) = rollout(svc, wait);
    let mut operations = vec![first];
    operations.append(&mut rest);
    let defective = match change {
        SwarmChange::Version { to, .. } => tasks
            .first()
            .is_some_and(|d| d.defective_versions().iter().any(|v| v == to)),
        _ => false,
    };
    Ok(Planned {
        operations,
        downtime_seconds: downtime,
        disrupts: if rolled {
            vec![svc.name.clone()]
        } else {
            Vec::new()
        },
        takes_capacity: all_down || defective,
    })
}

/// Has the rollout of `change` settled on `now`?
fn settled(change: &SwarmChange, before: Option<&str>, now: &SwarmService) -> bool {
    match change {
        SwarmChange::Scale(n) => now.desired == *n && now.running == *n,
        _ => now
            .update_status
            .as_ref()
            .is_some_and(|u| u.settled() && u.started_at.as_deref() != before),
    }
}

/// Rolls `change` out on the admitted `svc` and follows it for up to `wait`.
pub async fn apply(
    cx: &ApplyCx<'_>,
    svc: &SwarmService,
    change: &SwarmChange,
    wait: Duration,
) -> ToolResult<Rolled> {
    let before = svc
        .update_status
        .as_ref()
        .and_then(|u| u.started_at.clone());
    let started = Instant::now();
    cx.ops.update_swarm(svc, change).await?;
    let name = svc.qualified();
    let mut last = svc.clone();
    let mut min_running = svc.running;
    let mut done = false;
    while started.elapsed() < wait {
        tokio::time::sleep(POLL).await;
        let Ok(now) = cx.reads.swarm_service(&name).await else {
            continue;
        };
        min_running = min_running.min(now.running);
        done = settled(change, before.as_deref(), &now);
        let state = now.update_status.as_ref().map_or("", |u| u.state.as_str());
        cx.progress
            .report(format!(
                "{}: {}/{} running {state}",
                svc.name, now.running, now.desired
            ))
            .await;
        last = now;
        if done {
            break;
        }
    }
    let state = match (change, done) {
        (_, false) if wait.is_zero() => "started".to_string(),
        (_, false) => "timed out".to_string(),
        (SwarmChange::Scale(_), true) => "scaled".to_string(),
        _ => last
            .update_status
            .as_ref()
            .map(|u| u.state.clone())
            .unwrap_or_default(),
    };
    let expected = match change {
        SwarmChange::Rollback => "rollback_completed",
        SwarmChange::Scale(_) => "scaled",
        _ => "completed",
    };
    let mut out = Rolled {
        service: svc.name.clone(),
        host: svc.host.clone(),
        change: word(change).into(),
        ready: state == expected && last.running >= last.desired,
        state,
        message: last.update_status.as_ref().and_then(|u| u.message.clone()),
        version_before: svc.version.clone(),
        version_after: last.version.clone(),
        desired: last.desired,
        running: last.running,
        min_running_seen: min_running,
        took_ms: started.elapsed().as_millis() as u64,
        deployment_id: None,
    };
    if matches!(change, SwarmChange::Version { .. } | SwarmChange::Rollback) {
        out.deployment_id = Some(record(cx, &out, &svc.image, change).await?);
    }
    Ok(out)
}

/// The deployment record of a version change or rollback (for correlate_deployments).
async fn record(
    cx: &ApplyCx<'_>,
    out: &Rolled,
    image: &str,
    change: &SwarmChange,
) -> ToolResult<String> {
    let to = match change {
        SwarmChange::Version { to, .. } => to.clone(),
        _ => out.version_after.clone().unwrap_or_default(),
    };
    let dep = Deployment {
        id: quantumstate_store::new_id("dep"),
        service: out.service.clone(),
        from_version: out.version_before.clone(),
        to_version: to,
        image: image.to_string(),
        at: Utc::now(),
        by: cx.caller.name.clone(),
        reason: format!("swarm {} ({})", out.change, out.state),
    };
    cx.store.put_deployment(&dep).await?;
    Ok(dep.id)
}

impl Rolled {
    /// Readiness in the words of a container's: healthy once it settled with every
    /// replica running.
    pub fn readiness(&self) -> super::Readiness {
        let health = match (self.ready, self.running) {
            (true, _) => "healthy",
            (false, 0) => "down",
            (false, _) => "degraded",
        };
        super::Readiness {
            ready: self.ready,
            health: health.into(),
            started_at: None,
        }
    }

    /// A rolling restart's result, as `restart_container` answers.
    pub fn restarted(self) -> super::Restarted {
        super::Restarted {
            service: self.service.clone(),
            started_at_before: None,
            started_at_after: None,
            restart_count: None,
            readiness: Some(self.readiness()),
            rolling: Some(self),
        }
    }

    /// A version change's or rollback's result, as `deploy_version` answers.
    pub fn deployed(self, svc: &SwarmService) -> super::Deployed {
        super::Deployed {
            service: self.service.clone(),
            from_version: self.version_before.clone(),
            to_version: self.version_after.clone().unwrap_or_default(),
            container_id: svc.id.clone(),
            deployment_id: self.deployment_id.clone().unwrap_or_default(),
            readiness: self.readiness(),
            rolling: Some(self),
        }
    }
}

/// The targets of a call on a service: a swarm service's running tasks, else the
/// service's container.
pub async fn targets(cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
    match cx.swarm_service().await? {
        Some(svc) => cx.swarm_tasks(&svc).await,
        None => Ok(vec![cx.service().await?]),
    }
}

#[cfg(test)]
mod tests;
