//! Restart, stop and start a service's container, and restart what it depends on: each a
//! `Mutation` the road runs, for the tools and the runner alike.

use std::time::Duration;

use async_trait::async_trait;
use quantumstate_fleet::{ContainerDetail, SwarmChange};
use schemars::JsonSchema;
use serde::Serialize;

use crate::error::{ToolError, ToolResult};
use crate::mutation::{ApplyCx, Mutation, PlanCx, Planned, TargetCx};
use crate::ops::{self, Readiness, Restarted, STOP_GRACE, swarm};

/// How long a restart or start waits for health by default.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// `timeout_seconds`: 5–300, default 60.
pub fn wait_secs(v: Option<i64>) -> ToolResult<Duration> {
    match v {
        None => Ok(DEFAULT_WAIT),
        Some(n) if (5..=300).contains(&n) => Ok(Duration::from_secs(n as u64)),
        Some(n) => Err(ToolError::invalid(format!(
            "timeout_seconds must be 5 to 300 (got {n})"
        ))),
    }
}

/// Restarts the named service's container (SIGTERM, then SIGKILL after the grace), or
/// a swarm service's tasks one batch at a time (a rolling restart).
pub struct Restart {
    /// Wait this long for health afterwards (None: do not wait).
    pub wait: Option<Duration>,
}

impl Restart {
    /// How long a rolling restart is followed (not at all without a wait).
    fn swarm_wait(&self) -> Duration {
        self.wait.unwrap_or(Duration::ZERO)
    }
}

#[async_trait]
impl Mutation for Restart {
    type Output = Restarted;

    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        swarm::targets(cx).await
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        if let Some(svc) = cx.swarm {
            return swarm::plan(svc, cx.targets, &SwarmChange::Restart, self.swarm_wait());
        }
        let service = &cx.target()?.info.name;
        let mut operations = vec![format!(
            "docker restart {service} (SIGTERM, then SIGKILL after {} s)",
            STOP_GRACE.as_secs()
        )];
        if let Some(w) = self.wait {
            operations.push(format!(
                "wait up to {} s until {service} answers /health",
                w.as_secs()
            ));
        }
        Ok(Planned {
            operations,
            downtime_seconds: 3,
            disrupts: vec![service.clone()],
            takes_capacity: false,
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Restarted> {
        if let Some(svc) = cx.swarm {
            let rolled = swarm::apply(cx, svc, &SwarmChange::Restart, self.swarm_wait()).await?;
            return Ok(rolled.restarted());
        }
        ops::restart(cx, cx.target()?, self.wait).await
    }

    fn summary(&self, r: &Restarted) -> String {
        format!(
            "restarted {}; restart count {}; {}",
            r.service,
            r.restart_count
                .map(|c| c.to_string())
                .unwrap_or_else(|| "?".into()),
            r.readiness
                .as_ref()
                .map(|x| format!("health {}", x.health))
                .unwrap_or_default()
        )
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Stopped {
    pub service: String,
    pub state: String,
}

/// Stops a container; it stays down until started.
pub struct Stop;

#[async_trait]
impl Mutation for Stop {
    type Output = Stopped;

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        let service = &cx.target()?.info.name;
        Ok(Planned {
            operations: vec![format!(
                "docker stop {service} (it stays down until start_container)"
            )],
            downtime_seconds: 0,
            disrupts: vec![service.clone()],
            takes_capacity: true,
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Stopped> {
        let t = cx.target()?.target();
        cx.ops.stop(&t, STOP_GRACE).await?;
        let d = cx.reads.inspect_target(&t).await?;
        Ok(Stopped {
            service: t.service,
            state: d.info.state,
        })
    }

    fn summary(&self, s: &Stopped) -> String {
        format!("stopped {}", s.service)
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Started {
    pub service: String,
    pub readiness: Readiness,
    pub restart_count: Option<u64>,
}

/// Starts a stopped container and waits until it answers.
pub struct Start;

#[async_trait]
impl Mutation for Start {
    type Output = Started;

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        let service = &cx.target()?.info.name;
        Ok(Planned {
            operations: vec![
                format!("docker start {service}"),
                format!("wait up to {} s until it answers", DEFAULT_WAIT.as_secs()),
            ],
            ..Planned::default()
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<Started> {
        let d = cx.target()?;
        let t = d.target();
        cx.ops.start(&t).await?;
        let readiness = ops::wait_ready(cx.reads, &t, DEFAULT_WAIT, cx.progress).await;
        let count =
            ops::count_start(cx.store, &t.service, d.started_at, readiness.started_at).await;
        Ok(Started {
            service: t.service,
            readiness,
            restart_count: count,
        })
    }

    fn summary(&self, s: &Started) -> String {
        format!("started {}; health {}", s.service, s.readiness.health)
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct DependencyRestarted {
    /// The dependency that was restarted.
    pub dependency: String,
    pub restart: Restarted,
}

/// Restarts a dependency of the named service (the one named, its only one, or its only
/// unhealthy one).
pub struct RestartDependency {
    pub dependency: Option<String>,
}

#[async_trait]
impl Mutation for RestartDependency {
    type Output = DependencyRestarted;

    async fn targets(&self, cx: &TargetCx<'_>) -> ToolResult<Vec<ContainerDetail>> {
        let service = cx.service().await?;
        let dep = ops::pick_dependency(cx.reads(), &service, self.dependency.as_deref()).await?;
        Ok(vec![cx.resolve(&dep).await?])
    }

    async fn plan(&self, cx: &PlanCx<'_>) -> ToolResult<Planned> {
        let dep = &cx.target()?.info.name;
        let service = cx.service.unwrap_or("the service");
        Ok(Planned {
            operations: vec![
                format!("docker restart {dep} (a dependency of {service}), or start it if stopped"),
                format!(
                    "wait up to {} s until {dep} answers",
                    DEFAULT_WAIT.as_secs()
                ),
            ],
            downtime_seconds: 3,
            disrupts: vec![dep.clone()],
            takes_capacity: false,
        })
    }

    async fn apply(&self, cx: &ApplyCx<'_>) -> ToolResult<DependencyRestarted> {
        let d = cx.target()?;
        let restart = ops::restart(cx, d, Some(DEFAULT_WAIT)).await?;
        Ok(DependencyRestarted {
            dependency: d.info.name.clone(),
            restart,
        })
    }

    fn summary(&self, r: &DependencyRestarted) -> String {
        format!("restarted {}", r.dependency)
    }
}
